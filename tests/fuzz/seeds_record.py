"""Writes the seed corpus of fuzz_record into the folder given as argument:
valid streams and files of every dtype, and a few broken ones."""
import io
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tools"))
import rrsis_stream as rs  # noqa: E402


def stream(*records, end=True):
    """The records, then (with end) the end mark of a stream."""
    b = io.BytesIO()
    for meta, tensors in records:
        rs.write_record(b, meta, tensors)
    if end:
        rs.write_end(b, len(records))
    return b.getvalue()


def raw(header, data):
    text = json.dumps(header).encode()
    return len(text).to_bytes(8, "little") + text + data


def main(out):
    os.makedirs(out, exist_ok=True)
    tag = {"format": rs.FORMAT, "stage": "tokens"}
    seeds = {
        "tokens": stream(*[({**tag, "id": str(i), "sentence": "the white plane"},
                            {"ids": np.arange(20, dtype=np.int32).reshape(1, 20),
                             "mask": np.ones((1, 20), np.uint8)}) for i in range(2)]),
        "encoded": stream(({"format": rs.FORMAT, "stage": "encoded", "id": "x", "width": "640"},
                           {"image": np.linspace(-1, 1, 36, dtype=np.float32).reshape(1, 4, 3, 3),
                            "text": rs.to_bf16(np.linspace(0, 2, 12)).reshape(1, 3, 4),
                            "half": np.array([1, -2, 65504], np.float16)})),
        "weights": stream(({"config": json.dumps({"dim": 8})},
                           {"a.weight": np.ones((2, 3), np.float64), "b.count": np.int64(7),
                            "c.empty": np.zeros((0, 5), np.float32), "d.flag": np.array([True]),
                            "e.u64": np.array([2**63], np.uint64), "f.i8": np.array([-3], np.int8),
                            "g.u16": np.array([9], np.uint16), "h.i16": np.array([-9], np.int16),
                            "i.u32": np.array([1 << 31], np.uint32)}), end=False),
        "empty": stream(({}, {}), end=False),
        "no-records": stream(),
        "nonfinite": stream(({**tag, "id": "n"}, {"x": np.array([1, np.nan, np.inf], np.float32),
                                                  "h": np.array([-np.inf], np.float16)})),
        "unaligned": raw({"u": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]},
                          "f": {"dtype": "F32", "shape": [1], "data_offsets": [1, 5]}}, bytes(5)),
        "bad-offsets": raw({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}}, bytes(4)),
        "bad-meta": raw({"__metadata__": {"k": 1}}, b""),
    }
    seeds["truncated"] = seeds["tokens"][:-7]
    seeds["unended"] = stream(*[({**tag, "id": "1"}, {"ids": np.zeros(3, np.int32)})], end=False)
    seeds["after-end"] = seeds["no-records"] + seeds["unended"]
    b = io.BytesIO()
    rs.write_record(b, {**tag, "stage": "end", "records": "2"}, {})
    seeds["bad-count"] = seeds["unended"] + b.getvalue()
    for name, data in seeds.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main(sys.argv[1])
