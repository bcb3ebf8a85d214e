#!/usr/bin/env bash
# Builds the wasm module and its JS bindings into www/package/pkg (ES module, `--target web`, which
# browsers load directly and Node >= 20 loads with initSync/init given the bytes).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/scripts/common.sh"
cd "$root"

# The shipped module: without TIFF (the `tiff` feature), which would add a quarter to it (TIFF
# files go to the browser's own decoder, which Safari has, or fail with unsupported_format), and
# with panics that abort at once where std is built here (scripts/wasm-cargo.sh). Its own target
# dir: other flags than the tests' build, so neither rebuilds the other's std.
export PIXELPRINT_WASM_TARGET_DIR=$PIXELPRINT_CACHE_DIR/target-wasm-pkg
PIXELPRINT_WASM_PANIC=immediate-abort scripts/wasm-cargo.sh build --release --lib --no-default-features
wasm=$PIXELPRINT_WASM_TARGET_DIR/wasm32-unknown-unknown/release/pixelprint.wasm
rm -rf www/package/pkg
wasm-bindgen --target web --out-dir www/package/pkg --out-name pixelprint "$wasm"
size() { echo "$(stat -c %s "$1") bytes, $(gzip -9 -c "$1" | wc -c) bytes gzipped"; }
echo "build-wasm: wasm-bindgen output: $(size www/package/pkg/pixelprint_bg.wasm)"
# wasm-opt from the npm package binaryen (a devDependency in www/package.json; scripts/bootstrap.sh
# runs npm ci in www/).
# The features are those rustc emits for wasm32-unknown-unknown plus simd128.
wasm_opt=www/node_modules/.bin/wasm-opt
if [[ -x $wasm_opt ]]; then
    "$wasm_opt" "${WASM_OPT_LEVEL:--O3}" --enable-simd --enable-bulk-memory \
        --enable-nontrapping-float-to-int --enable-sign-ext --enable-mutable-globals \
        --enable-reference-types --enable-multivalue \
        www/package/pkg/pixelprint_bg.wasm -o www/package/pkg/pixelprint_bg.opt.wasm
    mv www/package/pkg/pixelprint_bg.opt.wasm www/package/pkg/pixelprint_bg.wasm
    echo "build-wasm: after wasm-opt ${WASM_OPT_LEVEL:--O3}: $(size www/package/pkg/pixelprint_bg.wasm)"
else
    echo "build-wasm: $wasm_opt missing (run npm ci in www); module not optimised" >&2
fi
# The MP4 demuxer the package's video hasher imports (copied from www/node_modules into
# www/package/vendor by the npm `prepare` script of www/, which `npm ci` runs): copied here too if
# it went missing since.
if [[ ! -f www/package/vendor/mp4box/mp4box.all.mjs && -d www/node_modules/mp4box ]]; then
    (cd www && node tools/vendor.mjs)
fi
