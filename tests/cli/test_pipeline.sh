#!/bin/sh
# rrsis-encode, rrsis-fuse and rrsis-decode through real pipes, with the
# golden mrsnet-nano weights (its foreground bias lowered, so that masks are
# neither empty nor full): the files, the JSON lines, --size model, the
# logits stream, overlays, batch sizes, and the errors.  That the masks
# equal those of the in-process forward bit for bit is tests/unit/
# test_pipeline.c's; here the outputs must agree with each other.
# Prints "PASS: name" or "FAIL: name: why" per case; exits 1 on any failure.
#   BIN     the programs (default bin)
#   PYTHON  a Python 3 with numpy (default /usr/bin/python3)
. tests/cli/lib.sh
TOK=$BIN/rrsis-tokenize
ENC=$BIN/rrsis-encode
FUSE=$BIN/rrsis-fuse
DEC=$BIN/rrsis-decode
W=$T/w.safetensors
unset RRSIS_MODEL

# A PNG reader (numpy and zlib only), the weights, three images of different
# sizes and their queries (a sentence that is not ASCII among them).
cat > "$T/png.py" <<'EOF'
import struct, zlib
import numpy as np

def read_png(path):
    """8-bit gray or RGB, not interlaced: an H x W (x 3) uint8 array."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    pos, idat = 8, b""
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and ctype in (0, 2) and body[12] == 0, (path, depth, ctype)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    ch = 3 if ctype == 2 else 1
    raw = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(h, 1 + w * ch)
    out = np.zeros((h, w * ch), np.int32)
    for y in range(h):
        f, line = raw[y, 0], raw[y, 1:].astype(np.int32)
        up = out[y - 1] if y else np.zeros(w * ch, np.int32)
        row = np.zeros(w * ch, np.int32)
        for x in range(w * ch):
            a = row[x - ch] if x >= ch else 0
            b, c = up[x], (up[x - ch] if x >= ch else 0)
            if f == 0: p = 0
            elif f == 1: p = a
            elif f == 2: p = b
            elif f == 3: p = (a + b) // 2
            else:
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                p = a if pa <= pb and pa <= pc else b if pb <= pc else c
            row[x] = (line[x] + p) & 255
        out[y] = row
    return out.astype(np.uint8).reshape((h, w, 3) if ch == 3 else (h, w))

def write_png(path, rgb):
    h, w, _ = rgb.shape
    raw = b"".join(b"\0" + rgb[y].tobytes() for y in range(h))
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
EOF
"$PYTHON" - "$T" <<'EOF' || { echo "FAIL: setup: cannot write the inputs with $PYTHON"; exit 1; }
import json, sys
import numpy as np
sys.path.insert(0, sys.argv[1])
import png, rrsis_stream as rs
t = sys.argv[1]
meta, w = next(rs.read_records(open("tests/golden/mrsnet-nano/weights.safetensors", "rb")))
w["classifier.conv1_1.bias"] = w["classifier.conv1_1.bias"].copy()
w["classifier.conv1_1.bias"][1] -= 0.27
with open(t + "/w.safetensors", "wb") as f:
    rs.write_record(f, meta, w)
rng = np.random.default_rng(5)
sentences = ["the red building on the left", "all ships near the quai \u00e9tang", "the large plane"]
with open(t + "/q.jsonl", "w") as q:
    for k, (wd, ht) in enumerate([(128, 128), (200, 90), (61, 140)]):
        y, x = np.mgrid[0:ht, 0:wd]
        img = np.stack([(x * 3 + y) % 200, (y * 2 + 40 * k) % 180, (x + y) % 150], -1).astype(np.uint8)
        img[ht // 3:ht // 2, wd // 4:wd // 2] = [230, 60, 50]
        img = np.clip(img + rng.integers(0, 20, img.shape), 0, 255).astype(np.uint8)
        png.write_png(f"{t}/im{k}.png", img)
        q.write(json.dumps({"id": f"s{k}", "sentence": sentences[k], "image": f"im{k}.png"}) + "\n")
EOF

# run NAME BATCH DECODE-OPTIONS...: the whole pipeline on the queries, the
# decoder's stdout in $T/NAME.out, every stderr in $T/NAME.err.
run() {
    name=$1 b=$2
    shift 2
    "$TOK" --queries "$T/q.jsonl" 2> "$T/$name.err" | "$ENC" -m "$W" -b "$b" 2>> "$T/$name.err" |
        "$FUSE" -m "$W" -b "$b" 2>> "$T/$name.err" | "$DEC" -m "$W" -b "$b" "$@" > "$T/$name.out" 2>> "$T/$name.err"
}

# --- masks, overlays and JSON lines at the images' sizes --------------------------
if run b3 3 --outdir "$T/m3" --overlay "$T/ov" && [ ! -s "$T/b3.err" ] &&
   jq -e -s --arg m "$T/m3" --arg o "$T/ov" '
       map(.id) == ["s0", "s1", "s2"] and map([.width, .height]) == [[128, 128], [200, 90], [61, 140]]
       and all(.[]; .mask == ($m + "/" + .id + ".png") and .overlay == ($o + "/" + .id + ".png")
                    and .empty == (.area == 0) and .area > 0 and .area < .width * .height
                    and .bbox[0] >= 0 and .bbox[1] >= 0 and .bbox[2] > 0 and .bbox[3] > 0
                    and .bbox[0] + .bbox[2] <= .width and .bbox[1] + .bbox[3] <= .height)' \
       "$T/b3.out" > /dev/null; then
    pass "pipeline_json_lines"
else
    fail "pipeline_json_lines" "$(cat "$T/b3.err") $(head -c 400 "$T/b3.out")"
fi

# the PNGs: masks of 0 and 255 whose area and box the JSON line gives; RGB
# overlays of the image's size, the caption band at the top
if "$PYTHON" - "$T" <<'EOF'; then pass "pipeline_mask_files"; else fail "pipeline_mask_files" "see above"; fi
import json, sys
import numpy as np
sys.path.insert(0, sys.argv[1])
import png
t = sys.argv[1]
for line in open(t + "/b3.out"):
    r = json.loads(line)
    m = png.read_png(r["mask"])
    ov = png.read_png(r["overlay"])
    img = png.read_png(f"{t}/im{r['id'][1]}.png")
    assert m.shape == (r["height"], r["width"]) and set(np.unique(m)) <= {0, 255}, (r, m.shape)
    ys, xs = np.nonzero(m)
    assert len(xs) == r["area"], (r, len(xs))
    assert [xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1] == r["bbox"], r
    assert ov.shape == img.shape, (ov.shape, img.shape)
    assert (ov[0] < img[0]).mean() > 0.5, "no darkened caption band"
    assert not np.array_equal(ov, img)
EOF

# --- batch sizes: 1 and 3 give the same masks --------------------------------------
if run b1 1 --outdir "$T/m1" && [ ! -s "$T/b1.err" ] &&
   for id in s0 s1 s2; do cmp -s "$T/m1/$id.png" "$T/m3/$id.png" || exit 1; done; then
    pass "batch_1_and_3_agree"
else
    fail "batch_1_and_3_agree" "$(cat "$T/b1.err") masks differ"
fi

# --- --size model: the S x S protocol -----------------------------------------------
if run sq 2 --size model --outdir "$T/msq" && jq -e -s 'length == 3 and all(.[]; .width == 128 and .height == 128)' \
       "$T/sq.out" > /dev/null &&
   "$PYTHON" -c "import sys; sys.path.insert(0, '$T'); import png
assert all(png.read_png('$T/msq/s%d.png' % k).shape == (128, 128) for k in range(3))"; then
    pass "size_model"
else
    fail "size_model" "$(cat "$T/sq.err") $(head -c 300 "$T/sq.out")"
fi

# --- --logits: the stream rrsis-score reads, agreeing with the mask files -----------
for size in original model; do
    dir=$T/m3
    [ $size = model ] && dir=$T/msq
    if run lg 3 --logits --size $size && "$PYTHON" - "$T" "$dir" "$T/lg.out" <<'EOF'; then
import sys
import numpy as np
sys.path.insert(0, sys.argv[1])
import png, rrsis_stream as rs
recs = list(rs.read_records(open(sys.argv[3], "rb")))
assert [m["id"] for m, _ in recs] == ["s0", "s1", "s2"], [m["id"] for m, _ in recs]
for meta, t in recs:
    assert meta["stage"] == "logits" and set(t) == {"logits"}, meta
    lg = t["logits"]
    assert lg.dtype == np.float32 and lg.ndim == 3 and lg.shape[0] == 2, lg.shape
    mask = png.read_png(f"{sys.argv[2]}/{meta['id']}.png")
    assert np.array_equal((lg[1] > lg[0]) * 255, mask), meta["id"]
    assert meta["width"] and meta["height"] and meta["sentence"] and meta["image"].endswith(".png")
EOF
        pass "logits_stream_$size"
    else
        fail "logits_stream_$size" "$(cat "$T/lg.err")"
    fi
done

# --- one image named on the command line, one mask to a file ------------------------
if "$TOK" 'the ship on the left' | "$ENC" -m "$W" --image "$T/im1.png" | "$FUSE" -m "$W" |
       "$DEC" -m "$W" -o "$T/one.png" > "$T/one.json" 2> "$T/err" &&
   jq -e --arg p "$T/one.png" --arg id "$(sample_id 'the ship on the left' im1.png)" \
       '.id == $id and .mask == $p and .width == 200 and .height == 90' "$T/one.json" > /dev/null &&
   "$TOK" 'the ship on the left' | "$ENC" -m "$W" --image "$T/im1.png" | "$FUSE" -m "$W" |
       "$DEC" -m "$W" -o - > "$T/one2.png" &&
   cmp -s "$T/one2.png" "$T/one.png"; then
    pass "image_option_and_output"
else
    fail "image_option_and_output" "$(cat "$T/err") $(cat "$T/one.json")"
fi

# the model from the environment; --verbose says which device, and the progress
if "$TOK" 'x' | RRSIS_MODEL=$W "$ENC" -v --image "$T/im0.png" 2> "$T/err" | RRSIS_MODEL=$W "$FUSE" > /dev/null &&
   grep -q "^rrsis-encode: model .* (mrsnet-nano) on " "$T/err" && grep -q "^rrsis-encode: 1 record, " "$T/err"; then
    pass "model_from_environment_verbose"
else
    fail "model_from_environment_verbose" "$(cat "$T/err")"
fi

# --- errors: one line, exit 1 ---------------------------------------------------------
# expect_error NAME PATTERN: the last command's status in $st, its stderr in $T/err
expect_error() {
    if [ "$st" -eq 1 ] && [ "$(lines "$T/err")" = 1 ] && grep -q -- "$2" "$T/err"; then
        pass "$1"
    else
        fail "$1" "exit $st, stderr: $(head -c 300 "$T/err")"
    fi
}
"$TOK" 'x' | "$FUSE" -m "$W" > /dev/null 2> "$T/err"
st=$?
expect_error "wrong_stage" "^rrsis-fuse: error: record 1: stage is 'tokens', expected 'encoded'"

"$TOK" --queries "$T/q.jsonl" | "$ENC" -m "$W" > "$T/enc.st"
# 40% of three records: the second is cut short
head -c $(($(wc -c < "$T/enc.st") * 4 / 10)) "$T/enc.st" | "$FUSE" -m "$W" > /dev/null 2> "$T/err"
st=$?
expect_error "truncated" "^rrsis-fuse: error: record 2: truncated"

"$FUSE" -m "$W" "$T/enc.st" > "$T/fused.st" 2> "$T/err"
head -c 100 "$T/fused.st" | "$DEC" -m "$W" > /dev/null 2> "$T/err"
st=$?
expect_error "truncated_header" "^rrsis-decode: error: record 1: truncated"

for p in "$ENC" "$FUSE" "$DEC"; do
    head -c 100 /dev/urandom | "$p" -m "$W" > /dev/null 2> "$T/err"
    st=$?
    expect_error "$(basename "$p")_random_bytes" "^$(basename "$p"): error: "
done

"$TOK" 'no image' | "$ENC" -m "$W" > /dev/null 2> "$T/err"
st=$?
expect_error "no_image" "record 1 (id '$(sample_id 'no image')'): no \"image\" in the metadata"

"$TOK" 'x' | "$ENC" -m "$W" --image "$T/nonexistent.png" > /dev/null 2> "$T/err"
st=$?
expect_error "missing_image" "nonexistent.png"

"$DEC" -m "$W" "$T/nonexistent.st" > /dev/null 2> "$T/err"
st=$?
expect_error "missing_input" "nonexistent.st"

"$DEC" -m "$W" -o "$T/x.png" "$T/fused.st" > /dev/null 2> "$T/err"
st=$?
expect_error "output_one_sample" "a second sample"

printf '{"id": "a/b", "sentence": "x", "image": "im0.png"}\n' > "$T/slash.jsonl"
"$TOK" --queries "$T/slash.jsonl" 2> /dev/null | "$ENC" -m "$W" | "$FUSE" -m "$W" |
    "$DEC" -m "$W" --outdir "$T/ms" > /dev/null 2> "$T/err"
st=$?
expect_error "id_with_slash" "id 'a/b'.*cannot name a file"

"$DEC" -m "$T/q.jsonl" < "$T/fused.st" > /dev/null 2> "$T/err"
st=$?
expect_error "bad_model" "q.jsonl"

# a decoder of another model: a fused record of the wrong shapes
"$PYTHON" - "$T/fused.st" "$T/odd.st" <<'EOF'
import sys
import rrsis_stream as rs
with open(sys.argv[2], "wb") as f, rs.StreamWriter(f) as w:
    for meta, t in rs.read_records(open(sys.argv[1], "rb")):
        t["D2"] = t["D2"][:, :8, :8].copy()
        w.write(meta, t)
EOF
"$DEC" -m "$W" "$T/odd.st" > /dev/null 2> "$T/err"
st=$?
expect_error "wrong_shape" "tensor 'D2' is 16x8x8, expected 16x16x16"

if [ -n "$FULL" ]; then
    "$TOK" 'x' | "$ENC" -m "$W" --image "$T/im0.png" > "$FULL" 2> "$T/err"
    st=$?
    expect_error "full_disk" "^rrsis-encode: error: "
fi

# --- usage errors: exit 2 ----------------------------------------------------------------
for args in "" "-m $W --device tpu" "-m $W --batch 0" "-m $W a b"; do
    # shellcheck disable=SC2086
    "$DEC" $args < /dev/null > /dev/null 2> "$T/err"
    st=$?
    if [ $st -eq 2 ] && grep -q "Try 'rrsis-decode --help'" "$T/err"; then
        pass "usage_error '$args'"
    else
        fail "usage_error '$args'" "exit $st: $(cat "$T/err")"
    fi
done
"$DEC" -m "$W" --outdir "$T/a" -o "$T/b.png" < /dev/null > /dev/null 2> "$T/err"
st=$?
expect_eq "outdir_and_output_exclusive" 2 "$st"
finish
