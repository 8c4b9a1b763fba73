#!/usr/bin/python3
"""Writes the Pillow goldens under tests/golden/pil/ (run from the repository root).

    /usr/bin/python3 tools/make_pil_goldens.py

Needs Debian's python3-pil and python3-numpy.  The data pipeline of the
reference models (LAVT/RMSIN; doc/network.md, Inputs) loads an image with
Image.open(p).convert("RGB"), resizes it with resize((480, 480), BILINEAR)
and resizes the mask with NEAREST; libcore/io/ must do the same, byte for
byte.  What this writes:

  cases.txt          one line per resize case: "NAME FILTER OUT_W OUT_H"
                     (FILTER bilinear or nearest); NAME.in.png is the input,
                     NAME.out.png Pillow's result.
  decode.txt         one line per decode case (PNGs of gray 1/2/4/8-bit,
                     palette 1/2/4/8-bit with and without transparency,
                     16-bit RGB, RGB, gray+alpha and RGBA, written by a small
                     encoder here; JPEGs and TIFFs written by Pillow):
                     "FILE MODE EXPECTED" where MODE is rgb (Image.open(f).convert("RGB")), gray
                     (.convert("L")) or raw (np.array(Image.open(f)), the
                     palette indices of a mask); EXPECTED is a PNG of the
                     result written by Pillow.

The inputs are structured (gradients, rectangles, discs, a small noisy
patch), not noise, so that the files stay small: the whole folder is about
400 KB.  The random generator is seeded; rerunning rewrites the same files.
"""
import os
import struct
import sys
import warnings
import zlib

import numpy as np
from PIL import Image

OUT = "tests/golden/pil"
rng = np.random.default_rng(20240611)


def scene(w, h, channels, smooth=True):
    """Rectangles and discs of random colours and a noisy patch, over
    gradients (smooth) or a flat background (not smooth: for the big
    images, whose PNGs would be large otherwise)."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.empty((h, w, channels))
    for c in range(channels):
        a, b, d = rng.uniform(-1, 1, 3)
        if smooth:
            img[..., c] = 128 + 100 * (a * x / w + b * y / h) + 20 * np.sin(x / (3 + 5 * abs(d)) + y / 7)
        else:
            img[..., c] = rng.integers(0, 256)
    for _ in range(12 if smooth else 60):
        x0, y0 = rng.integers(0, w), rng.integers(0, h)
        x1, y1 = x0 + rng.integers(1, max(2, w // 3)), y0 + rng.integers(1, max(2, h // 3))
        img[y0:y1, x0:x1] = rng.integers(0, 256, channels)
    for _ in range(6):
        cx, cy, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(1, max(2, min(w, h) / 5))
        img[(x - cx) ** 2 + (y - cy) ** 2 < r * r] = rng.integers(0, 256, channels)
    side = 24 if smooth else max(1, min(48, w // 6, h // 6))
    pw, ph = min(w, side), min(h, side)
    px, py = rng.integers(0, w - pw + 1), rng.integers(0, h - ph + 1)
    img[py:py + ph, px:px + pw] = rng.integers(0, 256, (ph, pw, channels))
    img = np.clip(np.rint(img), 0, 255).astype(np.uint8)
    return img[..., 0] if channels == 1 else img


def index_pattern(w, h):
    """A mask whose value names its source pixel modulo 16 in each axis, so
    that NEAREST picking a neighbouring row or column changes the value."""
    y, x = np.mgrid[0:h, 0:w]
    return ((x % 16) * 16 + y % 16).astype(np.uint8)


def save(arr, path):
    Image.fromarray(arr).save(os.path.join(OUT, path), optimize=True)


def resize_cases():
    bilinear = [  # (in_w, in_h, channels, out_w, out_h)
        (800, 800, 3, 480, 480),    # RRSIS-D
        (800, 801, 3, 480, 480),    # the odd RRSIS-D sizes (RMSIN#12)
        (1031, 517, 3, 480, 480),   # factor > 2 across, < 1.1 down
        (1600, 1200, 3, 480, 480),  # NWPU-Refer-like
        (512, 512, 3, 480, 480),    # RefSegRS
        (37, 53, 3, 200, 150),      # upscale
        (61, 47, 3, 480, 480),
        (97, 61, 3, 41, 29),
        (13, 7, 3, 29, 31),
        (200, 3, 3, 3, 200),        # down across, up down
        (5, 3, 3, 1, 1),
        (1, 1, 3, 7, 5),
        (48, 30, 3, 48, 64),        # vertical pass only
        (30, 48, 3, 64, 48),        # horizontal pass only
        (64, 64, 3, 64, 64),        # same size: a copy
        (101, 77, 1, 480, 480),     # gray
        (333, 251, 1, 128, 128),    # gray, the nano model's size
    ]
    nearest = [
        (800, 800, 480, 480), (800, 801, 480, 480), (800, 787, 480, 480),
        (1031, 517, 480, 480), (2048, 1365, 480, 480), (512, 512, 480, 480),
        (600, 960, 480, 480),  # exact factors 1.25 and 2
        (13, 7, 480, 480), (97, 61, 41, 29), (3, 200, 200, 3), (7, 7, 3, 3),
        (480, 480, 480, 480), (512, 512, 128, 128),
    ]
    lines = []
    for (w, h, ch, ow, oh) in bilinear:
        name = "bilinear_%s_%dx%d_%dx%d" % ("rgb" if ch == 3 else "gray", w, h, ow, oh)
        im = Image.fromarray(scene(w, h, ch, smooth=ow * oh < 200 * 200))
        save(np.asarray(im), name + ".in.png")
        save(np.asarray(im.resize((ow, oh), Image.BILINEAR)), name + ".out.png")
        lines.append("%s bilinear %d %d" % (name, ow, oh))
    for (w, h, ow, oh) in nearest:
        name = "nearest_%dx%d_%dx%d" % (w, h, ow, oh)
        im = Image.fromarray(index_pattern(w, h))
        save(np.asarray(im), name + ".in.png")
        save(np.asarray(im.resize((ow, oh), Image.NEAREST)), name + ".out.png")
        lines.append("%s nearest %d %d" % (name, ow, oh))
    with open(os.path.join(OUT, "cases.txt"), "w") as f:
        f.write("# NAME FILTER OUT_W OUT_H  (written by tools/make_pil_goldens.py)\n")
        f.write("\n".join(lines) + "\n")


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def write_png(path, width, height, bit_depth, color_type, rows, palette=None, trns=None):
    """A minimal PNG encoder, for the bit depths and colour types that
    Pillow cannot write (16-bit RGB, 2-bit gray, gray+alpha 16, ...).
    rows: one bytes object per row, already packed."""
    raw = b"".join(b"\0" + r for r in rows)
    data = b"\x89PNG\r\n\x1a\n"
    data += png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0))
    if palette is not None:
        data += png_chunk(b"PLTE", bytes(palette))
    if trns is not None:
        data += png_chunk(b"tRNS", bytes(trns))
    data += png_chunk(b"IDAT", zlib.compress(raw, 9))
    data += png_chunk(b"IEND", b"")
    with open(os.path.join(OUT, path), "wb") as f:
        f.write(data)


def pack_bits(values, bits):
    """Packs small integers MSB first, as PNG does."""
    out, acc, n = bytearray(), 0, 0
    for v in values:
        acc = (acc << bits) | int(v)
        n += bits
        if n == 8:
            out.append(acc)
            acc, n = 0, 0
    if n:
        out.append(acc << (8 - n))
    return bytes(out)


def decode_cases():
    w, h = 23, 11
    lines = []

    def expect(name, mode):
        im = Image.open(os.path.join(OUT, name))
        if mode == "rgb":
            arr = np.asarray(im.convert("RGB"))
        elif mode == "gray":
            arr = np.asarray(im.convert("L"))
        else:
            arr = np.asarray(im)
        exp = name.rsplit(".", 1)[0] + "." + mode + ".png"
        save(arr, exp)
        lines.append("%s %s %s" % (name, mode, exp))

    for bits in (1, 2, 4, 8):
        v = rng.integers(0, 1 << bits, (h, w))
        write_png("gray%d.png" % bits, w, h, bits, 0, [pack_bits(r, bits) for r in v])
        expect("gray%d.png" % bits, "rgb")
    for bits in (1, 2, 4, 8):
        n = 1 << bits
        pal = rng.integers(0, 256, 3 * n).astype(np.uint8)
        v = rng.integers(0, n, (h, w))
        trns = rng.integers(0, 256, min(n, 3)).astype(np.uint8) if bits == 4 else None
        write_png("palette%d.png" % bits, w, h, bits, 3, [pack_bits(r, bits) for r in v], pal, trns)
        expect("palette%d.png" % bits, "rgb")
        expect("palette%d.png" % bits, "raw")
    v = rng.integers(0, 65536, (h, w, 3)).astype(">u2")
    write_png("rgb16.png", w, h, 16, 2, [r.tobytes() for r in v])
    expect("rgb16.png", "rgb")
    v = rng.integers(0, 256, (h, w, 4)).astype(np.uint8)
    write_png("rgba8.png", w, h, 8, 6, [r.tobytes() for r in v])
    expect("rgba8.png", "rgb")
    expect("rgba8.png", "gray")
    v = rng.integers(0, 256, (h, w, 2)).astype(np.uint8)
    write_png("graya8.png", w, h, 8, 4, [r.tobytes() for r in v])
    expect("graya8.png", "rgb")
    v = rng.integers(0, 256, (h, w, 3)).astype(np.uint8)
    write_png("rgb8.png", w, h, 8, 2, [r.tobytes() for r in v])
    expect("rgb8.png", "gray")
    # JPEGs as Pillow writes and reads them: 4:2:0 and 4:4:4 colour, gray.
    Image.fromarray(scene(61, 43, 3)).save(os.path.join(OUT, "rgb420.jpg"), quality=90, subsampling=2)
    expect("rgb420.jpg", "rgb")
    Image.fromarray(scene(61, 43, 3)).save(os.path.join(OUT, "rgb444.jpg"), quality=75, subsampling=0)
    expect("rgb444.jpg", "rgb")
    Image.fromarray(scene(37, 29, 1)).save(os.path.join(OUT, "gray.jpg"), quality=85)
    expect("gray.jpg", "rgb")
    # TIFF, as RefSegRS stores images and masks.
    Image.fromarray(scene(29, 17, 3)).save(os.path.join(OUT, "rgb.tif"))
    expect("rgb.tif", "rgb")
    Image.fromarray(scene(29, 17, 3)).save(os.path.join(OUT, "rgb_lzw.tif"), compression="tiff_lzw")
    expect("rgb_lzw.tif", "rgb")
    Image.fromarray((scene(29, 17, 1) > 127).astype(np.uint8) * 255).save(os.path.join(OUT, "mask.tif"))
    expect("mask.tif", "gray")
    with open(os.path.join(OUT, "decode.txt"), "w") as f:
        f.write("# FILE MODE EXPECTED  (written by tools/make_pil_goldens.py)\n")
        f.write("\n".join(lines) + "\n")


def main():
    warnings.simplefilter("ignore")  # Pillow's note on palette transparency
    if not os.path.isdir("tests/golden"):
        sys.exit("make_pil_goldens.py: run it from the repository root")
    os.makedirs(OUT, exist_ok=True)
    resize_cases()
    decode_cases()


if __name__ == "__main__":
    main()
