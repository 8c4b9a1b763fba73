#!/bin/sh
# Weight files in other dtypes (tools/weights_dtype.py) through the real
# programs: a bf16 copy of the demo model is half the size, holds the bf16
# rounding of every f32 value with checksums of its own bytes, and runs the
# pipeline; the same values stored as f32 (used in place from the mapping)
# give the same masks as the bf16 file (converted at load).  Bad inputs get
# one-line errors.
# Prints "PASS: name" or "FAIL: name: why" per case; exits 1 on any failure.
#   BIN     the programs (default bin)
#   PYTHON  a Python 3 with numpy (default /usr/bin/python3)
. tests/cli/lib.sh
W=share/models/mrsnet-nano-synth.safetensors
CONV="$PYTHON tools/weights_dtype.py"
unset RRSIS_MODEL

# check NAME PYTHON-CODE: passes when the code (rs = rrsis_stream, T the
# scratch folder) sets ok true.
check() {
    if "$PYTHON" -c "import sys, numpy as np, rrsis_stream as rs
T = sys.argv[1]
$2
sys.exit(0 if ok else 1)" "$T" 2>"$T/perr"; then
        pass "$1"
    else
        fail "$1" "$(tail -n 1 "$T/perr")"
    fi
}

$CONV --dtype bf16 -o "$T/bf16.safetensors" "$W" 2>"$T/err" || fail "convert_to_bf16" "$(head -c 300 "$T/err")"
$CONV --dtype f32 -o "$T/back.safetensors" "$T/bf16.safetensors" 2>"$T/err" ||
    fail "convert_back_to_f32" "$(head -c 300 "$T/err")"
size() { wc -c <"$1" | tr -d ' '; }
a=$(size "$W") b=$(size "$T/bf16.safetensors")
[ $((b * 2)) -lt $((a + a / 20)) ] && [ $((b * 2)) -gt $((a - a / 20)) ] && pass "bf16_is_half_the_size" ||
    fail "bf16_is_half_the_size" "$b bytes against $a" # within 5%: the metadata is the same size

# the values: every tensor BF16, the rounding of the f32 value; back in f32, exactly those
check "bf16_values_are_the_rounded_f32_values" "
f = lambda p: next(rs.read_records(open(p, 'rb'), bf16='raw'))
(m32, t32), (m16, t16), (mb, tb) = f('$W'), f(T + '/bf16.safetensors'), f(T + '/back.safetensors')
rs.verify_checksums(m16, t16); rs.verify_checksums(mb, tb)
ok = (all(t16[n].dtype == rs.BF16 and (rs.to_bf16(t32[n]).view('<u2') == t16[n].view('<u2')).all() and
    tb[n].dtype == np.float32 and (rs.from_bf16(t16[n]) == tb[n]).all() for n in t32) and
m16['config'] == m32['config'] and 'checksums' not in m16 and sorted(t16) == sorted(t32))"

# the pipeline: bf16 (converted at load) and the same values in f32 (in place) give the same masks
"$BIN/rrsis-synth" -q -n 4 --seed 11 -o "$T/syn" || { fail "setup" "rrsis-synth failed"; finish; exit; }
run() {
    "$BIN/rrsis-tokenize" --queries "$T/syn/test.jsonl" | "$BIN/rrsis-encode" -m "$1" | "$BIN/rrsis-fuse" -m "$1" |
        "$BIN/rrsis-decode" -m "$1" --outdir "$2" >/dev/null 2>"$T/err"
}
for v in bf16 back; do
    if run "$T/$v.safetensors" "$T/masks-$v" && [ "$(ls "$T/masks-$v" | wc -l)" = "$(lines "$T/syn/test.jsonl")" ]; then
        pass "pipeline_runs_on_$v"
    else
        fail "pipeline_runs_on_$v" "$(head -c 300 "$T/err")"
    fi
done
same=1
for f in "$T"/masks-bf16/*; do cmp -s "$f" "$T/masks-back/${f##*/}" || same=0; done
expect_eq "bf16_and_f32_of_the_same_values_give_the_same_masks" 1 "$same"

# bad inputs
st=0
$CONV -o "$T/x.safetensors" "$W" 2>"$T/err" || st=$?
[ $st = 2 ] && grep -q "the following arguments are required: --dtype" "$T/err" && pass "usage_without_dtype" ||
    fail "usage_without_dtype" "exit $st: $(head -c 300 "$T/err")"
# a damaged tensor: the checksum says so, nothing is written
"$PYTHON" -c '
import sys, rrsis_stream as rs
m, t = next(rs.read_records(open(sys.argv[1], "rb"), bf16="raw"))
t = dict(t); n = "classifier.conv1_1.bias"; t[n] = t[n] + 1
rs.write_record(open(sys.argv[2], "wb"), m, t)' "$W" "$T/bad.safetensors"
st=0
$CONV --dtype bf16 -o "$T/y.safetensors" "$T/bad.safetensors" 2>"$T/err" || st=$?
expect_eq "damaged_input_is_refused" \
    "1 weights_dtype.py: error: $T/bad.safetensors: tensor 'classifier.conv1_1.bias' fails its checksum: the file is corrupt 1 no" \
    "$st $(cat "$T/err") $(lines "$T/err") $([ -e "$T/y.safetensors" ] && echo yes || echo no)"
# a stream of several records is no weight file
"$PYTHON" -c '
import sys, numpy as np, rrsis_stream as rs
with open(sys.argv[1], "wb") as f:
    rs.write_record(f, {"format": rs.FORMAT, "id": "a"}, {"x": np.zeros(2, "<f4")})
    rs.write_record(f, {"format": rs.FORMAT, "id": "b"}, {"x": np.zeros(2, "<f4")})
    rs.write_end(f, 2)' "$T/two.st"
st=0
$CONV --dtype bf16 -o "$T/z.safetensors" "$T/two.st" 2>"$T/err" || st=$?
expect_eq "stream_is_refused" "1 weights_dtype.py: error: $T/two.st: holds 2 records; a weight file is one" \
    "$st $(cat "$T/err")"
st=0
$CONV --dtype bf16 -o "$T/z.safetensors" "$T/none.safetensors" 2>"$T/err" || st=$?
expect_eq "missing_input_is_named" "1 weights_dtype.py: error: $T/none.safetensors: No such file or directory" \
    "$st $(cat "$T/err")"
finish
