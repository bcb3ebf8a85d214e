#!/usr/bin/env bash
# Builds the npm package `pixelprint` (www/package/): the wasm module and its bindings into
# www/package/pkg (scripts/build-wasm.sh), then packs www/package/ into
# target/npm/pixelprint-<version>.tgz with the hand-written ESM entry (index.js, worker.js, lib/),
# declarations (index.d.ts) and the MP4 demuxer copied from the npm package mp4box (a
# devDependency of www/) into vendor/.
# With --skip-wasm, packs the www/package/pkg already built.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

if [[ ${1:-} != --skip-wasm ]]; then
    scripts/build-wasm.sh
fi
for f in www/package/pkg/pixelprint.js www/package/pkg/pixelprint_bg.wasm; do
    [[ -s $f ]] || { echo "build-npm: $f is missing: run scripts/build-wasm.sh" >&2; exit 2; }
done
grep -q 'export function hashRgba' www/package/pkg/pixelprint.js && grep -q 'export class VpdqHasher' www/package/pkg/pixelprint.js ||
    { echo "build-npm: www/package/pkg lacks hashRgba or VpdqHasher: rebuild the wasm module" >&2; exit 2; }
# The demuxer copied again: www/package/ has no `prepare` script (its devDependencies are www/'s).
[[ -d www/node_modules/mp4box ]] || { echo "build-npm: www/node_modules is missing: run npm ci in www" >&2; exit 2; }
(cd www && node tools/vendor.mjs)
mkdir -p target/npm
tarball=$(cd www/package && npm pack --silent --pack-destination "$root/target/npm")
echo "build-npm: target/npm/$tarball ($(stat -c %s "target/npm/$tarball") bytes)"
tar -tzf "target/npm/$tarball" | sed 's/^/  /'
