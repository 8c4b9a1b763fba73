#!/usr/bin/python3
"""Turns the RefSegRS dataset into an rrsis manifest.

Python 3 standard library only; run with /usr/bin/python3.  See --help.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rrsis_manifest as rm  # noqa: E402

DESCRIPTION = """\
Turns the RefSegRS dataset (Yuan et al.) into an rrsis dataset manifest:
JSON Lines, one line per (image, sentence) sample.

Input.  ROOT/output_phrase_<split>.txt (train, val, test), each line
"<image_id> <sentence>" (split at the first space or tab), with the image
ROOT/images/<image_id>.tif and its mask ROOT/masks/<image_id>.tif (.tiff,
.png and .jpg are looked for too; --images and --masks name other
folders).  The files are not decoded: width and height come from the
image's header, and a mask whose header gives another size is reported.

Samples.  One per line; a line repeating an earlier line's image and
sentence (ignoring case, spacing and a final full stop) is skipped and
counted.  The type is
"single" (one mask per line; RefSegRS has no no-target sentences), the
category null, lang "zh" for a sentence with a CJK character, else "en".
The mask is {"png": PATH}, the mask file as it is: the key names a mask
file of any format the toolkit reads (PNG, TIFF, JPEG), recognised by its
first bytes.  Ids are "<split>-<image_id>-<n>", n counting from 0 the
lines of that image in that split's file.  Paths are relative to the
manifest's folder unless --absolute.  A line whose image or mask file is
missing, or has a header that gives no size, is skipped with a warning.

Report.  A summary on stderr; --report FILE writes it as one JSON object.

Exit status: 0 on success, 1 on an error (no phrase file, or one that
cannot be read or is not UTF-8), 2 on a usage error.

Examples:
  import_refsegrs.py --root RefSegRS -o refsegrs/      (train/val/test.jsonl)
  import_refsegrs.py --root RefSegRS --splits test -o refsegrs-test.jsonl
"""

EXTS = (".tif", ".tiff", ".TIF", ".TIFF", ".png", ".jpg", ".jpeg")
PREFIX, SUFFIX = "output_phrase_", ".txt"


def find_file(folder, stem):
    for e in EXTS:
        p = os.path.join(folder, stem + e)
        if os.path.isfile(p):
            return p
    return None


def read_lines(path):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise rm.Error("%s: %s" % (path, e.strerror or e))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        raise rm.Error("%s:%d: invalid UTF-8" % (path, line))
    return text.splitlines()


def main():
    p = rm.Parser(prog=rm.prog(), description=DESCRIPTION)
    rm.add_common_options(p, root_help="the dataset's folder: output_phrase_*.txt, images/, masks/")
    p.add_argument("--images", metavar="DIR", help="the folder of the images (default: ROOT/images)")
    p.add_argument("--masks", metavar="DIR", help="the folder of the masks (default: ROOT/masks)")
    a = p.parse_args()
    splits = rm.parse_splits(a.splits, p)
    if not os.path.isdir(a.root):
        raise rm.Error("%s: no such folder" % a.root)
    img_dir = a.images or os.path.join(a.root, "images")
    mask_dir = a.masks or os.path.join(a.root, "masks")
    for d in (img_dir, mask_dir):
        if not os.path.isdir(d):
            raise rm.Error("%s: no such folder" % d)

    present = sorted((n[len(PREFIX):-len(SUFFIX)] for n in os.listdir(a.root)
                      if n.startswith(PREFIX) and n.endswith(SUFFIX) and len(n) > len(PREFIX) + len(SUFFIX)),
                     key=rm.split_sort_key)
    if splits is None:
        if not present:
            raise rm.Error("%s: no %s{train,val,test}%s" % (a.root, PREFIX, SUFFIX))
        splits = present
    else:
        for s in splits:
            if s not in present:
                raise rm.Error("%s: no %s%s%s" % (a.root, PREFIX, s, SUFFIX))

    report = rm.Report("refsegrs")
    report.data["sources"] = {"phrases": [os.path.join(a.root, PREFIX + s + SUFFIX) for s in splits],
                              "images": img_dir, "masks": mask_dir}
    out = rm.Output(a.output, a.absolute)
    records, sizes, n_lines = [], {}, 0

    def size_of(path):
        """(width, height), or None for a file whose header does not say."""
        if path not in sizes:
            try:
                sizes[path] = rm.image_size(path)
            except (OSError, ValueError) as e:
                report.warn("unreadable_file", "%s: %s" % (path, getattr(e, "strerror", None) or e))
                sizes[path] = None
        return sizes[path]

    for split in splits:
        phrase_file = os.path.join(a.root, PREFIX + split + SUFFIX)
        seen, per_image = set(), {}
        for ln, line in enumerate(read_lines(phrase_file), 1):
            where = "%s:%d" % (phrase_file, ln)
            if not line.strip():
                continue
            n_lines += 1
            parts = line.strip().split(None, 1)
            if len(parts) < 2:
                report.warn("line_without_sentence", where)
                report.count("skipped", "line_without_sentence")
                continue
            image_id, text = parts[0], rm.clean_sentence(parts[1])
            if "/" in image_id or image_id in (".", ".."):
                raise rm.Error("%s: %r is no image id" % (where, image_id))
            n = per_image.get(image_id, 0)
            per_image[image_id] = n + 1
            lang = rm.detect_lang(text)
            if a.lang_filter and lang != a.lang_filter:
                report.count("skipped", "other_language")
                continue
            key = (image_id, rm.sentence_key(text))
            if key in seen:
                report.count("skipped", "repeated_line")
                continue
            seen.add(key)
            img = find_file(img_dir, image_id)
            mask = find_file(mask_dir, image_id)
            if img is None or mask is None:
                what = "image" if img is None else "mask"
                report.warn("missing_" + what, "%s: %s" % (where, os.path.join(img_dir if img is None else mask_dir,
                                                                               image_id + ".tif")))
                report.count("skipped", "missing_" + what)
                continue
            isz, msz = size_of(img), size_of(mask)
            if isz is None or msz is None:
                report.count("skipped", "unreadable_file")
                continue
            (w, h), (mw, mh) = isz, msz
            if (mw, mh) != (w, h):
                report.warn("mask_size_differs", "%s: mask %dx%d, image %dx%d" % (mask, mw, mh, w, h))
            sid = "%s-%s-%d" % (split, "".join(c if c.isalnum() or c in "._" else "_" for c in image_id), n)
            records.append(rm.sample(sid, split, out.path(img), w, h, text, lang, "single", None,
                                     {"png": out.path(mask)}))

    report.data["lines"] = n_lines
    report.add_samples(records)
    report.data["outputs"] = out.write(records, splits)
    report.finish(a.report, a.quiet, ["%d lines in %d phrase files" % (n_lines, len(splits))])


if __name__ == "__main__":
    rm.run(main)
