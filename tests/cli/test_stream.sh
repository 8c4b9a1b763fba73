#!/bin/sh
# Tensor streams between C and Python, and rrsis-inspect's command line.
# Prints "PASS: name" or "FAIL: name: why" per case; exits 1 on any failure.
#   BIN     the programs (default bin)
#   PYTHON  a Python 3 with numpy (default /usr/bin/python3)
. tests/cli/lib.sh
INSPECT=$BIN/rrsis-inspect

# A stream of every dtype, NaN and infinities, awkward metadata, an empty tensor.
"$PYTHON" - "$T/py.st" <<'EOF' || { echo "FAIL: setup: cannot write a stream with $PYTHON"; exit 1; }
import sys
import numpy as np
import rrsis_stream as rs
rng = np.random.default_rng(7)
with open(sys.argv[1], "wb") as f, rs.StreamWriter(f) as w:
    for i in range(5):
        meta = {"format": rs.FORMAT, "stage": "encoded", "id": f"s{i}",
                "sentence": 'the "white" plane\non the left \u00e9\t\\'}
        tensors = {
            "image": rng.standard_normal((1, 3, 5, 5)).astype(np.float32),
            "text": rs.to_bf16(rng.standard_normal((1, 4, 6))),
            "half": rng.standard_normal(7).astype(np.float16),
            "f64": np.array([1.0, np.nan, -np.inf, 2.5]),
            "ids": rng.integers(0, 30000, (1, 20)).astype(np.int32),
            "big": np.array([2**40, -3], np.int64),
            "mask": np.array([[True, False, True]]),
            "u8": np.arange(9, dtype=np.uint8).reshape(3, 3),
            "empty": np.zeros((0, 4), np.float32),
            "scalar": np.float32(3.25),
        }
        for dt in ("i1", "i2", "u2", "u4", "u8"):
            tensors["x_" + dt] = np.arange(3).astype(dt)
        w.write(meta, tensors)
EOF

# --- C reads what Python wrote -------------------------------------------------
if "$INSPECT" "$T/py.st" > "$T/out" 2> "$T/err"; then
    if [ "$(lines "$T/out")" = 5 ] &&
       jq -e -s 'length == 5 and .[4].record == 5 and .[4].metadata.id == "s4"
                 and .[0].metadata.sentence == "the \"white\" plane\non the left \u00e9\t\\"
                 and .[0].tensors.image == {"dtype": "F32", "shape": [1, 3, 5, 5]}
                 and .[0].tensors.text.dtype == "BF16" and .[0].tensors.scalar.shape == []
                 and .[0].tensors.empty.shape == [0, 4] and (.[0].tensors | length) == 15' \
           "$T/out" > /dev/null; then
        pass "inspect_reads_python_stream"
    else
        fail "inspect_reads_python_stream" "unexpected summary: $(head -c 300 "$T/out")"
    fi
else
    fail "inspect_reads_python_stream" "exit $?: $(cat "$T/err")"
fi

if "$INSPECT" --stats "$T/py.st" > "$T/out" 2> "$T/err" &&
   jq -e -s '.[0].tensors.f64 | .min == 1 and .max == 2.5 and .mean == 1.75 and .nonfinite == 2' \
       "$T/out" > /dev/null &&
   jq -e -s '.[0].tensors.empty.min == null and .[0].tensors.ids.min == null and .[0].tensors.image.max > .[0].tensors.image.min' \
       "$T/out" > /dev/null; then
    pass "inspect_stats"
else
    fail "inspect_stats" "$(cat "$T/err") $(head -c 300 "$T/out")"
fi

out=$("$INSPECT" --count "$T/py.st" - < "$T/py.st" 2>&1)
[ "$out" = 10 ] && pass "inspect_count" || fail "inspect_count" "got '$out'"

# --- Python -> C --copy -> Python, and C -> Python -> C --------------------------
if "$INSPECT" --copy "$T/py.st" > "$T/c.st" 2> "$T/err"; then
    if cmp -s "$T/py.st" "$T/c.st"; then
        pass "c_and_python_writers_agree"
    else
        fail "c_and_python_writers_agree" "C re-serialised a Python stream differently"
    fi
    if "$PYTHON" - "$T/py.st" "$T/c.st" > "$T/err" 2>&1 <<'EOF'
import sys
import numpy as np
import rrsis_stream as rs
a = list(rs.read_records(open(sys.argv[1], "rb"), bf16="raw"))
b = list(rs.read_records(open(sys.argv[2], "rb"), bf16="raw"))
assert len(a) == len(b) == 5, (len(a), len(b))
for (ma, ta), (mb, tb) in zip(a, b):
    assert ma == mb, (ma, mb)
    assert list(ta) == list(tb) and ta.keys() == tb.keys()
    for k in ta:
        assert ta[k].dtype == tb[k].dtype and ta[k].shape == tb[k].shape, k
        assert ta[k].tobytes() == tb[k].tobytes(), k
# bf16 as float32: the values the C library reads
(m, t), = list(rs.read_records(open(sys.argv[2], "rb")))[:1]
assert t["text"].dtype == np.float32
EOF
    then
        pass "python_reads_c_stream"
    else
        fail "python_reads_c_stream" "$(tail -n 3 "$T/err")"
    fi
    if "$PYTHON" "tools/rrsis_stream.py" < "$T/c.st" > "$T/pyc.st" 2> "$T/err" &&
       cmp -s "$T/c.st" "$T/pyc.st"; then
        pass "python_round_trip_keeps_bytes"
    else
        fail "python_round_trip_keeps_bytes" "$(cat "$T/err")"
    fi
else
    fail "inspect_copy" "exit $?: $(cat "$T/err")"
fi

# --- bad input: one line on stderr, exit 1 -------------------------------------
one_error() { # name, expected start of the message, command...
    name=$1 want=$2
    shift 2
    "$@" > /dev/null 2> "$T/err"
    rc=$?
    if [ $rc -eq 1 ] && [ "$(lines "$T/err")" = 1 ] && grep -q "^rrsis-inspect: error: $want" "$T/err"; then
        pass "$name"
    else
        fail "$name" "exit $rc, stderr: $(cat "$T/err")"
    fi
}
# 5 bytes short of the last record (the end mark after it takes 80 bytes:
# its length and a header of 72)
size=$(wc -c < "$T/py.st")
head -c $((size - 80 - 5)) "$T/py.st" > "$T/cut.st"
one_error "truncated_stream" "standard input: record 5: truncated: expected [0-9]* data bytes, got" \
    sh -c '"$1" < "$2"' sh "$INSPECT" "$T/cut.st"
one_error "truncated_file_named" "$T/cut.st: record 5: truncated" "$INSPECT" --count "$T/cut.st"
head -c 100 /dev/urandom > "$T/random"
# (random bytes may, rarely, look like text: either message names the input)
one_error "random_bytes" "standard input: " sh -c '"$1" < "$2"' sh "$INSPECT" "$T/random"
one_error "missing_file" "$T/nope: No such file or directory" "$INSPECT" "$T/nope"
if "$PYTHON" "tools/rrsis_stream.py" < "$T/cut.st" > /dev/null 2> "$T/err"; then
    fail "python_detects_truncation" "accepted a truncated stream"
else
    grep -q "record 5: truncated" "$T/err" && pass "python_detects_truncation" ||
        fail "python_detects_truncation" "$(cat "$T/err")"
fi
: > "$T/empty"
one_error "empty_input" "$T/empty: the stream is empty, without even its end mark" "$INSPECT" --count "$T/empty"

# --- the command line ----------------------------------------------------------
usage_error() { # name, args...
    name=$1
    shift
    "$INSPECT" "$@" < /dev/null > "$T/out" 2> "$T/err"
    rc=$?
    if [ $rc -eq 2 ] && [ ! -s "$T/out" ] && grep -q "^Try 'rrsis-inspect --help' for more information.$" "$T/err"; then
        pass "$name"
    else
        fail "$name" "exit $rc, stderr: $(cat "$T/err")"
    fi
}
usage_error "unknown_option" --bogus
usage_error "options_exclude_each_other" --count --stats

# --help, --version and the agreement of --help, the man page and the
# completions: tests/cli/test_conventions.sh, for every program.

# --- output errors ---------------------------------------------------------------
if [ -n "$FULL" ]; then
    for mode in summary --copy; do
        [ $mode = summary ] && set -- "$T/py.st" || set -- --copy "$T/py.st"
        "$INSPECT" "$@" > "$FULL" 2> "$T/err"
        rc=$?
        if [ $rc -eq 1 ] && [ "$(lines "$T/err")" = 1 ] && grep -q "^rrsis-inspect: error: .*No space left on device" "$T/err"; then
            pass "full_disk_$mode"
        else
            fail "full_disk_$mode" "exit $rc, stderr: $(cat "$T/err")"
        fi
    done
fi

# a stream long enough to fill a pipe, cut short by head: no message
"$PYTHON" - "$T/long.st" <<'EOF'
import sys
import numpy as np
import rrsis_stream as rs
with open(sys.argv[1], "wb") as f, rs.StreamWriter(f) as w:
    for i in range(3000):
        w.write({"format": rs.FORMAT, "stage": "tokens", "id": str(i)}, {"ids": np.zeros((1, 20), np.int32)})
EOF
{ "$INSPECT" "$T/long.st" 2> "$T/err"; echo $? > "$T/rc"; } | head -c 10 > /dev/null
rc=$(cat "$T/rc")
if [ ! -s "$T/err" ] && [ "$rc" != 1 ]; then
    pass "closed_pipe_is_quiet"
else
    fail "closed_pipe_is_quiet" "exit $rc, stderr: $(cat "$T/err")"
fi

finish
