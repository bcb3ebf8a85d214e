#!/usr/bin/env python3
"""Write the JPEG decoder fixtures of tests/vectors/decode/jpeg/ and their Pillow oracle.

Run from the repository root:

    python3 scripts/vectors/make_jpeg_fixtures.py

Every fixture is a crop of tests/vectors/pdq/bridge-mods/aaa-orig.jpg (1600x1004), decoded
by Pillow (`Image.open(src).convert("RGB")`, or `.convert("L")` for grey fixtures), then
encoded either by Pillow (`Image.save(..., "JPEG", **options)`) or by libjpeg-turbo's `cjpeg`
from a binary PPM/PGM of the crop. FIXTURES below lists, per file: the encoder, the crop's
top-left corner in the source, the mode, and the encoder options.

Afterwards it writes tests/vectors/decode/jpeg/pillow-pixels.txt with
scripts/vectors/jpeg_pillow_pixels.py over the fixtures and every *.jpg/*.jpeg under
tests/vectors/pdq/ (paths relative to tests/vectors, sorted bytewise).

Tools used for the committed files: Python 3.11.7, Pillow 13.0.0 (its bundled libjpeg-turbo
3.2.0 for decoding the source and for the Pillow-made files), and Debian 12's cjpeg from
libjpeg-turbo-progs 1:2.1.5-2 (libjpeg-turbo 2.1.5). Other versions may produce different
bytes; the script prints the versions it ran with.
"""
import os
import re
import subprocess
import sys
import tempfile

import PIL
from PIL import Image, features

SOURCE = "tests/vectors/pdq/bridge-mods/aaa-orig.jpg"
OUT = "tests/vectors/decode/jpeg"
VECTORS = "tests/vectors"

# (file name, encoder, (left, top) of the crop in SOURCE, mode, options)
# Width and height come from the "WxH" at the end of the file name.
# Pillow options are Image.save keyword arguments; cjpeg options are its command-line switches.
FIXTURES = [
    # Pillow: sampling and sizes, baseline, default Huffman tables, quality 75 (Pillow's default)
    ("444-1x1.jpg", "pillow", (1400, 250), "RGB", dict(quality=75, subsampling=0)),
    ("422-1x1.jpg", "pillow", (1400, 250), "RGB", dict(quality=75, subsampling=1)),
    ("420-1x1.jpg", "pillow", (1400, 250), "RGB", dict(quality=75, subsampling=2)),
    ("grey-1x1.jpg", "pillow", (1400, 250), "L", dict(quality=75)),
    ("444-7x9.jpg", "pillow", (1420, 560), "RGB", dict(quality=75, subsampling=0)),
    ("422-7x9.jpg", "pillow", (1420, 560), "RGB", dict(quality=75, subsampling=1)),
    ("420-7x9.jpg", "pillow", (1420, 560), "RGB", dict(quality=75, subsampling=2)),
    ("grey-7x9.jpg", "pillow", (1420, 560), "L", dict(quality=75)),
    ("444-17x33.jpg", "pillow", (1380, 500), "RGB", dict(quality=75, subsampling=0)),
    ("422-17x33.jpg", "pillow", (1380, 500), "RGB", dict(quality=75, subsampling=1)),
    ("420-17x33.jpg", "pillow", (1380, 500), "RGB", dict(quality=75, subsampling=2)),
    ("444-33x17.jpg", "pillow", (1250, 330), "RGB", dict(quality=75, subsampling=0)),
    ("422-33x17.jpg", "pillow", (1250, 330), "RGB", dict(quality=75, subsampling=1)),
    ("420-33x17.jpg", "pillow", (1250, 330), "RGB", dict(quality=75, subsampling=2)),
    ("grey-33x17.jpg", "pillow", (1250, 330), "L", dict(quality=75)),
    ("444-64x48.jpg", "pillow", (560, 640), "RGB", dict(quality=75, subsampling=0)),
    ("422-64x48.jpg", "pillow", (560, 640), "RGB", dict(quality=75, subsampling=1)),
    ("420-64x48.jpg", "pillow", (560, 640), "RGB", dict(quality=75, subsampling=2)),
    ("grey-64x48.jpg", "pillow", (560, 640), "L", dict(quality=75)),
    ("444-250x187.jpg", "pillow", (1350, 260), "RGB", dict(quality=75, subsampling=0)),
    ("422-250x187.jpg", "pillow", (1350, 260), "RGB", dict(quality=75, subsampling=1)),
    ("420-250x187.jpg", "pillow", (1350, 260), "RGB", dict(quality=75, subsampling=2)),
    ("grey-250x187.jpg", "pillow", (1350, 260), "L", dict(quality=75)),
    ("420-521x77.jpg", "pillow", (0, 640), "RGB", dict(quality=75, subsampling=2)),
    # Pillow: optimised Huffman tables (baseline)
    ("420-optimize-250x187.jpg", "pillow", (1350, 260), "RGB", dict(quality=75, subsampling=2, optimize=True)),
    ("444-optimize-33x17.jpg", "pillow", (1250, 330), "RGB", dict(quality=75, subsampling=0, optimize=True)),
    ("grey-optimize-64x48.jpg", "pillow", (560, 640), "L", dict(quality=75, optimize=True)),
    # Pillow: progressive (libjpeg-turbo always optimises the tables of a progressive file)
    ("420-progressive-1x1.jpg", "pillow", (1400, 250), "RGB", dict(quality=75, subsampling=2, progressive=True)),
    ("420-progressive-7x9.jpg", "pillow", (1420, 560), "RGB", dict(quality=75, subsampling=2, progressive=True)),
    ("422-progressive-17x33.jpg", "pillow", (1380, 500), "RGB", dict(quality=75, subsampling=1, progressive=True)),
    ("444-progressive-33x17.jpg", "pillow", (1250, 330), "RGB", dict(quality=75, subsampling=0, progressive=True)),
    ("420-progressive-250x187.jpg", "pillow", (1350, 260), "RGB", dict(quality=75, subsampling=2, progressive=True)),
    ("444-progressive-517x43.jpg", "pillow", (300, 760), "RGB", dict(quality=75, subsampling=0, progressive=True)),
    ("grey-progressive-33x17.jpg", "pillow", (1250, 330), "L", dict(quality=75, progressive=True)),
    ("grey-progressive-250x187.jpg", "pillow", (1350, 260), "L", dict(quality=75, progressive=True)),
    # Pillow: restart intervals (restart_marker_blocks = DRI in MCUs; restart_marker_rows = in MCU rows)
    ("420-restart-1mcu-33x17.jpg", "pillow", (1250, 330), "RGB", dict(quality=75, subsampling=2, restart_marker_blocks=1)),
    ("422-restart-3mcu-64x48.jpg", "pillow", (560, 640), "RGB", dict(quality=75, subsampling=1, restart_marker_blocks=3)),
    ("420-restart-2rows-250x187.jpg", "pillow", (1350, 260), "RGB", dict(quality=75, subsampling=2, restart_marker_rows=2)),
    ("420-progressive-restart-1mcu-33x17.jpg", "pillow", (1250, 330), "RGB", dict(quality=75, subsampling=2, progressive=True, restart_marker_blocks=1)),
    ("420-progressive-restart-1row-250x187.jpg", "pillow", (1350, 260), "RGB", dict(quality=75, subsampling=2, progressive=True, restart_marker_rows=1)),
    ("444-progressive-restart-5mcu-64x48.jpg", "pillow", (560, 640), "RGB", dict(quality=75, subsampling=0, progressive=True, restart_marker_blocks=5)),
    ("grey-restart-1row-64x48.jpg", "pillow", (560, 640), "L", dict(quality=75, restart_marker_rows=1)),
    ("grey-progressive-restart-7mcu-250x187.jpg", "pillow", (1350, 260), "L", dict(quality=75, progressive=True, restart_marker_blocks=7)),
    # Pillow: quality 100, 5, 1 (Pillow forces baseline quantisation tables: entries <= 255)
    ("444-q100-64x48.jpg", "pillow", (560, 640), "RGB", dict(quality=100, subsampling=0)),
    ("420-q100-33x17.jpg", "pillow", (1250, 330), "RGB", dict(quality=100, subsampling=2)),
    ("grey-q100-33x17.jpg", "pillow", (1250, 330), "L", dict(quality=100)),
    ("420-q5-250x187.jpg", "pillow", (1350, 260), "RGB", dict(quality=5, subsampling=2)),
    ("420-q1-250x187.jpg", "pillow", (1350, 260), "RGB", dict(quality=1, subsampling=2)),
    ("444-q1-progressive-64x48.jpg", "pillow", (560, 640), "RGB", dict(quality=1, subsampling=0, progressive=True)),
    # Pillow: RGB colour space, no YCbCr transform (keep_rgb=True)
    ("rgb-64x48.jpg", "pillow", (560, 640), "RGB", dict(quality=75, keep_rgb=True)),
    ("rgb-progressive-33x17.jpg", "pillow", (1250, 330), "RGB", dict(quality=75, keep_rgb=True, progressive=True)),
    # cjpeg: 4:4:0 (chroma halved vertically) and 4:1:1 (chroma quartered horizontally)
    ("cjpeg-440-7x9.jpg", "cjpeg", (1420, 560), "RGB", ["-sample", "1x2,1x1,1x1"]),
    ("cjpeg-440-33x17.jpg", "cjpeg", (1250, 330), "RGB", ["-sample", "1x2,1x1,1x1"]),
    ("cjpeg-440-250x187.jpg", "cjpeg", (1350, 260), "RGB", ["-sample", "1x2,1x1,1x1"]),
    ("cjpeg-440-progressive-17x33.jpg", "cjpeg", (1380, 500), "RGB", ["-sample", "1x2,1x1,1x1", "-progressive"]),
    ("cjpeg-411-7x9.jpg", "cjpeg", (1420, 560), "RGB", ["-sample", "4x1,1x1,1x1"]),
    ("cjpeg-411-33x17.jpg", "cjpeg", (1250, 330), "RGB", ["-sample", "4x1,1x1,1x1"]),
    ("cjpeg-411-250x187.jpg", "cjpeg", (1350, 260), "RGB", ["-sample", "4x1,1x1,1x1"]),
    ("cjpeg-411-progressive-64x48.jpg", "cjpeg", (560, 640), "RGB", ["-sample", "4x1,1x1,1x1", "-progressive"]),
    # cjpeg: RGB colour space (Adobe marker, transform 0)
    # (Pillow's keep_rgb=True writes the same bytes as cjpeg -rgb for the same pixels and quality)
    ("cjpeg-rgb-optimize-17x33.jpg", "cjpeg", (1380, 500), "RGB", ["-rgb", "-optimize"]),
    ("cjpeg-rgb-progressive-restart-2mcu-131x97.jpg", "cjpeg", (1380, 300), "RGB", ["-rgb", "-progressive", "-restart", "2B"]),
    # cjpeg: restart intervals ("-restart N" in MCU rows, "-restart NB" in MCUs)
    ("cjpeg-420-restart-1row-64x48.jpg", "cjpeg", (560, 640), "RGB", ["-restart", "1"]),
    ("cjpeg-420-progressive-restart-1mcu-64x48.jpg", "cjpeg", (560, 640), "RGB", ["-progressive", "-restart", "1B"]),
    ("cjpeg-422-optimize-restart-2mcu-33x17.jpg", "cjpeg", (1250, 330), "RGB", ["-sample", "2x1,1x1,1x1", "-optimize", "-restart", "2B"]),
    # cjpeg: greyscale progressive, from a PGM
    ("cjpeg-grey-progressive-64x48.jpg", "cjpeg", (560, 640), "L", ["-grayscale", "-progressive"]),
    # cjpeg: quality 1 without -baseline: 16-bit quantisation tables, so an extended (SOF1) frame
    ("cjpeg-420-q1-16bit-dqt-64x48.jpg", "cjpeg", (560, 640), "RGB", ["-quality", "1"]),
    # cjpeg: arithmetic coding, which our decoder leaves out (a refusal fixture: not listed in
    # pillow-pixels.txt)
    ("cjpeg-arithmetic-64x48.jpg", "cjpeg", (100, 100), "RGB", ["-quality", "75", "-arithmetic"]),
]
# Fixtures the decoder refuses: made, but not in the oracle list.
REFUSED = {"cjpeg-arithmetic-64x48.jpg"}


def size_of(name):
    width, height = re.search(r"(\d+)x(\d+)\.jpg$", name).groups()
    return int(width), int(height)


def cjpeg_version():
    # `cjpeg -version` prints e.g. "libjpeg-turbo version 2.1.5 (build 20230203)" on stderr
    run = subprocess.run(["cjpeg", "-version"], capture_output=True, text=True)
    return (run.stderr + run.stdout).strip()


def main():
    os.makedirs(OUT, exist_ok=True)
    print("Pillow %s, libjpeg-turbo %s; cjpeg: %s"
          % (PIL.__version__, features.version("libjpeg_turbo"), cjpeg_version()), file=sys.stderr)
    with Image.open(SOURCE) as image:
        source = image.convert("RGB")
    names = [entry[0] for entry in FIXTURES]
    if len(set(names)) != len(names):
        raise SystemExit("duplicate fixture name")
    with tempfile.TemporaryDirectory() as tmp:
        for name, encoder, (left, top), mode, options in FIXTURES:
            width, height = size_of(name)
            crop = source.crop((left, top, left + width, top + height))
            if mode == "L":
                crop = crop.convert("L")
            path = os.path.join(OUT, name)
            if encoder == "pillow":
                crop.save(path, "JPEG", **options)
            else:
                pnm = os.path.join(tmp, "crop.pgm" if mode == "L" else "crop.ppm")
                crop.save(pnm)  # binary P5/P6, maxval 255
                subprocess.run(["cjpeg", *options, "-outfile", path, pnm], check=True)
            print("%s %d bytes" % (path, os.path.getsize(path)), file=sys.stderr)

    pdq = []
    for directory, _, files in os.walk(os.path.join(VECTORS, "pdq")):
        for file in files:
            if file.lower().endswith((".jpg", ".jpeg")):
                pdq.append(os.path.relpath(os.path.join(directory, file), VECTORS))
    listed = sorted("decode/jpeg/" + name for name in names if name not in REFUSED) + sorted(pdq)
    with open(os.path.join(OUT, "pillow-pixels.txt"), "w") as out:
        subprocess.run([sys.executable, "scripts/vectors/jpeg_pillow_pixels.py", VECTORS, *listed],
                       stdout=out, check=True)


if __name__ == "__main__":
    sys.exit(main())
