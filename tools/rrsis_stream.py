"""Read and write rrsis tensor streams with numpy alone.

    import sys
    sys.path.insert(0, "tools")
    import rrsis_stream
    for meta, tensors in rrsis_stream.read_records(sys.stdin.buffer):
        print(meta.get("id"), {name: a.shape for name, a in tensors.items()})

A stream is a sequence of safetensors blobs: an 8-byte little-endian header
length N, N bytes of JSON ({name: {"dtype", "shape", "data_offsets"},
"__metadata__": {str: str}}), then the data.  Records are concatenated, so
reading needs no seeking and pipes work.  A stream ends with its end mark, a
record with no tensors and the metadata {"format": FORMAT, "stage": "end",
"records": the count of the records before it}: write_end(f, n) writes it,
read_records checks it (its count, and that nothing follows it) and does
not yield it.  Without it, a stream's reader cannot tell a writer that
finished from one that stopped at a record boundary, so read_records raises
when the input ends without it after records of this FORMAT, or is empty;
safetensors files that are no stream (weight files) need none.

BF16 has no numpy dtype.  read_records returns it as float32 (exact: a bf16
value is the top half of a float32); with bf16="raw" it returns the raw bits
as arrays of the structured dtype BF16 (field "bf16"), which write_record
writes back as BF16.  to_bf16() rounds float32 to such an array,
from_bf16() turns one back into float32.

Weight files are single records whose metadata may hold checksums
(libcore/io/checksum.h): checksums() computes the metadata value the C
programs write (key CHECKSUMS_KEY), verify_checksums() checks a record
against it (or against the legacy LEGACY_CHECKSUMS_KEY of earlier files).

Run as a program, it copies a stream from stdin to stdout, parsing and
re-serialising every record and the end mark; the bytes are those the C writer produces
(libcore/io/safetensors.c): metadata first, tensors largest dtype first and
then by name, the header padded with spaces to a multiple of 8 bytes.
"""
import json
import sys

import numpy as np

FORMAT = "rrsis-stream/2"  # rrsis-stream/1 had no end mark
MAX_HEADER = 100_000_000
BF16 = np.dtype([("bf16", "<u2")])

_DTYPES = {
    "F64": "<f8", "F32": "<f4", "F16": "<f2",
    "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1",
    "U64": "<u8", "U32": "<u4", "U16": "<u2", "U8": "u1", "BOOL": "?",
}
_NAMES = {np.dtype(v).newbyteorder("<"): k for k, v in _DTYPES.items()}


def _read_exact(f, n):
    """Up to n bytes; fewer only at the end of the input."""
    chunks, got = [], 0
    while got < n:
        b = f.read(n - got)
        if not b:
            break
        chunks.append(b)
        got += len(b)
    return b"".join(chunks)


def _is_uint(v):
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def _layout(header, where):
    """Checks the entries of a parsed header; returns the data size."""
    spans = []
    for name, info in header.items():
        if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
            raise ValueError(f"{where}tensor {name!r}: expected an object with dtype, shape, data_offsets")
        dtype, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
        if dtype != "BF16" and dtype not in _DTYPES:
            raise ValueError(f"{where}tensor {name!r}: unknown dtype {dtype!r}")
        if not isinstance(shape, list) or len(shape) > 5 or not all(_is_uint(d) for d in shape):
            raise ValueError(f"{where}tensor {name!r}: shape is not a list of at most 5 non-negative integers")
        if not isinstance(offsets, list) or len(offsets) != 2 or not all(_is_uint(o) for o in offsets):
            raise ValueError(f"{where}tensor {name!r}: data_offsets is not a list of two integers")
        size = 2 if dtype == "BF16" else np.dtype(_DTYPES[dtype]).itemsize
        if int(np.prod(shape, dtype=object)) * size != offsets[1] - offsets[0]:
            raise ValueError(f"{where}tensor {name!r}: shape {shape} of {dtype} does not match "
                             f"data_offsets {offsets}")
        spans.append((offsets[0], offsets[1], name))
    end = 0
    for begin, stop, name in sorted(spans):
        if begin != end:
            raise ValueError(f"{where}tensor {name!r}: data is not contiguous at byte {begin}")
        end = stop
    return end


def _plural(n):
    return "" if n == 1 else "s"


def _check_end(f, meta, tensors, before):
    """The end mark after `before` records: its count, and nothing after it."""
    count = meta.get("records")
    if tensors:
        raise ValueError(f"the end mark holds tensors ({len(tensors)}): it holds none")
    if count is None:
        raise ValueError('the end mark has no "records"')
    if not (count.isascii() and count.isdigit()):
        raise ValueError(f"the end mark's \"records\" is {count!r}, not a count")
    if int(count) != before:
        raise ValueError(f"the end mark counts {int(count)} record{_plural(int(count))}, but {before} came "
                         "before it: records were lost or added on the way")
    if f.read(1):
        raise ValueError(f"data after the end mark of {before} record{_plural(before)}: an input holds one stream")


def read_records(f, bf16="float32"):
    """Yields (metadata dict, {name: ndarray}) for each record of a binary file.

    Tensors come in header order; arrays are read-only views of the record's
    data.  Raises ValueError naming the record on a malformed input, and on a
    stream that ends without its end mark (see above)."""
    if bf16 not in ("float32", "raw"):
        raise ValueError("bf16 must be 'float32' or 'raw'")
    recno, stream = 0, False
    while True:
        recno += 1
        where = f"record {recno}: "
        head = _read_exact(f, 8)
        if not head and recno == 1:
            raise ValueError("the stream is empty, without even its end mark: the program writing it stopped early")
        if not head and stream:
            raise ValueError(f"stream ended after {recno - 1} record{_plural(recno - 1)} without its end mark: "
                             "the program writing it stopped early")
        if not head:
            return
        if len(head) < 8:
            raise ValueError(f"{where}truncated: expected 8 header-length bytes, got {len(head)}")
        n = int.from_bytes(head, "little")
        if n > MAX_HEADER:
            raise ValueError(f"{where}header length {n} is over the limit of {MAX_HEADER} bytes")
        text = _read_exact(f, n)
        if len(text) < n:
            raise ValueError(f"{where}truncated: expected {n} header bytes, got {len(text)}")
        try:
            header = json.loads(text.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            raise ValueError(f"{where}header is not valid JSON: {e}") from None
        if not isinstance(header, dict):
            raise ValueError(f"{where}header is not a JSON object")
        meta = header.pop("__metadata__", {})
        if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
            raise ValueError(f"{where}__metadata__ is not an object of strings")
        size = _layout(header, where)
        data = _read_exact(f, size)
        if len(data) < size:
            raise ValueError(f"{where}truncated: expected {size} data bytes, got {len(data)}")
        tensors = {}
        for name, info in header.items():
            begin, end = info["data_offsets"]
            if info["dtype"] == "BF16":
                a = np.frombuffer(data, "<u2", (end - begin) // 2, begin)
                a = from_bf16(a) if bf16 == "float32" else a.view(BF16)
            else:
                dt = np.dtype(_DTYPES[info["dtype"]])
                a = np.frombuffer(data, dt, (end - begin) // dt.itemsize, begin)
            tensors[name] = a.reshape(info["shape"])
        stream = meta.get("format") == FORMAT
        if stream and meta.get("stage") == "end":
            _check_end(f, meta, tensors, recno - 1)
            return
        yield meta, tensors


def from_bf16(a):
    """BF16 values (raw bits: a BF16 or uint16 array) as float32 (exact)."""
    return (np.asarray(a).view("<u2").astype("<u4") << 16).view("<f4")


def to_bf16(a):
    """float32 values rounded to bfloat16 (nearest even), as a BF16 array."""
    a = np.ascontiguousarray(a, dtype="<f4")
    x = a.view("<u4")
    r = ((x + 0x7FFF + ((x >> 16) & 1)) >> 16).astype("<u2")
    nan = np.isnan(a)
    r[nan] = ((x[nan] >> 16) | 0x40).astype("<u2")  # stays a (quiet) NaN
    return r.view(BF16)


def write_record(f, metadata, tensors):
    """Writes one record: metadata {str: str}, tensors {name: ndarray}."""
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise TypeError("metadata keys and values must be strings")
    entries = []
    for name, a in tensors.items():
        a = np.asarray(a)
        if not name or name == "__metadata__" or a.ndim > 5:
            raise ValueError(f"tensor {name!r}: bad name or more than 5 dimensions")
        if a.dtype == BF16:
            dtype = "BF16"
        else:
            dtype = _NAMES.get(a.dtype.newbyteorder("<"))
            if dtype is None:
                raise TypeError(f"tensor {name!r}: dtype {a.dtype} has no safetensors name")
            a = a.astype(a.dtype.newbyteorder("<"), copy=False)
        entries.append((-a.dtype.itemsize, name.encode("utf-8"), name, dtype, a))
    entries.sort(key=lambda e: e[:2])  # largest dtype first, then by name
    header = {"__metadata__": dict(metadata)} if metadata else {}
    offset = 0
    for _, _, name, dtype, a in entries:
        header[name] = {"dtype": dtype, "shape": list(a.shape), "data_offsets": [offset, offset + a.nbytes]}
        offset += a.nbytes
    text = json.dumps(header, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    f.write(len(text).to_bytes(8, "little"))
    f.write(text)
    for *_, a in entries:
        f.write(np.ascontiguousarray(a).tobytes())


def write_end(f, records):
    """Writes the end mark of a stream of `records` records: the last write
    of a writer that wrote every record."""
    write_record(f, {"format": FORMAT, "stage": "end", "records": str(records)}, {})


class StreamWriter:
    """Writes a stream: its records, then, when the with block ends without
    an exception, its end mark.

        with open(path, "wb") as f, rrsis_stream.StreamWriter(f) as w:
            w.write({"format": rrsis_stream.FORMAT, "stage": "tokens", "id": "1"}, tensors)
    """

    def __init__(self, f):
        self.f, self.records = f, 0

    def write(self, metadata, tensors):
        write_record(self.f, metadata, tensors)
        self.records += 1

    def __enter__(self):
        return self

    def __exit__(self, kind, value, traceback):
        if kind is None:
            write_end(self.f, self.records)
        return False


CHECKSUMS_KEY = "checksums_sum64"
LEGACY_CHECKSUMS_KEY = "checksums"  # rr_hash64: the earlier files; verified, no longer written
_M64 = (1 << 64) - 1


def _mix64(z):
    """SplitMix64's finaliser (libcore/rng.h rr_mix64) on a Python int."""
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
    return z ^ (z >> 31)


def sum64(a):
    """The checksum of an array's bytes as stored (libcore/io/checksum.h
    rr_sum64): the sum of mix64(w_i ^ i * golden) over its little-endian
    8-byte words, then mix64(sum ^ mix64(length))."""
    raw = np.ascontiguousarray(a).view(np.uint8).reshape(-1)
    n = raw.size
    if n % 8:
        raw = np.concatenate([raw, np.zeros(8 - n % 8, np.uint8)])
    w = raw.view("<u8")
    s = 0
    step = 1 << 20
    with np.errstate(over="ignore"):
        for i0 in range(0, w.size, step):
            x = w[i0:i0 + step] ^ (np.arange(i0, i0 + min(step, w.size - i0), dtype=np.uint64)
                                   * np.uint64(0x9E3779B97F4A7C15))
            x ^= x >> np.uint64(30)
            x *= np.uint64(0xBF58476D1CE4E5B9)
            x ^= x >> np.uint64(27)
            x *= np.uint64(0x94D049BB133111EB)
            x ^= x >> np.uint64(31)
            s = (s + int(x.sum(dtype=np.uint64))) & _M64
    return _mix64(s ^ _mix64(n))


def checksums(tensors):
    """The metadata value of CHECKSUMS_KEY for {name: ndarray} (as written)."""
    return json.dumps({k: "%016x" % sum64(v) for k, v in tensors.items()}, separators=(",", ":"))


def hash64(a):
    """The legacy checksum of an array's bytes (libcore/io/checksum.h
    rr_hash64 from 0): one serial chain of mix64 over the 8-byte words, so
    pure Python, about a second per million words."""
    raw = np.ascontiguousarray(a).view(np.uint8).reshape(-1)
    n = raw.size
    h = _mix64((n + 0x9E3779B97F4A7C15) & _M64)
    for w in raw[:n - n % 8].view("<u8").tolist():
        h = _mix64(h ^ w)
    tail = int.from_bytes(raw[n - n % 8:].tobytes(), "little")
    return _mix64(h ^ tail ^ 0xFF)


def verify_checksums(meta, tensors):
    """Raises ValueError naming the first tensor whose bytes do not match the
    record's CHECKSUMS_KEY, or else its LEGACY_CHECKSUMS_KEY (when it has
    either); BF16 must be read raw."""
    key = CHECKSUMS_KEY if CHECKSUMS_KEY in meta else LEGACY_CHECKSUMS_KEY
    if key not in meta:
        return
    want = json.loads(meta[key])
    digest = sum64 if key == CHECKSUMS_KEY else hash64
    for k, v in tensors.items():
        if want.get(k) != "%016x" % digest(v):
            raise ValueError(f"tensor {k!r} fails its checksum: the file is corrupt")
    if len(want) != len(tensors):
        raise ValueError(f"{len(want)} checksums for {len(tensors)} tensors: tensors are missing")


def main():
    out = sys.stdout.buffer
    try:
        n, stream = 0, True  # a stream, unless its last record is no stream's
        for meta, tensors in read_records(sys.stdin.buffer, bf16="raw"):
            write_record(out, meta, tensors)
            n, stream = n + 1, meta.get("format") == FORMAT
        if stream:
            write_end(out, n)
        out.flush()
    except ValueError as e:
        sys.stderr.write(f"rrsis_stream.py: error: {e}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
