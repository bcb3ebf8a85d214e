#!/usr/bin/env python3
"""The anchor of the CLI benchmark: the usual Python pipeline for the CLI's default hashes —
Pillow decode, PyPI `pdqhash` (the reference C++ core) on the RGB pixels, `imagehash` average,
difference and perceptual hashes, hashlib MD5 and SHA-256 of the bytes — over a folder, with a
pool of PROCESSES worker processes. Prints one JSON object per file (the CLI's keys), sorted by
path, on stdout.

usage: python_pipeline.py DIR [PROCESSES]
"""
import hashlib
import json
import multiprocessing
import os
import sys

import imagehash
import numpy as np
import pdqhash
from PIL import Image


def bits_to_hex(bits):
    return "".join(f"{int(''.join('1' if b else '0' for b in bits[i:i + 4]), 2):x}"
                   for i in range(0, len(bits), 4))


def hash_file(path):
    with open(path, "rb") as f:
        data = f.read()
    with Image.open(path) as im:
        im.load()
        rgb = np.asarray(im.convert("RGB"))
        vector, quality = pdqhash.compute(rgb)
        return {
            "path": path,
            "width": im.width,
            "height": im.height,
            # pdqhash's bit vector read left to right is the reference's hex, high nibble first.
            "pdq": {"hash": bits_to_hex(vector), "quality": int(quality)},
            "ahash": str(imagehash.average_hash(im)),
            "dhash": str(imagehash.dhash(im)),
            "phash": str(imagehash.phash(im)),
            "md5": hashlib.md5(data).hexdigest(),
            "sha256": hashlib.sha256(data).hexdigest(),
        }


def main():
    folder = sys.argv[1]
    processes = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    paths = sorted(os.path.join(folder, f) for f in os.listdir(folder))
    with multiprocessing.Pool(processes) as pool:
        for result in pool.imap(hash_file, paths):
            print(json.dumps(result))


if __name__ == "__main__":
    main()
