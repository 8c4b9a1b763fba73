"""Writes the seed corpus of fuzz_coco into the folder given as argument (see
fuzz_coco.c for the layout): RLE strings, and polygons of 16-bit and of
double coordinates."""
import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "fixtures"))
from make_datasets import rect_counts, rle_string  # noqa: E402


def poly16(how, h, w, xy):
    return bytes([how, h - 1, w - 1]) + struct.pack("<%dh" % len(xy), *xy)


def poly64(h, w, xy):
    return bytes([5, h - 1, w - 1]) + struct.pack("<%dd" % len(xy), *xy)


def main(out):
    os.makedirs(out, exist_ok=True)
    seeds = {
        "rle-rect": b"\0" + rle_string(rect_counts(6, 8, 1, 4, 2, 6)).encode(),
        "rle-big": b"\0" + rle_string([0, 4096, 1, 70000, 3, 1 << 31, 2]).encode(),
        "rle-negative-delta": b"\0" + rle_string([5, 100, 7, 2, 9, 1]).encode(),
        "rle-bad": b"\0" + b"0`0~",
        "poly-triangle": poly16(1, 16, 16, [1, 1, 14, 2, 7, 13]),
        "poly-quarter": poly16(3, 32, 24, [4, 4, 60, 4, 60, 90, 4, 90]),
        "poly-outside": poly16(1, 10, 10, [-5, -5, 20, 3, 3, 20]),
        "poly-repeated": poly16(1, 8, 8, [2, 2, 2, 2, 6, 2, 6, 6]),
        "poly-double": poly64(12, 20, [0.5, 0.5, 19.25, 3.75, 10.125, 11.5]),
        "poly-line": poly16(1, 5, 5, [0, 0, 4, 4]),
    }
    for name, data in seeds.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main(sys.argv[1])
