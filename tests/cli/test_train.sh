#!/bin/sh
# rrsis-train through the real program on a small synthetic set (rrsis-synth:
# 200 training and 16 validation samples of 64 x 64), with mrsnet-nano at a
# 64 x 64 input (share/configs/mrsnet-nano.json with image_size 64, so that
# the whole file stays within a couple of minutes on 2 cores):
#   - 160 updates lower the loss clearly; the log, the validations, the
#     checkpoints and --check agree;
#   - resume: 8 updates straight, and 4 + resume + 4 (with another number of
#     loader threads), give the same bits in every weight and moment;
#   - SIGTERM writes a checkpoint and exits 0, and the run goes on from it; a
#     second trainer in the same folder is refused;
#   - kill -9 while a checkpoint is being written leaves the previous one
#     loadable, and the run resumes;
#   - a truncated or corrupted checkpoint is a clear error;
#   - a diverging run (NaN) skips updates, names them, and stops after
#     --max-bad-steps with its last checkpoint intact;
#   - usage errors; tools/plot_log.py draws the curves (or says matplotlib
#     is missing).
#   BIN     the programs (default bin)
#   PYTHON  a Python 3 with numpy (default /usr/bin/python3)
# shellcheck source=tests/cli/lib.sh
. tests/cli/lib.sh
# (from lib.sh: pass, fail, finish, lines, expect_eq, $T, $BIN, $PYTHON)

TRAIN=$BIN/rrsis-train
for p in "$TRAIN" "$BIN/rrsis-synth"; do
    if [ ! -x "$p" ]; then
        fail "$(basename "$p")" "$p is not built"
        finish
        exit
    fi
done
if ! command -v jq >/dev/null 2>&1; then
    fail "jq" "jq is not installed"
    finish
    exit
fi

"$BIN/rrsis-synth" --train 200 --val 16 --size 64 --seed 3 -q -o "$T/syn" || { fail "synth" "rrsis-synth failed"; finish; exit; }
jq '.image_size = 64' share/configs/mrsnet-nano.json >"$T/nano64.json"
# train ARGS: rrsis-train on the synthetic set; fast ARGS: without validations
# (but the last) and checkpoints (but the last).  Runs to be signalled call
# "$TRAIN" itself, so that $! is its process.
train() { "$TRAIN" -c "$T/nano64.json" --train "$T/syn/train.jsonl" --val "$T/syn/val.jsonl" --batch 4 "$@"; }
fast() { train --epochs 2 --val-every 1000 --ckpt-every 0 "$@"; }

# steps FILE: the number of update records ("step" and "skip") of a log.
steps() {
    n=$(grep -c '"type": "\(step\|skip\)"' "$1" 2>/dev/null)
    echo "${n:-0}"
}
# state RUNDIR KEY: a field of the checkpoint's --check summary.
state() { "$TRAIN" --check "$1/last.safetensors" | jq -r ".$2"; }

# ---------------------------------------------------------------- the loss falls
start=$(date +%s)
train -o "$T/smoke" --epochs 4 --max-steps 160 --val-every 80 --log-every 40 2>"$T/err"
st=$?
secs=$(($(date +%s) - start))
if [ $st -eq 0 ] && [ "$(steps "$T/smoke/log.jsonl")" = 160 ]; then
    pass "160 updates"
else
    fail "160 updates" "exit $st: $(tail -3 "$T/err")"
fi
# mean loss of the first and the last 20 updates
jq -s '[.[] | select(.type == "step") | .loss] | [(.[0:20] | add / length), (.[-20:] | add / length)]
       | "\(.[0]) \(.[1])"' -r "$T/smoke/log.jsonl" >"$T/loss" 2>/dev/null
read -r first last <"$T/loss"
echo "smoke: 160 updates of 4 samples in ${secs}s; loss, mean of the first 20 updates $first, of the last 20 $last"
if [ -n "$last" ] && jq -n "$last < 0.75 * $first" | grep -q true; then
    pass "the loss falls (first 20 $first, last 20 $last)"
else
    fail "the loss falls" "first 20 $first, last 20 $last"
fi
vals=$(grep -c '"type": "val"' "$T/smoke/log.jsonl")
expect_eq "a validation every 80 updates" 2 "$vals"
if grep '"type": "val"' "$T/smoke/log.jsonl" | jq -e 'has("oiou") and has("giou") and has("nacc") and .samples == 16' \
    >/dev/null; then
    pass "validation metrics in the log"
else
    fail "validation metrics in the log" "$(grep '"type": "val"' "$T/smoke/log.jsonl" | head -1)"
fi
if [ -s "$T/smoke/best.safetensors" ] && [ "$(state "$T/smoke" step)" = 160 ] &&
    [ "$(state "$T/smoke" training.lr)" = 0.0006 ]; then
    pass "last and best checkpoints"
else
    fail "last and best checkpoints" "$("$TRAIN" --check "$T/smoke/last.safetensors" 2>&1 | head -c 300)"
fi
if grep -q '^step 160/160 epoch 4/4 loss [0-9.]* lr [0-9.e+-]* [0-9.]* img/s' "$T/err"; then
    pass "progress lines"
else
    fail "progress lines" "$(grep '^step' "$T/err" | tail -1)"
fi

# ------------------------------------------------------- the presence term
# loss.presence_weight > 0: every update logs the term, and the loss is the
# weighted sum of the three; without it, no update logs one.
jq '.loss.presence_weight = 0.5' "$T/nano64.json" >"$T/nano64p.json"
"$TRAIN" -c "$T/nano64p.json" --train "$T/syn/train.jsonl" --val "$T/syn/val.jsonl" --batch 4 --epochs 1 \
    --max-steps 6 --val-every 1000 --ckpt-every 0 -o "$T/presence" 2>"$T/err"
st=$?
if [ $st -eq 0 ] && [ "$(steps "$T/presence/log.jsonl")" = 6 ] &&
    jq -e -s '[.[] | select(.type == "step")] | length == 6 and all(.[]; .presence > 0
              and ((.loss - (0.9 * .ce + 0.2 * .dice + 0.5 * .presence)) | fabs) < 1e-5 * .loss)' \
        "$T/presence/log.jsonl" >/dev/null &&
    ! grep -q '"presence"' "$T/smoke/log.jsonl"; then
    pass "presence term"
else
    fail "presence term" "exit $st: $(grep '"type": "step"' "$T/presence/log.jsonl" | head -1)"
fi

# ------------------------------------------------------------------- resume
fast -o "$T/straight" --max-steps 8 2>"$T/err" &&
    fast -o "$T/resumed" --max-steps 4 2>>"$T/err" &&
    "$TRAIN" -o "$T/resumed" --resume --max-steps 8 --threads 3 2>>"$T/err"
st=$?
if [ $st -eq 0 ] && [ "$(state "$T/resumed" step)" = 8 ]; then
    pass "resume runs"
else
    fail "resume runs" "exit $st: $(tail -3 "$T/err")"
fi
if "$PYTHON" - "$T/straight/last.safetensors" "$T/resumed/last.safetensors" >"$T/cmp" 2>&1 <<'EOF'
import sys
from reference import safetensors_io as st
a, _ = st.load(sys.argv[1])
b, _ = st.load(sys.argv[2])
weights = [k for k in a if not k.startswith("optimizer.")]
bad = sorted(set(a) ^ set(b)) + [k for k in a if k in b and a[k].tobytes() != b[k].tobytes()]
print(f"{len(weights)} weights, {len(a) - len(weights)} moments; differ: {bad[:5]}")
sys.exit(1 if bad else 0)
EOF
then
    pass "2N straight = N, resume, N: every weight and moment bit-identical ($(cat "$T/cmp"))"
else
    fail "2N straight = N, resume, N" "$(cat "$T/cmp")"
fi
if [ "$(grep -c '"type": "step"' "$T/resumed/log.jsonl")" = 8 ] && [ "$(grep -c '"type": "start"' "$T/resumed/log.jsonl")" = 2 ]; then
    pass "the resumed log"
else
    fail "the resumed log" "$(grep -c '"type": "step"' "$T/resumed/log.jsonl") steps"
fi
"$TRAIN" -o "$T/resumed" --resume --lr 0.001 --max-steps 9 2>"$T/err"
st=$?
if [ $st -eq 1 ] && grep -q "^rrsis-train: error: .*--lr 0.001 differs from the run's 0.0006:" "$T/err"; then
    pass "a resumed run keeps its options"
else
    fail "a resumed run keeps its options" "exit $st: $(cat "$T/err")"
fi

# ----------------------------------------------------------------- SIGTERM
"$TRAIN" -c "$T/nano64.json" --train "$T/syn/train.jsonl" --val "$T/syn/val.jsonl" --batch 4 --epochs 2 \
    --val-every 1000 --ckpt-every 0 -o "$T/term" --max-steps 100000 2>"$T/err" &
pid=$!
n=0
while [ "$(steps "$T/term/log.jsonl")" -lt 3 ] && [ $n -lt 600 ]; do
    sleep 0.1
    n=$((n + 1))
done
"$TRAIN" -o "$T/term" --resume 2>"$T/err2"
st2=$?
kill -TERM $pid
wait $pid
st=$?
at=$(state "$T/term" step)
if [ $st -eq 0 ] && [ "$at" -ge 3 ] && tail -1 "$T/term/log.jsonl" | grep -q '"reason": "signal"'; then
    pass "SIGTERM: checkpoint at step $at, exit 0"
else
    fail "SIGTERM" "exit $st, step $at: $(tail -2 "$T/err")"
fi
if [ $st2 -eq 1 ] && grep -q "another rrsis-train is running in this folder" "$T/err2"; then
    pass "a second trainer in the folder is refused"
else
    fail "a second trainer in the folder is refused" "exit $st2: $(cat "$T/err2")"
fi
if "$TRAIN" -o "$T/term" --resume --max-steps $((at + 2)) 2>"$T/err" && [ "$(state "$T/term" step)" = $((at + 2)) ]; then
    pass "resume after SIGTERM"
else
    fail "resume after SIGTERM" "$(tail -2 "$T/err")"
fi

# ------------------------------------------------- kill -9 during a checkpoint
# A checkpoint every update; the kill lands when the temporary file of a
# write is seen (io/atomic.h: .last.safetensors.PID.TID~).
writing() {
    for f in "$T/kill"/.last.safetensors.*~; do
        [ -e "$f" ] && return 0
    done
    return 1
}
hits=0
ok=1
for k in 1 2 3; do
    if [ $k = 1 ]; then
        "$TRAIN" -c "$T/nano64.json" --train "$T/syn/train.jsonl" --val "$T/syn/val.jsonl" --batch 4 --epochs 2 \
            --val-every 1000 --ckpt-every 1 -o "$T/kill" --max-steps 100000 2>"$T/err" &
    else
        "$TRAIN" -o "$T/kill" --resume --ckpt-every 1 --max-steps 100000 2>"$T/err" &
    fi
    pid=$!
    n=0
    # after the first checkpoint, wait for a write in progress
    while [ $n -lt 1200 ] && ! { [ -e "$T/kill/last.safetensors" ] && writing; }; do
        sleep 0.01
        n=$((n + 1))
    done
    kill -9 $pid
    wait $pid 2>/dev/null
    writing && hits=$((hits + 1))
    "$TRAIN" --check "$T/kill/last.safetensors" >/dev/null 2>"$T/err" || { ok=0; break; }
done
if [ $ok = 1 ] && [ $hits -ge 1 ]; then
    pass "kill -9 during checkpoint writes ($hits of 3 mid-write): the previous checkpoint loads"
else
    fail "kill -9 during checkpoint writes" "$hits mid-write kills; check: $(cat "$T/err")"
fi
at=$(state "$T/kill" step)
if "$TRAIN" -o "$T/kill" --resume --max-steps $((at + 1)) 2>"$T/err" && [ "$(state "$T/kill" step)" = $((at + 1)) ] &&
    ! writing; then
    pass "resume after kill -9 (stale temporary files removed)"
else
    fail "resume after kill -9" "$(tail -2 "$T/err"); $(ls "$T/kill")"
fi

# ------------------------------------------------ truncated, corrupted files
size=$(wc -c <"$T/kill/last.safetensors")
head -c $((size / 2)) "$T/kill/last.safetensors" >"$T/trunc.safetensors"
"$TRAIN" --check "$T/trunc.safetensors" >/dev/null 2>"$T/err"
st=$?
if [ $st -eq 1 ] && grep -q "^rrsis-train: error: $T/trunc.safetensors: .*(a truncated or damaged file)$" "$T/err"; then
    pass "a truncated checkpoint: $(cat "$T/err")"
else
    fail "a truncated checkpoint" "exit $st: $(cat "$T/err")"
fi
cp "$T/kill/last.safetensors" "$T/corrupt.safetensors"
printf 'X' | dd of="$T/corrupt.safetensors" bs=1 seek=$((size - 1000)) conv=notrunc 2>/dev/null
"$TRAIN" --check "$T/corrupt.safetensors" >/dev/null 2>"$T/err"
st=$?
if [ $st -eq 1 ] && grep -q "^rrsis-train: error: $T/corrupt.safetensors: tensor '.*' fails its checksum: the file is corrupt$" "$T/err"; then
    pass "a corrupted checkpoint: $(cat "$T/err")"
else
    fail "a corrupted checkpoint" "exit $st: $(cat "$T/err")"
fi
cp "$T/trunc.safetensors" "$T/kill/last.safetensors"
"$TRAIN" -o "$T/kill" --resume 2>"$T/err"
st=$?
if [ $st -eq 1 ] && grep -q "truncated or damaged" "$T/err"; then
    pass "--resume on a truncated checkpoint"
else
    fail "--resume on a truncated checkpoint" "exit $st: $(cat "$T/err")"
fi
"$TRAIN" --check "$T/smoke/best.safetensors" >/dev/null 2>"$T/err"
if grep -q "a weight file, not a training checkpoint" "$T/err"; then pass "best.safetensors is a weight file"; else fail "best.safetensors is a weight file" "$(cat "$T/err")"; fi

# ------------------------------------------------------------- divergence
fast -o "$T/nan" --lr 1e30 --ckpt-every 1 --max-bad-steps 3 --max-steps 50 2>"$T/err"
st=$?
if [ $st -eq 1 ] && grep -q "^step 2: .* is not finite; update skipped (1 in a row)$" "$T/err" &&
    grep -q "^rrsis-train: error: 3 updates in a row had a NaN or an Inf (steps 2 to 4); stopping. The last checkpoint is as it was: " "$T/err" &&
    [ "$(grep -c '"type": "skip"' "$T/nan/log.jsonl")" = 3 ] && [ "$(state "$T/nan" step)" = 1 ]; then
    pass "non-finite updates are skipped, named, and end the run"
else
    fail "non-finite updates" "exit $st: $(cat "$T/err")"
fi

# ----------------------------------------------------------- usage errors
train 2>"$T/err"
expect_eq "no -o: usage error" 2 $?
"$TRAIN" -o "$T/u" --resume --init x 2>"$T/err"
expect_eq "--resume with --init: usage error" 2 $?
train -o "$T/u" --best-metric=iou 2>"$T/err"
expect_eq "a bad --best-metric: usage error" 2 $?
train -o "$T/smoke" 2>"$T/err"
st=$?
if [ $st -eq 1 ] && grep -q "already holds a run (--resume continues it)" "$T/err"; then
    pass "a folder with a run is refused"
else
    fail "a folder with a run is refused" "exit $st: $(cat "$T/err")"
fi

# ------------------------------------------------------- the demo model's README
# tools/demo-model.sh --readme on the smoke run, scored as all-empty masks:
# its numbers are those of the log, rrsis-score's JSON and the times file.
mkdir -p "$T/demo" "$T/nomasks"
cp -r "$T/smoke" "$T/demo/run"
printf 'synth 1\ntrain 20\nscore 3\n' >"$T/demo/times"
"$BIN/rrsis-score" --gt "$T/syn/val.jsonl" --pred "$T/nomasks" --missing empty --resolution native \
    --format json >"$T/demo/scores.json"
DEMO_MODEL_DIR=$T/demo sh tools/demo-model.sh --readme >"$T/README" 2>"$T/err"
st=$?
params=$(jq -r 'select(.type == "start") | .parameters' "$T/smoke/log.jsonl")
giou=$(jq .gres.all.giou "$T/demo/scores.json" | awk '{ printf "%.2f", $1 }')
if [ $st -eq 0 ] && [ ! -s "$T/err" ] && grep -q "^mrsnet-nano (share/configs/mrsnet-nano.json, $params parameters" "$T/README" &&
    grep -q "^    gres:  gIoU $giou  cIoU" "$T/README" && grep -q "no GPU: 24 s in all$" "$T/README" &&
    grep -q "^    training   20 s (640 images, 32.0 images/s)$" "$T/README" &&
    grep -A1 "^Validation during training" "$T/README" | grep -q '^[0-9.]*/[0-9.]*/[0-9.]*, [0-9.]*/[0-9.]*/[0-9.]*\.$' &&
    [ "$(tail -n 1 "$T/README")" = "$(tail -n 1 tools/demo-model-history.txt)" ]; then
    pass "demo-model.sh --readme describes the run"
else
    fail "demo-model.sh --readme" "exit $st: $(cat "$T/err") $(head -c 600 "$T/README")"
fi

# ------------------------------------------------------------- the curves
if "$PYTHON" -c 'import matplotlib' 2>/dev/null; then
    if "$PYTHON" tools/plot_log.py "$T/smoke/log.jsonl" -o "$T/curves.png" >/dev/null 2>"$T/err" &&
        [ "$(head -c 4 "$T/curves.png" | od -An -c | tr -d ' ')" = '211PNG' ]; then
        pass "plot_log.py draws a PNG"
    else
        fail "plot_log.py draws a PNG" "$(cat "$T/err")"
    fi
else
    "$PYTHON" tools/plot_log.py "$T/smoke/log.jsonl" -o "$T/curves.png" 2>"$T/err"
    st=$?
    if [ $st -eq 1 ] && grep -q "matplotlib is not installed" "$T/err"; then
        pass "plot_log.py without matplotlib says so"
    else
        fail "plot_log.py without matplotlib" "exit $st: $(cat "$T/err")"
    fi
fi

finish
