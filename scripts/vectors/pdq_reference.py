#!/usr/bin/env python3
"""Hash images with the reference PDQ C++ core, exactly as pdq/cpp computes it.

The PyPI wheel `pdqhash` compiles the reference sources (pdq/cpp/hashing, pdq/cpp/downscaling)
into its extension module and exports their C++ symbols. Its Python wrapper computes luma in
float64, which is not what the reference does; this tool calls the reference functions
themselves through ctypes: fillFloatLumaFromRGB / fillFloatLumaFromGrey (f32 luma), then
pdqHash256FromFloatLuma and pdqDihedralHash256esFromFloatLuma.

Input: binary PPM (P6) / PGM (P5) files, optionally gzip'd. Output: one row per file,
  hash,quality,WxH,file,dih=h1:...:h8,dihq=q
the format of the conformance EXPECTED files.

Usage: pdq_reference.py [--label NAME] FILE...
Requires: pip install pdqhash==0.2.8 numpy
"""
import argparse
import ctypes
import gzip
import sys

import numpy as np
import pdqhash.bindings as bindings

LIB = ctypes.CDLL(bindings.__file__)

def symbol(name):
    return getattr(LIB, name)

FILL_RGB = symbol("_ZN8facebook3pdq7hashing20fillFloatLumaFromRGBEPhS2_S2_iiiiPf")
FILL_GREY = symbol("_ZN8facebook3pdq7hashing21fillFloatLumaFromGreyEPhiiiiPf")
HASH = symbol("_ZN8facebook3pdq7hashing23pdqHash256FromFloatLumaEPfS2_iiPA64_fS4_PA16_fRNS1_7Hash256ERi")
DIHEDRAL = symbol(
    "_ZN8facebook3pdq7hashing33pdqDihedralHash256esFromFloatLumaEPfS2_iiPA64_fS4_PA16_fS6_"
    "PNS1_7Hash256ES8_S8_S8_S8_S8_S8_S8_Ri"
)

class Hash256(ctypes.Structure):
    _fields_ = [("w", ctypes.c_uint16 * 16)]

    def hex(self):
        return "".join("%04x" % self.w[i] for i in range(15, -1, -1))

def read_pnm(path):
    raw = open(path, "rb").read()
    if path.endswith(".gz"):
        raw = gzip.decompress(raw)
    fields, pos = [], 0
    while len(fields) < 4:
        while raw[pos:pos + 1].isspace():
            pos += 1
        if raw[pos:pos + 1] == b"#":
            pos = raw.index(b"\n", pos)
            continue
        start = pos
        while not raw[pos:pos + 1].isspace():
            pos += 1
        fields.append(raw[start:pos].decode())
    pos += 1
    magic, w, h, maxval = fields[0], int(fields[1]), int(fields[2]), int(fields[3])
    assert maxval == 255, "maxval must be 255"
    channels = {"P6": 3, "P5": 1}[magic]
    data = np.frombuffer(raw, dtype=np.uint8, count=w * h * channels, offset=pos)
    return data.reshape(h, w, channels).copy(), w, h

def pointer(array, ctype):
    return array.ctypes.data_as(ctypes.POINTER(ctype))

def reference_hashes(pixels):
    h, w, channels = pixels.shape
    luma = np.zeros((h, w), dtype=np.float32)
    u8 = ctypes.POINTER(ctypes.c_uint8)
    if channels == 3:
        base = pixels.ctypes.data
        FILL_RGB(ctypes.cast(base, u8), ctypes.cast(base + 1, u8), ctypes.cast(base + 2, u8),
                 h, w, w * 3, 3, pointer(luma, ctypes.c_float))
    else:
        FILL_GREY(pointer(pixels, ctypes.c_uint8), h, w, w, 1, pointer(luma, ctypes.c_float))
    buffers = lambda: (np.zeros((64, 64), np.float32), np.zeros((16, 64), np.float32),
                       np.zeros((16, 16), np.float32), np.zeros((16, 16), np.float32))
    f = lambda a: pointer(a, ctypes.c_float)

    work1, work2 = luma.copy(), np.zeros_like(luma)
    b64, b16x64, b16, _ = buffers()
    plain, quality = Hash256(), ctypes.c_int(0)
    HASH(f(work1), f(work2), h, w, f(b64), f(b16x64), f(b16), ctypes.byref(plain), ctypes.byref(quality))

    work1, work2 = luma.copy(), np.zeros_like(luma)
    b64, b16x64, b16, aux = buffers()
    dih = [Hash256() for _ in range(8)]
    dquality = ctypes.c_int(0)
    DIHEDRAL(f(work1), f(work2), h, w, f(b64), f(b16x64), f(b16), f(aux),
             *[ctypes.byref(x) for x in dih], ctypes.byref(dquality))
    return plain.hex(), quality.value, [x.hex() for x in dih], dquality.value

def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("files", nargs="+")
    parser.add_argument("--label", action="append", help="name to print instead of the path (once per file)")
    args = parser.parse_args()
    labels = args.label or args.files
    for path, label in zip(args.files, labels):
        pixels, w, h = read_pnm(path)
        hsh, q, dih, dq = reference_hashes(pixels)
        print("%s,%d,%dx%d,%s,dih=%s,dihq=%d" % (hsh, q, w, h, label, ":".join(dih), dq))

if __name__ == "__main__":
    sys.exit(main())
