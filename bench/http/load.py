#!/usr/bin/env python3
"""HTTP load for pixelprint-server's /v1/match, from a separate process on loopback.

Usage: load.py URL ADMIN_KEY N_HASHES OUT.md

Imports N_HASHES random PDQ hashes into a bank, checks that a stored hash (with 8 bits flipped)
is found and a random one is not, then times /v1/match with 1 and 100 items per request from
CONNECTIONS keep-alive connections (threads), each sending a bounded number of requests.
"""
import http.client
import json
import os
import platform
import random
import subprocess
import sys
import threading
import time
from urllib.parse import urlparse

CONNECTIONS = int(os.environ.get("CONNECTIONS", "4"))
REQUESTS = int(os.environ.get("REQUESTS", "2000"))  # per connection and case, an upper bound
BUDGET = float(os.environ.get("BUDGET", "10"))  # seconds per case


def conn(url):
    u = urlparse(url)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=60)


def call(c, method, path, body=None, headers=None):
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    return r.status, data


def flip(h, bits):
    b = bytearray(bytes.fromhex(h))
    for i in range(bits):
        b[i] ^= 1
    return b.hex()


def main():
    url, key, n, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    rng = random.Random(7)
    hashes = [rng.randbytes(32).hex() for _ in range(n)]
    c = conn(url)
    auth = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    call(c, "POST", "/v1/banks", json.dumps({"name": "bench"}), auth)
    t0 = time.time()
    for start in range(0, n, 100_000):
        chunk = "\n".join(hashes[start:start + 100_000]) + "\n"
        status, data = call(c, "POST", "/v1/banks/bench/import?atomic=false", chunk,
                            {"Authorization": f"Bearer {key}"})
        assert status == 200, data
    import_s = time.time() - t0

    # Wait (bounded) for the background rebuild to fold the import into the index's base.
    for _ in range(300):
        status, data = call(c, "GET", "/metrics")
        if b"pixelprint_index_pending 0\n" in data:
            break
        time.sleep(0.1)
    else:
        raise SystemExit("the index still had a delta after 30 s")

    # Check before timing: a stored hash with 8 bits flipped is found, a random one is not.
    probe = flip(hashes[n // 2], 8)
    status, data = call(c, "POST", "/v1/match", json.dumps({"items": [{"pdq": probe}, {"pdq": rng.randbytes(32).hex()}]}),
                        {"Content-Type": "application/json"})
    res = json.loads(data)["results"]
    assert status == 200 and len(res[0]["matches"]) == 1 and res[0]["matches"][0]["distance"] == 8, data
    assert res[1]["matches"] == [], data

    rows = []
    for items in (1, 100):
        bodies = []
        for _ in range(64):
            its = []
            for _ in range(items):
                if rng.random() < 0.5:
                    its.append({"pdq": flip(rng.choice(hashes), 8)})
                else:
                    its.append({"pdq": rng.randbytes(32).hex()})
            bodies.append(json.dumps({"items": its}))
        lat = []
        errors = [0]
        lock = threading.Lock()
        deadline = time.time() + BUDGET

        def worker(seed):
            cc = conn(url)
            mine = []
            r = random.Random(seed)
            for _ in range(REQUESTS):
                if time.time() > deadline:
                    break
                b = r.choice(bodies)
                t = time.perf_counter()
                s, _ = call(cc, "POST", "/v1/match", b, {"Content-Type": "application/json"})
                mine.append(time.perf_counter() - t)
                if s != 200:
                    with lock:
                        errors[0] += 1
            with lock:
                lat.extend(mine)

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(CONNECTIONS)]
        t = time.time()
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        wall = time.time() - t
        lat.sort()
        q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] * 1000
        rows.append((items, len(lat), errors[0], len(lat) / wall, len(lat) * items / wall, q(0.5), q(0.99)))

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    load = os.getloadavg()
    with open(out, "w") as f:
        f.write(f"# HTTP benchmark of /v1/match, {time.strftime('%Y-%m-%d', time.gmtime())}\n\n")
        f.write(f"- Machine: `nproc` = {os.cpu_count()}, {platform.processor() or platform.machine()}; "
                f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at the end (shared with other builds)\n")
        f.write(f"- Commit: `{commit}`; server binary: `{os.environ.get('SERVER_BIN', '?')}` ({os.environ.get('SERVER_BUILD', 'cargo --release')})\n")
        f.write(f"- Bank: {n:,} random PDQ hashes (import took {import_s:.1f} s). Queries: half a stored hash "
                f"with 8 bits flipped (one match), half random (no match); default threshold 31.\n")
        f.write(f"- Client: `bench/http/load.py` (Python http.client, a separate process on 127.0.0.1), "
                f"{CONNECTIONS} keep-alive connections, at most {REQUESTS} requests each or {BUDGET:.0f} s per case. "
                f"Checked before timing: the flipped stored hash is found at distance 8, a random hash is not.\n\n")
        f.write("| items/request | requests | non-200 | requests/s | items/s | p50 ms | p99 ms |\n|---|---|---|---|---|---|---|\n")
        for r in rows:
            f.write(f"| {r[0]} | {r[1]:,} | {r[2]} | {r[3]:,.0f} | {r[4]:,.0f} | {r[5]:.2f} | {r[6]:.2f} |\n")
    print(open(out).read())


if __name__ == "__main__":
    main()
