#!/usr/bin/env python3
"""Hashes the accuracy benchmark's images with the pixelprint CLI (with a cache keyed by the
SHA-256 of each image's bytes) and measures, per algorithm and per matching rule, how many
edited copies are found (recall) and how many unrelated pairs match (false positives).

Pairs (all distances are Hamming distances between hashes, as the server computes them):
- genuine: each copy against its own original;
- impostor: each copy against every other original (the copy is the query, the original the
  stored entry);
- original pairs: each original against every other original, as an ordered (query, entry)
  pair.
As the server does (pixelprint::matching, mirrored here):
- pdq-dihedral: the query's eight dihedral PDQ hashes are each searched against the stored
  PDQ hash; the distance is the smallest of the eight (the first variant is the plain PDQ,
  so it is never above the PDQ distance);
- pdq-trimmed: the query's PDQ inside its uniform borders, searched against the stored PDQ;
- pdq-embedded: the PDQ of the largest picture embedded in the query (a screenshot-like
  frame), searched against the stored PDQ; a query where none is found has no value and
  matches nothing by it;
- pdq-captioned: the query's PDQ without its caption bands (text on one background colour at
  the top or bottom, src/caption.rs), searched against the stored PDQ; absent (matching
  nothing) where no band is found;
- pdq-straightened: the PDQ of the query's picture turned back upright when it is turned by a
  small angle on a canvas of one colour (src/straighten.rs), searched against the stored PDQ;
  absent (matching nothing) where no turn is found;
- phash-mirrored: the pHash of the query mirrored left to right (from its own DCT), searched
  against the stored pHash;
- a query whose PDQ quality is under 50 is not matchable by pdq, pdq-dihedral, pdq-trimmed,
  pdq-embedded, pdq-captioned or pdq-straightened
  (the stored side carries no quality);
- a rule matches a pair when any of its (algorithm, threshold) conditions holds.

usage: analyze.py IMAGES_DIR CLI CACHE_FILE RESULT_MD COMMAND [TIMINGS_FILE PACKAGES_FILE]
"""
import hashlib
import json
import math
import os
import platform
import subprocess
import sys
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

QUERY_PDQ = ("pdq_trimmed", "pdq_embedded", "pdq_captioned", "pdq_straightened")
ABSENT_WHEN_NOT_FOUND = ("pdq_embedded", "pdq_captioned", "pdq_straightened")
ALGORITHMS = ["pdq", "pdq_dihedral", *QUERY_PDQ, "ahash", "dhash", "dhash_vertical", "phash", "phash_mirrored", "phash16", "whash"]
CLI_NAMES = "pdq,pdq-dihedral,pdq-trimmed,pdq-embedded,pdq-captioned,pdq-straightened,ahash,dhash,dhash-vertical,phash,phash-mirrored,phash16,whash"
BITS = {a: 256 if a in ("pdq", "pdq_dihedral", *QUERY_PDQ, "phash16") else 64 for a in ALGORITHMS}
# The registry's defaults (src/algorithm.rs) at the time of this benchmark.
REGISTRY_THRESHOLD = {"pdq": 39, "pdq_dihedral": 39, "pdq_trimmed": 39, "pdq_embedded": 39, "pdq_captioned": 39, "pdq_straightened": 39, "ahash": 10, "dhash": 10,
                      "dhash_vertical": 10, "phash": 10, "phash_mirrored": 10, "phash16": 40, "whash": 10}
PDQ_MIN_QUALITY = 50
# PDQ thresholds tried for the default rule's PDQ conditions (every PDQ query hash against the
# stored PDQ), from the ecosystem's 31 up to just under the closest unrelated pair.
PDQ_SWEEP = [31, 35, 39, 43, 47, 55, 63, 71, 79]
SWEEP_EDITS = ["letterbox_10", "pad_20", "screenshot", "caption", "caption_added", "crop_5", "rot90",
               "rot180", "rot270", "mirror", "flip_vertical", "rotate_5_expand", "rotate_5_same_size"]
FP_LEVELS = [1e-6, 1e-5, 1e-4, 1e-3]
HEATMAP_LEVEL = 1e-5
NEVER = np.uint16(60000)  # a distance no threshold reaches: the pair cannot match
POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint16)



# ---- hashing ----------------------------------------------------------------------------------

def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def hash_all(paths, cli, cache_file):
    """The CLI's JSON record per path; records of images already hashed (same bytes) come from
    the cache file."""
    cache = {}
    if os.path.exists(cache_file):
        with open(cache_file) as f:
            cache = json.load(f)
    keys = [sha256_file(p) for p in paths]
    todo = sorted({p for p, k in zip(paths, keys) if k not in cache})
    started = time.time()
    if todo:
        key_of = dict(zip(paths, keys))
        for i in range(0, len(todo), 2000):
            batch = todo[i:i + 2000]
            out = subprocess.run([cli, "hash", "--algorithms", CLI_NAMES, "--jobs", "2", *batch],
                                 check=True, capture_output=True, text=True).stdout
            for line in out.splitlines():
                record = json.loads(line)
                if "error" in record:
                    raise SystemExit(f"{record['path']}: {record['error']}")
                cache[key_of[record["path"]]] = {k: v for k, v in record.items() if k != "path"}
        with open(cache_file + ".tmp", "w") as f:
            json.dump(cache, f)
        os.replace(cache_file + ".tmp", cache_file)
    return [cache[k] for k in keys], len(todo), time.time() - started


def unpack(records, algorithm):
    """Hashes as uint8 rows (dihedral: (n, 8, 32))."""
    if algorithm == "pdq":
        hexes = [r["pdq"]["hash"] for r in records]
    elif algorithm == "pdq_dihedral":
        return np.array([[bytearray.fromhex(h) for h in r["pdq_dihedral"]] for r in records],
                        dtype=np.uint8)
    else:
        hexes = [r[algorithm] for r in records]
    return np.array([bytearray.fromhex(h) for h in hexes], dtype=np.uint8)


def distances(queries, entries):
    """Hamming distances, (len(queries), len(entries)) uint16."""
    out = np.empty((len(queries), len(entries)), dtype=np.uint16)
    for i in range(0, len(queries), 512):
        x = queries[i:i + 512, None, :] ^ entries[None, :, :]
        out[i:i + 512] = POPCOUNT[x].sum(axis=2, dtype=np.uint16)
    return out


def distance_matrix(algorithm, query_records, entry_records):
    if algorithm == "pdq_dihedral":
        variants = unpack(query_records, "pdq_dihedral")
        entries = unpack(entry_records, "pdq")
        d = distances(variants[:, 0, :], entries)
        for v in range(1, 8):
            np.minimum(d, distances(variants[:, v, :], entries), out=d)
    elif algorithm == "pdq_trimmed":
        d = distances(unpack(query_records, "pdq_trimmed"), unpack(entry_records, "pdq"))
    elif algorithm in ABSENT_WHEN_NOT_FOUND:
        # Absent where no picture (no caption band) was found: those queries match nothing by it.
        present = np.array([algorithm in r for r in query_records])
        hexes = [r.get(algorithm, "0" * 64) for r in query_records]
        queries = np.array([bytearray.fromhex(h) for h in hexes], dtype=np.uint8)
        d = distances(queries, unpack(entry_records, "pdq"))
        d[~present, :] = NEVER
    elif algorithm == "phash_mirrored":
        d = distances(unpack(query_records, "phash_mirrored"), unpack(entry_records, "phash"))
    else:
        d = distances(unpack(query_records, algorithm), unpack(entry_records, algorithm))
    if algorithm in ("pdq", "pdq_dihedral", *QUERY_PDQ):
        quality = np.array([r["pdq"]["quality"] for r in query_records])
        d[quality < PDQ_MIN_QUALITY, :] = NEVER
    return d


def default_rule_64(t6):
    """The default rule's 64-bit conditions: pHash and the mirrored pHash, dHash, at their
    thresholds in `t6`."""
    return [("phash", t6["phash"]), ("phash_mirrored", t6["phash"]), ("dhash", t6["dhash"])]


def default_rule(pdq_t, t6):
    """The server's default rule: every PDQ query hash against the stored PDQ at `pdq_t`, and
    the 64-bit conditions."""
    return [(a, pdq_t) for a in ("pdq_dihedral", *QUERY_PDQ)] + default_rule_64(t6)


def pdq_threshold_sweep(dist, source, edit_of, edits, genuine_mask, t6, c, n):
    """The default rule with its PDQ conditions at each threshold of PDQ_SWEEP (the 64-bit ones
    as in the rule), and where the unrelated pairs start: the smallest distance of any PDQ query
    hash of a copy to another photo's PDQ, over all photos and over each half of them (even and
    odd photo numbers, copies and originals of the same half), and the count of unrelated pairs
    within twice each threshold (the server's near-miss band)."""
    pdq_min = dist["pdq_dihedral"].copy()
    for a in QUERY_PDQ:
        np.minimum(pdq_min, dist[a], out=pdq_min)
    h64 = np.zeros_like(genuine_mask)
    for a, t in default_rule_64(t6):
        h64 |= dist[a] <= t
    impostor = pdq_min[~genuine_mask]
    half = {}
    for name, parity in (("even", 0), ("odd", 1)):
        rows = (source % 2) == parity
        cols = (np.arange(n) % 2) == parity
        block = pdq_min[np.ix_(rows, cols)][~genuine_mask[np.ix_(rows, cols)]]
        half[name] = {"pairs": int(block.size), "closest": int(block.min())}
    rows = []
    for t in PDQ_SWEEP:
        m = (pdq_min <= t) | h64
        genuine = m[np.arange(c), source]
        rows.append({
            "threshold": t,
            "recall_pooled": float(genuine.mean()),
            "recall_per_edit": {e: float(genuine[edit_of == i].mean()) for i, e in enumerate(edits)},
            "fp_pairs": int(np.sum(m & ~genuine_mask)),
            "pdq_pairs_within_twice": int(np.sum(impostor <= 2 * t)),
        })
    return {"closest_unrelated": int(impostor.min()), "halves": half, "rows": rows}


def check_against_cli(cli, copies, originals, orig_rec, dist, source, samples=16):
    """Recomputes the distances of a few seeded (copy, original) pairs, half of them genuine,
    with `pixelprint compare` (which hashes both files again), and stops on any difference. The
    dihedral distance is asked for against the original's PDQ hash string, which `compare`
    measures as the server searches: the copy's eight variants against that one hash."""
    rng = np.random.default_rng(2026)
    picks = rng.choice(len(copies), samples, replace=False)
    plain = [a for a in ALGORITHMS if a not in ("pdq_dihedral", *QUERY_PDQ, "phash_mirrored")]
    for k, i in enumerate(picks):
        j = int(source[i]) if k % 2 == 0 else int((source[i] + 1 + rng.integers(len(originals) - 1)) % len(originals))
        runs = [(",".join(a.replace("_", "-") for a in plain), originals[j]["path"]),
                ("pdq-dihedral", orig_rec[j]["pdq"]["hash"]),
                ("pdq,pdq-trimmed", orig_rec[j]["pdq"]["hash"])]
        for names, other in runs:
            out = subprocess.run([cli, "compare", "-f", "json", "-a", names, copies[i]["path"], other],
                                 capture_output=True, text=True).stdout
            for v in json.loads(out):
                a = v["algorithm"].replace("-", "_")
                expected = dist[a][i, j]
                got = NEVER if v["verdict"].startswith("not matchable") else v["distance"]
                if expected != got:
                    raise SystemExit(f"{a}: {copies[i]['path']} vs {originals[j]['path']}: "
                                     f"distance {expected} here, {got} by pixelprint compare")
    return samples


# ---- statistics -------------------------------------------------------------------------------

def poisson_upper(k, confidence=0.95):
    """The exact one-sided upper bound of a Poisson mean after observing k events."""
    def cdf(lam):
        logs = [-lam + i * math.log(lam) - math.lgamma(i + 1) for i in range(k + 1)]
        top = max(logs)
        return math.exp(top) * sum(math.exp(x - top) for x in logs)
    lo, hi = 1e-9, 10.0 + 2 * k
    for _ in range(200):
        mid = (lo + hi) / 2
        if cdf(mid) > 1 - confidence:
            lo = mid
        else:
            hi = mid
    return hi


def cumulative(values, bits):
    """counts[t] = number of values <= t, for t in 0..bits."""
    v = values[values <= bits]
    return np.cumsum(np.bincount(v.astype(np.int64), minlength=bits + 1)[:bits + 1])


def pct(x):
    return f"{100 * x:.1f}"


def rate(count, total):
    return f"{count / total:.1e}" if count else "0"


# ---- the run ----------------------------------------------------------------------------------

def main():
    work, cli, cache_file, result_md, command = sys.argv[1:6]
    extra_files = sys.argv[6:8] if len(sys.argv) > 7 else [None, None]
    t0 = time.time()
    with open(os.path.join(work, "images.json")) as f:
        meta = json.load(f)
    originals, copies, edits = meta["originals"], meta["copies"], meta["edits"]
    n, c = len(originals), len(copies)
    records, hashed, hash_seconds = hash_all([o["path"] for o in originals] + [x["path"] for x in copies],
                                             cli, cache_file)
    orig_rec, copy_rec = records[:n], records[n:]
    source = np.array([x["photo"] for x in copies])
    edit_of = np.array([edits.index(x["edit"]) for x in copies])
    genuine_mask = np.zeros((c, n), dtype=bool)
    genuine_mask[np.arange(c), source] = True
    impostor_pairs = c * (n - 1)
    original_pairs = n * (n - 1)

    dist, dist_orig = {}, {}
    for a in ALGORITHMS:
        dist[a] = distance_matrix(a, copy_rec, orig_rec)
        d = distance_matrix(a, orig_rec, orig_rec)
        np.fill_diagonal(d, NEVER)
        dist_orig[a] = d

    checked = check_against_cli(cli, copies, originals, orig_rec, dist, source)
    low_quality = {"originals": sum(r["pdq"]["quality"] < PDQ_MIN_QUALITY for r in orig_rec),
                   "copies": sum(r["pdq"]["quality"] < PDQ_MIN_QUALITY for r in copy_rec)}

    # Per algorithm and threshold: recall per edit, pooled; false positives.
    curves = {}
    for a in ALGORITHMS:
        bits = BITS[a]
        genuine = dist[a][np.arange(c), source]
        per_edit = np.stack([cumulative(genuine[edit_of == e], bits) / np.sum(edit_of == e)
                             for e in range(len(edits))])
        impostor = cumulative(dist[a][~genuine_mask], bits)
        orig = cumulative(dist_orig[a][dist_orig[a] != NEVER], bits)
        curves[a] = {"per_edit": per_edit, "pooled": cumulative(genuine, bits) / c,
                     "fp": impostor, "fp_orig": orig}

    def last_within(a, level):
        """The largest threshold whose impostor FP rate is at most `level` (-1: none)."""
        ok = np.nonzero(curves[a]["fp"] / impostor_pairs <= level)[0]
        return int(ok[-1]) if len(ok) else -1

    # Rules: any of several conditions.
    t6 = {a: last_within(a, 1e-6) for a in ALGORITHMS}
    pdq_t = REGISTRY_THRESHOLD["pdq"]
    sweep = pdq_threshold_sweep(dist, source, edit_of, edits, genuine_mask, t6, c, n)
    rules = [
        ("old server default (pdq, pdq-dihedral ≤ 31; phash, dhash, ahash ≤ 10)",
         [("pdq", 31), ("pdq_dihedral", 31), ("phash", 10), ("dhash", 10), ("ahash", 10)]),
        ("old default without aHash", [("pdq", 31), ("pdq_dihedral", 31), ("phash", 10), ("dhash", 10)]),
        ("PDQ ≤ 31", [("pdq", 31)]),
        ("PDQ-dihedral ≤ 31", [("pdq_dihedral", 31)]),
        (f"PDQ-dihedral ≤ {t6['pdq_dihedral']} (its FP ≤ 1e-6 threshold)", [("pdq_dihedral", t6["pdq_dihedral"])]),
        (f"PDQ-dihedral ≤ 31 or dHash ≤ {t6['dhash']}", [("pdq_dihedral", 31), ("dhash", t6["dhash"])]),
        (f"PDQ-dihedral ≤ 31 or pHash ≤ {t6['phash']}", [("pdq_dihedral", 31), ("phash", t6["phash"])]),
        (f"PDQ-dihedral ≤ 31 or pHash ≤ {t6['phash']} or dHash ≤ {t6['dhash']}",
         [("pdq_dihedral", 31), ("phash", t6["phash"]), ("dhash", t6["dhash"])]),
        (f"PDQ-dihedral ≤ {t6['pdq_dihedral']} or pHash ≤ {t6['phash']}",
         [("pdq_dihedral", t6["pdq_dihedral"]), ("phash", t6["phash"])]),
        ("PDQ-dihedral ≤ 31 or PDQ-trimmed ≤ 31", [("pdq_dihedral", 31), ("pdq_trimmed", 31)]),
        (f"PDQ-dihedral ≤ 31 or PDQ-trimmed ≤ 31 or pHash ≤ {t6['phash']} or dHash ≤ {t6['dhash']}",
         [("pdq_dihedral", 31), ("pdq_trimmed", 31), ("phash", t6["phash"]), ("dhash", t6["dhash"])]),
        ("PDQ-dihedral ≤ 31 or PDQ-trimmed ≤ 31 or PDQ-embedded ≤ 31",
         [("pdq_dihedral", 31), ("pdq_trimmed", 31), ("pdq_embedded", 31)]),
        (f"PDQ-dihedral ≤ 31 or PDQ-trimmed ≤ 31 or PDQ-embedded ≤ 31 or pHash ≤ {t6['phash']} or dHash ≤ {t6['dhash']}",
         [("pdq_dihedral", 31), ("pdq_trimmed", 31), ("pdq_embedded", 31), ("phash", t6["phash"]),
          ("dhash", t6["dhash"])]),
        ("PDQ-dihedral ≤ 31 or PDQ-trimmed ≤ 31 or PDQ-embedded ≤ 31 or PDQ-captioned ≤ 31",
         [("pdq_dihedral", 31), ("pdq_trimmed", 31), ("pdq_embedded", 31), ("pdq_captioned", 31)]),
        (f"PDQ-dihedral ≤ 31 or PDQ-trimmed ≤ 31 or PDQ-embedded ≤ 31 or PDQ-captioned ≤ 31 or pHash ≤ {t6['phash']} or dHash ≤ {t6['dhash']}",
         [("pdq_dihedral", 31), ("pdq_trimmed", 31), ("pdq_embedded", 31), ("pdq_captioned", 31),
          ("phash", t6["phash"]), ("dhash", t6["dhash"])]),
        ("PDQ-dihedral ≤ 31 or PDQ-trimmed ≤ 31 or PDQ-embedded ≤ 31 or PDQ-captioned ≤ 31 or PDQ-straightened ≤ 31",
         [("pdq_dihedral", 31), ("pdq_trimmed", 31), ("pdq_embedded", 31), ("pdq_captioned", 31),
          ("pdq_straightened", 31)]),
        (f"PDQ-dihedral ≤ 31 or PDQ-trimmed ≤ 31 or PDQ-embedded ≤ 31 or PDQ-captioned ≤ 31 or PDQ-straightened ≤ 31 or pHash ≤ {t6['phash']} or dHash ≤ {t6['dhash']}",
         [("pdq_dihedral", 31), ("pdq_trimmed", 31), ("pdq_embedded", 31), ("pdq_captioned", 31),
          ("pdq_straightened", 31), ("phash", t6["phash"]), ("dhash", t6["dhash"])]),
        (f"PDQ-dihedral ≤ 31 or PDQ-trimmed ≤ 31 or PDQ-embedded ≤ 31 or PDQ-captioned ≤ 31 or PDQ-straightened ≤ 31 or pHash ≤ {t6['phash']} or pHash-mirrored ≤ {t6['phash']} or dHash ≤ {t6['dhash']}",
         default_rule(31, t6)),
        (f"PDQ-dihedral ≤ {pdq_t} or PDQ-trimmed ≤ {pdq_t} or PDQ-embedded ≤ {pdq_t} or PDQ-captioned ≤ {pdq_t} or PDQ-straightened ≤ {pdq_t} or pHash ≤ {t6['phash']} or pHash-mirrored ≤ {t6['phash']} or dHash ≤ {t6['dhash']}",
         default_rule(pdq_t, t6)),
    ]
    rule_results = []
    for name, conditions in rules:
        m = np.zeros((c, n), dtype=bool)
        mo = np.zeros((n, n), dtype=bool)
        for a, t in conditions:
            m |= dist[a] <= t
            mo |= dist_orig[a] <= t
        genuine = m[np.arange(c), source]
        fp = int(np.sum(m & ~genuine_mask))
        rule_results.append({
            "name": name, "conditions": [{"algorithm": a, "threshold": t} for a, t in conditions],
            "recall_pooled": float(genuine.mean()),
            "recall_per_edit": {e: float(genuine[edit_of == i].mean()) for i, e in enumerate(edits)},
            "fp_pairs": fp, "fp_rate": fp / impostor_pairs,
            "fp_rate_upper95": poisson_upper(fp) / impostor_pairs,
            "fp_original_pairs": int(mo.sum()),
        })

    stem = os.path.splitext(result_md)[0]
    roc_png, heat_png, json_path = stem + "-roc.png", stem + "-recall.png", stem + ".json"
    plot_roc(curves, rule_results, impostor_pairs, roc_png, n, c)
    heat_columns = [(f"{a} ≤ {last_within(a, HEATMAP_LEVEL)}",
                     curves[a]["per_edit"][:, last_within(a, HEATMAP_LEVEL)]) for a in ALGORITHMS
                    if last_within(a, HEATMAP_LEVEL) >= 0]
    heat_columns += [(f"rule {i + 1}", np.array([r["recall_per_edit"][e] for e in edits]))
                     for i, r in enumerate(rule_results)]
    plot_heatmap(edits, heat_columns, heat_png)

    summary = {
        "benchmark": "accuracy", "command": command, "photos": n, "edits": edits, "copies": c,
        "genuine_pairs": c, "impostor_pairs": impostor_pairs, "original_pairs_ordered": original_pairs,
        "pdq_min_quality": PDQ_MIN_QUALITY, "pdq_quality_under_min": low_quality,
        "algorithms": {a: {
            "bits": BITS[a], "registry_threshold": REGISTRY_THRESHOLD[a],
            "thresholds": [{"threshold": t, "recall_pooled": round(float(curves[a]["pooled"][t]), 5),
                            "fp_pairs": int(curves[a]["fp"][t]),
                            "fp_rate": float(curves[a]["fp"][t] / impostor_pairs),
                            "fp_original_pairs": int(curves[a]["fp_orig"][t]),
                            "fp_rate_original_pairs": float(curves[a]["fp_orig"][t] / original_pairs)}
                           for t in range(BITS[a] // 2 + 1)],
            "largest_threshold_with_fp_rate_at_most": {f"{lv:g}": last_within(a, lv) for lv in FP_LEVELS},
        } for a in ALGORITHMS},
        "rules": rule_results,
        "pdq_threshold_sweep": sweep,
    }
    with open(json_path, "w") as f:
        json.dump(summary, f, indent=1)

    elapsed_analysis = time.time() - t0
    write_markdown(result_md, meta, work, command, curves, rule_results, edits, n, c, impostor_pairs,
                   original_pairs, last_within, dist_orig, hashed, hash_seconds, elapsed_analysis, extra_files,
                   checked, low_quality,
                   [os.path.basename(p) for p in (roc_png, heat_png, json_path)], sweep)
    print(f"{result_md}, {os.path.basename(json_path)}, {os.path.basename(roc_png)}, "
          f"{os.path.basename(heat_png)}")


# ---- plots ------------------------------------------------------------------------------------

def plot_roc(curves, rule_results, impostor_pairs, path, n, c):
    floor = 0.5 / impostor_pairs
    fig, ax = plt.subplots(figsize=(10, 7), dpi=110)
    # One colour per algorithm (tab10 has too few: past ten it repeats its last colour); the
    # 64-bit hashes dashed.
    colours = plt.get_cmap("tab20")
    for i, a in enumerate(ALGORITHMS):
        style = "-" if BITS[a] == 256 else "--"
        # Of the thresholds with no false pair, only the largest is drawn (at the floor).
        first = max(0, int(np.sum(curves[a]["fp"] == 0)) - 1)
        fp = np.maximum(curves[a]["fp"] / impostor_pairs, floor)
        ax.plot(fp[first:], 100 * curves[a]["pooled"][first:], style, color=colours(i), lw=1.8, label=a)
        t = REGISTRY_THRESHOLD[a]
        ax.plot(fp[t], 100 * curves[a]["pooled"][t], "o", color=colours(i), ms=6)
    for k, r in enumerate(rule_results):
        ax.plot(max(r["fp_rate"], floor), 100 * r["recall_pooled"], "*", color="black", ms=11)
        ax.annotate(str(k + 1), (max(r["fp_rate"], floor), 100 * r["recall_pooled"]),
                    textcoords="offset points", xytext=(6, -3 - 9 * (k % 2)), fontsize=9)
    ax.axvline(floor, color="grey", lw=0.8, ls=":")
    ax.text(floor * 1.15, 2, "0 false pairs", rotation=90, fontsize=8, color="grey")
    for lv in FP_LEVELS:
        ax.axvline(lv, color="grey", lw=0.5, ls="--")
    ax.set_xscale("log")
    ax.set_xlim(floor / 2, 1)
    ax.set_ylim(0, 100)
    ax.set_xlabel(f"false-positive rate per (copy, other original) pair  ({impostor_pairs:,} pairs)")
    ax.set_ylabel(f"recall, pooled over all edits (%)  ({c:,} copies)")
    ax.set_title(f"Recall vs false-positive rate, {n} photos; dot: registry threshold; "
                 "star: matching rule (numbered as in the report)", fontsize=10)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_heatmap(edits, columns, path):
    data = np.array([col for _, col in columns]).T * 100
    fig, ax = plt.subplots(figsize=(2.0 + 0.85 * len(columns), 1.5 + 0.36 * len(edits)), dpi=110)
    im = ax.imshow(data, cmap="viridis", vmin=0, vmax=100, aspect="auto")
    ax.set_xticks(range(len(columns)), [name for name, _ in columns], rotation=40, ha="right", fontsize=9)
    ax.set_yticks(range(len(edits)), edits, fontsize=9)
    for i in range(data.shape[0]):
        for j in range(data.shape[1]):
            ax.text(j, i, f"{data[i, j]:.0f}", ha="center", va="center", fontsize=8,
                    color="white" if data[i, j] < 60 else "black")
    ax.set_title(f"Recall per edit (%): algorithms at their largest threshold with FP rate ≤ "
                 f"{HEATMAP_LEVEL:g} per pair; rules as numbered in the report", fontsize=10)
    fig.colorbar(im, ax=ax, fraction=0.03, pad=0.02)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


# ---- the report -------------------------------------------------------------------------------

def write_markdown(path, meta, work, command, curves, rules, edits, n, c, impostor_pairs,
                   original_pairs, last_within, dist_orig, hashed, hash_seconds, analysis_seconds, extra_files,
                   checked, low_quality, files, sweep):
    timings = {}
    timing_file, version_file = extra_files
    if timing_file and os.path.exists(timing_file):
        with open(timing_file) as f:
            for line in f:
                k, v = line.split()
                timings[k] = int(v)
    versions = {}
    if version_file and os.path.exists(version_file):
        with open(version_file) as f:
            for line in f:
                k, v = line.split()
                versions[k] = v
    per_package = {}
    for o in meta["originals"]:
        per_package[o["package"]] = per_package.get(o["package"], 0) + 1
    commit = subprocess.run(["git", "-C", os.path.dirname(os.path.abspath(__file__)), "rev-parse", "--short=7",
                             "HEAD"], capture_output=True, text=True).stdout.strip()
    L = []
    w = L.append
    w("# Accuracy: recall on edited copies of real photos, false positives between different photos\n")
    w(f"- Date (UTC): {time.strftime('%Y-%m-%d %H:%M', time.gmtime())}; commit {commit}; "
      f"{platform.machine()}, {os.cpu_count()} cores (shared)")
    w(f"- Command: `{command}`")
    w(f"- Photos: **{n}** distinct real photos from Debian packages (bench/accuracy/photos.tsv lists each with "
      f"its SHA-256), each downscaled once so its longest side is at most {meta['max_side']} px (PNG); "
      f"**{len(edits)}** edits each → **{c:,}** copies")
    w(f"- Pairs: {c:,} genuine (copy, own original); **{impostor_pairs:,}** impostor (copy, other original); "
      f"{original_pairs:,} ordered (original, other original)")
    w(f"- Hashes by the pixelprint CLI (release build): {hashed:,} images hashed in this run "
      f"({hash_seconds:.0f} s), the rest from the cache keyed by each image's SHA-256; the distances of "
      f"{checked} sampled pairs were checked against `pixelprint compare`")
    w(f"- PDQ quality under {PDQ_MIN_QUALITY} (not matchable by PDQ as a query): "
      f"{low_quality['originals']} originals, {low_quality['copies']} copies")
    stages = ", ".join(f"{k} {v} s" for k, v in timings.items())
    total = sum(timings.values()) + analysis_seconds
    w(f"- Run time: {stages}{', ' if stages else ''}hashing {hash_seconds:.0f} s, analysis "
      f"{analysis_seconds - hash_seconds:.0f} s; total {total / 60:.1f} min")
    w(f"- Files: {', '.join(files)}\n")

    w("## Photos\n")
    w("| package | version | photos |\n|---|---|---:|")
    for p, k in sorted(per_package.items(), key=lambda kv: -kv[1]):
        w(f"| {p} | {versions.get(p, '?')} | {k} |")
    w(f"| **total** | | **{n}** |\n")
    w("One picture per entry: plasma-workspace-wallpapers ships several resolutions of each picture "
      "(the largest was taken); renders, drawings, gradients, logos, colour variants of one picture, "
      "stereo pairs and retouched versions were left out by looking at every candidate. GCompris' "
      "photos are read from its Qt resource files (`.rcc`), found by SHA-256.\n")

    w("## Matching rules\n")
    w("A rule matches a pair when any of its conditions holds; pdq-dihedral is the smallest distance of "
      "the query's 8 dihedral PDQ hashes to the stored PDQ (as the server searches); PDQ queries of "
      "quality < 50 match nothing. FP: false matches among the impostor pairs; the 95 % upper bound is "
      "the exact Poisson bound on the count (a rate of 0 in "
      f"{impostor_pairs:,} pairs only says it is below {poisson_upper(0) / impostor_pairs:.1e}).\n")
    w("| # | rule | recall pooled % | FP pairs | FP rate | FP rate 95 % upper | FP original pairs |")
    w("|---|---|---:|---:|---:|---:|---:|")
    for i, r in enumerate(rules):
        w(f"| {i + 1} | {r['name']} | {pct(r['recall_pooled'])} | {r['fp_pairs']} | "
          f"{rate(r['fp_pairs'], impostor_pairs)} | {r['fp_rate_upper95']:.1e} | {r['fp_original_pairs']} |")
    w("\nThe server's banks hold pdq, phash, dhash and ahash (and digests), so only those can "
      "form a server rule; dhash-vertical, phash16 and whash are measured for comparison.")
    w("Rules 5-9 use thresholds chosen on this same data (the largest with at most 1e-6 FP per pair "
      "for that algorithm alone): their FP figures are in-sample and optimistic.\n")
    w("### Recall per edit under each rule (%)\n")
    w("| edit | " + " | ".join(f"rule {i + 1}" for i in range(len(rules))) + " |")
    w("|---|" + "---:|" * len(rules))
    for e in edits:
        w(f"| {e} | " + " | ".join(pct(r["recall_per_edit"][e]) for r in rules) + " |")

    w("\n## PDQ threshold of the default rule\n")
    halves = ", ".join(f"{k} photos only: {v['closest']} in {v['pairs']:,} pairs" for k, v in sweep["halves"].items())
    w("The last rule with its PDQ conditions (every PDQ query hash against the stored PDQ) at other "
      f"thresholds, its pHash and dHash conditions unchanged. The closest unrelated pair over all "
      f"PDQ query hashes is **{sweep['closest_unrelated']}** bits apart "
      f"({halves}); "
      "'within 2t' counts the unrelated pairs in the server's near-miss band of twice the "
      "threshold.\n")
    w("| PDQ t | recall pooled % | FP pairs | within 2t | " + " | ".join(SWEEP_EDITS) + " |")
    w("|---:|---:|---:|---:|" + "---:|" * len(SWEEP_EDITS))
    for r in sweep["rows"]:
        w(f"| {r['threshold']} | {pct(r['recall_pooled'])} | {r['fp_pairs']} | {r['pdq_pairs_within_twice']} | "
          + " | ".join(pct(r["recall_per_edit"][e]) for e in SWEEP_EDITS) + " |")
    w("\n## Thresholds by false-positive rate\n")
    w("Per algorithm: the first threshold at which the FP rate per impostor pair exceeds each level "
      "(with the false pairs at that threshold), and the largest threshold that stays within it (with "
      "its pooled recall).\n")
    w("| algorithm | bits | level | first t above | FP pairs there | largest t within | FP pairs | recall pooled % |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|")
    for a in ALGORITHMS:
        for lv in FP_LEVELS:
            t = last_within(a, lv)
            first = t + 1
            fp_first = int(curves[a]["fp"][first]) if first <= BITS[a] else "-"
            fp_t = int(curves[a]["fp"][t]) if t >= 0 else "-"
            rec = pct(curves[a]["pooled"][t]) if t >= 0 else "-"
            w(f"| {a} | {BITS[a]} | {lv:g} | {first} | {fp_first} | {t} | {fp_t} | {rec} |")

    w("\n## Each algorithm at its registry threshold\n")
    w("| algorithm | t | recall pooled % | FP pairs | FP rate | FP original pairs | closest different originals |")
    w("|---|---:|---:|---:|---:|---:|---:|")
    for a in ALGORITHMS:
        t = REGISTRY_THRESHOLD[a]
        closest = int(dist_orig[a].min())
        w(f"| {a} | {t} | {pct(curves[a]['pooled'][t])} | {int(curves[a]['fp'][t])} | "
          f"{rate(int(curves[a]['fp'][t]), impostor_pairs)} | {int(curves[a]['fp_orig'][t])} | {closest} |")

    w(f"\n## Recall per edit, each algorithm at its largest threshold with FP rate ≤ {HEATMAP_LEVEL:g} (%)\n")
    ts = {a: last_within(a, HEATMAP_LEVEL) for a in ALGORITHMS}
    w("| edit | " + " | ".join(f"{a} ≤ {ts[a]}" for a in ALGORITHMS) + " |")
    w("|---|" + "---:|" * len(ALGORITHMS))
    for i, e in enumerate(edits):
        w(f"| {e} | " + " | ".join(pct(curves[a]["per_edit"][i, ts[a]]) if ts[a] >= 0 else "-"
                                   for a in ALGORITHMS) + " |")
    w("| **pooled** | " + " | ".join(pct(curves[a]["pooled"][ts[a]]) if ts[a] >= 0 else "-"
                                     for a in ALGORITHMS) + " |")

    w(f"\n![ROC]({files[0]})\n\n![recall per edit]({files[1]})\n")

    w("## Compared with Thorn's perception benchmark\n")
    crop5, pad20 = edits.index("crop_5"), edits.index("pad_20")

    def at_precision(a, target=0.9999):
        """The largest threshold whose precision over this benchmark's pairs (genuine matches
        against impostor matches) is at least `target`."""
        tp = curves[a]["pooled"] * c
        precision = tp / np.maximum(tp + curves[a]["fp"], 1)
        ok = np.nonzero(precision >= target)[0]
        return int(ok[-1])

    tp_pdq, tp_phash = at_precision("pdq"), at_precision("phash")
    w("| | perception (published) | here, registry threshold (PDQ ≤ 31, pHash ≤ 10) | "
      "here, at 99.99 % precision over our pairs |")
    w("|---|---:|---:|---:|")
    w(f"| PDQ pooled | 77.2 % | {pct(curves['pdq']['pooled'][31])} % | "
      f"{pct(curves['pdq']['pooled'][tp_pdq])} % (t = {tp_pdq}) |")
    w(f"| pHash pooled | 82.0 % | {pct(curves['phash']['pooled'][10])} % | "
      f"{pct(curves['phash']['pooled'][tp_phash])} % (t = {tp_phash}) |")
    w(f"| PDQ, crop 5 % | 9.0 % | {pct(curves['pdq']['per_edit'][crop5, 31])} % | "
      f"{pct(curves['pdq']['per_edit'][crop5, tp_pdq])} % |")
    w(f"| PDQ, pad 20 % | 1.35 % | {pct(curves['pdq']['per_edit'][pad20, 31])} % | "
      f"{pct(curves['pdq']['per_edit'][pad20, tp_pdq])} % |")
    w("\nperception's figures are recall at 99.99 % precision, as its benchmark publishes them. "
      "The setups differ:\n")
    w("- Data: theirs is another photo set, at another size; ours is "
      f"{n} photos from Debian packages, downscaled to ≤ {meta['max_side']} px.")
    w("- Edits: their transforms (and their mix, which sets the pooled figure) are not ours; our "
      "pooled recall is the plain mean over our "
      f"{len(edits)} edits, each weighted equally, and includes rotations and flips that plain "
      "PDQ and pHash cannot match by design.")
    w("- Operating point: they fix precision (99.99 %: one false match per 10,000 matches, which depends "
      "on how many impostors there are per genuine pair in their set) and report recall at the threshold "
      "that reaches it; we report recall at fixed thresholds and the false-positive rate per impostor "
      "pair, which does not depend on that ratio. Here each copy meets "
      f"{n - 1} impostor originals.")
    w("- Their crop and pad are defined by their library (e.g. where the crop is taken, the pad's colour); "
      "ours: crop 5 % removes 5 % of width and height, split at a seeded ratio between the sides; pad 20 % "
      "adds a seeded uniform colour border of 10 % of each dimension per side.")

    w("\n## Method\n")
    w("bench/accuracy/README.md describes the method; bench/accuracy/images.py has each edit as a "
      "named function. The JSON beside this report has every threshold's recall and FP counts.")
    with open(path, "w") as f:
        f.write("\n".join(L) + "\n")


if __name__ == "__main__":
    main()
