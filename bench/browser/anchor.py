#!/usr/bin/env python3
"""The anchor of the browser benchmark: the native Python pipeline from file bytes to the
CLI's default hashes. Pillow decodes (libjpeg-turbo), PyPI `pdqhash` computes PDQ (its public
`compute`, which wraps the reference C++ core), `imagehash` computes aHash, dHash and pHash
(its defaults, as the CLI's), `hashlib` MD5 and SHA-256 of the bytes.

One process serves the whole run, so the interpreter, the imports and the file bytes (read
once per path, not timed) are warm. It reads one JSON request per line on standard input and
answers one JSON line:
  {"path": P}: the pipeline once on that file's bytes:
    {"ms": wall-clock milliseconds, "stages": {"decode", "pdq", "imagehash", "digests"} (ms),
     "width", "height", "pdq": {"hash", "quality"}, "ahash", "dhash", "phash", "md5", "sha256"}
  {"path": P, "pixels": true}: {"sha256": SHA-256 of the RGB pixels Pillow decodes, "upright":
    the same after ImageOps.exif_transpose} (not timed)

usage: anchor.py   (then paths on stdin)
"""
import hashlib
import io
import json
import sys
import time

import imagehash
import numpy as np
import pdqhash
from PIL import Image, ImageOps


def pipeline(data):
    marks = [time.perf_counter()]
    image = Image.open(io.BytesIO(data)).convert("RGB")
    marks.append(time.perf_counter())
    bits, quality = pdqhash.compute(np.asarray(image))
    pdq = {"hash": np.packbits(bits.astype(np.uint8)).tobytes().hex(), "quality": int(quality)}
    marks.append(time.perf_counter())
    ahash, dhash, phash = (str(imagehash.average_hash(image)), str(imagehash.dhash(image)), str(imagehash.phash(image)))
    marks.append(time.perf_counter())
    md5, sha256 = hashlib.md5(data).hexdigest(), hashlib.sha256(data).hexdigest()
    marks.append(time.perf_counter())
    ms = [(b - a) * 1e3 for a, b in zip(marks, marks[1:])]
    return {
        "ms": sum(ms),
        "stages": dict(zip(("decode", "pdq", "imagehash", "digests"), ms)),
        "width": image.width,
        "height": image.height,
        "pdq": pdq,
        "ahash": ahash,
        "dhash": dhash,
        "phash": phash,
        "md5": md5,
        "sha256": sha256,
    }


def main():
    files = {}
    for line in sys.stdin:
        request = json.loads(line)
        path = request["path"]
        if path not in files:
            with open(path, "rb") as f:
                files[path] = f.read()
        if request.get("pixels"):
            image = Image.open(io.BytesIO(files[path]))
            digest = lambda im: hashlib.sha256(im.convert("RGB").tobytes()).hexdigest()
            answer = {"sha256": digest(image), "upright": digest(ImageOps.exif_transpose(image))}
        else:
            answer = pipeline(files[path])
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main()
