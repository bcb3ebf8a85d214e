#!/usr/bin/env python3
"""Builds the accuracy benchmark's images: the originals (real photos taken from Debian
packages, listed with their SHA-256 in photos.tsv) and one edited copy per (photo, edit).

1. Each photo of photos.tsv is read from its unpacked package (a Qt resource file `.rcc` is
   searched for the embedded image with that SHA-256), checked against its SHA-256, converted
   to RGB (alpha over white), downscaled once so that its longest side is at most 1600 px
   (Pillow's LANCZOS) and saved as PNG: that PNG is the "original" of the benchmark.
2. Each edit of EDITS is a named function of (image, rng), where rng is a random.Random seeded
   with "photo-name/edit-name": the same inputs give the same bytes on every machine (with the
   pinned Pillow). Copies are PNG (lossless) except the edits that end in a JPEG encoding.

usage: images.py PHOTOS_TSV PACKAGES_DIR OUT_DIR
"""
import hashlib
import io
import json
import os
import random
import re
import sys
from multiprocessing import Pool

from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont, ImageOps

MAX_SIDE = 1600
PROCESSES = 2
WORDS = (
    "when the weekend finally arrives nobody expected this look at what we found today "
    "best day ever share if you agree the view from here original content do not repost"
).split()


# ---- the photos -------------------------------------------------------------------------------

def read_manifest(path):
    rows = []
    with open(path) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            name, package, member, sha = line.rstrip("\n").split("\t")
            rows.append({"name": name, "package": package, "member": member, "sha256": sha})
    return rows


def rcc_images(data):
    """The images embedded in a Qt resource file, by SHA-256: each data entry is a 4-byte
    big-endian length followed by the bytes; images are stored uncompressed (JPEG, PNG, WebP)."""
    found = {}
    for sig in (rb"\xff\xd8\xff", rb"\x89PNG\r\n\x1a\n", rb"RIFF....WEBP"):
        for m in re.finditer(sig, data, re.DOTALL):
            p = m.start()
            size = int.from_bytes(data[p - 4:p], "big") if p >= 4 else 0
            if 0 < size <= len(data) - p:
                blob = data[p:p + size]
                found[hashlib.sha256(blob).hexdigest()] = blob
    return found


def photo_bytes(row, packages, rcc_cache):
    path = os.path.join(packages, row["package"], row["member"])
    if path.endswith(".rcc"):
        if path not in rcc_cache:
            with open(path, "rb") as f:
                rcc_cache[path] = rcc_images(f.read())
        blob = rcc_cache[path].get(row["sha256"])
        if blob is None:
            raise SystemExit(f"{row['name']}: no image with SHA-256 {row['sha256']} in {path}")
        return blob
    with open(path, "rb") as f:
        blob = f.read()
    if hashlib.sha256(blob).hexdigest() != row["sha256"]:
        raise SystemExit(f"{row['name']}: {path} differs from the SHA-256 in photos.tsv")
    return blob


def prepare_original(blob):
    im = Image.open(io.BytesIO(blob))
    im.load()
    if im.mode in ("RGBA", "LA", "P", "PA"):
        im = im.convert("RGBA")
        flat = Image.new("RGB", im.size, "white")
        flat.paste(im, mask=im.getchannel("A"))
        im = flat
    else:
        im = im.convert("RGB")
    if max(im.size) > MAX_SIDE:
        scale = MAX_SIDE / max(im.size)
        size = (max(1, round(im.width * scale)), max(1, round(im.height * scale)))
        im = im.resize(size, Image.LANCZOS)
    return im


# ---- the edits --------------------------------------------------------------------------------

def font(px):
    # Pillow's embedded font (Aileron): the same glyphs on every machine.
    return ImageFont.load_default(size=max(8, int(px)))


def jpeg(im, quality):
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def jpeg_q75(im, rng):
    return jpeg(im, 75)


def jpeg_q30(im, rng):
    return jpeg(im, 30)


def resize(im, factor):
    return im.resize((max(1, round(im.width * factor)), max(1, round(im.height * factor))), Image.LANCZOS)


def resize_50(im, rng):
    return resize(im, 0.5)


def resize_25(im, rng):
    return resize(im, 0.25)


def crop(im, rng, fraction):
    """Removes `fraction` of the width and of the height, split between the two sides at a
    seeded ratio in [0.25, 0.75] (centre-ish)."""
    dw, dh = round(im.width * fraction), round(im.height * fraction)
    left, top = round(dw * rng.uniform(0.25, 0.75)), round(dh * rng.uniform(0.25, 0.75))
    return im.crop((left, top, left + im.width - dw, top + im.height - dh))


def crop_5(im, rng):
    return crop(im, rng, 0.05)


def crop_10(im, rng):
    return crop(im, rng, 0.10)


def crop_20(im, rng):
    return crop(im, rng, 0.20)


def letterbox_10(im, rng):
    """Black bars above and below, together 10 % of the picture's height."""
    bar = round(im.height * 0.05)
    out = Image.new("RGB", (im.width, im.height + 2 * bar), (0, 0, 0))
    out.paste(im, (0, bar))
    return out


def pad_20(im, rng):
    """A border of one seeded colour all round: 10 % of the width on the left and on the
    right, 10 % of the height above and below (20 % per dimension)."""
    colour = tuple(rng.randrange(256) for _ in range(3))
    bx, by = round(im.width * 0.10), round(im.height * 0.10)
    out = Image.new("RGB", (im.width + 2 * bx, im.height + 2 * by), colour)
    out.paste(im, (bx, by))
    return out


def rot90(im, rng):
    return im.transpose(Image.ROTATE_90)


def rot180(im, rng):
    return im.transpose(Image.ROTATE_180)


def rot270(im, rng):
    return im.transpose(Image.ROTATE_270)


def mirror(im, rng):
    return ImageOps.mirror(im)


def flip_vertical(im, rng):
    return ImageOps.flip(im)


def rotate_5_expand(im, rng):
    """5 degrees anticlockwise, the canvas grown to hold the whole picture (black corners)."""
    return im.rotate(5, resample=Image.BICUBIC, expand=True)


def rotate_5_same_size(im, rng):
    """5 degrees anticlockwise on the same canvas: corners cut off, black wedges."""
    return im.rotate(5, resample=Image.BICUBIC, expand=False)


def brightness_30(im, rng):
    return ImageEnhance.Brightness(im).enhance(1.3)


def contrast_50(im, rng):
    return ImageEnhance.Contrast(im).enhance(1.5)


def grey(im, rng):
    return im.convert("L").convert("RGB")


def blur_3(im, rng):
    return im.filter(ImageFilter.GaussianBlur(3))


def caption(im, rng):
    """A solid band over the bottom 15 % with a line of text (black on white or white on
    black, seeded)."""
    out = im.copy()
    band = round(im.height * 0.15)
    bg, fg = rng.choice([((255, 255, 255), (0, 0, 0)), ((0, 0, 0), (255, 255, 255))])
    draw = ImageDraw.Draw(out)
    draw.rectangle((0, im.height - band, im.width, im.height), fill=bg)
    text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 5))).upper()
    f = font(band * 0.5)
    while f.getlength(text) > im.width * 0.94 and f.size > 8:
        f = font(f.size * 0.9)
    x = (im.width - f.getlength(text)) / 2
    draw.text((x, im.height - band / 2), text, font=f, fill=fg, anchor="lm")
    return out


def caption_added(im, rng):
    """A caption band added on a larger canvas, as meme makers do: a band of 12-25 % of the
    picture's height (seeded) above or below the picture, white with black text or black with
    white text, one line of text."""
    band = round(im.height * rng.uniform(0.12, 0.25))
    above = rng.random() < 0.5
    bg, fg = rng.choice([((255, 255, 255), (0, 0, 0)), ((0, 0, 0), (255, 255, 255))])
    out = Image.new("RGB", (im.width, im.height + band), bg)
    out.paste(im, (0, band if above else 0))
    text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 6)))
    f = font(band * 0.45)
    while f.getlength(text) > im.width * 0.94 and f.size > 8:
        f = font(f.size * 0.9)
    y = band / 2 if above else im.height + band / 2
    ImageDraw.Draw(out).text((im.width / 2, y), text, font=f, fill=fg, anchor="mm")
    return out


def watermark(im, rng):
    """Translucent white text (alpha 40 %) across the middle, 12 % of the height tall."""
    base = im.convert("RGBA")
    layer = Image.new("RGBA", im.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    text = rng.choice(["© stock photo", "SAMPLE", "© my-pictures.example", "PREVIEW ONLY"])
    f = font(im.height * 0.12)
    while f.getlength(text) > im.width * 0.9 and f.size > 8:
        f = font(f.size * 0.9)
    draw.text((im.width / 2, im.height * rng.uniform(0.4, 0.6)), text, font=f,
              fill=(255, 255, 255, 102), anchor="mm", stroke_width=max(1, f.size // 30),
              stroke_fill=(0, 0, 0, 60))
    return Image.alpha_composite(base, layer).convert("RGB")


def screenshot(im, rng):
    """The picture as it shows in a screenshot of a web page: a 16:10 canvas of the picture's
    width with a title bar, an address bar, a side bar and lines of text, the picture scaled
    to 45-60 % of the canvas width at a seeded place in the content area."""
    w = im.width
    h = round(w * 10 / 16)
    bg = (255, 255, 255) if rng.random() < 0.5 else (32, 33, 36)
    fg = (60, 60, 60) if bg[0] > 128 else (200, 200, 200)
    out = Image.new("RGB", (w, h), bg)
    draw = ImageDraw.Draw(out)
    title = round(h * 0.05)
    draw.rectangle((0, 0, w, title), fill=(222, 225, 230))
    for k in range(3):
        r = title * 0.25
        cx = title * (0.6 + 0.5 * k)
        draw.ellipse((cx - r, title / 2 - r, cx + r, title / 2 + r),
                     fill=[(255, 95, 86), (255, 189, 46), (39, 201, 63)][k])
    bar = round(h * 0.06)
    draw.rectangle((0, title, w, title + bar), fill=(241, 243, 244))
    draw.rounded_rectangle((w * 0.12, title + bar * 0.2, w * 0.8, title + bar * 0.8),
                           radius=bar * 0.3, fill=(255, 255, 255), outline=(200, 200, 200))
    draw.text((w * 0.13, title + bar / 2), "https://social.example/p/" + str(rng.randrange(10**9)),
              font=font(bar * 0.4), fill=(80, 80, 80), anchor="lm")
    top = title + bar
    side = round(w * rng.uniform(0.15, 0.22))
    draw.rectangle((0, top, side, h), fill=(245, 245, 245) if bg[0] > 128 else (45, 46, 50))
    for k in range(8):
        y = top + h * 0.04 + k * h * 0.06
        draw.rounded_rectangle((side * 0.12, y, side * rng.uniform(0.5, 0.9), y + h * 0.025),
                               radius=3, fill=(190, 190, 190))
    scale = w * rng.uniform(0.45, 0.60) / im.width
    pic = im.resize((max(1, round(im.width * scale)), max(1, round(im.height * scale))), Image.LANCZOS)
    room_h = h - top - round(h * 0.08)
    if pic.height > room_h:
        pic = pic.resize((max(1, round(pic.width * room_h / pic.height)), room_h), Image.LANCZOS)
    x = side + round((w - side - pic.width) * rng.uniform(0.2, 0.8))
    y = top + round(h * 0.04)
    draw.text((x, y - h * 0.005), "@someone · " + str(rng.randint(2, 59)) + " min",
              font=font(h * 0.022), fill=fg, anchor="lb")
    out.paste(pic, (x, y))
    for k in range(3):
        yy = y + pic.height + h * 0.015 + k * h * 0.022
        if yy + h * 0.012 < h:
            draw.rectangle((x, yy, x + pic.width * rng.uniform(0.4, 1.0), yy + h * 0.012), fill=fg)
    return out


def crop10_caption_jpeg75(im, rng):
    return jpeg(caption(crop_10(im, rng), rng), 75)


def mirror_crop5_jpeg60(im, rng):
    return jpeg(crop_5(mirror(im, rng), rng), 60)


EDITS = [
    jpeg_q75, jpeg_q30, resize_50, resize_25, crop_5, crop_10, crop_20, letterbox_10, pad_20,
    rot90, rot180, rot270, mirror, flip_vertical, rotate_5_expand, rotate_5_same_size,
    brightness_30, contrast_50, grey, blur_3, caption, caption_added, watermark, screenshot,
    crop10_caption_jpeg75, mirror_crop5_jpeg60,
]


# ---- the run ----------------------------------------------------------------------------------

def make_copies(task):
    index, name, original_path, out = task
    im = Image.open(original_path)
    im.load()
    made = []
    for edit in EDITS:
        result = edit(im, random.Random(f"{name}/{edit.__name__}"))
        d = os.path.join(out, "copies", edit.__name__)
        if isinstance(result, bytes):
            path = os.path.join(d, f"{index:03d}.jpg")
            with open(path, "wb") as f:
                f.write(result)
        else:
            path = os.path.join(d, f"{index:03d}.png")
            result.save(path, "PNG", compress_level=1)
        made.append({"photo": index, "edit": edit.__name__, "path": path})
    return made


def main():
    manifest, packages, out = sys.argv[1:4]
    rows = read_manifest(manifest)
    os.makedirs(os.path.join(out, "originals"), exist_ok=True)
    for edit in EDITS:
        os.makedirs(os.path.join(out, "copies", edit.__name__), exist_ok=True)
    rcc_cache = {}
    originals = []
    for i, row in enumerate(rows):
        im = prepare_original(photo_bytes(row, packages, rcc_cache))
        path = os.path.join(out, "originals", f"{i:03d}.png")
        im.save(path, "PNG", compress_level=1)
        originals.append({**row, "index": i, "path": path, "width": im.width, "height": im.height})
    rcc_cache.clear()
    with Pool(PROCESSES) as pool:
        copies = [c for made in pool.map(make_copies, [(o["index"], o["name"], o["path"], out)
                                                       for o in originals], chunksize=4)
                  for c in made]
    with open(os.path.join(out, "images.json"), "w") as f:
        json.dump({"originals": originals, "copies": copies,
                   "edits": [e.__name__ for e in EDITS], "max_side": MAX_SIDE}, f, indent=1)
    print(f"{len(originals)} originals, {len(copies)} copies ({len(EDITS)} edits) in {out}")


if __name__ == "__main__":
    main()
