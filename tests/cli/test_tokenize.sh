#!/bin/sh
# rrsis-tokenize's command line, through real pipes.
# Prints "PASS: name" or "FAIL: name: why" per case; exits 1 on any failure.
#   BIN     the programs (default bin)
#   PYTHON  a Python 3 with numpy (default /usr/bin/python3), to read streams
. tests/cli/lib.sh
TOK=$BIN/rrsis-tokenize

# --- sentences from the arguments, stdin, and queries ----------------------------
out=$("$TOK" --format text 'the white plane on the left' '左边的飞机' 2> "$T/err")
expect_eq "arguments_text" "$(printf '%s\t[CLS] the white plane on the left [SEP]\t101 1996 2317 4946 2006 1996 2187 102\n%s\t[CLS] [UNK] [UNK] 的 [UNK] [UNK] [SEP]\t101 100 100 1916 100 100 102' \
    "$(sample_id 'the white plane on the left')" "$(sample_id '左边的飞机')")" "$out"

# stdin: one sentence a line, the id made from the sentence; CR LF is a line end
printf 'The Ship.\r\n\nnaïve CAFÉ\n' | "$TOK" --format json > "$T/out" 2> "$T/err"
if [ $? -eq 0 ] && [ ! -s "$T/err" ] &&
   jq -e -s --arg a "$(sample_id 'The Ship.')" --arg b "$(sample_id '')" --arg c "$(sample_id 'naïve CAFÉ')" \
      'length == 3 and (map(.id) == [$a, $b, $c])
             and .[0].sentence == "The Ship." and .[0].tokens == ["[CLS]", "the", "ship", ".", "[SEP]"]
             and .[1].tokens == ["[CLS]", "[SEP]"] and .[2].tokens == ["[CLS]", "naive", "cafe", "[SEP]"]
             and all(.[]; (.input_ids | length) == 20 and (.attention_mask | add) == (.tokens | length)
                          and .length == (.tokens | length))
             and .[0].input_ids == [101, 1996, 2911, 1012, 102, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]' \
       "$T/out" > /dev/null; then
    pass "stdin_json"
else
    fail "stdin_json" "$(cat "$T/err") $(head -c 400 "$T/out")"
fi

# queries: ids of any kind, relative images made absolute, a manifest line
mkdir -p "$T/data"
cat > "$T/data/q.jsonl" <<'EOF'
{"id": "a1", "sentence": "the plane on the left", "image": "img/1.png"}

{"id": 7, "sentence": "two ships", "image": "/abs/x.png"}
{"sentence": "no id, no image"}
{"id": "rrsisd_00017_2", "split": "test", "image": "images/00017.jpg", "width": 800, "height": 800, "sentence": "the white storage tank", "lang": "en", "type": "single", "category": "storagetank", "mask": {"png": "masks/00017_2.png"}}
EOF
dir=$(cd "$T/data" && pwd -P)
"$TOK" --format json --queries "$T/data/q.jsonl" > "$T/out" 2> "$T/err"
if [ $? -eq 0 ] && jq -e -s --arg d "$dir" --arg n "$(sample_id 'no id, no image')" \
      'map([.id, .image]) == [["a1", ($d + "/img/1.png")], ["7", "/abs/x.png"],
             [$n, null], ["rrsisd_00017_2", ($d + "/images/00017.jpg")]]
             and .[3].tokens == ["[CLS]", "the", "white", "storage", "tank", "[SEP]"]' "$T/out" > /dev/null; then
    pass "queries_json"
else
    fail "queries_json" "$(cat "$T/err") $(head -c 400 "$T/out")"
fi
# from stdin, relative paths resolve against the working folder
(cd "$T/data" && "$TOK" --format json --queries - < q.jsonl) > "$T/out" 2> "$T/err"
if [ $? -eq 0 ] && jq -e -s --arg d "$dir" '.[0].image == ($d + "/img/1.png")' "$T/out" > /dev/null; then
    pass "queries_stdin"
else
    fail "queries_stdin" "$(cat "$T/err") $(head -c 300 "$T/out")"
fi

# --- the stream: metadata and tensors, the same ids as --format json ---------------
"$TOK" --queries "$T/data/q.jsonl" > "$T/q.st" 2> "$T/err" &&
"$TOK" --format json --queries "$T/data/q.jsonl" > "$T/q.json" 2>> "$T/err"
if "$PYTHON" - "$T/q.st" "$T/q.json" "$dir" > "$T/out" 2>> "$T/err" <<'EOF'; then
import json, sys
import numpy as np
import rrsis_stream as rs
with open(sys.argv[1], "rb") as f:
    records = list(rs.read_records(f))
want = [json.loads(line) for line in open(sys.argv[2], encoding="utf-8")]
assert len(records) == len(want) == 4, len(records)
for (meta, tensors), w in zip(records, want):
    assert meta["format"] == "rrsis-stream/2" and meta["stage"] == "tokens", meta
    assert meta["id"] == w["id"] and meta["sentence"] == w["sentence"], meta
    assert meta.get("image") == w.get("image"), meta
    assert sorted(tensors) == ["attention_mask", "input_ids"], sorted(tensors)
    for name in ("input_ids", "attention_mask"):
        t = tensors[name]
        assert t.dtype == np.int32 and t.shape == (20,), (name, t.dtype, t.shape)
        assert t.tolist() == w[name], (name, t.tolist(), w[name])
assert records[0][0]["image"] == sys.argv[3] + "/img/1.png"
EOF
    pass "stream_records"
else
    fail "stream_records" "$(cat "$T/err")"
fi

# --- cutting ------------------------------------------------------------------------
long='the large white plane on the left of the long runway next to the gray hangar'
"$TOK" --format json --max-len 8 "$long" 'short one' > "$T/out" 2> "$T/err"
if [ $? -eq 0 ] && jq -e -s '.[0].input_ids == [101, 1996, 2312, 2317, 4946, 2006, 1996, 2187]
                              and .[0].attention_mask == [1, 1, 1, 1, 1, 1, 1, 1] and .[0].length == 18
                              and .[1].input_ids == [101, 2460, 2028, 102, 0, 0, 0, 0]' "$T/out" > /dev/null &&
   [ "$(cat "$T/err")" = "rrsis-tokenize: warning: 1 of 2 sentences had more than 8 ids and were cut, losing [SEP] as the reference does (--keep-sep keeps it)" ]; then
    pass "max_len_cuts_sep_and_warns"
else
    fail "max_len_cuts_sep_and_warns" "$(cat "$T/err") $(head -c 400 "$T/out")"
fi
"$TOK" --format json --max-len 8 --keep-sep "$long" > "$T/out" 2> "$T/err"
if [ $? -eq 0 ] && jq -e '.input_ids == [101, 1996, 2312, 2317, 4946, 2006, 1996, 102]' "$T/out" > /dev/null &&
   grep -q "^rrsis-tokenize: warning: 1 of 1 sentences had more than 8 ids and were cut (keeping \[SEP\])$" "$T/err"; then
    pass "keep_sep"
else
    fail "keep_sep" "$(cat "$T/err") $(head -c 400 "$T/out")"
fi
# the default of 20: 18 pieces fit, 19 lose [SEP]
out=$("$TOK" --format text 'a a a a a a a a a a a a a a a a a a' 'a a a a a a a a a a a a a a a a a a a' 2> "$T/err" | cut -f3 | awk '{ print NF, $NF }' | tr '\n' ' ')
expect_eq "default_max_len_20" "20 102 20 1037 " "$out"

# --- invalid UTF-8 -----------------------------------------------------------------
printf 'fine\nbad \377 here\nnever read\n' | "$TOK" --format text > "$T/out" 2> "$T/err"
rc=$?
if [ $rc -eq 1 ] && [ "$(cat "$T/err")" = "rrsis-tokenize: error: <stdin>:2: invalid UTF-8 at byte 5 (--lossy replaces it)" ]; then
    pass "invalid_utf8_names_the_line"
else
    fail "invalid_utf8_names_the_line" "exit $rc, stderr: $(cat "$T/err")"
fi
printf 'fine\nbad \377 here\n' | "$TOK" --format json --lossy > "$T/out" 2> "$T/err"
if [ $? -eq 0 ] && jq -e -s '.[1].tokens == ["[CLS]", "bad", "here", "[SEP]"] and .[1].sentence == "bad \ufffd here"' \
       "$T/out" > /dev/null; then
    pass "lossy"
else
    fail "lossy" "$(cat "$T/err") $(head -c 300 "$T/out")"
fi
printf '{"sentence": "x\377"}\n' > "$T/bad.jsonl"
"$TOK" --queries "$T/bad.jsonl" > /dev/null 2> "$T/err"
rc=$?
expect_eq "invalid_utf8_in_queries" "1 rrsis-tokenize: error: $T/bad.jsonl:1: invalid UTF-8 at byte 16 (--lossy replaces it)" "$rc $(cat "$T/err")"

# --- bad queries and files -----------------------------------------------------------
one_error() { # name, expected stderr, command...
    name=$1
    want=$2
    shift 2
    "$@" > /dev/null 2> "$T/err"
    rc=$?
    expect_eq "$name" "1 $want" "$rc $(cat "$T/err")"
}
printf '{"id": 1}\n' > "$T/nosentence.jsonl"
one_error "query_without_sentence" "rrsis-tokenize: error: $T/nosentence.jsonl:1: \"sentence\" is missing or not a string" \
    "$TOK" --queries "$T/nosentence.jsonl"
printf '{"sentence": "a"}\nnot json\n' > "$T/notjson.jsonl"
one_error "query_not_json" "rrsis-tokenize: error: $T/notjson.jsonl:2: malformed JSON at byte 1" \
    "$TOK" --queries "$T/notjson.jsonl"
one_error "missing_vocab" "rrsis-tokenize: error: $T/none.txt: No such file or directory" \
    "$TOK" --vocab "$T/none.txt" x
# A device named as the vocabulary: read up to a bound, then refused.
one_error "endless_vocab" "rrsis-tokenize: error: /dev/zero: over 64 MiB, not a vocabulary (BERT's is 0.2 MiB)" \
    "$TOK" --vocab /dev/zero x
one_error "missing_queries" "rrsis-tokenize: error: $T/none.jsonl: No such file or directory" \
    "$TOK" --queries "$T/none.jsonl"

# --- vocabulary and case -------------------------------------------------------------
printf '[PAD]\n[UNK]\n[CLS]\n[SEP]\nThe\nthe\n' > "$T/vocab.txt"
out=$("$TOK" --format text --vocab "$T/vocab.txt" --cased 'The the THE' 2>&1)
expect_eq "cased_vocab" "$(printf '%s\t[CLS] The the [UNK] [SEP]\t2 4 5 1 3' "$(sample_id 'The the THE')")" "$out"

# --- the command line ----------------------------------------------------------------
usage_error() { # name, args...
    name=$1
    shift
    "$TOK" "$@" < /dev/null > "$T/out" 2> "$T/err"
    rc=$?
    if [ $rc -eq 2 ] && [ ! -s "$T/out" ] && grep -q "^Try 'rrsis-tokenize --help' for more information.$" "$T/err"; then
        pass "$name"
    else
        fail "$name" "exit $rc, stderr: $(cat "$T/err")"
    fi
}
usage_error "unknown_option" --bogus x
usage_error "max_len_too_small" --max-len 1 x
usage_error "max_len_not_a_number" --max-len twenty x
usage_error "bad_format" --format xml x
usage_error "arguments_and_queries" --queries "$T/data/q.jsonl" x

# --help, --version and the agreement of --help, the man page and the
# completions: tests/cli/test_conventions.sh, for every program.

# --- output errors ---------------------------------------------------------------------
if [ -n "$FULL" ]; then
    for format in stream text json; do
        "$TOK" --format $format 'the plane' > "$FULL" 2> "$T/err"
        rc=$?
        if [ $rc -eq 1 ] && [ "$(wc -l < "$T/err" | tr -d ' ')" = 1 ] &&
           grep -q "^rrsis-tokenize: error: .*No space left on device" "$T/err"; then
            pass "full_disk_$format"
        else
            fail "full_disk_$format" "exit $rc, stderr: $(cat "$T/err")"
        fi
    done
else
    echo "SKIP: full_disk: /dev/full is not a character device here"
fi

# many sentences into a pipe that head closes: no message
{ awk 'BEGIN { for (i = 0; i < 20000; i++) print "the white plane on the left" }' |
      "$TOK" 2> "$T/err"; echo $? > "$T/rc"; } | head -c 10 > /dev/null
rc=$(cat "$T/rc")
if [ ! -s "$T/err" ] && [ "$rc" != 1 ]; then
    pass "closed_pipe_is_quiet"
else
    fail "closed_pipe_is_quiet" "exit $rc, stderr: $(cat "$T/err")"
fi

finish
