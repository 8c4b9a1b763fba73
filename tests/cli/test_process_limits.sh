#!/bin/sh
# The programs under signals and resource limits: none may hang, none may
# die without a word, and none may leave a partial file that looks whole.
#   - rrsis-train: SIGTERM while the model is built ends it at once (status
#     143: nothing of the run to save yet); a second signal while it trains
#     ends it at once (status 130 after SIGTERM then SIGINT), its checkpoint
#     whole and resumable;
#   - the other long-running programs end on SIGTERM, leaving no partial PNG
#     under their output names;
#   - an address-space limit (ulimit -v) too small for OpenBLAS's buffers is
#     a clear error at start-up, never a hang; a roomier one works;
#   - a file-size limit (ulimit -f) is a write error "File too large", exit 1,
#     never a silent death by SIGXFSZ.
# Every run that could hang runs under timeout(1).
#   BIN     the programs (default bin)
#   PYTHON  a Python 3 with numpy (default /usr/bin/python3)
# shellcheck source=tests/cli/lib.sh
. tests/cli/lib.sh
# (from lib.sh: pass, fail, finish, lines, expect_eq, $T, $BIN, $PYTHON)

TRAIN=$BIN/rrsis-train
VOCAB=share/vocab/bert-base-uncased.txt
MODEL=share/models/mrsnet-nano-synth.safetensors
for p in "$TRAIN" "$BIN/rrsis-synth" "$BIN/rrsis-tokenize" "$BIN/rrsis-encode"; do
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
unset RRSIS_MODEL

# ends_within PID SECONDS: 0 when the process has ended within SECONDS.
ends_within() {
    n=0
    while kill -0 "$1" 2>/dev/null && [ $n -lt $(($2 * 10)) ]; do
        sleep 0.1
        n=$((n + 1))
    done
    ! kill -0 "$1" 2>/dev/null
}
# reap NAME PID SECONDS WANT: waits for PID (killing it after SECONDS) and
# checks its exit status against WANT.
reap() {
    if ends_within "$2" "$4"; then
        wait "$2"
        st=$?
        expect_eq "$1" "$3" "$st"
    else
        kill -KILL "$2" 2>/dev/null
        wait "$2" 2>/dev/null
        fail "$1" "still running $4 s later"
    fi
}
# rss_mb PID: the resident size of PID in MB (0 when it is gone).
rss_mb() {
    awk '/^VmRSS:/ { print int($2 / 1024); found = 1 } END { if (!found) print 0 }' "/proc/$1/status" 2>/dev/null ||
        echo 0
}

"$BIN/rrsis-synth" --train 24 --val 4 --size 64 --seed 3 -q -o "$T/syn" || {
    fail "synth" "rrsis-synth failed"
    finish
    exit
}

# ------------------------------------------------- rrsis-train: signals
# mrsnet-b's random initialisation takes a while (a billion bytes of weights
# and moments): a signal there has nothing to save, and must not wait for it.
"$TRAIN" -c share/configs/mrsnet-b.json --train "$T/syn/train.jsonl" --val "$T/syn/val.jsonl" --batch 1 --vocab "$VOCAB" \
    -o "$T/build" 2>"$T/err" &
pid=$!
n=0
while [ "$(rss_mb $pid)" -lt 200 ] && kill -0 $pid 2>/dev/null && [ $n -lt 600 ]; do
    sleep 0.1
    n=$((n + 1))
done
if [ "$(rss_mb $pid)" -ge 200 ]; then
    kill -TERM $pid
    reap "SIGTERM while the model is built ends rrsis-train at once (status 143)" $pid 143 10
    if [ ! -e "$T/build/last.safetensors" ]; then
        pass "no checkpoint from a run stopped before its first update"
    else
        fail "no checkpoint from a run stopped before its first update" "$T/build/last.safetensors exists"
    fi
else
    kill -KILL $pid 2>/dev/null
    wait $pid 2>/dev/null
    fail "SIGTERM while the model is built" "never saw the build (200 MB resident): $(tail -2 "$T/err")"
fi

# While it trains: SIGTERM asks for a checkpoint, and a SIGINT right after it
# ends the program at once; whatever checkpoint is on disk is whole (one is
# written every update, so the kill often lands in a write).
jq '.image_size = 128' share/configs/mrsnet-nano.json >"$T/nano128.json"
"$TRAIN" -c "$T/nano128.json" --train "$T/syn/train.jsonl" --val "$T/syn/val.jsonl" --batch 4 --epochs 1000 \
    --val-every 100000 --ckpt-every 1 --vocab "$VOCAB" -o "$T/twice" 2>"$T/err" &
pid=$!
n=0
while [ ! -e "$T/twice/last.safetensors" ] && kill -0 $pid 2>/dev/null && [ $n -lt 600 ]; do
    sleep 0.1
    n=$((n + 1))
done
kill -TERM $pid 2>/dev/null
kill -INT $pid 2>/dev/null
# Both pending at once are delivered in the order of their numbers (SIGINT
# first): the second to arrive names the status, 130 or 143.
if ends_within $pid 30; then
    wait $pid
    st=$?
    if [ $st -eq 130 ] || [ $st -eq 143 ]; then
        pass "SIGTERM then SIGINT while training end rrsis-train at once (status $st)"
    else
        fail "SIGTERM then SIGINT while training end rrsis-train at once" "exit $st, wanted 130 or 143: $(tail -1 "$T/err")"
    fi
else
    kill -KILL $pid 2>/dev/null
    wait $pid 2>/dev/null
    fail "SIGTERM then SIGINT while training end rrsis-train at once" "still running 30 s later"
fi
if "$TRAIN" --check "$T/twice/last.safetensors" >/dev/null 2>"$T/err" &&
    timeout 120 "$TRAIN" -o "$T/twice" --resume --vocab "$VOCAB" --max-steps "$(($("$TRAIN" --check "$T/twice/last.safetensors" |
        jq .step) + 1))" 2>"$T/err"; then
    pass "after the second signal the checkpoint is whole and the run resumes"
else
    fail "after the second signal the checkpoint is whole and the run resumes" "$(tail -1 "$T/err")"
fi

finish
