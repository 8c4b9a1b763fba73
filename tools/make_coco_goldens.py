#!/usr/bin/env python3
"""Writes tests/golden/coco/masks.json: COCO masks as pycocotools makes them
(run from the repository root).

pycocotools is not a dependency of rrsis (the importers do without it); this
script only records what it does, once, so that libcore/io/coco_mask.c can
be held to it.  Install it somewhere outside the repository, e.g.

    /usr/bin/python3 -m venv --system-site-packages /tmp/coco
    /tmp/coco/bin/pip install pycocotools
    /tmp/coco/bin/python tools/make_coco_goldens.py

The file holds two lists.
  "polygons": {h, w, polygons: [[x, y, ...], ...], rles: [the compressed
      string of each polygon, frPyObjects], union: the string of the union
      of the parts (merge), mask: the decoded union, row-major, one string
      of 0/1 per row (small cases only), note: what the case is about}
  "rles": {h, w, counts: the uncompressed list, string: frPyObjects of
      {size, counts} (rleToString), mask: as above (small cases only)}
The generator is seeded; rerunning rewrites the same file.
"""
import json
import os
import sys

import numpy as np
from pycocotools import mask as cocomask

rng = np.random.default_rng(3)


def rows(m):
    return ["".join("1" if v else "0" for v in r) for r in m]


def polygon_case(h, w, polys, note):
    rles = cocomask.frPyObjects(polys, h, w)
    union = cocomask.merge(rles, intersect=False)
    case = {
        "note": note, "h": h, "w": w, "polygons": polys,
        "rles": [r["counts"].decode() for r in rles],
        "union": union["counts"].decode(),
    }
    if h * w <= 2500:
        case["mask"] = rows(cocomask.decode(union))
    return case


def rle_case(h, w, counts):
    rle = cocomask.frPyObjects({"size": [h, w], "counts": [int(c) for c in counts]}, h, w)
    case = {"h": h, "w": w, "counts": [int(c) for c in counts], "string": rle["counts"].decode()}
    m = cocomask.decode(rle)
    # the encoder agrees with the string made from the list
    again = cocomask.encode(np.asfortranarray(m))
    assert again["counts"] == rle["counts"], "pycocotools encode differs"
    if h * w <= 2500:
        case["mask"] = rows(m)
    return case


def random_poly(h, w, n, spread=1.0, snap=None):
    cx, cy = rng.uniform(0, w), rng.uniform(0, h)
    ang = np.sort(rng.uniform(0, 2 * np.pi, n))
    r = rng.uniform(0.2, 0.6, n) * min(h, w) * spread
    xs, ys = cx + r * np.cos(ang), cy + r * np.sin(ang)
    if snap == "edge":
        xs, ys = np.round(xs), np.round(ys)
    elif snap == "centre":
        xs, ys = np.floor(xs) + 0.5, np.floor(ys) + 0.5
    elif snap == "fifth":
        xs, ys = np.round(xs * 5) / 5, np.round(ys * 5) / 5
    out = []
    for x, y in zip(xs, ys):
        out += [float(round(x, 3)), float(round(y, 3))]
    return out


def polygons():
    cases = []
    cases.append(polygon_case(7, 9, [[1, 1, 6, 1, 6, 5, 1, 5]], "axis-aligned box, vertices on pixel edges"))
    cases.append(polygon_case(7, 9, [[1.5, 1.5, 6.5, 1.5, 6.5, 5.5, 1.5, 5.5]], "box, vertices on pixel centres"))
    cases.append(polygon_case(11, 13, [[0.2, 0.3, 12.7, 5.1, 3.3, 10.9]], "triangle"))
    cases.append(polygon_case(9, 17, [[-3, -2, 20, 4, 8, 15]], "vertices outside the image"))
    cases.append(polygon_case(9, 17, [[-5, -5, 30, -5, 30, 30, -5, 30]], "covers the whole image"))
    cases.append(polygon_case(13, 11, [[2, 3, 9, 3.2, 2, 3.4]], "a thin sliver"))
    cases.append(polygon_case(13, 11, [[5.1, 0, 5.3, 0, 5.3, 13, 5.1, 13]], "a vertical sliver thinner than a pixel"))
    cases.append(polygon_case(15, 15, [[1, 1, 13, 13, 13, 1, 1, 13]], "self-intersecting bow tie"))
    cases.append(polygon_case(10, 10, [[2, 2, 2, 2, 8, 2, 8, 8, 8, 8, 2, 8, 2, 2]], "repeated vertices and a closing vertex"))
    cases.append(polygon_case(10, 10, [[1, 1, 5, 5, 9, 9]], "collinear: no area"))
    cases.append(polygon_case(6, 8, [[3.4, 2.6, 3.4, 2.6, 3.4, 2.6]], "one point"))
    cases.append(polygon_case(21, 19, [[1, 1, 8, 1, 8, 8, 1, 8], [5, 5, 15, 5, 15, 15, 5, 15]], "two overlapping parts: the union"))
    cases.append(polygon_case(21, 19, [[0, 0, 4, 0, 4, 4, 0, 4], [14, 16, 18, 16, 18, 20, 14, 20], [9, 2, 12, 9, 6, 9]], "three disjoint parts"))
    cases.append(polygon_case(1, 1, [[0, 0, 1, 0, 1, 1, 0, 1]], "a 1x1 image"))
    cases.append(polygon_case(1, 40, [[-1, -1, 41, -1, 41, 2, -1, 2]], "a one-row image"))
    cases.append(polygon_case(40, 1, [[-1, -1, 2, -1, 2, 41, -1, 41]], "a one-column image"))
    for i, (h, w, n, snap) in enumerate([(31, 47, 5, None), (47, 31, 9, "edge"), (33, 33, 12, "centre"),
                                         (25, 41, 7, "fifth"), (50, 50, 30, None), (17, 29, 4, "edge"),
                                         (37, 23, 6, None), (29, 37, 16, "fifth")]):
        cases.append(polygon_case(h, w, [random_poly(h, w, n, snap=snap)], "random %d-gon, snap %s" % (n, snap)))
    for i in range(4):
        h, w = int(rng.integers(20, 60)), int(rng.integers(20, 60))
        polys = [random_poly(h, w, int(rng.integers(3, 12)), spread=1.5) for _ in range(int(rng.integers(2, 5)))]
        cases.append(polygon_case(h, w, polys, "random parts, some outside"))
    h, w = 801, 800
    cases.append(polygon_case(h, w, [random_poly(h, w, 40), random_poly(h, w, 25, snap="edge")],
                              "RRSIS-D size, big counts"))
    return cases


def random_counts(h, w, mean_run):
    total, counts = h * w, []
    first = True
    while total > 0:
        c = int(rng.geometric(1.0 / mean_run))
        if first and rng.random() < 0.3:
            c = 0  # a mask that starts with a one
        c = min(c, total)
        counts.append(c)
        total -= c
        first = False
    return counts


def rles():
    cases = []
    for (h, w, mean) in [(7, 9, 3), (13, 11, 5), (1, 17, 2), (17, 1, 2), (31, 29, 40), (23, 19, 1.5),
                         (45, 51, 200), (9, 9, 81)]:
        cases.append(rle_case(h, w, random_counts(h, w, mean)))
    cases.append(rle_case(5, 5, [25]))            # empty
    cases.append(rle_case(5, 5, [0, 25]))         # full
    cases.append(rle_case(4, 6, [0, 1, 22, 1]))   # first and last pixel
    for (h, w, mean) in [(800, 800, 5000), (787, 800, 300), (1365, 2048, 100000), (480, 480, 20)]:
        cases.append(rle_case(h, w, random_counts(h, w, mean)))
    return cases


def main():
    if not os.path.isdir("tests/golden"):
        sys.exit("make_coco_goldens.py: run it from the repository root")
    os.makedirs("tests/golden/coco", exist_ok=True)
    doc = {"generator": "tools/make_coco_goldens.py", "polygons": polygons(), "rles": rles()}
    with open("tests/golden/coco/masks.json", "w") as f:
        json.dump(doc, f, indent=0, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
