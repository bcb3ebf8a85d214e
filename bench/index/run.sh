#!/usr/bin/env bash
# The index benchmark: ours (MIH, batched and single linear scans) against FAISS
# IndexBinaryMultiHash and IndexBinaryFlat on the same hashes and queries, checked against the
# linear oracle before timing. Writes bench/results/index/DATE-COMMIT.md
# (OUT=FILE to choose).
#
# usage: bench/index/run.sh            (10M hashes per dataset; about 15-20 minutes on 2 cores)
#        N=1000000 bench/index/run.sh  (a quick run)
# Our side and FAISS run in separate processes, one after the other, to keep memory in check.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
source scripts/common.sh

n=${N:-10000000}
queries=${QUERIES:-1000}
check=${CHECK:-50}
budget=${BUDGET:-2}
data=${DATA:-target/bench-index-data}
out=${OUT:-$(bench_result_path index)}
command="N=$n QUERIES=$queries CHECK=$check BUDGET=$budget bench/index/run.sh"

py=$(bench_python faiss faiss-cpu==1.15.1 numpy==2.2.6 flask==3.1.1 gunicorn==23.0.0)

# Native code on both sides: the FAISS wheel dispatches to AVX2/AVX-512 at run time.
RUSTFLAGS="-C target-cpu=native" CARGO_TARGET_DIR=target/bench-native \
    cargo build --release -p pixelprint-bench
bin=target/bench-native/release/index-bench

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
"$bin" gen "$data" --n "$n" --queries "$queries"
"$bin" run "$data" --out "$data/ours.jsonl" --check "$check" --budget "$budget"
"$py" bench/index/faiss_bench.py "$data" --out "$data/faiss.jsonl" --check "$check" --budget "$budget"
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

mkdir -p "$(dirname "$out")"
"$py" bench/index/report.py "$data/ours.jsonl" "$data/faiss.jsonl" \
    --command "$command" --commit "$(git rev-parse --short HEAD)$(git diff --quiet HEAD || echo '-dirty')" \
    --load-start "$load_start" --load-end "$load_end" > "$out"
echo "wrote $out"
