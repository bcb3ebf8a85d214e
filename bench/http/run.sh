#!/usr/bin/env bash
# HTTP benchmark: pixelprint-server against the anchor (Flask + FAISS MultiHash, the reference
# system's shape) on N PDQ hashes, loaded by wrk from a second process on 127.0.0.1.
# Usage: bench/http/run.sh            (10M hashes; about 10 minutes and 6 GB of memory)
#        N=100000 bench/http/run.sh   (a quick run)
# Results: bench/results/http/DATE-COMMIT.md.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
source scripts/common.sh

command -v wrk > /dev/null || { timeout 600 apt-get install -y -qq wrk < /dev/null > /dev/null; }
py=$(bench_python faiss faiss-cpu==1.15.1 numpy==2.2.6 flask==3.1.1 gunicorn==23.0.0)
if [[ -z ${SERVER_BIN:-} ]]; then
    CARGO_TARGET_DIR=$PIXELPRINT_NATIVE_TARGET_DIR cargo build --release -p pixelprint-server
    SERVER_BIN=$PIXELPRINT_NATIVE_TARGET_DIR/release/pixelprint-server
fi
export SERVER_BIN
"$py" bench/http/bench.py "$(bench_result_path http)"
