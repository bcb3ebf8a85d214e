#!/usr/bin/env python3
"""HTTP benchmark of POST /v1/match: pixelprint-server against the anchor (bench/http/anchor.py:
Flask + FAISS IndexBinaryMultiHash, one hash per request) on the same N PDQ hashes and the same
queries, driven by wrk from a separate process on loopback.

Usage: bench.py OUT.md   (environment: N, SERVER_BIN, DURATION, CONNECTIONS, WORK; run.sh sets them)

Steps: generate N random PDQ hashes (seeded), import them into the server through the admin API
and wait until the background rebuild has folded them into the index; load the same hashes into
the anchor; check that both answer the same matches (entry ids and distances) for the first 100
single-item queries; then time each case with wrk for DURATION seconds.
Queries: half a stored hash with 8 bits flipped (one match), half random (no match); threshold 31.
"""
import http.client
import json
import os
import platform
import subprocess
import sys
import time

import numpy as np

N = int(os.environ.get("N", "10000000"))
DURATION = int(os.environ.get("DURATION", "15"))
CONNECTIONS = int(os.environ.get("CONNECTIONS", "8"))
WORK = os.environ.get("WORK", "target/bench-http")
SERVER_BIN = os.environ["SERVER_BIN"]
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
KEY = "bench-admin-key-" + os.urandom(8).hex()
IMPORT_CHUNK = 500_000


def call(port, method, path, body=None, headers=None, timeout=600):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data


def start(cmd, env, log):
    """Starts a process with its output in `log`; returns it and the open log."""
    out = open(log, "w+")
    p = subprocess.Popen(cmd, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
    return p, out


def wait_for(pred, seconds, what):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            if pred():
                return
        except (OSError, http.client.HTTPException):
            pass
        time.sleep(0.2)
    raise SystemExit(f"timed out after {seconds} s waiting for {what}")


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def flip8(code):
    q = code.copy()
    q[:8] ^= 1  # 8 distinct bits: the lowest bit of the first 8 bytes
    return q


def wrk(port, bodies_file):
    out = subprocess.run(
        ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{DURATION}s", "--timeout", "30s",
         "-s", os.path.join(HERE, "match.lua"), f"http://127.0.0.1:{port}", "--", bodies_file],
        capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    out_md = sys.argv[1]
    os.makedirs(WORK, exist_ok=True)
    rng = np.random.default_rng(7)
    codes = rng.integers(0, 256, size=(N, 32), dtype=np.uint8)
    hashes_bin = os.path.join(WORK, "hashes.bin")
    codes.tofile(hashes_bin)

    def body(items):
        return json.dumps({"items": [{"pdq": c.tobytes().hex()} for c in items]})

    def query(i):
        if i % 2 == 0:
            return flip8(codes[rng.integers(N)])
        return rng.integers(0, 256, size=32, dtype=np.uint8)

    singles = [body([query(i)]) for i in range(256)]
    hundreds = [body([query(i) for i in range(100)]) for _ in range(64)]
    files = {}
    for name, bodies in (("single", singles), ("hundred", hundreds)):
        files[name] = os.path.join(WORK, f"{name}.jsonl")
        with open(files[name], "w") as f:
            f.write("\n".join(bodies) + "\n")

    # Ours.
    data_dir = os.path.join(WORK, "data")
    subprocess.run(["rm", "-rf", data_dir], check=True)
    server, server_log = start(
        [SERVER_BIN, "--bind", "127.0.0.1:0", "--data-dir", data_dir, "--admin-key", KEY,
         "--rate-ip", "0", "--rate-key", "0"],
        {"RUST_LOG": "warn"}, log=os.path.join(WORK, "server.log"))
    anchor = None
    try:
        def listening():
            server_log.seek(0)
            return "listening on http://127.0.0.1:" in server_log.read()
        wait_for(listening, 60, "the server to listen")
        server_log.seek(0)
        port = int(server_log.read().split("listening on http://127.0.0.1:")[1].split()[0])
        wait_for(lambda: call(port, "GET", "/readyz")[0] == 200, 60, "/readyz")
        auth = {"Authorization": f"Bearer {KEY}"}
        status, data = call(port, "POST", "/v1/banks", json.dumps({"name": "bench"}),
                            {**auth, "Content-Type": "application/json"})
        assert status == 201, data
        t0 = time.time()
        for s in range(0, N, IMPORT_CHUNK):
            text = "\n".join(c.tobytes().hex() for c in codes[s:s + IMPORT_CHUNK]) + "\n"
            status, data = call(port, "POST", "/v1/banks/bench/import?atomic=false", text.encode(), auth)
            assert status == 200, data
        import_s = time.time() - t0
        t0 = time.time()
        wait_for(lambda: b"pixelprint_index_pending 0\n" in call(port, "GET", "/metrics")[1], 1800,
                 "the index rebuild")
        rebuild_s = time.time() - t0

        # The anchor, on the same hashes.
        t0 = time.time()
        anchor, anchor_log = start(
            [sys.executable, "-m", "gunicorn", "--preload", "-w", "1", "--threads", str(CONNECTIONS),
             "-b", "127.0.0.1:0", "--timeout", "600", "--chdir", HERE, "anchor:app"],
            {"HASHES": os.path.abspath(hashes_bin)}, log=os.path.join(WORK, "anchor.log"))

        def anchor_port():
            anchor_log.seek(0)
            text = anchor_log.read()
            return int(text.split("Listening at: http://127.0.0.1:")[1].split()[0]) if "Listening at" in text else None
        wait_for(lambda: anchor_port() is not None, 1800, "the anchor to load and listen")
        aport = anchor_port()
        anchor_load_s = time.time() - t0

        # Same answers before timing.
        checked = 0
        for b in singles[:100]:
            s1, d1 = call(port, "POST", "/v1/match", b, {"Content-Type": "application/json"})
            s2, d2 = call(aport, "POST", "/v1/match", b, {"Content-Type": "application/json"})
            assert s1 == 200 and s2 == 200, (d1, d2)
            ours = sorted((m["entry_id"], m["distance"]) for m in json.loads(d1)["results"][0]["matches"])
            theirs = sorted((m["entry_id"], m["distance"]) for m in json.loads(d2)["results"][0]["matches"])
            assert ours == theirs, (b, ours, theirs)
            checked += 1
        hits = sum(1 for b in singles[:100]
                   if json.loads(call(port, "POST", "/v1/match", b, {"Content-Type": "application/json"})[1])["results"][0]["matches"])

        load_start = os.getloadavg()
        rows = [("pixelprint-server", 1, wrk(port, files["single"])),
                ("pixelprint-server", 100, wrk(port, files["hundred"])),
                ("anchor (Flask + FAISS MultiHash)", 1, wrk(aport, files["single"]))]
        load_end = os.getloadavg()
        server_rss = rss_mb(server.pid)
        anchor_rss = rss_mb(anchor.pid) if anchor else float("nan")
    finally:
        for p in (server, anchor):
            if p:
                p.terminate()
                p.wait()

    anchor_items = rows[2][2]["requests"] / (rows[2][2]["duration_us"] / 1e6)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=ROOT).stdout.strip()
    with open(out_md, "w") as f:
        f.write(f"# HTTP benchmark of /v1/match, {time.strftime('%Y-%m-%d', time.gmtime())}\n\n")
        f.write(f"- Machine: `nproc` = {os.cpu_count()}, {platform.machine()}; load average "
                f"{load_start[0]:.2f} before the timed runs, {load_end[0]:.2f} after\n")
        f.write(f"- Commit: `{commit}`; command: `N={N} DURATION={DURATION} CONNECTIONS={CONNECTIONS} "
                f"bench/http/run.sh`; server: release build, SQLite storage, rate limits off\n")
        f.write(f"- Bank: {N:,} random PDQ hashes. Import through the admin API in chunks of "
                f"{IMPORT_CHUNK:,} lines: {import_s:.1f} s, then {rebuild_s:.1f} s until the background "
                f"rebuild had folded them into the index; server peak RSS {server_rss:,.0f} MB.\n")
        f.write(f"- Anchor: `bench/http/anchor.py` (the reference system's shape: Flask, FAISS "
                f"`IndexBinaryMultiHash(256, 16, 16)`, nflip 1, one hash per request) under gunicorn "
                f"(1 worker, {CONNECTIONS} threads); load {anchor_load_s:.1f} s, peak RSS {anchor_rss:,.0f} MB.\n")
        f.write(f"- Queries: half a stored hash with 8 bits flipped, half random; threshold 31. Checked "
                f"before timing: both answer the same entry ids and distances for {checked} single-item "
                f"queries ({hits} with a match).\n")
        f.write(f"- Load: `wrk -t1 -c{CONNECTIONS} -d{DURATION}s` (a separate process on 127.0.0.1, "
                f"sharing the 2 cores with the server), bodies from `bench/http/match.lua`.\n\n")
        f.write("| server | items/request | requests | non-2xx | requests/s | items/s | p50 ms | p99 ms | items/s vs anchor |\n")
        f.write("|---|---|---|---|---|---|---|---|---|\n")
        for name, items, r in rows:
            secs = r["duration_us"] / 1e6
            rps = r["requests"] / secs
            f.write(f"| {name} | {items} | {r['requests']:,} | {r['non2xx'] + r['socket_errors']} | {rps:,.1f} | "
                    f"{rps * items:,.0f} | {r['p50_us'] / 1000:.2f} | {r['p99_us'] / 1000:.2f} | "
                    f"{rps * items / anchor_items:,.1f}x |\n")
    print(open(out_md).read())


if __name__ == "__main__":
    main()
