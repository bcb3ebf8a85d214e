#!/usr/bin/env python3
"""Small decoder fixtures, and the pixels Pillow produces for each, for tests/vectors/decode/.

Each fixture is written here (16-bit PNGs by a minimal PNG writer, the rest by Pillow), then
reopened with Pillow and converted as the Pillow-based hashing tools do: `convert("RGB")` for
colour files, `convert("L")` for grey ones. The expected pixels are written beside it as
binary PPM (P6) or PGM (P5): `<fixture>.pillow.ppm` / `.pillow.pgm`.

`orientation-<tag>.png` (and one WebP) store one image with each EXIF orientation tag 1-8;
`<fixture>.upright.ppm` is Pillow's `ImageOps.exif_transpose` of it, converted to RGB.

Usage: pillow_conversions.py OUTDIR        Requires: pip install Pillow numpy
"""
import io
import os
import struct
import sys
import zlib

import numpy as np
from PIL import Image, ImageOps

W, H = 24, 16


def png(width, height, bit_depth, colour_type, samples):
    """A PNG from big-endian samples (numpy array, rows x values)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    dtype = ">u2" if bit_depth == 16 else "u1"
    raw = b"".join(b"\0" + row.astype(dtype).tobytes() for row in samples)
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def samples16(channels):
    """Values spread over the whole 16-bit range, including 0, 255, 256 and 65535."""
    n = np.arange(H * W * channels, dtype=np.int64).reshape(H, W * channels)
    v = (n * 2654435761) % 65536
    v[0, :4] = [0, 255, 256, 65535]
    return v


def save(image, fmt, **kw):
    out = io.BytesIO()
    image.save(out, fmt, **kw)
    return out.getvalue()


def photo_rgb():
    y, x = np.mgrid[0:H, 0:W]
    return np.stack([(x * 11) % 256, (y * 17) % 256, ((x + y) * 7) % 256], -1).astype(np.uint8)


def fixtures():
    rgb = Image.fromarray(photo_rgb(), "RGB")
    yield "rgb16.png", png(W, H, 16, 2, samples16(3))
    yield "rgba16.png", png(W, H, 16, 6, samples16(4))
    yield "grey16.png", png(W, H, 16, 0, samples16(1))
    yield "greyalpha16.png", png(W, H, 16, 4, samples16(2))
    yield "grey16.tif", save(Image.fromarray(samples16(1).astype(np.uint16)), "TIFF")
    yield "greyalpha8.png", save(rgb.convert("LA"), "PNG")
    yield "palette.png", save(rgb.quantize(64), "PNG")
    pal = rgb.quantize(64)
    yield "palette-trns.png", save(pal, "PNG", transparency=3)
    yield "rgba8.png", save(Image.fromarray(np.dstack([photo_rgb(), (np.arange(H * W).reshape(H, W) * 5 % 256).astype(np.uint8)]), "RGBA"), "PNG")
    # Flat 8x8 blocks survive JPEG exactly in any decoder, so the CMYK conversion is all that is tested.
    cmyk = np.zeros((H, W, 4), np.uint8)
    for i, value in enumerate([(0, 0, 0, 0), (255, 0, 0, 0), (0, 200, 40, 30), (10, 20, 30, 255), (128, 64, 32, 16), (250, 250, 5, 100)]):
        by, bx = divmod(i, 3)
        cmyk[by * 8:(by + 1) * 8, bx * 8:(bx + 1) * 8] = value
    yield "cmyk.jpg", save(Image.fromarray(cmyk, "CMYK"), "JPEG", quality=100)
    n = np.arange(H * W * 4).reshape(H, W, 4)
    yield "cmyk.tif", save(Image.fromarray(((n * 2654435761) % 256).astype(np.uint8), "CMYK"), "TIFF")
    yield "lossless.webp", save(rgb, "WEBP", lossless=True)
    yield "rgb.bmp", save(rgb, "BMP")
    frames = [rgb.quantize(32), Image.fromarray(255 - photo_rgb(), "RGB").quantize(32)]
    yield "two-frames.gif", save(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)
    yield "transparent.gif", save(rgb.quantize(32), "GIF", transparency=5)


def orientation_fixtures():
    """The same small image stored with each EXIF orientation tag; the expected upright
    pixels are Pillow's ImageOps.exif_transpose."""
    rgb = Image.fromarray(photo_rgb(), "RGB")
    for tag in range(1, 9):
        exif = Image.Exif()
        exif[0x0112] = tag
        yield "orientation-%d.png" % tag, save(rgb, "PNG", exif=exif.tobytes())
    exif = Image.Exif()
    exif[0x0112] = 6
    yield "orientation-6.webp", save(rgb, "WEBP", lossless=True, exif=exif.tobytes())


def main():
    outdir = sys.argv[1]
    for name, data in fixtures():
        with open(os.path.join(outdir, name), "wb") as f:
            f.write(data)
        image = Image.open(io.BytesIO(data))
        grey = image.mode in ("L", "LA", "I;16", "I;16B", "I") or name.startswith("greyalpha16")
        if grey:
            out = np.asarray(image.convert("L"))
            header, suffix = b"P5", ".pillow.pgm"
        else:
            out = np.asarray(image.convert("RGB"))
            header, suffix = b"P6", ".pillow.ppm"
        with open(os.path.join(outdir, name + suffix), "wb") as f:
            f.write(b"%s\n%d %d\n255\n" % (header, out.shape[1], out.shape[0]) + out.tobytes())
        print("%-18s Pillow mode %-6s -> %s" % (name, image.mode, suffix))
    for name, data in orientation_fixtures():
        with open(os.path.join(outdir, name), "wb") as f:
            f.write(data)
        image = Image.open(io.BytesIO(data))
        tag = image.getexif().get(0x0112)
        out = np.asarray(ImageOps.exif_transpose(image).convert("RGB"))
        with open(os.path.join(outdir, name + ".upright.ppm"), "wb") as f:
            f.write(b"P6\n%d %d\n255\n" % (out.shape[1], out.shape[0]) + out.tobytes())
        print("%-18s EXIF orientation %s -> upright %dx%d" % (name, tag, out.shape[1], out.shape[0]))


if __name__ == "__main__":
    main()
