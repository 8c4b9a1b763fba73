#!/bin/sh
# Streams that know their model, and inputs that are something else: every
# record rrsis-encode writes names the model that made it ("model", its
# identity: a digest of the weight file's tensors and configuration, and
# "model_file"), rrsis-fuse carries both on, and rrsis-fuse and rrsis-decode
# refuse records of another model, naming both; a weight file or a stream
# that is an image, a text, ... says so.
# Prints "PASS: name" or "FAIL: name: why" per case; exits 1 on any failure.
#   BIN     the programs (default bin)
#   PYTHON  a Python 3 with numpy (default /usr/bin/python3)
. tests/cli/lib.sh
TOK=$BIN/rrsis-tokenize
ENC=$BIN/rrsis-encode
FUSE=$BIN/rrsis-fuse
DEC=$BIN/rrsis-decode
INSPECT=$BIN/rrsis-inspect
SCORE=$BIN/rrsis-score
D=share/models/mrsnet-nano-synth.safetensors
unset RRSIS_MODEL

# Inputs: a small PNG; other.safetensors, the demo model with one tensor
# changed; same.safetensors, the demo model's tensors and configuration
# rewritten (another name, the checksums of the C writer instead of the
# file's earlier kind): the same model.
cp tests/golden/pil/bilinear_rgb_13x7_29x31.in.png "$T/im.png" || exit 1
"$PYTHON" - "$T" "$D" <<'EOF' || { echo "FAIL: setup: cannot write the inputs with $PYTHON"; exit 1; }
import sys
import numpy as np
import rrsis_stream as rs
t, d = sys.argv[1], sys.argv[2]
with open(d, "rb") as f:
    meta, tensors = next(rs.read_records(f, bf16="raw"))
meta = {k: v for k, v in meta.items() if k not in ("checksums", rs.CHECKSUMS_KEY)}
def save(path, tensors):
    with open(path, "wb") as f:
        rs.write_record(f, dict(meta, **{rs.CHECKSUMS_KEY: rs.checksums(tensors)}), tensors)
save(t + "/same.safetensors", dict(tensors))
changed = dict(tensors)
name = sorted(k for k in tensors if k.startswith("classifier."))[0]
changed[name] = np.array(tensors[name]) * 0.5
save(t + "/other.safetensors", changed)
EOF
O=$T/other.safetensors

# expect_error NAME PATTERN: the last command's status in $st, its stderr in $T/err
expect_error() {
    if [ "$st" -eq 1 ] && [ "$(lines "$T/err")" = 1 ] && grep -q -- "$2" "$T/err"; then
        pass "$1"
    else
        fail "$1" "exit $st, stderr: $(head -c 400 "$T/err")"
    fi
}
# model_of FILE: the "model" of FILE's first record ("" without)
model_of() {
    "$INSPECT" "$1" | head -1 | sed -n 's/.*"model":"\([0-9a-f]*\)".*/\1/p'
}

"$TOK" "the red roof" "two planes" > "$T/tok.st" &&
    "$ENC" -m "$D" --image "$T/im.png" < "$T/tok.st" > "$T/enc.st" &&
    "$ENC" -m "$O" --image "$T/im.png" < "$T/tok.st" > "$T/enc_other.st" &&
    "$FUSE" -m "$D" < "$T/enc.st" > "$T/fused.st" ||
    { echo "FAIL: setup: the pipeline failed"; exit 1; }
ID=$(model_of "$T/enc.st")
ID_OTHER=$(model_of "$T/enc_other.st")
SID=$(echo "$ID" | cut -c1-8)
SID_OTHER=$(echo "$ID_OTHER" | cut -c1-8)
SAMPLE=$("$INSPECT" "$T/enc.st" | head -1 | sed -n 's/.*"id":"\([^"]*\)".*/\1/p')

# encode names its model: 16 hex digits and the weight file's name
if [ ${#ID} -eq 16 ] && [ ${#ID_OTHER} -eq 16 ] && [ "$ID" != "$ID_OTHER" ] &&
    "$INSPECT" "$T/enc.st" | head -1 | grep -q '"model_file":"mrsnet-nano-synth.safetensors"'; then
    pass "encode_names_its_model"
else
    fail "encode_names_its_model" "'$ID' and '$ID_OTHER' (one tensor changed)"
fi

# fuse carries the model on, and decode --logits too
"$DEC" -m "$D" --logits < "$T/fused.st" > "$T/logits.st"
expect_eq "fuse_and_decode_carry_the_model" "16 $ID $ID" "${#ID} $(model_of "$T/fused.st") $(model_of "$T/logits.st")"

# the same model passes, also from another file holding the same tensors and configuration
"$ENC" -m "$T/same.safetensors" --image "$T/im.png" < "$T/tok.st" > "$T/enc_same.st"
expect_eq "the_same_model_in_another_file" "16 $ID" "${#ID} $(model_of "$T/enc_same.st")"
"$FUSE" -m "$T/same.safetensors" < "$T/enc.st" | "$DEC" -m "$D" > "$T/out.jsonl" 2> "$T/err"
st=$?
if [ "$st" -eq 0 ] && [ "$(lines "$T/out.jsonl")" = 2 ]; then
    pass "the_same_model_passes"
else
    fail "the_same_model_passes" "exit $st, stderr: $(head -c 300 "$T/err")"
fi

# another model is refused, naming both
"$FUSE" -m "$O" < "$T/enc.st" > /dev/null 2> "$T/err"
st=$?
expect_error "fuse_refuses_another_model" \
    "^rrsis-fuse: error: record 1 (id '$SAMPLE'): the stream was made by model $SID (mrsnet-nano-synth.safetensors), this program runs model $SID_OTHER (other.safetensors)"
"$DEC" -m "$O" < "$T/fused.st" > /dev/null 2> "$T/err"
st=$?
expect_error "decode_refuses_another_model" \
    "^rrsis-decode: error: record 1 (id '$SAMPLE'): the stream was made by model $SID (mrsnet-nano-synth.safetensors), this program runs model $SID_OTHER (other.safetensors)"
"$FUSE" -m "$O" < "$T/enc_other.st" | "$DEC" -m "$D" > /dev/null 2> "$T/err"
st=$?
expect_error "decode_refuses_the_stream_of_another" \
    "^rrsis-decode: error: record 1 (id '$SAMPLE'): the stream was made by model $SID_OTHER (other.safetensors), this program runs model $SID (mrsnet-nano-synth.safetensors)"

# a stream without "model" (made by an earlier rrsis-encode), and a tokens
# record's "model", which encode replaces with its own
"$PYTHON" - "$T" <<'EOF' || fail "setup_strip" "cannot rewrite the streams"
import sys
import rrsis_stream as rs
t = sys.argv[1]
for src, dst, change in (("enc.st", "nomodel.st", lambda m: m.pop("model")),
                         ("tok.st", "tok_model.st", lambda m: m.update(model="0123456789abcdef"))):
    with open(t + "/" + src, "rb") as f, open(t + "/" + dst, "wb") as g, rs.StreamWriter(g) as w:
        for meta, tensors in rs.read_records(f, bf16="raw"):
            change(meta)
            w.write(meta, tensors)
EOF
"$FUSE" -m "$D" < "$T/nomodel.st" > /dev/null 2> "$T/err"
st=$?
expect_error "fuse_refuses_a_stream_without_model" \
    "^rrsis-fuse: error: record 1 (id '$SAMPLE'): no \"model\" in the metadata: the stream does not say which model made it"
"$ENC" -m "$D" --image "$T/im.png" < "$T/tok_model.st" > "$T/enc2.st"
expect_eq "encode_sets_its_own_model" "16 $ID" "${#ID} $(model_of "$T/enc2.st")"

# Files that are something else: what they look like
printf '\377\330\377\340\000\020JFIF\000' > "$T/photo.jpg"
printf 'II*\000\010\000\000\000' > "$T/scan.tif"
printf 'a sentence, not weights\n' > "$T/notes.txt"
printf 'a sentence, not weights\n' | gzip -c > "$T/w.safetensors.gz"
# look NAME FILE KIND: rrsis-encode -m FILE says it is no weight file and looks like KIND
look() {
    "$ENC" -m "$2" < "$T/tok.st" > /dev/null 2> "$T/err"
    st=$?
    expect_error "$1" "^rrsis-encode: error: $2: not a weight file (safetensors): it looks like $3$"
}
look "model_is_a_png" "$T/im.png" "a PNG image"
look "model_is_a_jpeg" "$T/photo.jpg" "a JPEG image"
look "model_is_a_tiff" "$T/scan.tif" "a TIFF image"
look "model_is_text" "$T/notes.txt" "text"
look "model_is_gzip" "$T/w.safetensors.gz" "gzip-compressed data"
look "model_is_a_configuration" share/configs/mrsnet-nano.json \
    "JSON (a model configuration? rrsis-train takes one with -c, tools/convert.py with --config)"

"$FUSE" -m "$D" < "$T/im.png" > /dev/null 2> "$T/err"
st=$?
expect_error "stdin_is_a_png" "^rrsis-fuse: error: not an rrsis stream: it looks like a PNG image$"
"$DEC" -m "$D" "$T/photo.jpg" > /dev/null 2> "$T/err"
st=$?
expect_error "input_is_a_jpeg" "^rrsis-decode: error: $T/photo.jpg: not an rrsis stream: it looks like a JPEG image$"
"$INSPECT" < "$T/notes.txt" > /dev/null 2> "$T/err"
st=$?
expect_error "inspect_of_text" "^rrsis-inspect: error: standard input: not an rrsis stream: it looks like text$"
# past the first record, an absurd length is a broken stream, not another kind of file
"$PYTHON" -c 'import sys; b = open(sys.argv[1], "rb").read(); n = int.from_bytes(b[:8], "little"); h = __import__("json").loads(b[8:8 + n]); h.pop("__metadata__"); end = 8 + n + max(v["data_offsets"][1] for v in h.values()); sys.stdout.buffer.write(b[:end] + b"hello world, not a record")' \
    "$T/enc.st" > "$T/tail.st"
"$FUSE" -m "$D" < "$T/tail.st" > /dev/null 2> "$T/err"
st=$?
expect_error "second_record_is_no_file" "^rrsis-fuse: error: record 2: header length [0-9]* is over the limit"

finish
