#!/bin/sh
# rrsis-train across processes: mpirun -np 2 on a tiny synthetic set
# (rrsis-synth: 32 training and 8 validation samples of 64 x 64, mrsnet-nano
# at 64 x 64, one OpenMP thread per rank):
#   - 2 ranks of --batch 2 = one process with --batch 2 --accum 2, bit for
#     bit: every weight, moment and BatchNorm statistic, every logged loss,
#     gradient norm and validation score; a second 2-rank run is the same;
#     rank 0 alone writes the run's folder; the same for rmsin-nano and
#     lavt-nano;
#   - resume from 2 ranks with 1, and from 1 with 2: the same bits as the run
#     that never stopped; a number of ranks that cannot share the run's
#     micro-batches, and a contradicting --accum, are refused;
#   - ranks that start from different weights are stopped by the comparison;
#   - kill -9 of a rank: the job ends within a bounded time naming the rank,
#     the last checkpoint loads and the run resumes; a stopped (hung) rank is
#     named by rank 0 after --rank-timeout;
#   - SIGUSR1 to mpirun: one checkpoint, exit 0; SIGINT to mpirun (Ctrl-C,
#     which mpirun turns into SIGTERM to the ranks, and SIGKILL after
#     odls_base_sigkill_timeout): one checkpoint.
#   BIN     the programs (default bin)
#   PYTHON  a Python 3 with numpy (default /usr/bin/python3)
# shellcheck source=tests/cli/lib.sh
. tests/cli/lib.sh

TRAIN=$BIN/rrsis-train
require rrsis-train rrsis-synth mpirun jq
export OMP_NUM_THREADS=1
MPI="mpirun --allow-run-as-root --oversubscribe -x OMP_NUM_THREADS"

"$BIN/rrsis-synth" --train 32 --val 8 --size 64 --seed 3 -q -o "$T/syn" || { fail "synth" "rrsis-synth failed"; finish; exit; }
jq '.image_size = 64' share/configs/mrsnet-nano.json >"$T/nano64.json"
ARGS="-c $T/nano64.json --train $T/syn/train.jsonl --val $T/syn/val.jsonl --batch 2 --epochs 2 --threads 1 --device cpu"
# one ARGS / two ARGS: one process, or two ranks under mpirun
one() { "$TRAIN" $ARGS "$@"; }
two() { $MPI -np 2 "$TRAIN" $ARGS "$@"; }

# same A B: every tensor of two safetensors files bit-identical
same() {
    "$PYTHON" - "$1" "$2" >"$T/cmp" 2>&1 <<'EOF'
import sys
from reference import safetensors_io as st
a, _ = st.load(sys.argv[1])
b, _ = st.load(sys.argv[2])
bad = sorted(set(a) ^ set(b)) + [k for k in a if k in b and a[k].tobytes() != b[k].tobytes()]
moments = sum(k.startswith("optimizer.") for k in a)
print(f"{len(a) - moments} weights and statistics, {moments} moments; differ: {len(bad)} {bad[:3]}")
sys.exit(1 if bad else 0)
EOF
}
# records RUNDIR: the log's step and val records without their timings
records() { jq -c 'select(.type == "step" or .type == "val") | del(.seconds, .data_wait)' "$1/log.jsonl"; }

# ------------------------------------------------- 2 ranks = --accum 2, twice
one -o "$T/acc" --accum 2 --max-steps 6 --val-every 3 2>"$T/err1"
st1=$?
two -o "$T/two" --max-steps 6 --val-every 3 >"$T/out2" 2>"$T/err2"
st2=$?
two -o "$T/again" --max-steps 6 --val-every 3 >/dev/null 2>&1
st3=$?
if [ $st1 -eq 0 ] && [ $st2 -eq 0 ] && [ $st3 -eq 0 ]; then
    pass "2-rank runs"
else
    fail "2-rank runs" "exits $st1 $st2 $st3: $(tail -3 "$T/err2")"
fi
if same "$T/acc/last.safetensors" "$T/two/last.safetensors"; then
    pass "2 ranks = one process with --accum 2, bit for bit ($(cat "$T/cmp"))"
else
    fail "2 ranks = one process with --accum 2" "$(cat "$T/cmp")"
fi
if same "$T/acc/best.safetensors" "$T/two/best.safetensors" && records "$T/acc" >"$T/r1" &&
    records "$T/two" >"$T/r2" && cmp -s "$T/r1" "$T/r2" && [ "$(grep -c '"type":"val"' "$T/r2")" = 2 ]; then
    pass "the same losses, gradient norms, validation scores and best weights"
else
    fail "the same log and best weights" "$(diff "$T/r1" "$T/r2" | head -3) $(cat "$T/cmp")"
fi
if same "$T/two/last.safetensors" "$T/again/last.safetensors"; then
    pass "a second 2-rank run: bit-identical"
else
    fail "a second 2-rank run" "$(cat "$T/cmp")"
fi
if [ "$(grep -c '"ranks": 2' "$T/two/log.jsonl")" = 1 ] && [ "$(grep -c '^step 6/6' "$T/err2")" = 1 ] &&
    [ "$(ls "$T/two" | tr '\n' ' ')" = "best.safetensors last.safetensors lock log.jsonl " ]; then
    pass "rank 0 alone writes the folder and the progress"
else
    fail "rank 0 alone writes" "$(ls "$T/two" | tr '\n' ' '); $(grep -c '^step' "$T/err2") progress lines"
fi

# The baselines' modules too (RMSIN's IIM and CIM hold BatchNorms of their
# own, LAVT's decoder plain convolutions): 2 ranks = --accum 2.
for method in rmsin lavt; do
    jq '.image_size = 64' share/configs/$method-nano.json >"$T/$method.json"
    "$TRAIN" -c "$T/$method.json" --train "$T/syn/train.jsonl" --val "$T/syn/val.jsonl" --batch 2 --epochs 1 --threads 1 --device cpu \
        -o "$T/$method-acc" --accum 2 --max-steps 3 2>"$T/err1"
    st1=$?
    $MPI -np 2 "$TRAIN" -c "$T/$method.json" --train "$T/syn/train.jsonl" --val "$T/syn/val.jsonl" --batch 2 --epochs 1 --threads 1 \
        --device cpu -o "$T/$method-two" --max-steps 3 >/dev/null 2>"$T/err2"
    st2=$?
    if [ $st1 -eq 0 ] && [ $st2 -eq 0 ] && same "$T/$method-acc/last.safetensors" "$T/$method-two/last.safetensors"; then
        pass "$method-nano: 2 ranks = one process with --accum 2, bit for bit ($(cat "$T/cmp"))"
    else
        fail "$method-nano: 2 ranks = --accum 2" "exits $st1 $st2: $(tail -2 "$T/err2") $(cat "$T/cmp" 2>/dev/null)"
    fi
done

# --------------------------------------------------------------- resume
two -o "$T/r21" --max-steps 3 >/dev/null 2>&1 && one -o "$T/r21" --resume --max-steps 6 2>"$T/err" >/dev/null
st=$?
if [ $st -eq 0 ] && same "$T/acc/last.safetensors" "$T/r21/last.safetensors"; then
    pass "2 ranks, resumed with 1 (--accum 2 taken): the run's bits ($(cat "$T/cmp"))"
else
    fail "resume 2 ranks -> 1" "exit $st: $(tail -2 "$T/err") $(cat "$T/cmp")"
fi
one -o "$T/r12" --accum 2 --max-steps 3 2>/dev/null && two -o "$T/r12" --resume --max-steps 6 >/dev/null 2>"$T/err"
st=$?
if [ $st -eq 0 ] && same "$T/acc/last.safetensors" "$T/r12/last.safetensors"; then
    pass "1 process with --accum 2, resumed on 2 ranks: the run's bits"
else
    fail "resume 1 -> 2 ranks" "exit $st: $(tail -2 "$T/err") $(cat "$T/cmp")"
fi
"$TRAIN" -o "$T/r21" --resume --accum 1 --max-steps 7 --device cpu 2>"$T/err"
st=$?
if [ $st -eq 1 ] && grep -q "^rrsis-train: error: .*--accum 1 differs from the run's: it takes 2 micro-batches per update (1 rank x --accum 2), --accum 2 with 1 rank$" "$T/err"; then
    pass "a contradicting --accum is refused"
else
    fail "a contradicting --accum" "exit $st: $(cat "$T/err")"
fi
one -o "$T/single" --max-steps 1 2>/dev/null && $MPI -np 2 "$TRAIN" -o "$T/single" --resume --device cpu >/dev/null 2>"$T/err"
st=$?
if [ $st -ne 0 ] && grep -q "rrsis-train: error: rank [01]: .*the run takes 1 micro-batches per update (1 rank x --accum 1), which 2 ranks cannot share" "$T/err"; then
    pass "ranks that cannot share the run's micro-batches are refused"
else
    fail "ranks that cannot share" "exit $st: $(grep error "$T/err" | head -2)"
fi

# ------------------------------------------- weights that differ between ranks
one -o "$T/w1" --max-steps 1 --seed 1 2>/dev/null && one -o "$T/w2" --max-steps 1 --seed 2 2>/dev/null
$MPI -np 1 "$TRAIN" $ARGS --init "$T/w1/best.safetensors" -o "$T/diff" : \
    -np 1 "$TRAIN" $ARGS --init "$T/w2/best.safetensors" -o "$T/diff" >/dev/null 2>"$T/err"
st=$?
if [ $st -ne 0 ] && grep -q "^rrsis-train: error: rank 0: the weights at the start: rank 1 differs from rank 0 (rank 1: [0-9a-f]\{16\}, rank 0: [0-9a-f]\{16\})$" "$T/err"; then
    pass "ranks with different weights are stopped, naming the rank"
else
    fail "ranks with different weights" "exit $st: $(grep error "$T/err" | head -2)"
fi

# ---------------------------------------------------------------- faults
# long RUNDIR: a run that goes on until signalled, a checkpoint every 2 updates
long() {
    $MPI ${LONG_MCA:-} -np 2 "$TRAIN" $ARGS --epochs 1000 --val-every 100000 --ckpt-every 2 --rank-timeout 3 -o "$1" \
        >"$T/$2.out" 2>"$T/$2.err" &
    pid=$!
    n=0
    while { [ ! -s "$1/last.safetensors" ] || [ "$(grep -c '"type": "step"' "$1/log.jsonl" 2>/dev/null)" -lt 4 ]; } &&
        [ $n -lt 300 ]; do
        sleep 0.1
        n=$((n + 1))
    done
}
# rank1: the process of rank 1 (the child of mpirun started second)
rank1() { pgrep -P "$pid" -f rrsis-train | sort -n | tail -1; }
# bounded PID SECONDS: waits for PID at most SECONDS; its status, or 124
bounded() {
    n=0
    while kill -0 "$1" 2>/dev/null && [ $n -lt $(($2 * 10)) ]; do
        sleep 0.1
        n=$((n + 1))
    done
    if kill -0 "$1" 2>/dev/null; then
        kill -9 "$1"
        wait "$1"
        return 124
    fi
    wait "$1"
}

long "$T/k9" k9
kill -9 "$(rank1)"
bounded $pid 30
st=$?
if [ $st -ne 0 ] && [ $st -ne 124 ] && grep -q "process rank 1 .* exited on signal 9" "$T/k9.err" "$T/k9.out"; then
    pass "kill -9 of rank 1: the job ends, naming rank 1 (exit $st)"
else
    fail "kill -9 of rank 1" "exit $st (124: still running after 30 s): $(cat "$T/k9.err" | grep -v '^step' | head -5)"
fi
if "$TRAIN" --check "$T/k9/last.safetensors" >/dev/null 2>"$T/err" &&
    $MPI -np 2 "$TRAIN" -o "$T/k9" --resume --device cpu --threads 1 --max-steps "$(($("$TRAIN" --check "$T/k9/last.safetensors" | jq .step) + 1))" \
        >"$T/err" 2>&1; then
    pass "its last checkpoint loads and the run resumes"
else
    fail "the checkpoint after kill -9" "$(grep error "$T/err" | head -3)"
fi

long "$T/hung" hung
kill -STOP "$(rank1)"
bounded $pid 30
st=$?
if [ $st -ne 0 ] && [ $st -ne 124 ] &&
    grep -q "^rrsis-train: error: rank 0: .*rank 1 did not answer within 3 s (hung, stopped or dead)$" "$T/hung.err"; then
    pass "a stopped rank: rank 0 names it after --rank-timeout (exit $st)"
else
    fail "a stopped rank" "exit $st: $(grep -v '^step' "$T/hung.err" | head -5)"
fi

long "$T/usr1" usr1
kill -USR1 $pid
bounded $pid 30
st=$?
s=$("$TRAIN" --check "$T/usr1/last.safetensors" 2>/dev/null | jq .step)
if [ $st -eq 0 ] && tail -1 "$T/usr1/log.jsonl" | jq -e ".reason == \"signal\" and .step == $s" >/dev/null &&
    [ "$(grep -c 'on a signal' "$T/usr1.out" "$T/usr1.err" | awk -F: '{ n += $2 } END { print n }')" = 1 ]; then
    pass "SIGUSR1 to mpirun: one checkpoint (update $s), exit 0"
else
    fail "SIGUSR1 to mpirun" "exit $st, checkpoint at $s: $(tail -1 "$T/usr1/log.jsonl")"
fi

# mpirun sends the ranks SIGCONT, SIGTERM odls_base_sigkill_timeout seconds
# later and SIGKILL as long after that (3 here: a loaded machine has time to
# write the checkpoint), and exits 1 whatever the ranks do
LONG_MCA="--mca odls_base_sigkill_timeout 3" long "$T/int" int
kill -INT $pid
bounded $pid 40
st=$?
s=$("$TRAIN" --check "$T/int/last.safetensors" 2>/dev/null | jq .step)
if [ $st -ne 124 ] && tail -1 "$T/int/log.jsonl" | jq -e ".reason == \"signal\" and .step == $s" >/dev/null &&
    [ "$(grep -c 'on a signal' "$T/int.out" "$T/int.err" | awk -F: '{ n += $2 } END { print n }')" = 1 ]; then
    pass "SIGINT to mpirun: one checkpoint (update $s; mpirun's exit $st)"
else
    fail "SIGINT to mpirun" "exit $st, checkpoint at $s: $(tail -1 "$T/int/log.jsonl")"
fi
finish
