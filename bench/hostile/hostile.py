"""Hostile clients against pixelprint-server, each probe on a fresh server.

Usage: hostile.py RESULT.md SERVER_BIN [POSTGRES_URL]   (PROBES=vpdq,import: a subset)
       hostile.py trickle-until HOST:PORT KEY STOP_FILE   (the second process: small matches)

Per probe: what the hostile client saw, the p99 latency of a trickle of small keyed /v1/match
requests sent meanwhile by a second process, and the server's peak RSS (VmHWM). Standard
library only.
"""

import http.client
import json
import os
import random
import select
import socket
import subprocess
import sys
import tempfile
import threading
import time

ADMIN = "bench-admin-key-0123456789abcdef"
TRICKLE_INTERVAL = 0.02


def request(addr, method, path, body=b"", headers=None, timeout=120):
    host, port = addr.split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    h = {"authorization": f"Bearer {ADMIN}"}
    h.update(headers or {})
    start = time.monotonic()
    conn.request(method, path, body=body, headers=h)
    r = conn.getresponse()
    data = r.read()
    conn.close()
    return r.status, data, time.monotonic() - start


def pdq(rng):
    return "%064x" % rng.getrandbits(256)


def near(rng, hexhash, bits):
    v = int(hexhash, 16)
    for _ in range(bits):
        v ^= 1 << rng.randrange(256)
    return "%064x" % v


class Server:
    def __init__(self, binary, pg_url, extra=()):
        self.dir = tempfile.TemporaryDirectory(prefix="pixelprint-hostile-")
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        self.addr = f"127.0.0.1:{port}"
        args = [binary, "--bind", self.addr, "--data-dir", self.dir.name, "--admin-key", ADMIN,
                "--rate-ip", "0", "--rate-key", "0", "--anon-item-rate", "0",
                "--anon-daily-items", "0", "--origin-item-rate", "0",
                "--origin-daily-items", "0", *extra]
        self.db = None
        if pg_url:
            self.db = "hostile_%d_%d" % (os.getpid(), port)
            subprocess.run(["psql", pg_url, "-qc", f"CREATE DATABASE {self.db}"], check=True,
                           stdout=subprocess.DEVNULL)
            base = pg_url.rsplit("/", 1)[0]
            args += ["--database-url", f"{base}/{self.db}"]
        self.pg_url = pg_url
        self.proc = subprocess.Popen(args, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     env={**os.environ, "RUST_LOG": "error"})
        for _ in range(600):
            try:
                if request(self.addr, "GET", "/readyz", timeout=5)[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.05)
        else:
            raise RuntimeError("server did not start")

    def hwm_mb(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.db:
            subprocess.run(["psql", self.pg_url, "-qc", f"DROP DATABASE IF EXISTS {self.db}"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.dir.cleanup()


def p99(values):
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, int(len(v) * 0.99))]


def run_trickle_during(server, action):
    """The trickle runs for exactly the action's span (plus a short lead)."""
    result = {}

    def act():
        result["seen"] = action()

    t = threading.Thread(target=act)
    lead = 0.3
    # The trickle runs in its own process until told to stop through a file.
    stop = tempfile.NamedTemporaryFile(prefix="hostile-stop-", delete=False)
    stop.close()
    os.unlink(stop.name)
    proc = subprocess.Popen([sys.executable, __file__, "trickle-until", server.addr, ADMIN,
                             stop.name], stdout=subprocess.PIPE)
    time.sleep(lead)
    start = time.monotonic()
    t.start()
    t.join()
    took = time.monotonic() - start
    open(stop.name, "w").close()
    out, _ = proc.communicate()
    os.unlink(stop.name)
    report = json.loads(out)
    lat = report["latencies"]
    return result["seen"], took, p99(lat) * 1000, max(lat) * 1000 if lat else float("nan"), \
        len(lat), report["errors"]


def trickle_until(addr, key, stop_file):
    rng = random.Random(1)
    latencies = []
    errors = {}
    while not os.path.exists(stop_file):
        body = json.dumps({"items": [{"pdq": pdq(rng)}]}).encode()
        try:
            status, _, took = request(addr, "POST", "/v1/match", body,
                                      {"content-type": "application/json",
                                       "authorization": f"Bearer {key}"}, timeout=60)
            latencies.append(took)
            if status != 200:
                errors[str(status)] = errors.get(str(status), 0) + 1
        except OSError as e:
            errors[type(e).__name__] = errors.get(type(e).__name__, 0) + 1
        time.sleep(TRICKLE_INTERVAL)
    print(json.dumps({"latencies": latencies, "errors": errors}))


# --- probes -----------------------------------------------------------------------------------

STORED_FRAMES = 86_400
QUERY_FRAMES = 8_000


def video_text(hashes):
    return "".join(f"{k},100,{h},{k}.000\n" for k, h in enumerate(hashes))


def vpdq_item(hashes):
    return {"vpdq": [{"frame": k, "timestamp": float(k), "hash": h, "quality": 100}
                     for k, h in enumerate(hashes)]}


def import_text(server, bank, query, text):
    return request(server.addr, "POST", f"/v1/banks/{bank}/import?{query}",
                   text.encode() if isinstance(text, str) else text,
                   {"content-type": "text/plain"}, timeout=600)


def make_bank(server, name):
    status, data, _ = request(server.addr, "POST", "/v1/banks", json.dumps({"name": name}).encode(),
                              {"content-type": "application/json"})
    assert status == 201, data


def anon_match(server, body):
    # No key: an anonymous caller.
    host, port = server.addr.split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=600)
    start = time.monotonic()
    conn.request("POST", "/v1/match", body=body, headers={"content-type": "application/json"})
    r = conn.getresponse()
    data = r.read()
    conn.close()
    return r.status, data, time.monotonic() - start


def concurrently(*calls):
    out = [None] * len(calls)

    def run(i, f):
        out[i] = f()

    threads = [threading.Thread(target=run, args=(i, f)) for i, f in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def admin_add(server, rng):
    body = json.dumps({"entries": [{"algorithm": "pdq", "hash": pdq(rng)}]}).encode()
    return request(server.addr, "POST", "/v1/banks/videos/entries", body,
                   {"content-type": "application/json"})


def probe_vpdq(server, dense):
    """Two anonymous 8,000-frame queries at once against a stored 86,400-frame video, and an
    admin add meanwhile. Sparse: the query's frames are copies of stored frames (one close pair
    each). Dense: the stored video is 20 scenes of 4,320 close frames and the query is 8,000
    frames of one scene (34.6 million close pairs)."""
    rng = random.Random(3)
    make_bank(server, "videos")
    if dense:
        scenes = [pdq(rng) for _ in range(20)]
        stored = [near(rng, scenes[k % 20], 6) for k in range(STORED_FRAMES)]
        query = [near(rng, scenes[0], 6) for _ in range(QUERY_FRAMES)]
    else:
        stored = [pdq(rng) for _ in range(STORED_FRAMES)]
        query = [near(rng, stored[k * 10], 4) for k in range(QUERY_FRAMES)]
    status, data, _ = import_text(server, "videos", "format=vpdq", video_text(stored))
    assert status == 200, data[:300]
    body = json.dumps({"items": [vpdq_item(query)]}).encode()

    def action():
        def add_later():
            time.sleep(0.3)
            return admin_add(server, rng)

        a, b, add = concurrently(lambda: anon_match(server, body),
                                 lambda: anon_match(server, body), add_later)
        seen = []
        for r in (a, b):
            text = r[1].decode(errors="replace")
            code = json.loads(text).get("error", {}).get("code") if r[0] != 200 else \
                json.loads(text)["results"][0]["match"]
            seen.append(f"{r[0]} ({'match=' if r[0] == 200 else ''}{code}) in {r[2]:.2f} s")
        seen.append(f"admin add {add[0]} in {add[2]:.2f} s")
        return "; ".join(seen)

    return action


def probe_import(kind):
    def setup(server):
        make_bank(server, "lists")
        size = 64 << 20
        if kind == "bad lines":
            text = b"x\n" * (size // 2)
            query = "format=plain"
        elif kind == "{} lines":
            text = b"{}\n" * (size // 3)
            query = "format=stopncii"
        elif kind == "{} array":
            n = size // 3 - 1
            text = b"[" + b"{}," * (n - 1) + b"{}]"
            query = "format=stopncii"
        else:  # valid PDQ lines
            rng = random.Random(5)
            lines = []
            total = 0
            while total < size - 66:
                line = pdq(rng) + "\n"
                lines.append(line)
                total += len(line)
            text = "".join(lines).encode()
            query = "format=plain&atomic=false"

        def action():
            status, data, took = import_text(server, "lists", query, text)
            health = request(server.addr, "GET", "/healthz")[2]
            try:
                v = json.loads(data)
                summary = f"imported {v.get('imported')}, {len(v.get('errors', []))} errors " \
                          f"listed of {v.get('error_count')}"
            except ValueError:
                summary = data[:80].decode(errors="replace")
            return f"{status} in {took:.1f} s, {len(data)} bytes ({summary}); " \
                   f"/healthz after {health * 1000:.0f} ms"

        return action

    return setup


# The server's documented defaults (`pixelprint-server --help`), which these probes run with.
BODY_TIMEOUT_S = 30
HEADER_TIMEOUT_S = 10


def wait_closed(socks, limit, feed=None):
    """Seconds until the server closed each socket (answered and/or sent EOF), None for those
    still open after `limit` s. `feed(sock)` runs once a second on each open socket."""
    started = time.monotonic()
    closed_after = {}
    next_feed = started
    while len(closed_after) < len(socks) and time.monotonic() - started < limit:
        now = time.monotonic()
        if feed and now >= next_feed:
            for s in socks:
                if s not in closed_after:
                    try:
                        feed(s)
                    except OSError:
                        closed_after[s] = now - started
            next_feed = now + 1
        open_socks = [s for s in socks if s not in closed_after]
        readable, _, _ = select.select(open_socks, [], [], 0.05) if open_socks else ([], [], [])
        for s in readable:
            try:
                data = s.recv(4096)
            except OSError:
                data = b""
            if not data or data.startswith(b"HTTP/1.1 408"):
                closed_after[s] = time.monotonic() - started
    return [closed_after.get(s) for s in socks]


def closing_summary(what, times, limit):
    done = sorted(t for t in times if t is not None)
    still = len(times) - len(done)
    if not done:
        return f"{what}: none closed within {limit} s"
    return (f"{what}: {len(done)} closed by the server after {done[0]:.1f}-{done[-1]:.1f} s, "
            f"{still} still open at {limit} s")


def probe_slow_body(server):
    """20 clients each announce a 1 MiB body and send one byte a second, until the server
    drops them or for the body timeout plus 10 s."""
    def action():
        host, port = server.addr.split(":")
        socks = []
        for _ in range(20):
            s = socket.create_connection((host, int(port)))
            s.sendall(b"POST /v1/match HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
                      b"content-length: 1048576\r\n\r\n")
            socks.append(s)
        limit = BODY_TIMEOUT_S + 10
        times = wait_closed(socks, limit, feed=lambda s: s.sendall(b" "))
        for s in socks:
            s.close()
        return closing_summary(f"20 bodies at 1 byte/s (--body-timeout-secs {BODY_TIMEOUT_S})",
                               times, limit)

    return action


def probe_idle(server):
    """500 connections that send nothing, held until the server closes them or for the header
    timeout plus 5 s."""
    def action():
        host, port = server.addr.split(":")
        socks = []
        refused = 0
        for _ in range(500):
            try:
                socks.append(socket.create_connection((host, int(port)), timeout=5))
            except OSError:
                refused += 1
        limit = HEADER_TIMEOUT_S + 5
        times = wait_closed(socks, limit)
        for s in socks:
            s.close()
        return closing_summary(
            f"500 idle connections, {refused} refused (--header-timeout-secs {HEADER_TIMEOUT_S})",
            times, limit)

    return action


PROBES = [
    ("vpdq sparse: 2 x 8,000 frames vs 86,400 stored", lambda s: probe_vpdq(s, dense=False)),
    ("vpdq dense: 2 x 8,000 frames, 34.6 M close pairs", lambda s: probe_vpdq(s, dense=True)),
    ("import 64 MiB of bad lines", probe_import("bad lines")),
    ("import 64 MiB of {} lines", probe_import("{} lines")),
    ("import 64 MiB {} array", probe_import("{} array")),
    ("import 64 MiB of valid PDQ (1 M entries)", probe_import("valid")),
    ("slow bodies", probe_slow_body),
    ("idle connections", probe_idle),
]


def main():
    if sys.argv[1] == "trickle-until":
        trickle_until(sys.argv[2], sys.argv[3], sys.argv[4])
        return
    out, binary = sys.argv[1], sys.argv[2]
    pg_url = sys.argv[3] if len(sys.argv) > 3 and sys.argv[3] else None
    only = os.environ.get("PROBES")
    rows = []
    for backend, url in [("sqlite", None)] + ([("postgres", pg_url)] if pg_url else []):
        for name, probe in PROBES:
            if only and not any(o in name for o in only.split(",")):
                continue
            server = Server(binary, url)
            try:
                action = probe(server)
                seen, took, p, worst, n, errors = run_trickle_during(server, action)
                hwm = server.hwm_mb()
            finally:
                server.stop()
            row = (backend, name, seen, p, worst, n, errors, hwm)
            rows.append(row)
            print(f"{backend:8} {name:48} p99 {p:7.1f} ms  max {worst:7.1f} ms  "
                  f"n {n:4}  RSS {hwm:6.0f} MB  {seen}  {errors or ''}", flush=True)
    write(out, rows)


def write(out, rows):
    commit = subprocess.run(["git", "rev-parse", "--short=7", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                if l.startswith("model name")), "?")
    lines = [
        "# Hostile clients against pixelprint-server",
        "",
        f"Commit {commit}{' (with uncommitted changes)' if dirty else ''}, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} CPUs ({cpu}), "
        "release build on 127.0.0.1; each probe on a fresh server (rate limits off, so the "
        "work limits are what is measured). `bench/hostile/run.sh`.",
        "",
        "Trickle: a second process sends one-item keyed /v1/match requests (a new connection "
        f"each, {TRICKLE_INTERVAL * 1000:.0f} ms apart) from 0.3 s before the probe to its end. "
        "Peak RSS is the server's VmHWM over its life (setup included). Targets: trickle p99 "
        "< 50 ms, peak RSS < 1 GB.",
        "",
        "| backend | probe | what the hostile client saw | trickle p99 (max), n | trickle errors "
        "| peak RSS |",
        "|---|---|---|---|---|---|",
    ]
    for backend, name, seen, p, worst, n, errors, hwm in rows:
        err = ", ".join(f"{k}: {v}" for k, v in errors.items()) or "none"
        lines.append(f"| {backend} | {name} | {seen} | {p:.1f} ms ({worst:.0f} ms), {n} | {err} "
                     f"| {hwm:.0f} MB |")
    with open(out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
