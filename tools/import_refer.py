#!/usr/bin/python3
"""Turns a REFER-format dataset (RRSIS-D, NWPU-Refer) into an rrsis manifest.

Python 3 standard library only; run with /usr/bin/python3.  See --help.
"""
import codecs
import collections
import json
import math
import os
import pickle
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rrsis_manifest as rm  # noqa: E402

DESCRIPTION = """\
Turns a dataset in the REFER format (RRSIS-D; NWPU-Refer) into an rrsis
dataset manifest: JSON Lines, one line per (image, sentence) sample.

Input.  A pickled list of refs, 'new_refs(unc).p' or 'refs(unc).p', and the
COCO file beside it, 'new_instances.json' or 'instances.json', found in ROOT
or in a folder just below it (--refs and --instances name them instead).
The images are found by looking for the first images' file names in the
folders under ROOT (4 levels down), or given by --images.  Python 2 pickles
load (their 8-bit strings are read as UTF-8, else Latin-1).  The pickle is
read with a restricted unpickler: plain lists, dicts, numbers, strings and
numpy scalars; anything else (a pickle can run code) is refused.

Samples.  Every sentence of every ref gives a sample; refs of one image
and split whose sentences ('raw', else 'sent') are equal, ignoring case,
spacing and a final full stop, are merged into one sample whose mask is
the union of their instances.  The type is "single" for one instance,
"multi" for several (merged refs, or a ref whose ann_id is a list), "none"
for none.  A ref has no target when its ann_id is -1, a list holding only
-1, an id that no annotation has, absent or null, or when its annotation's
segmentation is empty (an empty list, an empty dict, null, or an RLE with
no foreground); such samples are kept, with "mask": null, and each kind is
counted in the report.  lang is "zh" for a sentence with a CJK character,
else "en".  width and height come from the COCO images, category from the
COCO categories (several names joined by ",").

Masks are never rasterised here:
  {"polygons": [[x, y, ...], ...]}  COCO polygons; several instances: all
                                    their polygons in one list (the union)
  {"rle": {"size": [h, w], "counts": "..." or [n, ...]}}
                                    one COCO RLE, compressed or not
  {"union": [mask, ...]}            anything else: several RLEs, or RLEs
                                    with polygons; each element is a
                                    {"polygons"} or {"rle"} mask
  null                              no target
A segmentation whose first polygon has 4 numbers is a box [x, y, w, h] to
the COCO API; it becomes the polygon the API draws for it.

Ids are "<split>-<ref_id>-<sent_id>", from the first ref and sentence of a
merged sample.  Image paths are relative to the manifest's folder unless
--absolute.

Report.  A summary on stderr (counts per split, type and language, the
no-target kinds, merged samples, what was skipped, warnings); --report FILE
writes it as one JSON object.

Exit status: 0 on success, 1 on an error (a missing or unreadable file, a
pickle that is not a list of dicts, invalid JSON), 2 on a usage error.

Examples:
  import_refer.py --root refer/data -o rrsisd/          (train/val/test.jsonl)
  import_refer.py --root NWPU-Refer --lang-filter en -o nwpu-en.jsonl
"""

NT_KINDS = ("ann_id_minus_one", "ann_id_list_minus_one", "ann_id_missing",
            "segmentation_empty", "ann_id_absent", "ann_id_empty_list")


# ---------------------------------------------------------------- pickle


class _NpDtype:
    """Stands for numpy.dtype while unpickling a numpy scalar."""

    def __init__(self, spec, align=False, copy=False):
        self.spec = spec.decode("latin-1") if isinstance(spec, bytes) else str(spec)
        self.order = "<"

    def __setstate__(self, state):
        if isinstance(state, tuple) and len(state) > 1:
            o = state[1]
            self.order = o.decode("latin-1") if isinstance(o, bytes) else o


def _np_scalar(dtype, data=None):
    """numpy.core.multiarray.scalar: the Python number for a numpy scalar."""
    if not isinstance(dtype, _NpDtype):
        raise pickle.UnpicklingError("a numpy scalar without a dtype")
    kind, size = dtype.spec[:1], dtype.spec[1:]
    if kind == "O":
        return data
    if isinstance(data, str):  # a Python 2 str read as text
        data = data.encode("latin-1")
    if not isinstance(data, bytes):
        raise pickle.UnpicklingError("a numpy scalar without its bytes")
    e = ">" if dtype.order == ">" else "<"
    fmt = {("i", "1"): "b", ("i", "2"): "h", ("i", "4"): "i", ("i", "8"): "q",
           ("u", "1"): "B", ("u", "2"): "H", ("u", "4"): "I", ("u", "8"): "Q",
           ("f", "2"): "e", ("f", "4"): "f", ("f", "8"): "d", ("b", "1"): "?"}.get((kind, size))
    if fmt is not None:
        return struct.unpack(e + fmt, data)[0]
    if kind == "U":
        return data.decode("utf-32-be" if e == ">" else "utf-32-le").rstrip("\0")
    if kind == "S":
        return data.rstrip(b"\0")
    raise pickle.UnpicklingError("a numpy scalar of type %r" % dtype.spec)


def _codecs_encode(obj, encoding="utf-8", errors="strict"):
    # Python 3 bytes pickled with protocol 0-2: _codecs.encode(text, 'latin1')
    if encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError("_codecs.encode with %r" % encoding)
    return codecs.encode(obj, encoding, errors)


_SAFE = {
    ("builtins", "set"): set, ("__builtin__", "set"): set,
    ("builtins", "frozenset"): frozenset, ("__builtin__", "frozenset"): frozenset,
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("_codecs", "encode"): _codecs_encode,
    ("numpy", "dtype"): _NpDtype,
    ("numpy.core.multiarray", "scalar"): _np_scalar,
    ("numpy._core.multiarray", "scalar"): _np_scalar,
}


class _Unpickler(pickle.Unpickler):
    def find_class(self, module, name):
        f = _SAFE.get((module, name))
        if f is None:
            raise pickle.UnpicklingError(
                "it refers to %s.%s, which this importer does not load (a pickle can run code; "
                "only lists, dicts, numbers, strings and numpy scalars are read)" % (module, name))
        return f

    def persistent_load(self, pid):
        raise pickle.UnpicklingError("it holds a persistent id")


def _plain(x, stats):
    """The unpickled value with 8-bit strings (Python 2 str, bytes) as text:
    UTF-8 when they are, else Latin-1; tuples and sets as lists."""
    t = type(x)
    if t is str or t is int or t is float or x is None:
        return x
    if isinstance(x, bytes):
        try:
            return x.decode("utf-8")
        except UnicodeDecodeError:
            stats["latin1"] += 1
            return x.decode("latin-1")
    if isinstance(x, dict):
        return {(_plain(k, stats) if type(k) is bytes else k): _plain(v, stats) for k, v in x.items()}
    if isinstance(x, (list, tuple, set, frozenset)):
        return [_plain(v, stats) for v in x]
    return x


def load_refs(path, report):
    if path.endswith(".json"):  # gRefCOCO-style grefs(unc).json
        refs = _load_json(path)
    else:
        try:
            with open(path, "rb") as f:
                # encoding='bytes': a Python 2 str arrives as bytes, decoded below
                refs = _Unpickler(f, encoding="bytes").load()
        except OSError as e:
            raise rm.Error("%s: %s" % (path, e.strerror or e))
        except RecursionError:
            raise rm.Error("%s: not a readable pickle: nested too deeply" % path)
        except Exception as e:  # a corrupt pickle raises anything from EOFError to KeyError
            msg = str(e) or type(e).__name__
            raise rm.Error("%s: not a readable pickle: %s" % (path, msg))
        stats = {"latin1": 0}
        try:
            refs = _plain(refs, stats)
        except RecursionError:
            raise rm.Error("%s: a pickle nested too deeply (or holding itself)" % path)
        if stats["latin1"]:
            report.warn("latin1_strings", "%s: 8-bit strings that are not UTF-8, read as Latin-1" % path,
                        stats["latin1"])
    if not isinstance(refs, list) or not all(isinstance(r, dict) for r in refs):
        what = type(refs).__name__ if not isinstance(refs, list) else "a list holding %s" % next(
            type(r).__name__ for r in refs if not isinstance(r, dict))
        raise rm.Error("%s: not a list of ref dicts (it is %s)" % (path, what))
    return refs


# ---------------------------------------------------------------- COCO json


def _load_json(path):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise rm.Error("%s: %s" % (path, e.strerror or e))
    try:
        return json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError as e:
        raise rm.Error("%s: invalid UTF-8 at byte %d" % (path, e.start))
    except json.JSONDecodeError as e:
        raise rm.Error("%s: invalid JSON: %s at line %d column %d" % (path, e.msg, e.lineno, e.colno))
    except RecursionError:
        raise rm.Error("%s: invalid JSON: nested too deeply" % path)


def _norm_id(x):
    """Ids compare as integers when they are ones (5, 5.0, "5")."""
    if isinstance(x, bool):
        return x
    if isinstance(x, float) and x.is_integer():
        return int(x)
    if isinstance(x, str):
        try:
            return int(x.strip())
        except ValueError:
            return x
    if isinstance(x, (list, dict)):  # unhashable: matches nothing
        return repr(x)
    return x


def load_instances(path, report):
    coco = _load_json(path)
    if not isinstance(coco, dict):
        raise rm.Error("%s: not a COCO object (no images and annotations)" % path)
    for k in ("images", "annotations"):
        if not isinstance(coco.get(k), list):
            raise rm.Error("%s: no \"%s\" list" % (path, k))
    images, anns, cats = {}, {}, {}
    for im in coco["images"]:
        if not isinstance(im, dict) or "id" not in im:
            raise rm.Error("%s: an image without an id" % path)
        images[_norm_id(im["id"])] = im
    for a in coco["annotations"]:
        if not isinstance(a, dict) or "id" not in a:
            raise rm.Error("%s: an annotation without an id" % path)
        i = _norm_id(a["id"])
        if i in anns:
            report.warn("duplicate_annotation_id", "annotation %r (the last one is used)" % i)
        anns[i] = a
    cl = coco.get("categories")
    if cl is None:
        report.warn("no_categories", "%s has no categories; category is null" % path)
    elif not isinstance(cl, list):
        raise rm.Error("%s: \"categories\" is not a list" % path)
    else:
        for c in cl:
            if isinstance(c, dict) and "id" in c:
                cats[_norm_id(c["id"])] = str(c.get("name", c["id"]))
    return images, anns, cats


# ---------------------------------------------------------------- segmentations


def _number(v):
    return (type(v) is int or type(v) is float) and math.isfinite(v)


_NUMBER_TYPES = (int, float)


def _numbers(ring):
    """All of ring are ints or floats (not bools); infinities and NaNs are
    refused when the manifest is written."""
    return all(type(v) in _NUMBER_TYPES for v in ring)


def rle_counts(counts):
    """The run lengths of a COCO RLE: a list as it is, a compressed string
    decoded as the COCO API's rleFrString does."""
    if isinstance(counts, list):
        if not all(isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in counts):
            raise ValueError("RLE counts that are not non-negative integers")
        return counts
    if not isinstance(counts, str):
        raise ValueError("RLE counts that are neither a string nor a list")
    s = counts.encode("ascii", "replace")
    out, p, n = [], 0, len(s)
    while p < n:
        x = k = 0
        more = True
        while more:
            if p >= n:
                raise ValueError("a truncated compressed RLE")
            c = s[p] - 48
            if not 0 <= c < 64:
                raise ValueError("a compressed RLE with the character %r" % chr(s[p]))
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p += 1
            k += 1
            if not more and (c & 0x10):
                x |= -1 << (5 * k)
        if len(out) > 2:
            x += out[-2]
        out.append(x)
    if any(c < 0 for c in out):
        raise ValueError("a compressed RLE with a negative run")
    return out


class Segm:
    """One annotation's segmentation: its polygons and RLEs."""
    __slots__ = ("polygons", "rles", "empty")

    def __init__(self):
        self.polygons, self.rles, self.empty = [], [], True


def parse_segmentation(seg, where, size, report):
    """where: for messages; size: the image's (h, w)."""
    s = Segm()
    if seg is None or seg == [] or seg == {}:
        return s
    if isinstance(seg, dict):
        items = [seg]
    elif isinstance(seg, list):
        items = seg
    else:
        raise rm.Error("%s: a segmentation of type %s" % (where, type(seg).__name__))
    if all(_number(v) for v in items):  # one flat polygon: what frPyObjects accepts
        report.warn("flat_polygon", where)
        items = [items]
    if all(isinstance(v, list) for v in items):
        rings = [r for r in items if r]
        for r in rings:
            if not _numbers(r):
                raise rm.Error("%s: a polygon with a value that is not a number" % where)
        if rings and len(rings[0]) == 4:
            # pycocotools' frPyObjects reads a list whose first element has
            # 4 numbers as boxes [x, y, w, h]; rleFrBbox draws the polygon
            # (x,y) (x,y+h) (x+w,y+h) (x+w,y)
            report.warn("box_segmentation", where)
            boxes = []
            for r in rings:
                if len(r) != 4:
                    raise rm.Error("%s: a box segmentation [x, y, w, h] with a ring of %d numbers" % (where, len(r)))
                x, y, w, h = r
                boxes.append([x, y, x, y + h, x + w, y + h, x + w, y])
            rings = boxes
        for r in rings:
            if len(r) % 2 or len(r) < 6:
                report.warn("short_or_odd_polygon", "%s: a polygon of %d numbers" % (where, len(r)))
        s.polygons = rings
        s.empty = not rings
        return s
    if all(isinstance(v, dict) for v in items):
        for v in items:
            if not v:
                continue
            if "counts" not in v or "size" not in v:
                raise rm.Error("%s: an RLE without counts and size" % where)
            sz = v["size"]
            if not (isinstance(sz, list) and len(sz) == 2 and all(isinstance(d, int) and d >= 0 for d in sz)):
                raise rm.Error("%s: an RLE size that is not [height, width]" % where)
            try:
                counts = rle_counts(v["counts"])
            except ValueError as e:
                raise rm.Error("%s: %s" % (where, e))
            if sum(counts) != sz[0] * sz[1]:
                report.warn("rle_length_mismatch", "%s: runs cover %d pixels, size %dx%d" % (
                    where, sum(counts), sz[1], sz[0]))
            if size and list(size) != sz:
                report.warn("rle_size_differs_from_image", "%s: RLE %dx%d, image %dx%d" % (
                    where, sz[1], sz[0], size[1], size[0]))
            if any(counts[1::2]):
                s.rles.append({"size": sz, "counts": v["counts"]})
        s.empty = not s.rles
        return s
    raise rm.Error("%s: a segmentation mixing polygons and RLEs in one list" % where)


def union_mask(segms):
    """The manifest mask of the union of several segmentations."""
    polys = [r for s in segms for r in s.polygons]
    rles = [r for s in segms for r in s.rles]
    if not rles:
        return {"polygons": polys}
    if not polys and len(rles) == 1:
        return {"rle": rles[0]}
    return {"union": ([{"polygons": polys}] if polys else []) + [{"rle": r} for r in rles]}


# ---------------------------------------------------------------- locating files


def _find_in(dirs, names):
    for d in dirs:
        for n in names:
            p = os.path.join(d, n)
            if os.path.isfile(p):
                return p
    return None


def locate_refs(root):
    """new_refs(unc).p or refs(unc).p in root or a folder just below."""
    dirs = [root]
    try:
        dirs += sorted(os.path.join(root, e.name) for e in os.scandir(root)
                       if e.is_dir() and not e.name.startswith("."))
    except OSError as e:
        raise rm.Error("%s: %s" % (root, e.strerror or e))
    found = [p for p in (_find_in([d], ["new_refs(unc).p", "refs(unc).p"]) for d in dirs) if p]
    if not found:
        others = [os.path.join(d, n) for d in dirs for n in sorted(os.listdir(d))
                  if n.startswith(("refs(", "new_refs(", "grefs(")) and n.endswith((".p", ".json"))]
        if len(others) == 1:
            return others[0]
        if others:
            raise rm.Error("%s: several ref files (%s); name one with --refs" % (root, ", ".join(others)))
        raise rm.Error("%s: no new_refs(unc).p or refs(unc).p here or in a folder below; "
                       "name the file with --refs" % root)
    if len(found) > 1:
        raise rm.Error("%s: ref files in several folders (%s); name one with --refs" % (root, ", ".join(found)))
    return found[0]


def locate_instances(refs_path):
    d = os.path.dirname(refs_path) or "."
    names = ["new_instances.json", "instances.json"]
    if not os.path.basename(refs_path).startswith("new_"):
        names.reverse()
    p = _find_in([d], names)
    if p is None:
        raise rm.Error("%s: no instances.json or new_instances.json beside %s; name it with --instances"
                       % (d, os.path.basename(refs_path)))
    return p


def locate_images(root, refs_dir, file_names):
    """The folder under root (4 levels down, breadth first) that holds the
    most of the first 20 image files; refs_dir first."""
    names = file_names[:20]
    dirs, queue, seen = [], [(root, 0)], set()
    while queue and len(dirs) < 5000:
        d, depth = queue.pop(0)
        real = os.path.realpath(d)
        if real in seen:
            continue
        seen.add(real)
        dirs.append(d)
        if depth < 4:
            try:
                subs = sorted(e.name for e in os.scandir(d) if e.is_dir() and not e.name.startswith("."))
            except OSError:
                subs = []
            queue += [(os.path.join(d, s), depth + 1) for s in subs]
    if refs_dir not in dirs:
        dirs.insert(0, refs_dir)
    best, best_n = None, 0
    for d in dirs:
        n = sum(1 for f in names if os.path.isfile(os.path.join(d, f)))
        if n > best_n:
            best, best_n = d, n
            if n == len(names):
                break
    if best is None:
        raise rm.Error("no folder under %s holds the images (%s, ...); name it with --images"
                       % (root, names[0] if names else "?"))
    return best


# ---------------------------------------------------------------- refs to samples


def classify(ref, anns):
    """(annotation ids that exist, no-target kind or None, warnings)."""
    warnings = []
    if "ann_id" not in ref or ref["ann_id"] is None:
        return [], "ann_id_absent", warnings
    raw = ref["ann_id"]
    if isinstance(raw, list):
        if not raw:
            return [], "ann_id_empty_list", warnings
        ids = [_norm_id(i) for i in raw]
        if all(i == -1 for i in ids):
            return [], "ann_id_list_minus_one", warnings
        if -1 in ids:
            warnings.append("ann_id_list_with_minus_one")
            ids = [i for i in ids if i != -1]
    else:
        i = _norm_id(raw)
        if i == -1:
            return [], "ann_id_minus_one", warnings
        ids = [i]
    present = []
    for i in ids:
        if i in anns and i not in present:
            present.append(i)
    if not present:
        return [], "ann_id_missing", warnings
    if len(present) < len(set(ids)):
        warnings.append("ann_id_partly_missing")
    return present, None, warnings


def sentence_text(s):
    """A sentence entry's text: 'raw' (what the REFER loaders use), else
    'sent'; None when it has neither."""
    if isinstance(s, str):
        return s
    if isinstance(s, dict):
        for k in ("raw", "sent"):
            if isinstance(s.get(k), str) and s[k].strip():
                return s[k]
    return None


def _id_part(x):
    s = str(x)
    if s.isalnum():
        return s
    return "".join(c if c.isalnum() or c in "._" else "_" for c in s)


def main():
    p = rm.Parser(prog=rm.prog(), description=DESCRIPTION)
    rm.add_common_options(p, root_help="the dataset's folder: the ref pickle is looked for in it and in "
                                      "the folders just below, the images under it (needed unless --refs is given)",
                          root_required=False)
    p.add_argument("--refs", metavar="FILE", help="the refs pickle (default: found under --root)")
    p.add_argument("--instances", metavar="FILE",
                   help="the COCO json (default: new_instances.json or instances.json beside the refs)")
    p.add_argument("--images", metavar="DIR", help="the folder of the images (default: found under --root)")
    a = p.parse_args()
    splits = rm.parse_splits(a.splits, p)
    if a.root is None and a.refs is None:
        p.error("--root DIR or --refs FILE is needed")
    if a.root is not None and not os.path.isdir(a.root):
        raise rm.Error("%s: no such folder" % a.root)
    report = rm.Report("refer")

    refs_path = a.refs or locate_refs(a.root)
    inst_path = a.instances or locate_instances(refs_path)
    root = a.root if a.root is not None else (os.path.dirname(refs_path) or ".")
    report.data["sources"] = {"refs": refs_path, "instances": inst_path}
    refs = load_refs(refs_path, report)
    images, anns, cats = load_instances(inst_path, report)
    out = rm.Output(a.output, a.absolute)

    nt = collections.Counter()
    segm_cache = {}

    def segm(ann_id, size):
        if ann_id not in segm_cache:
            segm_cache[ann_id] = parse_segmentation(anns[ann_id].get("segmentation"),
                                                    "annotation %r" % ann_id, size, report)
        return segm_cache[ann_id]

    groups = collections.OrderedDict()
    n_sent = n_refs_used = 0
    seen_splits = set()
    for idx, ref in enumerate(refs):
        where = "%s: ref %d" % (refs_path, idx)
        for k in ("ref_id", "image_id", "split", "sentences"):
            if k not in ref:
                raise rm.Error("%s has no %s" % (where, k))
        sents = ref["sentences"]
        if not isinstance(sents, list):
            raise rm.Error("%s: sentences is not a list" % where)
        if not isinstance(ref["ref_id"], (int, str)) or isinstance(ref["ref_id"], bool):
            raise rm.Error("%s: ref_id %r is not a number or a string" % (where, ref["ref_id"]))
        split = str(ref["split"])
        seen_splits.add(split)
        n_sent += len(sents)
        if splits is not None and split not in splits:
            report.count("skipped", "other_split", len(sents))
            continue
        image_id = _norm_id(ref["image_id"])
        im = images.get(image_id)
        if im is None:
            report.warn("ref_image_not_in_instances", "ref %r, image %r" % (ref["ref_id"], image_id))
            report.count("skipped", "image_not_in_instances", len(sents))
            continue
        h, w = im.get("height"), im.get("width")
        size = (h, w) if isinstance(h, int) and isinstance(w, int) else None
        ids, kind, warns = classify(ref, anns)
        for wk in warns:
            report.warn(wk, "ref %r: ann_id %r" % (ref["ref_id"], ref.get("ann_id")))
        targets = []
        for i in ids:
            if _norm_id(anns[i].get("image_id")) != image_id:
                report.warn("annotation_of_another_image", "ref %r (image %r): annotation %r is of image %r" % (
                    ref["ref_id"], image_id, i, anns[i].get("image_id")))
            if not segm(i, size).empty:
                targets.append(i)
            elif len(ids) > 1:
                report.warn("empty_segmentation_in_list", "ref %r: annotation %r" % (ref["ref_id"], i))
        if kind is None and not targets:
            kind = "segmentation_empty"
        sent_ids = ref.get("sent_ids") if isinstance(ref.get("sent_ids"), list) else []
        keys_here = set()
        for j, s in enumerate(sents):
            raw = sentence_text(s)
            if raw is None:
                report.count("skipped", "empty_sentence")
                continue
            text = rm.clean_sentence(raw)
            lang = rm.detect_lang(text)
            if a.lang_filter and lang != a.lang_filter:
                report.count("skipped", "other_language")
                continue
            sid = s.get("sent_id") if isinstance(s, dict) else None
            if sid is None:
                sid = sent_ids[j] if j < len(sent_ids) else j
            key = (split, image_id, rm.sentence_key(raw))
            if key in keys_here:
                report.count("merged", "repeated_sentences_in_ref")
                continue
            keys_here.add(key)
            g = groups.get(key)
            if g is None:
                g = groups[key] = {"split": split, "image": im, "image_id": image_id, "sentence": text,
                                   "lang": lang, "first": (ref["ref_id"], sid), "refs": [], "targets": [],
                                   "ref_cats": [], "kinds": []}
            g["refs"].append(ref["ref_id"])
            g["kinds"].append(kind)
            g["ref_cats"].append(_norm_id(ref.get("category_id")))
            for t in targets:
                if t not in g["targets"]:
                    g["targets"].append(t)
        if keys_here:
            n_refs_used += 1
            if kind is not None:
                nt[kind] += 1

    if splits is not None:
        for s in splits:
            if s not in seen_splits:
                rm.warn("split %s: no ref has it (the release has %s)" % (
                    s, ", ".join(sorted(seen_splits, key=rm.split_sort_key)) or "none"))

    # images: the folder, and the files that are not there
    if a.images is not None:
        img_dir = a.images
        if not os.path.isdir(img_dir):
            raise rm.Error("%s: no such folder" % img_dir)
    else:
        names = []
        for g in groups.values():
            fn = g["image"].get("file_name")
            if isinstance(fn, str) and fn not in names:
                names.append(fn)
                if len(names) == 20:
                    break
        img_dir = locate_images(root, os.path.dirname(refs_path) or ".", names) if names else root
    report.data["sources"]["images"] = img_dir

    records, used_ids, checked = [], set(), {}
    for g in groups.values():
        im = g["image"]
        fn = im.get("file_name")
        if not isinstance(fn, str) or not fn:
            raise rm.Error("%s: image %r has no file_name" % (inst_path, g["image_id"]))
        path = os.path.join(img_dir, fn)
        if path not in checked:
            checked[path] = os.path.isfile(path)
            if not checked[path]:
                report.warn("missing_image_file", path)
        w, h = im.get("width"), im.get("height")
        if not (isinstance(w, int) and isinstance(h, int) and w > 0 and h > 0):
            try:
                w, h = rm.image_size(path)
            except (OSError, ValueError) as e:
                report.warn("image_without_size", "image %r: no width/height in %s, and %s: %s" % (
                    g["image_id"], inst_path, path, e))
                report.count("skipped", "image_without_size")
                continue
        tg = g["targets"]
        type_ = "none" if not tg else "single" if len(tg) == 1 else "multi"
        mask = union_mask([segm_cache[t] for t in tg]) if tg else None
        names = []
        for t in tg:
            c = cats.get(_norm_id(anns[t].get("category_id")))
            if c is None:
                c = next((cats[rc] for rc in g["ref_cats"] if rc in cats), None)
            if c is not None and c not in names:
                names.append(c)
        if not tg:
            names = [cats[rc] for rc in g["ref_cats"][:1] if rc in cats]
        if len(set(g["refs"])) > 1:
            report.count("merged", "samples")
            report.count("merged", "refs", len(set(g["refs"])))
            if tg and any(k is not None for k in g["kinds"]):
                report.warn("merged_with_no_target_ref", "refs %s: %r" % (g["refs"], g["sentence"]))
        sid = "%s-%s-%s" % (_id_part(g["split"]), _id_part(g["first"][0]), _id_part(g["first"][1]))
        if sid in used_ids:
            base, n = sid, 2
            while "%s-%d" % (base, n) in used_ids:
                n += 1
            sid = "%s-%d" % (base, n)
            report.warn("id_collision", "%s (a repeated ref_id or sent_id); renamed %s" % (base, sid))
        used_ids.add(sid)
        records.append(rm.sample(sid, g["split"], out.path(path), w, h, g["sentence"], g["lang"], type_,
                                 ",".join(names) if names else None, mask))

    report.data["refs"] = len(refs)
    report.data["refs_imported"] = n_refs_used
    report.data["sentences"] = n_sent
    report.data["no_target_refs"] = {k: nt.get(k, 0) for k in NT_KINDS}
    report.data.setdefault("merged", {})
    for k in ("samples", "refs", "repeated_sentences_in_ref"):
        report.data["merged"].setdefault(k, 0)
    report.add_samples(records)
    out_splits = sorted({r["split"] for r in records} | (set(splits) & seen_splits if splits else set()),
                        key=rm.split_sort_key)
    report.data["outputs"] = out.write(records, out_splits)
    ntr = report.data["no_target_refs"]
    mg = report.data["merged"]
    report.finish(a.report, a.quiet, [
        "%d refs, %d sentences; %d samples merged from %d refs" % (len(refs), n_sent, mg["samples"], mg["refs"]),
        "no-target refs: ann_id -1: %d, [-1]: %d, no such annotation: %d, empty segmentation: %d, "
        "ann_id absent: %d, ann_id []: %d" % tuple(ntr[k] for k in NT_KINDS),
    ])


if __name__ == "__main__":
    rm.run(main)
