"""Writes the seed corpus of fuzz_manifest into the folder given as argument:
manifests with every kind of mask, and lines with one mistake each."""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "fixtures"))
from make_datasets import rect_counts, rle_string  # noqa: E402


def sample(i, mask, typ="single", w=8, h=6, **extra):
    s = {"id": "s%d" % i, "split": "train", "image": "images/%d.jpg" % i, "width": w, "height": h,
         "sentence": "the plane on the left", "lang": "en", "type": typ, "category": "airplane",
         "mask": mask}
    s.update(extra)
    return s


def lines(*samples):
    return "".join(json.dumps(s, ensure_ascii=False) + "\n" for s in samples).encode()


def main(out):
    os.makedirs(out, exist_ok=True)
    counts = rect_counts(6, 8, 1, 4, 2, 6)
    rle = {"size": [6, 8], "counts": counts}
    seeds = {
        "png": lines(sample(0, {"png": "masks/0.png"}), sample(1, {"png": "/abs/1.png"}, split="testA")),
        "rle-list": lines(sample(2, {"rle": rle})),
        "rle-string": lines(sample(3, {"rle": {"size": [6, 8], "counts": rle_string(counts)}}, typ="multi",
                                   category="plane,ship")),
        "polygons": lines(sample(4, {"polygons": [[1, 1, 6.5, 1, 6.5, 4.25, 1, 4], [0, 0, 2, 0, 2, 2]]})),
        "union": lines(sample(5, {"union": [{"rle": rle}, {"polygons": [[0, 0, 7, 5, 0, 5]]},
                                            {"rle": {"size": [6, 8], "counts": "0`0"}}]})),
        "none": lines(sample(6, None, typ="none", category=None, lang="zh", sentence="左边的飞机")),
        "duplicates": lines(sample(7, {"png": "m.png"}), sample(7, {"png": "m.png"}, split="val")) + b"\n  \n",
        "bad": b'{"id": "x"}\n[1, 2]\n{"id": \n' + lines(sample(8, {"png": "m.png", "rle": rle}))
        + lines(sample(9, {"rle": {"size": [6, 9], "counts": counts}}))
        + lines(sample(10, {"polygons": [[1, 2, 3]]}, width=1e9))
        + lines(sample(11, {"rle": {"size": [6, 8], "counts": "~~"}})),
        "crlf": lines(sample(12, {"polygons": [[1, 1, 5, 1, 5, 5]]})).replace(b"\n", b"\r\n"),
    }
    for name, data in seeds.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main(sys.argv[1])
