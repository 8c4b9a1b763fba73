"""Shared by the dataset importers (tools/import_refer.py, tools/import_refsegrs.py).

Python 3 standard library only.  What lives here:

  - the command-line conventions of the rrsis programs (libcore/cli.h):
    --help on stdout, --version "PROG (rrsis) VERSION", a usage error is
    "PROG: MESSAGE" and "Try 'PROG --help' for more information." with
    exit 2, a runtime error is one line "PROG: error: MESSAGE" with exit 1,
    warnings are "PROG: warning: MESSAGE";
  - the manifest record (doc/architecture.md, Manifests) and its writer: one JSON
    Lines file, one file per split in a folder, or stdout; image and mask
    paths relative to the manifest's folder;
  - language tagging (en or zh), the sentence key used to merge samples;
  - image sizes from file headers (TIFF, PNG, JPEG), without decoding;
  - the import report: a short summary on stderr, or JSON with --report.
"""
import argparse
import json
import os
import signal
import struct
import sys
import tempfile

VERSION = "0.1.0"
TYPES = ("single", "multi", "none")
SPLIT_ORDER = ("train", "val", "test")


class Error(Exception):
    """A runtime error: reported as "PROG: error: MESSAGE", exit 1."""


def prog():
    return os.path.basename(sys.argv[0]) or "importer"


def warn(msg):
    sys.stderr.write("%s: warning: %s\n" % (prog(), msg))


def note(msg):
    sys.stderr.write("%s: %s\n" % (prog(), msg))


# ---------------------------------------------------------------- command line


class Parser(argparse.ArgumentParser):
    """argparse with the rrsis conventions for usage errors and --version."""

    def __init__(self, **kw):
        kw.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(**kw)
        self.add_argument("--version", action="version", version="%s (rrsis) %s" % (prog(), VERSION),
                          help="print the version and exit")

    def error(self, message):
        sys.stderr.write("%s: %s\nTry '%s --help' for more information.\n" % (prog(), message, prog()))
        sys.exit(2)


def add_common_options(p, root_help="the dataset's folder", root_required=True):
    p.add_argument("--root", metavar="DIR", required=root_required, help=root_help)
    p.add_argument("-o", "--output", metavar="OUT", required=True,
                   help="where the manifest goes: FILE.jsonl (all splits in one file), "
                        "a folder (an existing one, or a name ending in '/'): one DIR/<split>.jsonl "
                        "per split, or '-' for stdout (absolute paths)")
    p.add_argument("--splits", metavar="LIST",
                   help="comma-separated split names to import (default: every split of the release)")
    p.add_argument("--lang-filter", metavar="LANG", choices=("en", "zh"),
                   help="keep only sentences of this language: en or zh (default: keep all)")
    p.add_argument("--absolute", action="store_true",
                   help="write absolute image and mask paths (default: relative to the manifest's folder)")
    p.add_argument("--report", metavar="FILE",
                   help="also write the import report as one JSON object to FILE")
    p.add_argument("-q", "--quiet", action="store_true", help="no summary on stderr (warnings stay)")


def parse_splits(text, parser):
    if text is None:
        return None
    names = [s.strip() for s in text.split(",") if s.strip()]
    if not names:
        parser.error("--splits: no split named")
    return names


def run(main):
    """Calls main() with the error conventions; exits with its status."""
    try:
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    except (AttributeError, ValueError):
        pass
    try:
        status = main() or 0
        sys.stdout.flush()
    except Error as e:
        sys.stderr.write("%s: error: %s\n" % (prog(), e))
        status = 1
    except KeyboardInterrupt:
        status = 130
    except OSError as e:  # a full disk on stdout, say
        sys.stderr.write("%s: error: %s\n" % (prog(), e.strerror or e))
        status = 1
    sys.exit(status)


# ---------------------------------------------------------------- sentences


def _is_cjk(cp):
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2EBEF
            or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F  # compatibility ideographs
            or 0x3000 <= cp <= 0x303F  # CJK punctuation
            or 0x3100 <= cp <= 0x312F or 0x31A0 <= cp <= 0x31BF  # bopomofo
            or 0xFF00 <= cp <= 0xFFEF)  # full-width forms


def detect_lang(text):
    """"zh" when the sentence holds a CJK character (ideograph, CJK or
    full-width punctuation), otherwise "en"."""
    for ch in text:
        if ord(ch) >= 0x3000 and _is_cjk(ord(ch)):
            return "zh"
    return "en"


def clean_sentence(text):
    """The sentence as written in the manifest: whitespace runs (newlines
    and tabs included) become one space, ends stripped."""
    return " ".join(text.split())


def sentence_key(text):
    """Two sentences of one image with the same key are one query: case,
    whitespace and a final full stop (or other end punctuation) do not
    count."""
    return " ".join(text.split()).casefold().rstrip(".!?;,\u3002\uff01\uff1f\uff1b\uff0c ")


# ---------------------------------------------------------------- image headers


def _tiff_size(f, head):
    e = "<" if head[:2] == b"II" else ">"
    magic = struct.unpack(e + "H", head[2:4])[0]
    if magic == 42:
        off = struct.unpack(e + "I", head[4:8])[0]
        f.seek(off)
        n = struct.unpack(e + "H", f.read(2))[0]
        ent, cnt_fmt, val_size = 12, "I", 4
    elif magic == 43:  # BigTIFF
        off = struct.unpack(e + "Q", head[8:16])[0]
        f.seek(off)
        n = struct.unpack(e + "Q", f.read(8))[0]
        ent, cnt_fmt, val_size = 20, "Q", 8
    else:
        raise ValueError("not a TIFF file")
    if n > 4096:
        raise ValueError("corrupt TIFF directory")
    data = f.read(ent * n)
    if len(data) < ent * n:
        raise ValueError("truncated TIFF directory")
    w = h = None
    for i in range(n):
        e_ = data[i * ent:(i + 1) * ent]
        tag, typ = struct.unpack(e + "HH", e_[:4])
        if tag not in (256, 257):
            continue
        val = e_[4 + struct.calcsize(cnt_fmt):4 + struct.calcsize(cnt_fmt) + val_size]
        if typ == 3:
            v = struct.unpack(e + "H", val[:2])[0]
        elif typ == 4:
            v = struct.unpack(e + "I", val[:4])[0]
        elif typ == 16:
            v = struct.unpack(e + "Q", val[:8])[0]
        else:
            raise ValueError("TIFF image size of an unexpected type %d" % typ)
        if tag == 256:
            w = v
        else:
            h = v
    if w is None or h is None:
        raise ValueError("TIFF without an image width or height")
    return w, h


def _jpeg_size(f):
    f.seek(2)
    while True:
        b = f.read(1)
        if not b:
            raise ValueError("JPEG without a frame header")
        if b != b"\xff":
            continue
        m = f.read(1)
        while m == b"\xff":
            m = f.read(1)
        if not m:
            raise ValueError("truncated JPEG")
        m = m[0]
        if m == 0x01 or 0xD0 <= m <= 0xD9:
            continue
        seg = f.read(2)
        if len(seg) < 2:
            raise ValueError("truncated JPEG")
        length = struct.unpack(">H", seg)[0]
        if 0xC0 <= m <= 0xCF and m not in (0xC4, 0xC8, 0xCC):
            d = f.read(5)
            if len(d) < 5:
                raise ValueError("truncated JPEG")
            h, w = struct.unpack(">HH", d[1:5])
            return w, h
        f.seek(length - 2, 1)


def image_size(path):
    """(width, height) of a TIFF, PNG or JPEG file, read from its header.
    Raises OSError for a file that cannot be read, ValueError for one that
    is none of these."""
    with open(path, "rb") as f:
        head = f.read(32)
        try:
            if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
                return _tiff_size(f, head)
            if head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR":
                return struct.unpack(">II", head[16:24])
            if head[:2] == b"\xff\xd8":
                return _jpeg_size(f)
        except struct.error:
            raise ValueError("a truncated header")
    raise ValueError("not a TIFF, PNG or JPEG file")


# ---------------------------------------------------------------- manifest output


def sample(id_, split, image, width, height, sentence, lang, type_, category, mask):
    """One manifest record, keys in the order of doc/architecture.md, Manifests."""
    assert type_ in TYPES
    return {"id": id_, "split": split, "image": image, "width": width, "height": height,
            "sentence": sentence, "lang": lang, "type": type_, "category": category, "mask": mask}


class Output:
    """Where the manifest goes (the -o option): '-' (stdout), a folder (one
    <split>.jsonl per split) or one file.  Records are written only when
    all is done, each file through a temporary name, so a failed import
    leaves no half manifest."""

    def __init__(self, arg, absolute):
        self.arg = arg
        if arg == "-":
            self.mode, self.folder = "stdout", None
            absolute = True
        elif arg.endswith("/") or os.path.isdir(arg):
            self.mode, self.folder = "folder", os.path.abspath(arg)
        else:
            self.mode, self.folder = "file", os.path.dirname(os.path.abspath(arg))
        self.absolute = absolute
        self._paths = {}

    def path(self, p):
        """An image or mask path as the manifest holds it."""
        r = self._paths.get(p)
        if r is None:
            r = os.path.abspath(p)
            if not self.absolute:
                r = os.path.relpath(r, self.folder)
            self._paths[p] = r
        return r

    def write(self, records, splits):
        """records: in output order; splits: the split names to write in
        folder mode (a split with no record gets an empty file)."""
        lines, by_split = [], {}
        for r in records:
            try:
                line = json.dumps(r, ensure_ascii=False, allow_nan=False) + "\n"
            except ValueError as e:
                raise Error("sample %s: %s" % (r["id"], e))
            lines.append(line)
            by_split.setdefault(r["split"], []).append(line)
        if self.mode == "stdout":
            out = open(sys.stdout.fileno(), "w", encoding="utf-8", closefd=False, newline="\n")
            out.writelines(lines)
            out.flush()
            return ["-"]
        if self.mode == "file":
            _atomic_write(os.path.abspath(self.arg), "".join(lines))
            return [self.arg]
        written = []
        for s in splits:
            if not _safe_name(s):
                raise Error("split name %r cannot name a file; use -o FILE.jsonl" % s)
        os.makedirs(self.folder, exist_ok=True)
        for s in splits:
            p = os.path.join(self.folder, s + ".jsonl")
            _atomic_write(p, "".join(by_split.get(s, [])))
            written.append(os.path.join(self.arg, s + ".jsonl"))
        return written


def _safe_name(s):
    return bool(s) and s not in (".", "..") and all(c.isalnum() or c in "._-" for c in s)


def _ordered(names):
    return sorted(names, key=split_sort_key)


def split_sort_key(s):
    return (SPLIT_ORDER.index(s) if s in SPLIT_ORDER else len(SPLIT_ORDER), s)


def _atomic_write(path, text):
    d = os.path.dirname(path) or "."
    try:
        os.makedirs(d, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".import-", suffix=".tmp", dir=d)
    except OSError as e:
        raise Error("%s: %s" % (path, e.strerror or e))
    try:
        with os.fdopen(fd, "w", encoding="utf-8", errors="strict", newline="\n") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except (OSError, UnicodeError) as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise Error("%s: %s" % (path, getattr(e, "strerror", None) or e))


# ---------------------------------------------------------------- report


class Report:
    """Counts of what an import did.  Every importer fills the common part
    (samples per split, type and language; skipped sentences; warnings);
    an importer adds its own sections (the REFER no-target kinds, say)."""

    def __init__(self, dataset):
        self.data = {"program": prog(), "version": VERSION, "dataset": dataset, "sources": {},
                     "samples": 0, "splits": {}, "types": {t: 0 for t in TYPES}, "langs": {},
                     "masks": {}, "skipped": {}, "warnings": {}, "outputs": []}
        self._examples = {}

    def count(self, section, key, n=1):
        d = self.data.setdefault(section, {})
        d[key] = d.get(key, 0) + n

    def warn(self, key, example=None, n=1):
        """Counts n warnings of kind key; the first example of each kind is
        printed at the end."""
        self.count("warnings", key, n)
        if example is not None and key not in self._examples:
            self._examples[key] = example

    def add_samples(self, records):
        for r in records:
            self.data["samples"] += 1
            sp = self.data["splits"].setdefault(r["split"], {"samples": 0, "single": 0, "multi": 0, "none": 0})
            sp["samples"] += 1
            sp[r["type"]] += 1
            self.data["types"][r["type"]] += 1
            self.count("langs", r["lang"])
            m = r["mask"]
            self.count("masks", "null" if m is None else next(iter(m)))

    def finish(self, path, quiet, lines):
        """Prints the warnings' examples and (unless quiet) the summary
        lines; writes the JSON report to path when given."""
        for k, ex in self._examples.items():
            warn("%s (%d): first: %s" % (k.replace("_", " "), self.data["warnings"][k], ex))
        d = self.data
        if not quiet:
            sp = ", ".join("%s %d" % (s, d["splits"][s]["samples"]) for s in _ordered(d["splits"]))
            note("%d samples (%s); %s; %s" % (
                d["samples"], sp or "none",
                ", ".join("%s %d" % (t, d["types"][t]) for t in TYPES),
                ", ".join("%s %d" % (k, v) for k, v in sorted(d["langs"].items())) or "no sentences"))
            for line in lines:
                note(line)
            if d["skipped"]:
                note("skipped: " + ", ".join("%s %d" % (k.replace("_", " "), v)
                                             for k, v in sorted(d["skipped"].items())))
            note("wrote " + ", ".join(d["outputs"]))
        if path:
            try:
                with open(path, "w", encoding="utf-8") as f:
                    json.dump(d, f, ensure_ascii=False, indent=1, sort_keys=False)
                    f.write("\n")
            except OSError as e:
                raise Error("%s: %s" % (path, e.strerror or e))
