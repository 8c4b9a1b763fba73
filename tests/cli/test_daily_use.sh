#!/bin/sh
# What a user meets every day, through the real programs: sample ids that do
# not collide between runs and files that are not silently replaced; output
# folders made as mkdir -p makes them; progress on a terminal (a
# pseudo-terminal from util-linux's script) and silence on a pipe; messages
# that say which option wants what; and many images tokenized without
# writing JSON Lines by hand (rrsis-tokenize --images and --sentences).
# Prints "PASS: name" or "FAIL: name: why" per case; exits 1 on any failure.
#   BIN     the programs (default bin)
#   PYTHON  a Python 3 with numpy (default /usr/bin/python3)
. tests/cli/lib.sh
TOK=$BIN/rrsis-tokenize
ENC=$BIN/rrsis-encode
FUSE=$BIN/rrsis-fuse
DEC=$BIN/rrsis-decode
W=share/models/mrsnet-nano-synth.safetensors
unset RRSIS_MODEL

# expect_error NAME STATUS PATTERN: the last command ($st) exited STATUS with
# one line matching PATTERN first on stderr ($T/err).
expect_error() {
    if [ "$st" -eq "$2" ] && grep -q -- "$3" "$T/err" && [ "$(head -n 1 "$T/err" | grep -c -- "$3")" = 1 ]; then
        pass "$1"
    else
        fail "$1" "exit $st, stderr: $(head -c 300 "$T/err")"
    fi
}

"$BIN/rrsis-synth" -q -n 6 -k 2 --size 64 --seed 4 -o "$T/syn" || { fail "setup" "rrsis-synth failed"; finish; exit; }
IM0=$T/syn/images/test_000000.png
IM1=$T/syn/images/test_000001.png

# one image and one sentence, through the whole pipeline, decoder options last
one() {
    img=$1 sentence=$2
    shift 2
    "$TOK" "$sentence" | "$ENC" -m "$W" --image "$img" | "$FUSE" -m "$W" | "$DEC" -m "$W" "$@"
}

# --- ids: two single-image runs into one folder keep both masks ---------------------
one "$IM0" "the red plane" --outdir "$T/m" > "$T/a.json" 2> "$T/err" &&
    one "$IM1" "the red plane" --outdir "$T/m" > "$T/b.json" 2>> "$T/err"
st=$?
a=$(sample_id "the red plane" "$IM0")
b=$(sample_id "the red plane" "$IM1")
if [ $st -eq 0 ] && [ "$(ls "$T/m" | sort | tr '\n' ' ')" = "$a.png $b.png " ] &&
    jq -e --arg id "$a" '.id == $id' "$T/a.json" > /dev/null && jq -e --arg id "$b" '.id == $id' "$T/b.json" > /dev/null; then
    pass "ids_of_two_images_do_not_collide"
else
    fail "ids_of_two_images_do_not_collide" "exit $st, files: $(ls "$T/m" | tr '\n' ' ') $(cat "$T/err")"
fi

# the same image and sentence again: the mask is there, and stays
cp "$T/m/$a.png" "$T/keep.png"
one "$IM0" "the red plane" --outdir "$T/m" > /dev/null 2> "$T/err"
st=$?
expect_error "existing_mask_is_not_replaced" 1 "^rrsis-decode: error: record 1 (id '$a'): $T/m/$a.png exists (.*); --force overwrites it$"
one "$IM0" "the red plane" --outdir "$T/m" --overlay "$T/ov" --force > /dev/null 2> "$T/err" &&
    one "$IM0" "the red plane" --overlay "$T/ov" > /dev/null 2>> "$T/err"
st=$?
expect_error "existing_overlay_is_not_replaced" 1 "$T/ov/$a.png exists"
if one "$IM0" "the red plane" --outdir "$T/m" --overlay "$T/ov" -f > /dev/null 2> "$T/err" && [ ! -s "$T/err" ] &&
    cmp -s "$T/keep.png" "$T/m/$a.png"; then
    pass "force_replaces"
else
    fail "force_replaces" "$(cat "$T/err")"
fi

# a manifest's own ids are kept; queries without one get the image's name
printf '{"sentence": "all cars", "image": "images/test_000001.png"}\n{"id": "q7", "sentence": "x"}\n' > "$T/syn/q.jsonl"
"$TOK" --format json --queries "$T/syn/q.jsonl" > "$T/out" 2> "$T/err"
st=$?
if [ $st -eq 0 ] && jq -e -s --arg a "$(sample_id "all cars" test_000001.png)" 'map(.id) == [$a, "q7"]' "$T/out" > /dev/null; then
    pass "query_ids"
else
    fail "query_ids" "exit $st: $(cat "$T/err") $(head -c 300 "$T/out")"
fi

# --- folders: made with their parents, as the help says ------------------------------
if one "$IM0" "the ship" --outdir "$T/a/b/c" --overlay "$T/o/p" > /dev/null 2> "$T/err" &&
    [ -f "$T/a/b/c/$(sample_id "the ship" "$IM0").png" ] && [ -f "$T/o/p/$(sample_id "the ship" "$IM0").png" ] &&
    one "$IM0" "the ship" -o "$T/x/y/mask.png" > /dev/null 2>> "$T/err" && [ -f "$T/x/y/mask.png" ]; then
    pass "decode_makes_folders"
else
    fail "decode_makes_folders" "$(cat "$T/err")"
fi
: > "$T/file"
one "$IM0" "the ship" --outdir "$T/file/masks" > /dev/null 2> "$T/err"
st=$?
expect_error "outdir_under_a_file" 1 "^rrsis-decode: error: $T/file/masks: '$T/file' is not a folder$"

if "$BIN/rrsis-synth" -q -n 2 --size 64 -o "$T/deep/er/syn" 2> "$T/err" && [ -f "$T/deep/er/syn/test.jsonl" ]; then
    pass "synth_makes_folders"
else
    fail "synth_makes_folders" "$(cat "$T/err")"
fi

if "$BIN/rrsis-score" --gt "$T/syn/test.jsonl" --pred "$T/syn/masks" --per-sample "$T/s/t/per.jsonl" > /dev/null 2> "$T/err" &&
    [ "$(lines "$T/s/t/per.jsonl")" = 6 ]; then
    pass "score_per_sample_makes_folders"
else
    fail "score_per_sample_makes_folders" "$(cat "$T/err")"
fi

"$BIN/rrsis-synth" -q --train 4 --val 2 --size 64 -o "$T/tr" || fail "setup_train" "rrsis-synth failed"
jq '.image_size = 64' share/configs/mrsnet-nano.json > "$T/nano64.json"
train() {
    "$BIN/rrsis-train" -c "$T/nano64.json" --train "$T/tr/train.jsonl" --val "$T/tr/val.jsonl" --batch 2 \
        --max-steps 1 --ckpt-every 0 "$@"
}
if train -o "$T/runs/b" > /dev/null 2> "$T/err" && [ -f "$T/runs/b/last.safetensors" ]; then
    pass "train_makes_folders"
else
    fail "train_makes_folders" "$(tail -n 3 "$T/err")"
fi

# --- messages: which option wants what ------------------------------------------------
"$BIN/rrsis-score" --gt "$T/syn/masks/" --pred "$T/syn/test.jsonl" > /dev/null 2> "$T/err"
st=$?
expect_error "score_swapped_options" 2 "^rrsis-score: --gt: '$T/syn/masks/' is a folder; --gt takes the manifest (JSON Lines) and --pred the folder of masks"

"$PYTHON" - "$T/bad.safetensors" <<'EOF' || fail "setup_init" "cannot write the weights"
import sys
import numpy as np
import rrsis_stream as rs
with open(sys.argv[1], "wb") as f:
    rs.write_record(f, {"format": "rrsis-weights/1"},
                    {"text_encoder.embeddings.position_embeddings.weight": np.zeros((3, 4), np.float32)})
EOF
mkdir "$T/init"
train -o "$T/init" --init "$T/bad.safetensors" > /dev/null 2> "$T/err"
st=$?
if [ $st -eq 1 ] && grep -q "tensor 'text_encoder.embeddings.position_embeddings.weight' has shape [0-9]*x[0-9]* in the model but 3x4 in the weights" "$T/err"; then
    pass "init_shape_mismatch_names_both_shapes"
else
    fail "init_shape_mismatch_names_both_shapes" "exit $st: $(tail -n 2 "$T/err")"
fi

# --- progress: on a terminal, and only there --------------------------------------------
"$TOK" --queries "$T/syn/test.jsonl" > "$T/tok.st"
"$ENC" -m "$W" < "$T/tok.st" > "$T/enc.st"
"$FUSE" -m "$W" < "$T/enc.st" > "$T/fused.st"
# on_tty NAME COMMAND: runs the shell command with a pseudo-terminal as its
# standard error (its other files redirected), the terminal's text in $T/NAME.tty
on_tty() {
    script -qec "$2" /dev/null < /dev/null > "$T/$1.tty" 2>&1
}
for p in encode:"$ENC -m $W < $T/tok.st > $T/e2.st" fuse:"$FUSE -m $W < $T/enc.st > $T/f2.st" \
    decode:"$DEC -m $W --force --outdir $T/pm < $T/fused.st > $T/d.json" \
    synth:"$BIN/rrsis-synth -n 4 --size 64 -f -o $T/ps" \
    score:"$BIN/rrsis-score --gt $T/syn/test.jsonl --pred $T/syn/masks > /dev/null"; do
    name=${p%%:*} cmd=${p#*:}
    on_tty "$name" "$cmd"
    st=$?
    case $name in
    synth) want="test: 2/2 images" ;;
    score) want="/6 masks scored" ;;
    *) want="rrsis-$name: 6 records, " ;;
    esac
    if [ $st -eq 0 ] && grep -q "$want" "$T/$name.tty" && grep -q "$(printf '\r\033\\[K')" "$T/$name.tty"; then
        pass "progress_on_a_terminal_$name"
    else
        fail "progress_on_a_terminal_$name" "exit $st: $(od -c "$T/$name.tty" | head -5)"
    fi
    sh -c "$cmd" 2> "$T/$name.pipe" | cat > /dev/null
    if [ "$name" = synth ]; then
        grep -q "test: " "$T/$name.pipe" && st=1 || st=0 # the summary, not the progress
    else
        [ -s "$T/$name.pipe" ] && st=1 || st=0
    fi
    expect_eq "no_progress_on_a_pipe_$name" 0 "$st"
done

# --- many images: a folder with sentences, a file of image and sentence lines ---------
"$TOK" --format json --images "$T/syn/images" "all ships" "the red plane" > "$T/out" 2> "$T/err"
st=$?
d=$(cd "$T/syn/images" && pwd -P)
if [ $st -eq 0 ] && jq -e -s --arg d "$d" \
    --arg a "$(sample_id "all ships" test_000000.png)" --arg b "$(sample_id "the red plane" test_000000.png)" \
    --arg c "$(sample_id "all ships" test_000002.png)" '
        length == 6 and .[0].id == $a and .[1].id == $b and .[4].id == $c
        and map(.image) == [range(3) | ($d + "/test_00000\(.).png") | ., .]
        and map(.sentence) == ["all ships", "the red plane", "all ships", "the red plane", "all ships", "the red plane"]' \
    "$T/out" > /dev/null; then
    pass "tokenize_images_folder"
else
    fail "tokenize_images_folder" "exit $st: $(cat "$T/err") $(head -c 300 "$T/out")"
fi

mkdir "$T/list"
printf 'images/test_000001.png\tall ships\n\n%s\tthe red plane\r\n' "$IM0" > "$T/syn/list.tsv"
(cd "$T/list" && "$TOK" --format json --sentences ../syn/list.tsv) > "$T/out" 2> "$T/err"
st=$?
if [ $st -eq 0 ] && jq -e -s --arg d "$(cd "$T/syn" && pwd -P)" --arg i0 "$IM0" \
    --arg a "$(sample_id "all ships" test_000001.png)" --arg b "$(sample_id "the red plane" "$IM0")" '
        map([.id, .image, .sentence]) == [[$a, ($d + "/images/test_000001.png"), "all ships"], [$b, $i0, "the red plane"]]' \
    "$T/out" > /dev/null; then
    pass "tokenize_sentences_file"
else
    fail "tokenize_sentences_file" "exit $st: $(cat "$T/err") $(head -c 300 "$T/out")"
fi

# the tokens go through the pipeline: one mask per image, named after it
if "$TOK" --images "$T/syn/images" "all ships" | "$ENC" -m "$W" | "$FUSE" -m "$W" |
    "$DEC" -m "$W" --outdir "$T/many" > /dev/null 2> "$T/err" &&
    [ "$(ls "$T/many" | tr '\n' ' ')" = "$(for i in 0 1 2; do printf '%s.png ' "$(sample_id "all ships" test_00000$i.png)"; done)" ]; then
    pass "images_folder_through_the_pipeline"
else
    fail "images_folder_through_the_pipeline" "$(cat "$T/err") $(ls "$T/many")"
fi

"$TOK" --images "$T/syn/images" > /dev/null 2> "$T/err"
st=$?
expect_error "images_without_sentences" 2 "^rrsis-tokenize: --images wants the sentences as arguments$"
"$TOK" --images "$T/syn/images" --queries "$T/syn/q.jsonl" x > /dev/null 2> "$T/err"
st=$?
expect_error "images_and_queries" 2 "exclude each other"
mkdir "$T/empty"
"$TOK" --images "$T/empty" x > /dev/null 2> "$T/err"
st=$?
expect_error "images_folder_empty" 1 "^rrsis-tokenize: error: --images: $T/empty: no image files"
cp "$IM0" "$T/empty/a.png" && cp "$IM0" "$T/empty/a.jpg"
"$TOK" --images "$T/empty" x > /dev/null 2> "$T/err"
st=$?
expect_error "images_same_stem" 1 "a.jpg and a.png have the same name without extension"
printf 'a.png the plane\n' > "$T/notab.tsv"
"$TOK" --sentences "$T/notab.tsv" > /dev/null 2> "$T/err"
st=$?
expect_error "sentences_without_tab" 1 "^rrsis-tokenize: error: $T/notab.tsv:1: no tab between the image and the sentence"

finish
