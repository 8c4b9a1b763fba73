#!/bin/sh
# How a stream ends, and what its tensors may hold, through real pipes: every
# stream ends with its end mark (the count of its records), so a reader knows
# a writer that stopped at a record boundary from one that finished; and the
# pipeline programs refuse NaN and infinite values in their input's tensors.
# Prints "PASS: name" or "FAIL: name: why" per case; exits 1 on any failure.
#   BIN     the programs (default bin)
#   PYTHON  a Python 3 with numpy (default /usr/bin/python3)
. tests/cli/lib.sh
TOK=$BIN/rrsis-tokenize
ENC=$BIN/rrsis-encode
FUSE=$BIN/rrsis-fuse
DEC=$BIN/rrsis-decode
SCORE=$BIN/rrsis-score
INSPECT=$BIN/rrsis-inspect
W=tests/golden/mrsnet-nano/weights.safetensors
unset RRSIS_MODEL

# The record boundaries of a stream, read with nothing but the header lengths
# (not with the reader under test): "first_record_end second_record_end ...".
cat > "$T/ends.py" <<'EOF'
import json, sys
b = open(sys.argv[1], "rb").read()
pos, ends = 0, []
while pos < len(b):
    n = int.from_bytes(b[pos:pos + 8], "little")
    h = json.loads(b[pos + 8:pos + 8 + n])
    h.pop("__metadata__", None)
    pos += 8 + n + max([v["data_offsets"][1] for v in h.values()] + [0])
    ends.append(pos)
print(" ".join(map(str, ends)))
EOF
# end_of FILE K: the byte offset where record K of FILE ends (0 for K = 0).
end_of() {
    [ "$2" -eq 0 ] && { echo 0; return; }
    "$PYTHON" "$T/ends.py" "$1" | cut -d' ' -f"$2"
}

"$PYTHON" - "$T" <<'EOF' || { echo "FAIL: setup: cannot write the inputs with $PYTHON"; exit 1; }
import json, sys
import numpy as np
t = sys.argv[1]
# a small PNG (numpy and zlib only)
import struct, zlib
h, w = 40, 56
y, x = np.mgrid[0:h, 0:w]
img = np.stack([(x * 4) % 256, (y * 6) % 256, (x + y) % 256], -1).astype(np.uint8)
raw = b"".join(b"\0" + img[r].tobytes() for r in range(h))
def chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
open(t + "/im.png", "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                                 + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
with open(t + "/q.jsonl", "w") as q:
    for k, s in enumerate(["the red roof", "the long road on the left", "two planes"]):
        q.write(json.dumps({"id": f"s{k}", "sentence": s, "image": "im.png"}) + "\n")
# a manifest for rrsis-score: the three samples, an empty mask each
with open(t + "/m.jsonl", "w") as m:
    for k in range(3):
        m.write(json.dumps({"id": f"s{k}", "split": "test", "image": "im.png", "width": w, "height": h,
                            "sentence": "x", "lang": "en", "type": "single", "category": "roof",
                            "mask": {"rle": {"size": [h, w], "counts": [h * w]}}}) + "\n")
EOF

# The whole pipeline once, each stage's stream kept.
"$TOK" --queries "$T/q.jsonl" > "$T/tok.st" &&
    "$ENC" -m "$W" < "$T/tok.st" > "$T/enc.st" &&
    "$FUSE" -m "$W" < "$T/enc.st" > "$T/fused.st" &&
    "$DEC" -m "$W" --logits < "$T/fused.st" > "$T/logits.st" ||
    { echo "FAIL: setup: the pipeline failed"; exit 1; }

# expect_error NAME PATTERN: the last command's status in $st, its stderr in $T/err
expect_error() {
    if [ "$st" -eq 1 ] && [ "$(lines "$T/err")" = 1 ] && grep -q -- "$2" "$T/err"; then
        pass "$1"
    else
        fail "$1" "exit $st, stderr: $(head -c 300 "$T/err")"
    fi
}
UNENDED="stream ended after 2 records without its end mark: the program writing it stopped early"

# --- an upstream that stops at a record boundary -------------------------------
# Each reader gets the first two of three records, cut exactly after the second.
for pair in "rrsis-encode:tok.st" "rrsis-fuse:enc.st" "rrsis-decode:fused.st" "rrsis-inspect:logits.st" \
    "rrsis-score:logits.st"; do
    prog=${pair%%:*} st_file=$T/${pair#*:}
    case $prog in
    rrsis-score) set -- "$SCORE" --gt "$T/m.jsonl" --missing=empty --pred - ;;
    rrsis-inspect) set -- "$INSPECT" ;;
    *) set -- "$BIN/$prog" -m "$W" ;;
    esac
    head -c "$(end_of "$st_file" 2)" "$st_file" | "$@" > /dev/null 2> "$T/err"
    st=$?
    expect_error "${prog#rrsis-}_cut_at_a_record_boundary" "^$prog: error: \(standard input: \)\?$UNENDED$"
done

# A writer that fails on its third record: the reader fails too, and says why.
printf '{"id": "s2", "sentence": "x", "image": "nope.png"}\n' | cat "$T/q.jsonl" - > "$T/q4.jsonl"
sed -n '1,2p' "$T/q.jsonl" > "$T/q2.jsonl"
printf 'not json\n' >> "$T/q2.jsonl"
"$TOK" --queries "$T/q2.jsonl" 2> /dev/null | "$ENC" -m "$W" > /dev/null 2> "$T/err"
st=$?
expect_error "tokenize_dies_encode_says_so" "^rrsis-encode: error: $UNENDED$"
"$TOK" --queries "$T/q4.jsonl" | "$ENC" -m "$W" -b 1 2> /dev/null | "$FUSE" -m "$W" > /dev/null 2> "$T/err"
st=$?
expect_error "encode_dies_fuse_says_so" "^rrsis-fuse: error: stream ended after 3 records without its end mark"

# An empty input: a writer of no records still writes its end mark, so 0 bytes
# means the writer died before writing anything.
: | "$ENC" -m "$W" > /dev/null 2> "$T/err"
st=$?
expect_error "empty_input" "^rrsis-encode: error: the stream is empty, without even its end mark: the program writing it stopped early$"
: | "$INSPECT" --count > /dev/null 2> "$T/err"
st=$?
expect_error "inspect_empty_input" "^rrsis-inspect: error: standard input: the stream is empty"

# No records: the end mark alone goes through every stage.
if "$TOK" < /dev/null > "$T/none.st" && [ -s "$T/none.st" ] &&
    "$ENC" -m "$W" < "$T/none.st" | "$FUSE" -m "$W" | "$DEC" -m "$W" --logits > "$T/none.out" 2> "$T/err" &&
    [ -s "$T/none.out" ] && [ "$("$INSPECT" --count "$T/none.out")" = 0 ]; then
    pass "zero_records_keep_their_end_mark"
else
    fail "zero_records_keep_their_end_mark" "$(cat "$T/err")"
fi

# --- the end mark itself ----------------------------------------------------------
# The middle record dropped: the end mark's count no longer matches.
e1=$(end_of "$T/tok.st" 1) e2=$(end_of "$T/tok.st" 2)
{ head -c "$e1" "$T/tok.st"; tail -c +"$((e2 + 1))" "$T/tok.st"; } | "$ENC" -m "$W" > /dev/null 2> "$T/err"
st=$?
expect_error "record_lost_on_the_way" \
    "^rrsis-encode: error: the end mark counts 3 records, but 2 came before it: records were lost or added on the way$"

"$PYTHON" - "$T" <<'EOF'
import sys
import numpy as np
import rrsis_stream as rs
t = sys.argv[1]
recs = list(rs.read_records(open(t + "/tok.st", "rb")))
def mark(**meta):
    return {"format": rs.FORMAT, "stage": "end", **meta}
with open(t + "/badcount.st", "wb") as f:
    for m, x in recs:
        rs.write_record(f, m, x)
    rs.write_record(f, mark(records="three"), {})
with open(t + "/marktensor.st", "wb") as f:
    rs.write_record(f, mark(records="0"), {"x": np.zeros(1, np.float32)})
with open(t + "/old.st", "wb") as f:
    m, x = recs[0]
    rs.write_record(f, {**m, "format": "rrsis-stream/1"}, x)
EOF
"$ENC" -m "$W" < "$T/badcount.st" > /dev/null 2> "$T/err"
st=$?
expect_error "end_mark_count_not_a_number" "^rrsis-encode: error: the end mark's \"records\" is 'three', not a count$"
"$ENC" -m "$W" < "$T/marktensor.st" > /dev/null 2> "$T/err"
st=$?
expect_error "end_mark_with_tensors" "^rrsis-encode: error: the end mark holds tensors"
cat "$T/tok.st" "$T/tok.st" | "$ENC" -m "$W" > /dev/null 2> "$T/err"
st=$?
expect_error "data_after_the_end_mark" "^rrsis-encode: error: data after the end mark of 3 records: .*rrsis-inspect --copy"
"$ENC" -m "$W" < "$T/old.st" > /dev/null 2> "$T/err"
st=$?
expect_error "stream_of_an_older_rrsis" \
    "^rrsis-encode: error: record 1: stream format 'rrsis-stream/1' is not supported, this program reads 'rrsis-stream/2'"

# rrsis-inspect: the end mark is checked, not listed; --copy joins streams
# under one end mark; a weight file (one record, not a stream's) needs none.
if [ "$("$INSPECT" --count "$T/tok.st")" = 3 ] && [ "$("$INSPECT" "$T/tok.st" | wc -l)" = 3 ] &&
    "$INSPECT" --copy "$T/tok.st" "$T/tok.st" > "$T/six.st" && [ "$("$INSPECT" --count "$T/six.st")" = 6 ] &&
    "$ENC" -m "$W" < "$T/six.st" > /dev/null && [ "$("$INSPECT" --count "$W")" = 1 ]; then
    pass "inspect_and_the_end_mark"
else
    fail "inspect_and_the_end_mark" "count $("$INSPECT" --count "$T/tok.st" 2>&1)"
fi

# Python: the reader checks the mark, the copier writes it.
head -c "$(end_of "$T/tok.st" 2)" "$T/tok.st" > "$T/cut.st"
if "$PYTHON" tools/rrsis_stream.py < "$T/cut.st" > /dev/null 2> "$T/err"; then
    fail "python_reader_wants_the_end_mark" "accepted a stream without its end mark"
else
    grep -q "^rrsis_stream.py: error: $UNENDED$" "$T/err" && pass "python_reader_wants_the_end_mark" ||
        fail "python_reader_wants_the_end_mark" "$(cat "$T/err")"
fi
if "$PYTHON" tools/rrsis_stream.py < "$T/tok.st" > "$T/py.st" 2> "$T/err" && cmp -s "$T/tok.st" "$T/py.st"; then
    pass "python_copy_keeps_the_end_mark"
else
    fail "python_copy_keeps_the_end_mark" "$(cat "$T/err")"
fi

# --- NaN and infinities in an input's tensors ---------------------------------------
# poison IN OUT RECORD TENSOR ELEMENT VALUE [DTYPE]: a copy of a stream with one
# value of one tensor replaced (the tensor stored as DTYPE: f4, f2 or bf16).
poison() {
    "$PYTHON" - "$@" <<'EOF'
import sys
import numpy as np
import rrsis_stream as rs
src, dst, recno, name, k, value = sys.argv[1:7]
dtype = sys.argv[7] if len(sys.argv) > 7 else "f4"
with open(dst, "wb") as f:
    n = 0
    for n, (meta, t) in enumerate(rs.read_records(open(src, "rb")), 1):
        if n == int(recno):
            a = t[name].astype(np.float32)
            a.reshape(-1)[int(k)] = float(value)
            t[name] = rs.to_bf16(a) if dtype == "bf16" else a.astype(dtype)
        rs.write_record(f, meta, t)
    rs.write_end(f, n)
EOF
}
poison "$T/enc.st" "$T/p1.st" 2 image 1234 nan
"$FUSE" -m "$W" < "$T/p1.st" > /dev/null 2> "$T/err"
st=$?
expect_error "fuse_refuses_nan" "^rrsis-fuse: error: record 2 (id 's1'): tensor 'image' holds NaN at element 1234$"
poison "$T/enc.st" "$T/p2.st" 3 L 7 -inf f2
"$FUSE" -m "$W" < "$T/p2.st" > /dev/null 2> "$T/err"
st=$?
expect_error "fuse_refuses_inf_f16" "^rrsis-fuse: error: record 3 (id 's2'): tensor 'L' holds -Inf at element 7$"
poison "$T/fused.st" "$T/p3.st" 1 D3 100 inf bf16
"$DEC" -m "$W" < "$T/p3.st" > /dev/null 2> "$T/err"
st=$?
expect_error "decode_refuses_inf_bf16" "^rrsis-decode: error: record 1 (id 's0'): tensor 'D3' holds +Inf at element 100$"
poison "$T/logits.st" "$T/p4.st" 2 logits 5 inf
"$SCORE" --gt "$T/m.jsonl" --pred - < "$T/p4.st" > /dev/null 2> "$T/err"
st=$?
expect_error "score_refuses_inf" "^rrsis-score: error: standard input: record 2 (sample 's1'): tensor 'logits' holds +Inf at element 5$"
# rrsis-inspect shows them (--stats counts them), it does not refuse them
if [ "$("$INSPECT" --stats "$T/p1.st" | jq -s '.[1].tensors.image.nonfinite')" = 1 ]; then
    pass "inspect_counts_nan"
else
    fail "inspect_counts_nan" "$("$INSPECT" --stats "$T/p1.st" 2>&1 | head -c 300)"
fi
finish
