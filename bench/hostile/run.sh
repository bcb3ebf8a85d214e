#!/usr/bin/env bash
# Hostile clients against pixelprint-server: heavy vPDQ queries, huge imports, slow bodies, idle
# connections, each on a fresh release server on 127.0.0.1 (SQLite, then PostgreSQL), with a
# trickle of small /v1/match requests from a second process meanwhile. A few minutes.
# Usage: bench/hostile/run.sh          (PROBES=vpdq,import bench/hostile/run.sh: a subset;
#                                       NO_POSTGRES=1: SQLite only)
# Results: bench/results/hostile/DATE-COMMIT.md.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
source scripts/common.sh

venv=target/bench-hostile-venv
# The client needs nothing beyond Python's standard library; the venv keeps it apart anyway.
[[ -x $venv/bin/python ]] || python3 -m venv "$venv"
if [[ -z ${SERVER_BIN:-} ]]; then
    CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PIXELPRINT_NATIVE_TARGET_DIR} \
        cargo build --release -q -p pixelprint-server
    SERVER_BIN=${CARGO_TARGET_DIR:-$PIXELPRINT_NATIVE_TARGET_DIR}/release/pixelprint-server
fi
pg_url=
[[ -n ${NO_POSTGRES:-} ]] || pg_url=$(bash scripts/postgres.sh)
timeout 1800 "$venv/bin/python" bench/hostile/hostile.py "$(bench_result_path hostile)" \
    "$SERVER_BIN" "$pg_url"
