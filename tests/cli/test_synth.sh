#!/bin/sh
# rrsis-synth's command line: the folder it writes, the same bytes from the
# same seed, manifests that pass the checker, its own masks scoring 100,
# and its usage errors.
# Prints "PASS: name" or "FAIL: name: why" per case; exits 1 on any failure.
#   BIN  the programs (default bin)
. tests/cli/lib.sh
SYN=$BIN/rrsis-synth
SCORE=$BIN/rrsis-score

# --- the folder layout ------------------------------------------------------------
"$SYN" -n 61 --seed 7 -o "$T/a" 2> "$T/err"
st=$?
if [ $st -eq 0 ] && [ -d "$T/a/images" ] && [ -d "$T/a/masks" ] && [ -f "$T/a/test.jsonl" ] &&
   [ ! -e "$T/a/train.jsonl" ] && [ ! -e "$T/a/val.jsonl" ] &&
   [ "$(lines "$T/a/test.jsonl")" = 61 ] && [ "$(ls "$T/a/images" | wc -l | tr -d ' ')" = 31 ] &&
   [ "$(ls "$T/a/masks" | wc -l | tr -d ' ')" = 61 ] && [ -z "$(ls -A "$T/a" | grep '^\.')" ]; then
    pass "layout"
else
    fail "layout" "exit $st: $(cat "$T/err") $(ls -A "$T/a")"
fi
# the summary on stderr, nothing on stdout
if grep -q "^rrsis-synth: 61 samples on 31 images of 128x128" "$T/err" &&
   grep -q "types: single 37, multi 15, none 9" "$T/err"; then
    pass "summary"
else
    fail "summary" "$(cat "$T/err")"
fi

# every line: the fields, relative paths that exist, the mask null exactly for none,
# the types in exact proportion (0.15 and 0.25 of 61: 9 and 15)
if jq -e -s 'length == 61
      and all(.[]; (keys == ["category","height","id","image","lang","mask","sentence","split","type","width"])
                   and .split == "test" and .lang == "en" and .width == 128 and .height == 128
                   and (.id | test("^test_[0-9]{6}_[01]$"))
                   and .image == ("images/" + (.id | .[0:11]) + ".png")
                   and (if .type == "none" then .mask == null else .mask == {png: ("masks/" + .id + ".png")} end)
                   and (.category | IN("airplane","ship","vehicle","storagetank","building","tenniscourt"))
                   and (.sentence | test("^[a-z ]+$")))
      and (map(.id) | unique | length) == 61
      and (map(select(.type == "none")) | length) == 9
      and (map(select(.type == "multi")) | length) == 15' "$T/a/test.jsonl" > /dev/null; then
    pass "manifest_fields"
else
    fail "manifest_fields" "$(head -c 600 "$T/a/test.jsonl")"
fi
missing=$(jq -r '.image, (.mask.png // empty)' "$T/a/test.jsonl" | while read -r f; do
    [ -s "$T/a/$f" ] || echo "$f"; done)
expect_eq "files_exist" "" "$missing"

# the sentences tokenize without [UNK] and within 20 ids
if [ -x "$BIN/rrsis-tokenize" ]; then
    jq -r .sentence "$T/a/test.jsonl" | "$BIN/rrsis-tokenize" --format json > "$T/tok" 2> "$T/err"
    if [ $? -eq 0 ] && jq -e -s 'length == 61 and all(.[]; (.tokens | index("[UNK]") | not) and .length <= 20)' \
        "$T/tok" > /dev/null; then
        pass "tokenize"
    else
        fail "tokenize" "$(cat "$T/err") $(grep -m1 UNK "$T/tok")"
    fi
fi

# --- the checker and the scorer -----------------------------------------------------
if [ -x "$SCORE" ]; then
    if "$SCORE" --check="$T/a/test.jsonl" --check-level=images > "$T/out" 2>&1; then
        pass "score_check"
    else
        fail "score_check" "$(head -c 600 "$T/out")"
    fi
    # its own masks as predictions: 100 under gres (no-target samples included);
    # under rmsin the mIoU is the share of targeted samples (52 of 61)
    "$SCORE" --gt="$T/a/test.jsonl" --pred="$T/a/masks" --format=json > "$T/score" 2> "$T/err"
    if [ $? -eq 0 ] && jq -e '.gres.all | .giou == 100 and .ciou == 100 and .nacc == 100 and .tacc == 100
            and .p50 == 100 and .p90 == 100' "$T/score" > /dev/null &&
       jq -e '.rmsin.all.miou * 61 | . > 5199.999 and . < 5200.001' "$T/score" > /dev/null; then
        pass "score_own_masks"
    else
        fail "score_own_masks" "$(cat "$T/err") $(head -c 600 "$T/score")"
    fi
else
    echo "rrsis-score not built: the manifests checked with jq only"
fi

# --- the same seed, the same bytes ------------------------------------------------
"$SYN" -n 61 --seed 7 -o "$T/b" -q 2> "$T/err"
same=yes
for f in $(cd "$T/a" && find . -type f | sort); do
    cmp -s "$T/a/$f" "$T/b/$f" || { same="$f differs"; break; }
done
[ "$(cd "$T/a" && find . -type f | sort)" = "$(cd "$T/b" && find . -type f | sort)" ] || same="other files"
expect_eq "same_seed_same_bytes" "yes" "$same"
# one thread or many: the same bytes
OMP_NUM_THREADS=1 "$SYN" -n 61 --seed 7 -o "$T/c" -q 2> "$T/err" &&
    cmp -s "$T/a/test.jsonl" "$T/c/test.jsonl" && cmp -s "$T/a/images/test_000030.png" "$T/c/images/test_000030.png" &&
    cmp -s "$T/a/masks/test_000017_1.png" "$T/c/masks/test_000017_1.png"
expect_eq "threads_same_bytes" "0" "$?"
"$SYN" -n 61 --seed 8 -o "$T/d" -q 2> "$T/err"
if cmp -s "$T/a/test.jsonl" "$T/d/test.jsonl" || cmp -s "$T/a/images/test_000000.png" "$T/d/images/test_000000.png"; then
    fail "other_seed" "seeds 7 and 8 gave the same data"
else
    pass "other_seed"
fi

# --- splits -----------------------------------------------------------------------
"$SYN" -n 50 --split -s 3 -o "$T/s" -q 2> "$T/err" &&
    [ "$(lines "$T/s/train.jsonl")" = 40 ] && [ "$(lines "$T/s/val.jsonl")" = 5 ] && [ "$(lines "$T/s/test.jsonl")" = 5 ] &&
    jq -e -s 'all(.[]; .split == (.id | split("_")[0]))' "$T/s/train.jsonl" "$T/s/val.jsonl" "$T/s/test.jsonl" > /dev/null
expect_eq "split" "0" "$?"
# disjoint seeds: no image of one split equals one of another
dup=$(cd "$T/s/images" && cksum * | awk '{print $1 " " $2}' | sort | uniq -d)
expect_eq "splits_disjoint" "" "$dup"
"$SYN" --train 6 --test 3 --size 96 -k 3 --preset easy --none-fraction 0 --multi-fraction 0 -o "$T/e" -q 2> "$T/err" &&
    [ "$(lines "$T/e/train.jsonl")" = 6 ] && [ ! -e "$T/e/val.jsonl" ] && [ "$(lines "$T/e/test.jsonl")" = 3 ] &&
    jq -e -s 'all(.[]; .type == "single" and .width == 96
                       and (.category | IN("airplane","ship","vehicle","storagetank"))
                       and (.sentence | test("heading|next to|beside|green") | not))
              and (map(.image) | unique | length) == 3' "$T/e/train.jsonl" "$T/e/test.jsonl" > /dev/null
expect_eq "counts_size_preset" "0" "$?"
# --object-scale: other scenes, as many samples (the scaling itself: test_synth.c)
"$SYN" -n 6 -s 9 -o "$T/std" -q 2> "$T/err" && "$SYN" -n 6 -s 9 --object-scale 1.5 -o "$T/big" -q 2> "$T/err" &&
    [ "$(lines "$T/big/test.jsonl")" = 6 ] && ! cmp -s "$T/big/images/test_000000.png" "$T/std/images/test_000000.png"
expect_eq "object_scale" "0" "$?"

# --- a folder that is not empty ---------------------------------------------------
mkdir "$T/busy" && echo keep > "$T/busy/notes.txt"
"$SYN" -n 4 -o "$T/busy" > "$T/out" 2> "$T/err"
st=$?
if [ $st -eq 1 ] && grep -q "^rrsis-synth: error: .*not empty" "$T/err" && [ "$(ls "$T/busy")" = notes.txt ] && [ ! -s "$T/out" ]; then
    pass "not_empty_refused"
else
    fail "not_empty_refused" "exit $st: $(cat "$T/err") $(ls "$T/busy")"
fi
"$SYN" -n 4 -o "$T/busy" --force -q 2> "$T/err" && [ -f "$T/busy/notes.txt" ] && [ "$(lines "$T/busy/test.jsonl")" = 4 ]
expect_eq "force" "0" "$?"
# an output that cannot be made: exit 1, one line
echo x > "$T/file"
"$SYN" -n 4 -o "$T/file/sub" 2> "$T/err"
st=$?
if [ $st -eq 1 ] && [ "$(lines "$T/err")" = 1 ] && grep -q "^rrsis-synth: error: " "$T/err"; then
    pass "bad_output"
else
    fail "bad_output" "exit $st: $(cat "$T/err")"
fi

# --- usage errors: exit 2 and a Try line ------------------------------------------
usage() {
    name=$1
    shift
    "$SYN" "$@" > "$T/out" 2> "$T/err"
    st=$?
    if [ $st -eq 2 ] && grep -q "Try 'rrsis-synth --help'" "$T/err" && [ ! -s "$T/out" ]; then
        pass "usage_$name"
    else
        fail "usage_$name" "exit $st: $(cat "$T/err")"
    fi
}
usage no_output -n 5
usage zero_count -n 0 -o "$T/u"
usage bad_count -n ten -o "$T/u"
usage small_size --size 32 -o "$T/u"
usage big_fraction --none-fraction 1.5 -o "$T/u"
usage fractions_sum --none-fraction 0.6 --multi-fraction 0.5 -o "$T/u"
usage bad_seed --seed -1 -o "$T/u"
usage bad_preset --preset hard -o "$T/u"
usage big_object_scale --object-scale 2.5 -o "$T/u"
usage small_object_scale --object-scale 0.5 -o "$T/u"
usage bad_object_scale --object-scale large -o "$T/u"
usage per_image -k 0 -o "$T/u"
usage count_and_train -n 5 --train 5 -o "$T/u"
usage all_zero --train 0 --val 0 -o "$T/u"
usage operand -o "$T/u" extra
[ ! -e "$T/u" ] && pass "usage_writes_nothing" || fail "usage_writes_nothing" "$T/u exists"

finish
