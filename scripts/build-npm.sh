#!/usr/bin/env bash
# Builds the npm package `pixelprint` (www/): the wasm module and its bindings into www/pkg
# (scripts/build-wasm.sh), then packs www/ into target/npm/pixelprint-<version>.tgz with the
# hand-written ESM entry (index.js, worker.js, lib/), declarations (index.d.ts) and the MP4
# demuxer copied from the npm package mp4box into vendor/ (`npm pack` runs `prepare`, which
# copies it again).
# With --skip-wasm, packs the www/pkg already built.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

if [[ ${1:-} != --skip-wasm ]]; then
    scripts/build-wasm.sh
fi
for f in www/pkg/pixelprint.js www/pkg/pixelprint_bg.wasm; do
    [[ -s $f ]] || { echo "build-npm: $f is missing: run scripts/build-wasm.sh" >&2; exit 2; }
done
grep -q 'export function hashRgba' www/pkg/pixelprint.js && grep -q 'export class VpdqHasher' www/pkg/pixelprint.js ||
    { echo "build-npm: www/pkg lacks hashRgba or VpdqHasher: rebuild the wasm module" >&2; exit 2; }
mkdir -p target/npm
tarball=$(cd www && npm pack --silent --pack-destination "$root/target/npm")
echo "build-npm: target/npm/$tarball ($(stat -c %s "target/npm/$tarball") bytes)"
tar -tzf "target/npm/$tarball" | sed 's/^/  /'
