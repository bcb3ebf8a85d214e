#!/usr/bin/env bash
# The PDQ benchmark: the reference C++ core (PyPI pdqhash through ctypes), our scalar path, our
# fast path natively and our fast path in wasm under Node, on the same deterministic RGB pixels
# (about 1, 4, 12 and 24 MP). Every result is checked against the reference hash before its
# timing is reported. Figures are median process CPU times (the machine is shared), each with
# its ratio to the reference. Peak memory: native max RSS of one fast hash of 24 MP, and the
# wasm linear memory after hashing 24 MP. Writes bench/results/pdq/DATE-COMMIT.md
# (OUT=FILE to choose).
#
# usage: bench/pdq/run.sh             (REPS=5 by default; needs www/package/pkg: scripts/build-wasm.sh)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
source scripts/common.sh

reps=${REPS:-5}
data=${DATA:-target/bench-pdq-data}
out=${OUT:-$(bench_result_path pdq)}
command="REPS=$reps bench/pdq/run.sh"

py=$(bench_python oracles pdqhash==0.2.8 imagehash==4.3.2 Pillow==11.3.0 numpy==2.2.6)
[[ -f www/package/pkg/pixelprint_bg.wasm ]] || scripts/build-wasm.sh
# Default target features (SSE2 on x86-64): what a user of the crate gets.
cargo build --release --quiet -p pixelprint-pdq-bench
bin=target/release/pdq-bench

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
rows=()
for size in $("$bin" gen "$data"); do
    w=${size%x*} h=${size#*x} file=$data/$size.rgb
    ref=$("$py" bench/pdq/reference.py "$file" "$w" "$h" "$reps")
    ours=$("$bin" time "$file" "$w" "$h" "$reps")
    wasm=$(node bench/pdq/wasm.mjs "$file" "$w" "$h" "$reps")
    rows+=("$("$py" - "$size" "$ref" "$ours" "$wasm" <<'PY'
import json, sys
size, ref, ours, wasm = sys.argv[1], *map(json.loads, sys.argv[2:])
for name, r in (("native", ours), ("wasm", wasm)):
    assert (r["hash"], r["quality"]) == (ref["hash"], ref["quality"]), f"{size} {name}: {r} != {ref}"
mp = eval(size.replace("x", "*")) / 1e6
a = ref["ms"]
print(f"| {size} ({mp:.1f} MP) | {a:.1f} | {ours['scalar_ms']:.1f} ({a / ours['scalar_ms']:.1f}x) "
      f"| {ours['fast_ms']:.1f} ({a / ours['fast_ms']:.1f}x) | {wasm['ms']:.1f} ({a / wasm['ms']:.1f}x) "
      f"| {wasm['memory_bytes'] / 2**20:.1f} MiB |")
PY
)")
    echo "${rows[-1]}"
done
big=$data/6000x4000.rgb
rss_fast=$(/usr/bin/time -f %M "$bin" once "$big" 6000 4000 fast 2>&1 > /dev/null | tail -1)
rss_scalar=$(/usr/bin/time -f %M "$bin" once "$big" 6000 4000 scalar 2>&1 > /dev/null | tail -1)
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

mkdir -p "$(dirname "$out")"
{
    echo "# PDQ benchmark, $(date -u '+%F %H:%M UTC')"
    echo
    echo "- machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
    echo "- commit: $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . ':!bench/results' || echo ' (with uncommitted changes)')"
    echo "- command: \`$command\`"
    echo "- load average (1, 5, 15 min) at start: $load_start; at end: $load_end (shared machine)"
    echo "- figures: median process CPU time in ms of $reps runs (scalar: of min($reps, 5)),"
    echo "  ratio = reference / ours; every hash checked equal to the reference's before timing"
    echo "- reference: PyPI pdqhash 0.2.8's compiled pdq/cpp core via ctypes, f32 luma +"
    echo "  pdqHash256FromFloatLuma; ours: pdq_hash on the same RGB pixels (wasm: RGBA, pdqFromRgba)"
    echo
    echo "| image | reference C++ | scalar | fast native | fast wasm (Node $(node --version)) | wasm linear memory after |"
    echo "|---|---|---|---|---|---|"
    printf '%s\n' "${rows[@]}"
    echo
    echo "Peak RSS of one hash of 6000x4000 (24 MP) RGB, including the 72 MB of pixels read:"
    echo "fast ${rss_fast} KiB, scalar ${rss_scalar} KiB (\`/usr/bin/time -f %M\`)."
} > "$out"
cat "$out"
