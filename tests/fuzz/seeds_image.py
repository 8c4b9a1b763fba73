"""Writes the seed corpus of fuzz_image into the folder given as argument:
the source images of the Pillow decoding goldens (every PNG colour type and
depth, baseline and subsampled JPEGs, plain and LZW TIFFs), the fixtures'
hand-made files (a big-endian TIFF among them), and truncated copies."""
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PIL = os.path.join(HERE, "..", "golden", "pil")
sys.path.insert(0, os.path.join(HERE, "..", "fixtures"))
from make_datasets import write_jpeg_gray, write_png, write_tiff  # noqa: E402

# The goldens' inputs; their *.rgb.png, *.raw.png and *.gray.png are outputs.
SOURCES = ["gray1.png", "gray2.png", "gray4.png", "gray8.png", "graya8.png", "palette1.png", "palette2.png",
           "palette4.png", "palette8.png", "rgb8.png", "rgb16.png", "rgba8.png", "gray.jpg", "rgb420.jpg",
           "rgb444.jpg", "rgb.tif", "rgb_lzw.tif", "mask.tif"]


def main(out):
    os.makedirs(out, exist_ok=True)
    for name in SOURCES:
        shutil.copy(os.path.join(PIL, name), os.path.join(out, name))
    pix = bytes(range(5 * 3 * 3))
    write_png(os.path.join(out, "made.png"), 5, 3, 3, pix)
    write_tiff(os.path.join(out, "made-be.tif"), 5, 3, 3, pix, big_endian=True)
    write_tiff(os.path.join(out, "made-gray.tif"), 5, 3, 1, pix[:15])
    write_jpeg_gray(os.path.join(out, "made.jpg"), 9, 17)
    for name in ["rgb8.png", "rgb420.jpg", "rgb_lzw.tif"]:
        with open(os.path.join(PIL, name), "rb") as f:
            data = f.read()
        with open(os.path.join(out, "truncated-" + name), "wb") as f:
            f.write(data[:len(data) * 2 // 3])


if __name__ == "__main__":
    main(sys.argv[1])
