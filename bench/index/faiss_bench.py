#!/usr/bin/env python3
"""The index benchmark, FAISS side: the anchors for bench/index/run.sh.

Reads the hashes, queries and oracle answers that `index-bench gen` and `index-bench run`
wrote, and for each dataset builds

  * IndexBinaryFlat(256)                 -- exhaustive range_search
  * IndexBinaryMultiHash(256, 16, 16)    -- 16 tables on 16-bit substrings, with nflip = r // 16,
                                            the smallest setting that is exact at radius r
                                            (pigeonhole over 16 substrings covering all 256 bits)

then, per radius and query kind, checks every result against the oracle before timing it.
FAISS range_search keeps distances strictly below its radius argument, so radius r is asked
as r + 1. OpenMP is set to one thread, like our side. Writes one JSON object per line.

usage: faiss_bench.py DIR --out FILE [--check C] [--budget SECONDS]
"""

import argparse
import json
import os
import sys
import time

import faiss
import numpy as np

RADII = [15, 31, 47, 63]
DATASETS = ["uniform", "clustered"]
KINDS = ["miss", "hit"]
FLAT_BATCH = 8


def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def load(path):
    return np.fromfile(path, dtype=np.uint8).reshape(-1, 32)


def truth_lists(path, nq):
    triples = np.fromfile(path, dtype=np.uint32).reshape(-1, 3)
    out = [[] for _ in range(nq)]
    for q, i, d in triples:
        out[q].append((int(d), int(i)))
    return out


def as_lists(lims, dist, ids):
    return [
        sorted((int(d), int(i)) for d, i in zip(dist[lims[k]:lims[k + 1]], ids[lims[k]:lims[k + 1]]))
        for k in range(len(lims) - 1)
    ]


def timed(run_batch, queries, batch, budget):
    """Runs batches of queries in order until all are done or the CPU budget is spent."""
    wall, cpu = time.perf_counter(), time.thread_time()
    done = results = 0
    while done < len(queries):
        lims, _, _ = run_batch(queries[done:done + batch])
        results += int(lims[-1])
        done += len(lims) - 1
        if time.thread_time() - cpu >= budget:
            break
    wall, cpu = time.perf_counter() - wall, time.thread_time() - cpu
    return {"queries": done, "wall_s": wall, "cpu_s": cpu, "qps_wall": done / wall,
            "qps_cpu": done / cpu, "mean_results": results / done}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--out", required=True)
    ap.add_argument("--check", type=int, default=50)
    ap.add_argument("--budget", type=float, default=2.0)
    args = ap.parse_args()
    faiss.omp_set_num_threads(1)
    log = open(args.out, "w")

    def emit(record):
        line = json.dumps(record)
        log.write(line + "\n")
        log.flush()
        print(line, file=sys.stderr)

    emit({"side": "faiss", "faiss_version": faiss.__version__,
          "compile_options": faiss.get_compile_options()})
    for dataset in DATASETS:
        xb = load(os.path.join(args.dir, f"{dataset}.bin"))
        queries = {k: load(os.path.join(args.dir, f"queries-{k}-{dataset}.bin")) for k in KINDS}
        truth = {k: truth_lists(os.path.join(args.dir, f"truth-{k}-{dataset}.u32"), args.check)
                 for k in KINDS}

        r0, t0 = rss(), time.perf_counter()
        flat = faiss.IndexBinaryFlat(256)
        flat.add(xb)
        flat_build, flat_rss = time.perf_counter() - t0, rss() - r0
        r0, t0 = rss(), time.perf_counter()
        mh = faiss.IndexBinaryMultiHash(256, 16, 16)
        mh.add(xb)
        mh_build, mh_rss = time.perf_counter() - t0, rss() - r0
        emit({"side": "faiss", "dataset": dataset, "n": len(xb),
              "flat": {"build_s": flat_build, "rss_delta_bytes": flat_rss},
              "multihash": {"build_s": mh_build, "rss_delta_bytes": mh_rss}})

        for radius in RADII:
            for kind in KINDS:
                qs = queries[kind]
                want = [[m for m in t if m[0] <= radius] for t in truth[kind]]
                expected = sum(len(w) for w in want)

                def flat_batch(q):
                    return flat.range_search(q, radius + 1)

                got = as_lists(*flat_batch(qs[:args.check]))
                flat_bad = sum(g != w for g, w in zip(got, want))

                mh.nflip = radius // 16

                def mh_batch(q):
                    return mh.range_search(q, radius + 1)

                # Multi-hash can be slow at large radii: check as many queries as the budget allows.
                cpu, mh_bad, mh_found, mh_expected, checked = time.thread_time(), 0, 0, 0, 0
                for k in range(args.check):
                    g = as_lists(*mh_batch(qs[k:k + 1]))[0]
                    mh_bad += g != want[k]
                    mh_found += len(set(g) & set(want[k]))
                    mh_expected += len(want[k])
                    checked += 1
                    if time.thread_time() - cpu >= args.budget and checked >= 5:
                        break

                flat_t = timed(flat_batch, qs, FLAT_BATCH, args.budget)
                flat_t.update(checked=args.check, mismatches=flat_bad)
                mh_t = timed(mh_batch, qs, 1, args.budget)
                mh_t.update(checked=checked, mismatches=mh_bad, nflip=mh.nflip,
                            recall=(mh_found / mh_expected) if mh_expected else None)
                emit({"side": "faiss", "dataset": dataset, "radius": radius, "kind": kind,
                      "expected_results_in_check": expected, "flat": flat_t, "multihash": mh_t})
        del flat, mh, xb


if __name__ == "__main__":
    main()
