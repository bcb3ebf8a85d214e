#!/usr/bin/env bash
# Builds the wasm module and its JS bindings into www/pkg (ES module, `--target web`, which
# browsers load directly and Node >= 20 loads with initSync/init given the bytes).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/scripts/common.sh"
cd "$root"

scripts/wasm-cargo.sh build --release --lib --quiet
wasm=$PIXELPRINT_WASM_TARGET_DIR/wasm32-unknown-unknown/release/pixelprint.wasm
rm -rf www/pkg
wasm-bindgen --target web --out-dir www/pkg --out-name pixelprint "$wasm"
raw=$(stat -c %s www/pkg/pixelprint_bg.wasm)
gz=$(gzip -9 -c www/pkg/pixelprint_bg.wasm | wc -c)
echo "build-wasm: www/pkg/pixelprint_bg.wasm ${raw} bytes, ${gz} bytes gzipped"
