#!/usr/bin/env python3
"""SHA-256 of the pixels Pillow decodes from JPEG files: the oracle for our JPEG decoder.

Usage: jpeg_pillow_pixels.py ROOT FILE...   (each FILE relative to ROOT)

For each FILE, one output line:

    <FILE> <mode Pillow opened> <width> <height> <sha256 hex>

The hash is over `tobytes()` of the decoded image: kept as it is when Pillow opens the file
as "L", otherwise after `.convert("RGB")` (so a CMYK JPEG is hashed after Pillow's own
CMYK-to-RGB conversion). Pillow's decoder settings are left at their defaults (libjpeg-turbo
ISLOW IDCT, fancy upsampling, no draft/DCT scaling). EXIF orientation is NOT applied.

A header of `#` lines states the Pillow and libjpeg-turbo versions and the command line.
"""
import hashlib
import os
import shlex
import sys

import PIL
from PIL import Image, features


def describe(root, name):
    with Image.open(os.path.join(root, name)) as image:
        if image.format != "JPEG":
            raise SystemExit("%s: Pillow opened it as %s, not JPEG" % (name, image.format))
        opened = image.mode
        width, height = image.size
        image.load()
        pixels = image if opened == "L" else image.convert("RGB")
        digest = hashlib.sha256(pixels.tobytes()).hexdigest()
    return "%s %s %d %d %s" % (name, opened, width, height, digest)


def main():
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    root, names = sys.argv[1], sys.argv[2:]
    print("# Pillow %s, libjpeg-turbo %s (PIL.features.version(\"libjpeg_turbo\")), Python %d.%d.%d"
          % ((PIL.__version__, features.version("libjpeg_turbo")) + tuple(sys.version_info[:3])))
    print("# columns: path-relative-to-root opened-mode width height sha256(tobytes() of L, or of convert(\"RGB\") for any other mode)")
    print("# command: python3 %s" % shlex.join(sys.argv))
    for name in names:
        print(describe(root, name))


if __name__ == "__main__":
    sys.exit(main())
