#!/usr/bin/env python3
"""Expected values for the imagehash conformance tests (tests/suite/imagehash.rs).

Writes the synthetic test images (small PNGs from the formulas below) into
tests/vectors/imagehash/, then runs Python imagehash itself on them and on every lossless PDQ
reference image in tests/vectors/pdq/ (its PNGs and its decoded-rgb PPMs), and writes
tests/vectors/imagehash/expected.csv: `file,algorithm,hash_size,hex`, one row per hash, with
the versions it ran with in its `#` header. Run from the repository root:

    pip install imagehash==4.3.2 Pillow scipy PyWavelets numpy
    python3 scripts/vectors/imagehash_expected.py

Nothing here computes a hash: every value is imagehash's `str(hash)`.

It also writes tests/vectors/imagehash/twiddles-glibc.txt: the `cos` and `sin` that SciPy's
pocketfft (`sincos_2pibyn`, pocketfft_hdronly.h) takes from the C library for the DCT lengths
of phash sizes 2..16, computed here with Python's `math` (the same glibc `libm` SciPy calls) on
the same double arguments `k * double(0.25L * pi / n)` (x87 long double via numpy.longdouble).
"""

import gzip
import io
import os
import platform
import sys

import imagehash
import numpy as np
import PIL
import pywt
import scipy
from PIL import Image

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
OUT_DIR = os.path.join(ROOT, "tests", "vectors", "imagehash")
PDQ_DIR = os.path.join(ROOT, "tests", "vectors", "pdq")

ALGORITHMS = {
    "average_hash": imagehash.average_hash,
    "dhash": imagehash.dhash,
    "dhash_vertical": imagehash.dhash_vertical,
    "phash": imagehash.phash,
    "whash": imagehash.whash,
}


def noise(w, h, channels, seed):
    """An integer hash of (x, y, channel, seed): uint8 noise without a random generator."""
    y, x, c = np.meshgrid(np.arange(h), np.arange(w), np.arange(channels), indexing="ij")
    v = (x.astype(np.uint64) * 73856093) ^ (y.astype(np.uint64) * 19349663)
    v ^= c.astype(np.uint64) * 83492791 + np.uint64(seed) * 2654435761
    v = (v * np.uint64(2654435761)) & np.uint64(0xFFFFFFFF)
    return (v >> np.uint64(24)).astype(np.uint8)


def grid(w, h):
    return np.meshgrid(np.arange(w), np.arange(h))


def rgb_gradient(w, h):
    x, y = grid(w, h)
    return np.stack(
        [x * 255 // max(w - 1, 1), y * 255 // max(h - 1, 1), (x + y) * 255 // max(w + h - 2, 1)], axis=-1
    ).astype(np.uint8)


def grey_gradient(w, h, axis):
    x, y = grid(w, h)
    t, n = (x, w) if axis == "x" else (y, h)
    return (t * 255 // max(n - 1, 1)).astype(np.uint8)


def pattern(w, h):
    x, y = grid(w, h)
    return np.stack([(x * x + 3 * y) % 256, (x * y // 7) % 256, (5 * x + 11 * y) % 256], axis=-1).astype(np.uint8)


def checker(w, h, cell):
    x, y = grid(w, h)
    return np.where(((x // cell) + (y // cell)) % 2 == 1, 255, 0).astype(np.uint8)


def stripes(w, h, period):
    x, _ = grid(w, h)
    return np.where((x // period) % 2 == 1, 255, 0).astype(np.uint8)


def synthetic_images():
    """(file name, PIL image) for every synthetic vector."""
    images = []

    def add(name, array, mode):
        images.append((name, Image.fromarray(array, mode)))

    # Noise: tiny, odd, thin and ordinary sizes, RGB.
    for w, h in [(1, 1), (2, 2), (3, 5), (5, 3), (7, 7), (8, 8), (9, 8), (8, 9), (16, 16), (17, 13),
                 (32, 32), (33, 31), (64, 64), (65, 63), (100, 1), (1, 100), (127, 128), (200, 150)]:
        add(f"noise_{w}x{h}_rgb.png", noise(w, h, 3, w * 1000 + h), "RGB")
    # Thin extremes: a striped pattern compresses well.
    add("pattern_4000x3_rgb.png", pattern(4000, 3), "RGB")
    add("pattern_3x4000_rgb.png", pattern(3, 4000), "RGB")
    add("pattern_300x200_rgb.png", pattern(300, 200), "RGB")
    # Constant images: every DCT and wavelet coefficient but one ties near zero.
    for w, h, v in [(1, 1, 77), (8, 8, 128), (32, 32, 0), (64, 64, 255), (17, 13, 200), (100, 75, 3)]:
        add(f"const{v}_{w}x{h}_l.png", np.full((h, w), v, np.uint8), "L")
    add("const_rgb_40x30_rgb.png", np.full((30, 40, 3), (200, 100, 50), np.uint8), "RGB")
    # Gradients.
    add("grad_64x64_rgb.png", rgb_gradient(64, 64), "RGB")
    add("grad_100x75_rgb.png", rgb_gradient(100, 75), "RGB")
    add("grad_256x1_rgb.png", rgb_gradient(256, 1), "RGB")
    add("hgrad_300x200_l.png", grey_gradient(300, 200, "x"), "L")
    add("vgrad_50x90_l.png", grey_gradient(50, 90, "y"), "L")
    # Symmetric patterns (exact ties in the DCT).
    add("checker8_64x64_l.png", checker(64, 64, 8), "L")
    add("checker4_32x32_l.png", checker(32, 32, 4), "L")
    add("checker1_16x16_l.png", checker(16, 16, 1), "L")
    add("stripes4_64x64_l.png", stripes(64, 64, 4), "L")
    add("stripes3_45x45_l.png", stripes(45, 45, 3), "L")
    # Grey noise.
    add("noise_50x40_l.png", noise(50, 40, 1, 5040)[..., 0], "L")
    add("noise_3x3_l.png", noise(3, 3, 1, 33)[..., 0], "L")
    # Alpha: RGBA and LA (alpha is ignored by convert('L')).
    rgba = np.concatenate([noise(31, 23, 3, 3123), grey_gradient(31, 23, "x")[..., None]], axis=-1)
    add("noise_31x23_rgba.png", rgba, "RGBA")
    add("noise_2x2_rgba.png", np.concatenate([noise(2, 2, 3, 22), np.full((2, 2, 1), 0, np.uint8)], axis=-1), "RGBA")
    la = np.stack([noise(20, 20, 1, 2020)[..., 0], grey_gradient(20, 20, "y")], axis=-1)
    add("noise_20x20_la.png", la, "LA")
    # 1-bit.
    bits = noise(45, 33, 1, 4533)[..., 0] > 127
    images.append(("noise_45x33_1.png", Image.fromarray(bits)))
    images.append(("checker5_40x40_1.png", Image.fromarray(checker(40, 40, 5) > 0)))
    # Palette, with and without transparency.
    palette = noise(16, 1, 3, 16).reshape(-1).tolist()
    idx = (noise(37, 29, 1, 3729)[..., 0] % 16).astype(np.uint8)
    p = Image.fromarray(idx, "P")
    p.putpalette(palette)
    images.append(("palette_37x29_p.png", p))
    pt = p.copy()
    pt.info["transparency"] = 3
    images.append(("palette_trns_37x29_p.png", pt))
    return images


def pdq_images():
    """(path relative to tests/vectors/pdq, PIL image) for the lossless PDQ reference files."""
    out = []
    for rel in ["misc-images/c.png", "misc-images/modes/1.png", "misc-images/modes/L.png",
                "misc-images/modes/LA.png", "misc-images/modes/P.png", "misc-images/modes/RGBA.png",
                "reg-test-input/pen-and-coaster.png"]:
        out.append(("pdq/" + rel, Image.open(os.path.join(PDQ_DIR, rel))))
    decoded = os.path.join(PDQ_DIR, "decoded-rgb")
    for name in sorted(os.listdir(decoded)):
        with gzip.open(os.path.join(decoded, name)) as f:
            out.append(("pdq/decoded-rgb/" + name, Image.open(io.BytesIO(f.read()))))
    return out


# Hash sizes per algorithm: 8 and 16 everywhere; more on some inputs to reach every DCT length
# (4 x size), every resampling shape and the small wavelet sizes.
STANDARD_SIZES = {"average_hash": [8, 16], "dhash": [8, 16], "dhash_vertical": [8, 16],
                  "phash": [8, 16], "whash": [8, 16]}
EXTRA_SIZES = {"average_hash": [2, 5, 7, 11], "dhash": [2, 3, 13], "dhash_vertical": [2, 3, 13],
               "phash": [2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15], "whash": [2, 4]}
EXTRA_INPUTS = {"noise_64x64_rgb.png", "noise_7x7_rgb.png", "const128_8x8_l.png", "const77_1x1_l.png",
                "grad_100x75_rgb.png", "checker8_64x64_l.png", "noise_1x1_rgb.png", "pattern_300x200_rgb.png",
                "pdq/decoded-rgb/bridge-mods_square-128x128.imageio.ppm.gz"}


def twiddle_arguments(n):
    """The multiples k of pi / 4n whose cos and sin `sincos_2pibyn(n)` computes."""
    nval = (n + 2) // 2
    shift = 1
    while (1 << shift) * (1 << shift) < nval:
        shift += 1
    mask = (1 << shift) - 1
    ks = set()
    for i in list(range(1, mask + 1)) + [j * (mask + 1) for j in range(1, (nval + mask) // (mask + 1))]:
        x = i << 3
        if x >= 4 * n:
            x = 8 * n - x
        if x >= 2 * n:
            x -= 2 * n
        ks.add(x if x < n else 2 * n - x)
    return sorted(ks)


def write_twiddles():
    import math
    import struct

    def bits(v):
        return format(struct.unpack("<Q", struct.pack("<d", v))[0], "016x")

    pi = np.longdouble("3.141592653589793238462643383279502884197")
    lengths = sorted({4 * s for s in range(2, 17)} | {16 * s for s in range(2, 17)})
    lines = [
        "# glibc cos/sin of the pocketfft twiddle arguments k * double(0.25L * pi / n), written by",
        "# scripts/vectors/imagehash_expected.py with Python's math module",
        f"# (glibc {platform.libc_ver()[1]}, numpy {np.__version__} longdouble = {np.finfo(np.longdouble).dtype})",
        "# n k argument_bits cos_bits sin_bits",
    ]
    for n in lengths:
        ang = float(np.float64(np.longdouble(0.25) * pi / np.longdouble(n)))
        for k in twiddle_arguments(n):
            a = k * ang
            lines.append(f"{n} {k} {bits(a)} {bits(math.cos(a))} {bits(math.sin(a))}")
    with open(os.path.join(OUT_DIR, "twiddles-glibc.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    write_twiddles()
    inputs = []
    for name, image in synthetic_images():
        path = os.path.join(OUT_DIR, name)
        image.save(path, optimize=True)
        # Hash what a decoder reads back from the file, exactly as a user would.
        inputs.append((name, Image.open(path)))
    inputs += pdq_images()

    rows = []
    for name, image in inputs:
        image.load()
        for algorithm, function in ALGORITHMS.items():
            sizes = STANDARD_SIZES[algorithm] + (EXTRA_SIZES[algorithm] if name in EXTRA_INPUTS else [])
            for size in sizes:
                rows.append(f"{name},{algorithm},{size},{function(image, hash_size=size)}")

    header = [
        "# imagehash expected values, written by scripts/vectors/imagehash_expected.py",
        f"# imagehash {imagehash.__version__}, Pillow {PIL.__version__}, numpy {np.__version__}, "
        f"scipy {scipy.__version__}, PyWavelets {pywt.__version__}",
        f"# Python {platform.python_version()} on {platform.system()} {platform.machine()}",
        f"# {len(inputs)} images, {len(rows)} hashes; files under pdq/ are in tests/vectors/pdq/, "
        "the others in tests/vectors/imagehash/",
        "# file,algorithm,hash_size,hex",
    ]
    with open(os.path.join(OUT_DIR, "expected.csv"), "w") as f:
        f.write("\n".join(header + rows) + "\n")
    print(f"{len(inputs)} images, {len(rows)} hashes", file=sys.stderr)


if __name__ == "__main__":
    main()
