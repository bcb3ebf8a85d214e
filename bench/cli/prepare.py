#!/usr/bin/env python3
"""Builds the photo folder of the CLI benchmark: N files from the wallpapers of the Debian
package plasma-workspace-wallpapers (/usr/share/wallpapers; photos and renders, JPEG and PNG,
up to 5120x2880). Every wallpaper of at least 1 MP is copied as it is; the rest of the N are
JPEG re-encodings (quality 85-95, as phones write them) of random crops of 2-12 MP from those
wallpapers, from a fixed seed, so the folder is the same on every machine with that package.

usage: prepare.py OUT_DIR [N]
"""
import os
import random
import shutil
import sys

from PIL import Image

SOURCE = "/usr/share/wallpapers"


def main():
    out, n = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 200
    os.makedirs(out, exist_ok=True)
    sources = []
    for dirpath, _, files in sorted(os.walk(SOURCE)):
        for f in sorted(files):
            if f.lower().endswith((".jpg", ".jpeg", ".png")):
                path = os.path.join(dirpath, f)
                with Image.open(path) as im:
                    if im.width * im.height >= 1_000_000:
                        sources.append(path)
    if not sources:
        raise SystemExit(f"no wallpapers of 1 MP or more under {SOURCE}")
    names = []
    for i, path in enumerate(sources[:n]):
        name = f"{i:03d}-{os.path.basename(os.path.dirname(os.path.dirname(os.path.dirname(path))))}-{os.path.basename(path)}"
        shutil.copyfile(path, os.path.join(out, name))
        names.append(name)
    rng = random.Random(2026)
    i = len(names)
    while i < n:
        path = rng.choice(sources)
        with Image.open(path) as im:
            im = im.convert("RGB")
            mp = rng.uniform(2.0, min(12.0, im.width * im.height / 1e6))
            aspect = im.width / im.height
            w = min(im.width, int((mp * 1e6 * aspect) ** 0.5))
            h = min(im.height, int(mp * 1e6 / w))
            x, y = rng.randrange(im.width - w + 1), rng.randrange(im.height - h + 1)
            name = f"{i:03d}-crop-{w}x{h}.jpg"
            im.crop((x, y, x + w, y + h)).save(os.path.join(out, name), quality=rng.randint(85, 95))
        names.append(name)
        i += 1
    total = sum(os.path.getsize(os.path.join(out, f)) for f in names)
    print(f"{len(names)} files, {total / 1e6:.0f} MB, in {out}")


if __name__ == "__main__":
    main()
