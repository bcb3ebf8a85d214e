#!/usr/bin/env bash
# Runs one cargo-fuzz target for a while: scripts/fuzz.sh TARGET [SECONDS] (default 600).
# Seeds from fuzz/corpus/TARGET; the growing corpus lives in the build cache, not the repo.
# Needs cargo-fuzz (`cargo install cargo-fuzz`); sanitizer builds use RUSTC_BOOTSTRAP on stable.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/scripts/common.sh"
target=${1:?usage: fuzz.sh TARGET [SECONDS]}
seconds=${2:-600}
command -v cargo-fuzz > /dev/null || timeout 1500 cargo install cargo-fuzz < /dev/null
corpus=$PIXELPRINT_CACHE_DIR/fuzz-corpus/$target
mkdir -p "$corpus"
cp -n "$root/fuzz/corpus/$target/"* "$corpus/" 2>/dev/null || true
cd "$root/fuzz"
RUSTC_BOOTSTRAP=1 cargo fuzz run -O "$target" "$corpus" -- \
    -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=30 -print_final_stats=1
