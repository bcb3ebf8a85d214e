#!/usr/bin/env bash
# The browser benchmark: in headless Chromium, through the npm package (www/package/, its worker
# and .wasm), file bytes -> the CLI's default hashes against the native Python pipeline (Pillow,
# pdqhash, imagehash, hashlib) on a 12 MP phone photo (tests/vectors) and a 14.7 MP painted
# wallpaper (Debian's plasma-workspace-wallpapers, whose photos are 4 MP at most); dHash against
# the npm package browser-image-hash; the package's wasm JPEG decoder against the browser's.
# Every result is checked before its timing (bench/browser/bench.mjs says how).
# Writes bench/results/browser/DATE-COMMIT.md (OUT=FILE to choose).
#
# usage: bench/browser/run.sh      (REPS=7 by default; builds www/package/pkg if it is missing)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
source scripts/common.sh

export REPS=${REPS:-7}
out=${OUT:-$(bench_result_path browser)}

# The large JPEGs: Debian's KDE wallpapers (5120x2880 and 2560x1600 JPEGs).
if [[ ! -f /usr/share/wallpapers/SafeLanding/contents/images/5120x2880.jpg ]]; then
    timeout 600 apt-get update -qq < /dev/null
    DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -qq plasma-workspace-wallpapers < /dev/null > /dev/null
fi
py=$(bench_python oracles pdqhash==0.2.8 imagehash==4.3.2 Pillow==11.3.0 numpy==2.2.6)
[[ -d www/node_modules ]] || (cd www && timeout 600 npm ci --no-audit --no-fund < /dev/null)
[[ -d bench/browser/node_modules ]] || (cd bench/browser && timeout 600 npm ci --no-audit --no-fund < /dev/null)
[[ -f www/package/pkg/pixelprint_bg.wasm ]] || scripts/build-wasm.sh
# The CLI (debug, as the tests build it) gives the expected hashes.
export CARGO_TARGET_DIR=$PIXELPRINT_NATIVE_TARGET_DIR
mkdir -p "$(dirname "$out")"
PIXELPRINT_BENCH_PYTHON=$py node bench/browser/bench.mjs "$out"
