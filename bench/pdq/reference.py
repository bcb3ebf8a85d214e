#!/usr/bin/env python3
"""Times the reference PDQ C++ core (PyPI pdqhash's compiled pdq/cpp, called through ctypes
exactly as scripts/vectors/pdq_reference.py does) on raw RGB pixels: f32 luma
(fillFloatLumaFromRGB) + pdqHash256FromFloatLuma, file reading excluded.

usage: reference.py FILE W H REPS  -> one JSON line {"hash", "quality", "ms"}: median process
CPU time in milliseconds.
"""
import ctypes
import json
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "scripts", "vectors"))
from pdq_reference import FILL_RGB, HASH, Hash256, pointer  # noqa: E402


def reference_hash(pixels, h, w):
    u8 = ctypes.POINTER(ctypes.c_uint8)
    f = lambda a: pointer(a, ctypes.c_float)
    luma = np.empty((h, w), dtype=np.float32)
    base = pixels.ctypes.data
    FILL_RGB(ctypes.cast(base, u8), ctypes.cast(base + 1, u8), ctypes.cast(base + 2, u8),
             h, w, w * 3, 3, f(luma))
    work = np.empty_like(luma)
    b64, b16x64, b16 = (np.zeros((64, 64), np.float32), np.zeros((16, 64), np.float32),
                        np.zeros((16, 16), np.float32))
    out, quality = Hash256(), ctypes.c_int(0)
    HASH(f(luma), f(work), h, w, f(b64), f(b16x64), f(b16), ctypes.byref(out), ctypes.byref(quality))
    return out.hex(), quality.value


def main():
    path, w, h, reps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    pixels = np.fromfile(path, dtype=np.uint8)
    assert pixels.size == w * h * 3, "size"
    times = []
    for _ in range(reps):
        start = time.process_time()
        result = reference_hash(pixels, h, w)
        times.append((time.process_time() - start) * 1e3)
    print(json.dumps({"hash": result[0], "quality": result[1], "ms": statistics.median(times)}))


if __name__ == "__main__":
    main()
