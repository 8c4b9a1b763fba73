"""Read and write safetensors files with numpy alone (no safetensors package).

    tensors, meta = load("weights.safetensors")      # {name: ndarray}, {str: str}
    save("out.safetensors", tensors, {"config": json.dumps(cfg)})

The layout is the one the C writer (libcore/io/safetensors.c) produces:
an 8-byte little-endian header length N, N bytes of JSON
({"__metadata__": {...}, name: {"dtype", "shape", "data_offsets"}}) padded
with spaces to a multiple of 8, then the data, tensors ordered largest dtype
first and then by name (so every tensor is aligned).  BF16 is read as
float32 (exact); it is never written.
"""
import json
import os

import numpy as np

_DTYPES = {
    "F64": "<f8", "F32": "<f4", "F16": "<f2",
    "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1",
    "U64": "<u8", "U32": "<u4", "U16": "<u2", "U8": "u1", "BOOL": "?",
}
_NAMES = {np.dtype(v).newbyteorder("<"): k for k, v in _DTYPES.items()}


def loads(blob):
    """Parses one safetensors blob (bytes); returns ({name: ndarray}, metadata)."""
    n = int.from_bytes(blob[:8], "little")
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {}) or {}
    base = 8 + n
    tensors = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        raw = blob[base + begin:base + end]
        if info["dtype"] == "BF16":
            a = (np.frombuffer(raw, "<u2").astype("<u4") << 16).view("<f4")
        else:
            a = np.frombuffer(raw, _DTYPES[info["dtype"]])
        tensors[name] = a.reshape(info["shape"])
    return tensors, meta


def load(path):
    """Reads a safetensors file; returns ({name: ndarray}, metadata dict)."""
    with open(path, "rb") as f:
        return loads(f.read())


def dumps(tensors, metadata=None):
    """The bytes of a safetensors blob holding tensors {name: array}."""
    entries = []
    for name, a in tensors.items():
        a = np.asarray(a)
        dtype = _NAMES.get(a.dtype.newbyteorder("<"))
        if dtype is None:
            raise TypeError(f"tensor {name!r}: dtype {a.dtype} has no safetensors name")
        a = np.ascontiguousarray(a.astype(a.dtype.newbyteorder("<"), copy=False))
        entries.append((-a.dtype.itemsize, name.encode("utf-8"), name, dtype, a))
    entries.sort(key=lambda e: e[:2])
    header = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    offset = 0
    for _, _, name, dtype, a in entries:
        header[name] = {"dtype": dtype, "shape": list(a.shape),
                        "data_offsets": [offset, offset + a.nbytes]}
        offset += a.nbytes
    text = json.dumps(header, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    parts = [len(text).to_bytes(8, "little"), text]
    parts += [e[4].tobytes() for e in entries]
    return b"".join(parts)


def save(path, tensors, metadata=None):
    """Writes tensors {name: array} (numpy or torch) to path, atomically."""
    conv = {}
    for name, a in tensors.items():
        if hasattr(a, "detach"):  # a torch tensor
            a = a.detach().cpu().numpy()
        conv[name] = a
    blob = dumps(conv, metadata)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(blob)
    os.replace(tmp, path)
