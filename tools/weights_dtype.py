#!/usr/bin/python3
"""Rewrites a weight file with its floating-point tensors in another dtype."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import convert  # noqa: E402  (write_weights, to_dtype)
import rrsis_manifest as rm  # noqa: E402

try:
    import rrsis_stream
except ImportError:
    sys.exit("%s: error: this needs numpy: run it with /usr/bin/python3" % rm.prog())
convert.rrsis_stream = rrsis_stream  # what convert.py's writers use; it imports it with PyTorch, unneeded here

DESCRIPTION = """\
Rewrites an rrsis weight file (or checkpoint) with every floating-point
tensor (F32, F16, BF16, F64) stored as --dtype; integer tensors and the
metadata are kept.  The input's checksums are verified first, and the output
gets the checksums of its own bytes (checksums_sum64; an earlier "checksums"
key is dropped).  Needs numpy only.

A bf16 file is half the size of an f32 one and the programs load it (-m),
converting each value to f32 exactly; the values are the f32 ones rounded to
bfloat16 (8 significant bits: a relative error of at most 2^-9).  An f32
file instead is used in place from the page cache (no copy): the faster to
load.  Converting back to f32 gives the rounded values, not the original.

  tools/weights_dtype.py --dtype bf16 -o model-bf16.safetensors model.safetensors
"""

def main():
    p = rm.Parser(prog=rm.prog(), description=DESCRIPTION)
    p.add_argument("input", metavar="FILE", help="the weight file to read")
    p.add_argument("-o", "--output", metavar="FILE", required=True, help="the weight file to write (- for stdout)")
    p.add_argument("--dtype", choices=("f32", "f16", "bf16"), required=True, help="the floating-point tensors' dtype")
    a = p.parse_args()
    try:
        with open(a.input, "rb") as f:
            records = list(rrsis_stream.read_records(f, bf16="raw"))
        if len(records) != 1:
            raise ValueError(f"holds {len(records)} records; a weight file is one")
        meta, tensors = records[0]
        rrsis_stream.verify_checksums(meta, tensors)
    except OSError as e:
        raise rm.Error(f"{a.input}: {e.strerror}")
    except ValueError as e:
        raise rm.Error(f"{a.input}: {e}")
    out = {}
    for name, t in tensors.items():
        if t.dtype == rrsis_stream.BF16:
            t = rrsis_stream.from_bf16(t)
        if t.dtype.kind == "f":
            t = convert.to_dtype(t.astype("<f4"), a.dtype)
        out[name] = t
    meta = dict(meta)
    meta.pop(rrsis_stream.LEGACY_CHECKSUMS_KEY, None)
    meta[rrsis_stream.CHECKSUMS_KEY] = rrsis_stream.checksums(out)
    convert.write_weights(a.output, meta, out)
    return 0


if __name__ == "__main__":
    rm.run(main)
