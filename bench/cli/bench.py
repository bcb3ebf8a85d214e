#!/usr/bin/env python3
"""CLI benchmark: `pixelprint hash --jobs 2` over a folder of photos against the Python pipeline
(python_pipeline.py: Pillow + pdqhash + imagehash + hashlib) with 2 processes, same files, same
default hashes. Both outputs are compared first (digests equal; imagehash and PDQ agreement
reported: both decode JPEG with libjpeg-turbo's arithmetic, ours with its own decoder); then
each side runs REPS times, and the medians of
wall-clock time and of CPU time (user + system of the child processes) are reported with their
ratios.

usage: bench.py CLI_BIN PHOTO_DIR OUT.md COMMAND   (REPS from the environment, default 3)
"""
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPS = int(os.environ.get("REPS", "3"))


def run(cmd):
    """Runs cmd; returns its stdout, wall seconds and child CPU seconds."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return out, wall, cpu


def by_path(jsonl):
    rows = [json.loads(line) for line in jsonl.splitlines() if line.strip()]
    return {os.path.basename(r["path"]): r for r in rows}


def distance(a, b):
    return bin(int(a, 16) ^ int(b, 16)).count("1")


def main():
    cli, folder, out_md, command = sys.argv[1:5]
    files = sorted(os.listdir(folder))
    total_bytes = sum(os.path.getsize(os.path.join(folder, f)) for f in files)
    for f in files:  # the page cache holds every file for both sides
        with open(os.path.join(folder, f), "rb") as fh:
            fh.read()
    ours_cmd = [cli, "hash", "--jobs", "2", "--algorithms", "pdq,ahash,dhash,phash,md5,sha256", folder]
    python_cmd = [sys.executable, os.path.join(HERE, "python_pipeline.py"), folder, "2"]

    ours, _, _ = run(ours_cmd)
    theirs, _, _ = run(python_cmd)
    ours, theirs = by_path(ours), by_path(theirs)
    assert sorted(ours) == sorted(theirs) == files, "both sides hash every file"
    errors = [f for f in files if "error" in ours[f]]
    assert not errors, f"the CLI failed on {errors}"
    agree = {k: 0 for k in ("md5", "sha256", "ahash", "dhash", "phash", "pdq")}
    pdq_d, quality_same = [], 0
    for f in files:
        a, b = ours[f], theirs[f]
        for k in ("md5", "sha256", "ahash", "dhash", "phash"):
            agree[k] += a[k] == b[k]
        d = distance(a["pdq"]["hash"], b["pdq"]["hash"])
        pdq_d.append(d)
        agree["pdq"] += d == 0
        quality_same += a["pdq"]["quality"] == b["pdq"]["quality"]
    assert agree["md5"] == agree["sha256"] == len(files), "digests differ"
    pngs = [f for f in files if f.lower().endswith(".png")]
    png_exact = all(distance(ours[f]["pdq"]["hash"], theirs[f]["pdq"]["hash"]) == 0
                    and all(ours[f][k] == theirs[f][k] for k in ("ahash", "dhash", "phash"))
                    for f in pngs)
    assert png_exact, "lossless files must hash identically"

    load_start = os.getloadavg()
    times = {"ours": [], "python": []}
    for _ in range(REPS):  # interleaved, so that both sides see the same machine
        for name, cmd in (("ours", ours_cmd), ("python", python_cmd)):
            _, wall, cpu = run(cmd)
            times[name].append((wall, cpu))
    load_end = os.getloadavg()
    med = {k: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v)) for k, v in times.items()}

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=HERE).stdout.strip()
    pdq_d.sort()
    with open(out_md, "w") as f:
        f.write(f"# CLI benchmark: a folder of photos, {time.strftime('%Y-%m-%d', time.gmtime())}\n\n")
        f.write(f"- Machine: `nproc` = {os.cpu_count()}, {platform.machine()}; load average "
                f"{load_start[0]:.2f} before, {load_end[0]:.2f} after the timed runs\n")
        f.write(f"- Commit: `{commit}`; command: `{command}`\n")
        f.write(f"- Folder: {len(files)} files, {total_bytes / 1e6:.0f} MB ({len(pngs)} PNG, the rest JPEG), "
                f"built by `bench/cli/prepare.py` from Debian's plasma-workspace-wallpapers; in the page cache.\n")
        f.write(f"- Ours: `pixelprint hash --jobs 2 --algorithms pdq,ahash,dhash,phash,md5,sha256` (release build).\n")
        f.write(f"- Anchor: `bench/cli/python_pipeline.py` with 2 processes: Pillow {__import__('PIL').__version__} "
                f"decode, PyPI pdqhash (the reference C++ core), imagehash, hashlib.\n")
        f.write(f"- Checked first: MD5 and SHA-256 equal on {agree['md5']}/{len(files)} files; on the {len(pngs)} "
                f"PNGs every hash identical. JPEGs: ours decodes with libjpeg-turbo's arithmetic (our own "
                f"decoder), Pillow with libjpeg-turbo, so the perceptual hashes should agree too: "
                f"aHash equal {agree['ahash']}/{len(files)}, dHash {agree['dhash']}/{len(files)}, "
                f"pHash {agree['phash']}/{len(files)}, PDQ identical {agree['pdq']}/{len(files)} "
                f"(distance max {pdq_d[-1]}, median {statistics.median(pdq_d):g}), PDQ quality equal "
                f"{quality_same}/{len(files)}.\n")
        f.write(f"- Timing: {REPS} runs of each side, interleaved; medians.\n\n")
        f.write("| side | wall s | CPU s | files/s (wall) | wall vs anchor | CPU vs anchor |\n|---|---|---|---|---|---|\n")
        for name, label in (("ours", "pixelprint CLI"), ("python", "Python pipeline (anchor)")):
            w, c = med[name]
            f.write(f"| {label} | {w:.2f} | {c:.2f} | {len(files) / w:.1f} | "
                    f"{med['python'][0] / w:.1f}x | {med['python'][1] / c:.1f}x |\n")
    print(open(out_md).read())


if __name__ == "__main__":
    main()
