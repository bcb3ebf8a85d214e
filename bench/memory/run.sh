#!/usr/bin/env bash
# Peak memory of hashing a 24 MP JPEG with the CLI's default algorithms (pdq, ahash, dhash,
# phash, md5, sha256): native peak RSS of `pixelprint hash` (`/usr/bin/time -f %M`), and the
# wasm linear memory after `hashBytes` in Node (the npm package's module, www/package/pkg), in
# one instance and in the two the package's two-worker hasher uses (PDQ | the rest). The JPEG is
# a wallpaper of Debian's plasma-workspace-wallpapers scaled to 6000x4000 (quality 92).
# Usage: bench/memory/run.sh. Results: bench/results/memory/DATE-COMMIT.md.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
source scripts/common.sh

py=$(bench_python oracles pdqhash==0.2.8 imagehash==4.3.2 Pillow==11.3.0 numpy==2.2.6)
[[ -f www/package/pkg/pixelprint_bg.wasm ]] || bash scripts/build-wasm.sh
CARGO_TARGET_DIR=$PIXELPRINT_NATIVE_TARGET_DIR cargo build --release --quiet -p pixelprint-cli
cli=$PIXELPRINT_NATIVE_TARGET_DIR/release/pixelprint
src=$(find /usr/share/wallpapers -name '5120x2880.jpg' 2> /dev/null | sort | head -n 1)
[[ -n $src ]] || { echo "memory: install plasma-workspace-wallpapers first (bench/cli/run.sh does)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
jpeg=$work/24mp.jpg
"$py" -c 'import sys; from PIL import Image; Image.open(sys.argv[1]).convert("RGB").resize((6000, 4000), Image.LANCZOS).save(sys.argv[2], quality=92)' "$src" "$jpeg"

out=$(bench_result_path memory)
rss=$( { /usr/bin/time -f %M "$cli" hash "$jpeg" > "$work/cli.json"; } 2>&1 | tail -n 1)
node bench/memory/wasm.mjs "$jpeg" > "$work/wasm.json"
node bench/memory/wasm.mjs "$jpeg" pdq > "$work/wasm-pdq.json"
node bench/memory/wasm.mjs "$jpeg" ahash,dhash,phash,md5,sha256 > "$work/wasm-rest.json"
"$py" - "$work/cli.json" "$work/wasm.json" "$work/wasm-pdq.json" "$work/wasm-rest.json" "$rss" "$(git rev-parse --short HEAD)" "$(basename "$(dirname "$(dirname "$(dirname "$src")")")")" > "$out" <<'PY'
import json, sys
cli, wasm, pdq, rest = (json.load(open(p)) for p in sys.argv[1:5])
rss_kib, commit, name = int(sys.argv[5]), sys.argv[6], sys.argv[7]
for r in (wasm["result"], {**pdq["result"], **rest["result"]}):
    for k in ("pdq", "ahash", "dhash", "phash", "md5", "sha256"):
        assert r[k] == cli[k], (k, r[k], cli[k])
mb = lambda b: b / 2**20
print(f"# Peak memory: a 24 MP JPEG, all default hashes\n")
print(f"- Commit `{commit}`; command `bench/memory/run.sh`; image: the `{name}` wallpaper scaled to "
      f"{cli['width']}x{cli['height']} (JPEG quality 92, {cli['format']}); wasm and CLI results checked equal.")
print(f"- Raw RGB pixels of this image: {mb(cli['width'] * cli['height'] * 3):.0f} MiB.\n")
print("| path | peak |\n|---|---|")
print(f"| native CLI `pixelprint hash` (peak RSS, whole process) | {mb(rss_kib * 1024):.0f} MiB |")
print(f"| wasm `hashBytes` in Node (linear memory after) | {mb(wasm['memory_bytes']):.0f} MiB |")
both = pdq['memory_bytes'] + rest['memory_bytes']
print(f"| wasm, the npm package's two workers (`pdq` in one instance, the rest in another), together | "
      f"{mb(both):.0f} MiB ({mb(pdq['memory_bytes']):.0f} + {mb(rest['memory_bytes']):.0f}) |")
PY
cat "$out"
