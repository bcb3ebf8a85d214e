#!/usr/bin/env bash
# HTTP benchmark: the server binary with N PDQ hashes, loaded by bench/http/load.py from a second
# process on 127.0.0.1. Usage: N=100000 bench/http/run.sh  (results in bench/results/).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
N=${N:-100000}
if [[ -z ${SERVER_BIN:-} ]]; then
    cargo build --release -p pixelprint-server
    SERVER_BIN=$root/target/release/pixelprint-server
fi
export SERVER_BIN
data=$(mktemp -d)
key=bench-$RANDOM$RANDOM
log=$data/server.log
"$SERVER_BIN" --bind 127.0.0.1:0 --data-dir "$data" --admin-key "$key" --rate-ip 0 --rate-key 0 > "$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 1 300); do
    grep -q '^listening on' "$log" && break
    sleep 0.1
done
url=$(sed -n 's/^listening on //p' "$log" | head -1)
[[ -n $url ]] || { cat "$log"; exit 1; }
for _ in $(seq 1 300); do
    curl -sf "$url/readyz" > /dev/null && break
    sleep 0.1
done
mkdir -p bench/results
python3 bench/http/load.py "$url" "$key" "$N" "bench/results/http-$(date -u +%F).md"
