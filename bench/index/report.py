#!/usr/bin/env python3
"""Joins our side's and the FAISS side's JSON lines into the markdown report.

usage: report.py OURS.jsonl FAISS.jsonl --command CMD --commit HASH --load-start L --load-end L
"""

import argparse
import json
import os
import platform
import subprocess
import time


def lines(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def cpu_model():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor()


def fmt_qps(v):
    return f"{v:,.0f}" if v >= 100 else f"{v:.1f}" if v >= 1 else f"{v:.2f}"


def fmt_bytes(b):
    return f"{b / 2**20:,.0f} MiB"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ours")
    ap.add_argument("faiss")
    ap.add_argument("--command", required=True)
    ap.add_argument("--commit", required=True)
    ap.add_argument("--load-start", default="?")
    ap.add_argument("--load-end", default="?")
    args = ap.parse_args()
    ours, theirs = lines(args.ours), lines(args.faiss)
    rows = {(r["dataset"], r["radius"], r["kind"]): r for r in ours if "radius" in r}
    frows = {(r["dataset"], r["radius"], r["kind"]): r for r in theirs if "radius" in r}
    obuild = {r["dataset"]: r for r in ours if "build_s" in r}
    fbuild = {r["dataset"]: r for r in theirs if "flat" in r and "radius" not in r}
    meta = next(r for r in theirs if "faiss_version" in r)
    rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()

    out = []
    p = out.append
    p(f"# Index benchmark, {time.strftime('%Y-%m-%d')}\n")
    p(f"- Machine: `nproc` = {os.cpu_count()}, {cpu_model()}; load average {args.load_start} at the "
      f"start and {args.load_end} at the end (the machine is shared with other builds)")
    p(f"- Commit: `{args.commit}`; {rustc}, `RUSTFLAGS=\"-C target-cpu=native\"`; FAISS "
      f"{meta['faiss_version']} from PyPI `faiss-cpu` ({meta['compile_options'].strip()})")
    p(f"- Command: `{args.command}`")
    n = next(iter(obuild.values()))["n"]
    p(f"- Data: {n:,} PDQ hashes per dataset, ids = row numbers. *uniform*: random bits. "
      "*clustered*: one random centre per 100 hashes, each hash its centre with 0-8 random bits "
      "flipped. *miss* queries: random hashes. *hit* queries: a stored hash with 8 distinct bits "
      "flipped. Both sides read the same files.")
    p("- Everything single-threaded (FAISS with `omp_set_num_threads(1)`). Queries/s are per second "
      "of CPU time of the searching thread (schedstat / `thread_time`), because other processes "
      "compete for the 2 cores; wall-clock figures follow in a second table.")
    p("- Ours: *MIH* = `search_with(q, r, Strategy::MultiIndex)` one query at a time; "
      "*linear batch* = `search_batch_with(64 queries, r, Strategy::Linear)`; *linear single* = "
      "`search_with(q, r, Strategy::Linear)`. *auto* = what `Strategy::Auto` picks. FAISS: "
      "*MH* = `IndexBinaryMultiHash(256, 16, 16)` with `nflip = r // 16` (exact by pigeonhole: 16 "
      "substrings cover all 256 bits) one query per `range_search` call; *flat* = "
      "`IndexBinaryFlat(256).range_search` in batches of 8. FAISS range_search keeps "
      "distances < radius, so radius r is asked as r + 1.")
    p("- Before timing, every path's results are compared with the linear oracle "
      "(`linear_search`) on the first queries of the set (column *checked*: ours MIH / ours "
      "linear batch / ours linear single / FAISS flat / FAISS MH); a row is timed over as many "
      "queries as fit a 2 s CPU budget (at most 1000), shown in brackets.\n")

    for clock in ("cpu", "wall"):
        title = "CPU time" if clock == "cpu" else "wall clock"
        p(f"## Queries per second ({title})\n")
        p("| data | r | queries | results/q | auto | ours MIH | ours linear batch | ours linear single "
          "| FAISS MH (nflip) | FAISS flat | MIH / FAISS MH | MIH / FAISS flat | MIH / linear single "
          "| MIH / linear batch | mismatches (checked) | FAISS MH recall |")
        p("|" + "---|" * 16)
        for (dataset, radius, kind), r in rows.items():
            f = frows.get((dataset, radius, kind))
            q = lambda d: d[f"qps_{clock}"]
            mih, lb, ls = r["mih"], r["linear_batch"], r["linear_single"]
            cells = [dataset, str(radius), kind, f"{mih['mean_results']:.1f}", r["auto"],
                     f"{fmt_qps(q(mih))} ({mih['queries']})", f"{fmt_qps(q(lb))} ({lb['queries']})",
                     f"{fmt_qps(q(ls))} ({ls['queries']})"]
            if f:
                mh, fl = f["multihash"], f["flat"]
                cells += [f"{fmt_qps(q(mh))} ({mh['queries']}, nflip {mh['nflip']})",
                          f"{fmt_qps(q(fl))} ({fl['queries']})",
                          f"{q(mih) / q(mh):,.1f}x", f"{q(mih) / q(fl):,.1f}x"]
            else:
                cells += ["-", "-", "-", "-"]
            cells += [f"{q(mih) / q(ls):,.1f}x", f"{q(mih) / q(lb):,.1f}x"]
            bad = [mih["mismatches"], lb["mismatches"], ls["mismatches"]]
            checked = [mih["checked"], lb["checked"], ls["checked"]]
            if f:
                bad += [f["flat"]["mismatches"], f["multihash"]["mismatches"]]
                checked += [f["flat"]["checked"], f["multihash"]["checked"]]
            cells.append(f"{'/'.join(map(str, bad))} ({'/'.join(map(str, checked))})")
            rec = f and f["multihash"].get("recall")
            cells.append("-" if rec is None or not f else f"{rec:.4f}")
            p("| " + " | ".join(cells) + " |")
        p("")

    p("## Build time and memory\n")
    p("| data | ours build | ours structures (heap bytes) | ours RSS delta | m | FAISS flat build "
      "| FAISS flat RSS delta | FAISS MH build | FAISS MH RSS delta |")
    p("|" + "---|" * 9)
    for dataset, o in obuild.items():
        f = fbuild.get(dataset, {})
        fl, mh = f.get("flat", {}), f.get("multihash", {})
        p(f"| {dataset} | {o['build_s']:.1f} s | {fmt_bytes(o['heap_bytes'])} | "
          f"{fmt_bytes(o['rss_delta_bytes'])} | {o['substrings']} | "
          f"{fl.get('build_s', float('nan')):.2f} s | {fmt_bytes(fl.get('rss_delta_bytes', 0))} | "
          f"{mh.get('build_s', float('nan')):.1f} s | {fmt_bytes(mh.get('rss_delta_bytes', 0))} |")
    p("")
    print("\n".join(out))


if __name__ == "__main__":
    main()
