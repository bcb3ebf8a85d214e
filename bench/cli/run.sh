#!/usr/bin/env bash
# CLI benchmark: `pixelprint hash --jobs 2` over 200 photos against the Python pipeline with
# 2 processes (bench/cli/bench.py). Installs the photos' package and the Python side if missing.
# Usage: bench/cli/run.sh   (REPS=3 by default). Results: bench/results/cli/DATE-COMMIT.md.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
source scripts/common.sh

dpkg-query -W -f='${Status}' plasma-workspace-wallpapers 2> /dev/null | grep -q 'install ok installed' \
    || DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -qq plasma-workspace-wallpapers < /dev/null > /dev/null
py=$(bench_python oracles pdqhash==0.2.8 imagehash==4.3.2 Pillow==11.3.0 numpy==2.2.6)
CARGO_TARGET_DIR=$PIXELPRINT_NATIVE_TARGET_DIR cargo build --release --quiet -p pixelprint-cli
photos=${PHOTOS:-target/bench-cli/photos}
[[ -d $photos ]] || "$py" bench/cli/prepare.py "$photos" 200
"$py" bench/cli/bench.py "$PIXELPRINT_NATIVE_TARGET_DIR/release/pixelprint" "$photos" \
    "$(bench_result_path cli)" "REPS=${REPS:-3} bench/cli/run.sh"
