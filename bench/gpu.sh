#!/bin/sh
# The GPU benchmark: MRSNet in C/CUDA against the PyTorch reference,
# side by side on one GPU in one run, from the repository root:
#
#   sh bench/gpu.sh                    on a machine with an NVIDIA GPU
#   sh bench/gpu.sh --cpu-rehearsal    anywhere: the whole script on the CPU with
#                                      mrsnet-nano in seconds (checks the script,
#                                      proves nothing about speed or CUDA)
#   sh bench/gpu.sh --record ROWFILE   appends a row that a GPU run wrote (its
#                                      LOG/results-row.md) to bench/RESULTS.md
#
# What it does:
#  0. prints the toolchain it found (tests/gpu/toolchain.sh, as check.sh does);
#  1. unpacks deps/debs/*.deb (tests/gpu/fetch-deps.sh fetches them on a Debian
#     machine; the GPU machine has none of our libraries and no network) with
#     dpkg -x into /tmp/deps, never into /, and stops, naming them, when a
#     header or library of the build is found neither there nor on the system;
#  2. builds the library for the GPU present (sm from nvidia-smi) and
#     build/cuda/bench/gpu_bench (make's bench rule; no other program): after
#     tests/gpu/check.sh, which builds gpu_bench too, there is nothing to do;
#  3. counts the FLOPs of the configuration (gpu_bench flops: nn/flops.h; doc/network.md,
#     Parameters and cost; a training step = 3 x forward) and looks the card's dense
#     TF32 peak up (nn/flops.c's table, by the name nvidia-smi gives);
#  4. measures, each in its own process, one after the other:
#       ours probe    gpu_bench train at batch 1 and 2 (1 warm-up + 1 step each):
#                     a smaller batch first, and from their device memory an
#                     estimate of batch 8's, printed with the card's free
#                     memory; batch 8 is not tried when the estimate does not fit
#       ours train    gpu_bench train: mrsnet-b, 480x480, batch 8, seeded
#                     weights, a fixed synthetic batch; per step zero_grad,
#                     forward (training mode), loss, backward, gradient norm,
#                     AdamW, the loss read back; 2 warm-up + 5 timed steps
#       torch train   bench/gpu_torch.py train: the same with
#                     tools/reference/mrsnet.py, eager, TF32 on
#       ours infer    gpu_bench infer: batch 1, eval mode, logits to the host;
#                     3 warm-up + 10 timed runs
#       torch infer   bench/gpu_torch.py infer: the same, torch.no_grad
#     (ms = the median of the timed steps; our side is an in-process loop, not
#     bin/rrsis-train, so that both sides time the same work without a data
#     loader, logging or checkpoints);
#  5. prints a table: ms per step, images/s, MFU (counted FLOPs / time / the
#     TF32 peak: both sides compute in fp32 with TF32 GEMMs), peak memory (ours:
#     the sum of the arenas' peaks; PyTorch: torch.cuda.max_memory_allocated),
#     the reserved and whole-device figures beside them, and the three ratios
#     against the goals: train <= 0.7x, inference <= 0.5x, training memory <= 1x;
#  6. appends a row (date, card, commit, configuration, numbers) to
#     bench/RESULTS.md, and writes it to $LOG/results-row.md too: when only the
#     logs come back from the GPU machine, bring the row home with
#     `sh bench/gpu.sh --record LOGDIR/results-row.md`.
#
# Exit status: 0 when all four measurements ran and the three goals are met;
# 3 when they ran and a goal is not met; 1 when something failed; 2 on usage.
#
# Logs (8 files, few enough to copy back): $BENCH_LOG, else
# $OUT, else tests/out/bench: build.log (the toolchain, the build, the FLOPs),
# probes.log, ours-train.log, torch-train.log, ours-infer.log, torch-infer.log,
# table.txt and results-row.md.  On a remote GPU machine: copy deps/
# along, limit 600 s; run tests/gpu/check.sh first, in a command of its own (its
# build serves this one; each brings back 8 files).
# Time: the whole run keeps within BENCH_BUDGET (480 s), so that a remote
# command limited to 600 s has room to spare: every step has its own
# timeout (the build 300 s, each probe 60 s, each training measurement 120 s,
# each inference one 60 s), cut to what is left of the budget; a step with
# less than 20 s left is skipped and named in the FAILED line.
#
# Settings (environment):
#   BENCH_CONFIG        share/configs/mrsnet-b.json (rehearsal: mrsnet-nano.json)
#   BENCH_SIZE          the image size (default the configuration's: 480)
#   BENCH_TRAIN_BATCH   8 (rehearsal 2)      BENCH_INFER_BATCH   1
#   BENCH_TRAIN_WARMUP  2 (rehearsal 1)      BENCH_TRAIN_STEPS   5 (rehearsal 2)
#   BENCH_INFER_WARMUP  3 (rehearsal 1)      BENCH_INFER_RUNS    10 (rehearsal 2)
#   BENCH_BUDGET        seconds for the whole run (480)
#   BENCH_TIMEOUT       a cap on every measurement's own timeout (none)
#   BENCH_BIN           a gpu_bench already built: no build step
#   BENCH_COMMIT        the commit to record (default git rev-parse --short HEAD)
#   BENCH_CUDNN_BENCHMARK=1  torch.backends.cudnn.benchmark on (default off)
#   BENCH_THREADS       CPU threads of both sides in a rehearsal (1)
#   PYTHON              an interpreter with torch (default python3 when it has
#                       torch, else /usr/bin/python3)
#   BENCH_RESULTS       the file rows are appended to (bench/RESULTS.md)
set -u
[ -f Makefile ] && [ -d libcore ] && [ -f bench/gpu_bench.c ] || {
    echo "gpu.sh: run it from the repository root" >&2
    exit 2
}
RESULTS=${BENCH_RESULTS:-bench/RESULTS.md}
. tests/gpu/toolchain.sh

REHEARSAL=0
RECORD=1
while [ $# -gt 0 ]; do
    case $1 in
    --cpu-rehearsal) REHEARSAL=1 ;;
    --no-record) RECORD=0 ;;
    --record)
        [ $# -ge 2 ] || {
            echo "gpu.sh: --record needs a file" >&2
            exit 2
        }
        tc_record "$2" "$RESULTS"
        exit $?
        ;;
    -h | --help)
        sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "gpu.sh: unknown argument '$1' (--cpu-rehearsal, --no-record, --record ROWFILE, --help)" >&2
        exit 2
        ;;
    esac
    shift
done

T0=$(date +%s)
BUDGET=${BENCH_BUDGET:-480}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
LOG=${BENCH_LOG:-${OUT:-tests/out/bench}}
mkdir -p "$LOG"
JOBS=$(nproc 2>/dev/null || echo 8)
since() { echo $(($(date +%s) - $1)); }
# The timeout of a step: its own ($1 s, capped by BENCH_TIMEOUT), cut to what
# is left of the budget less 15 s for the table; 0 when less than 20 s would be left.
limit() {
    own=$1
    [ -n "${BENCH_TIMEOUT:-}" ] && [ "$BENCH_TIMEOUT" -lt "$own" ] && own=$BENCH_TIMEOUT
    left=$((BUDGET - $(since "$T0") - 15))
    if [ "$left" -lt 20 ]; then echo 0; elif [ "$own" -lt "$left" ]; then echo "$own"; else echo "$left"; fi
}
note() { echo "gpu.sh: $*" >&2; }
fail() {
    note "$*"
    exit 1
}

COMMIT=${BENCH_COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}
if [ -z "${BENCH_COMMIT:-}" ] && [ -n "$(git status --porcelain 2>/dev/null | grep -v '^??' | head -n1)" ]; then
    COMMIT="$COMMIT+changes"
fi

# --- 0. the machine and the toolchain, first -----------------------------------------
tc_report >&2
if [ "$REHEARSAL" != 1 ]; then
    [ -n "$GPU" ] || fail "no GPU ($GPU_WHY); --cpu-rehearsal runs the script on the CPU"
    CARD=$(echo "$GPU" | cut -d, -f1 | sed 's/^ *//; s/ *$//')
    SM=${SM:-90}
    DRIVER=$(echo "$GPU" | cut -d, -f3 | tr -d ' ')
    FREE_MIB=$(nvidia-smi --query-gpu=memory.free --format=csv,noheader,nounits 2>/dev/null | head -n1 | tr -d ' ')
    DEV=cuda
    CONFIG=${BENCH_CONFIG:-share/configs/mrsnet-b.json}
    TB=${BENCH_TRAIN_BATCH:-8} TW=${BENCH_TRAIN_WARMUP:-2} TN=${BENCH_TRAIN_STEPS:-5}
    IB=${BENCH_INFER_BATCH:-1} IW=${BENCH_INFER_WARMUP:-3} IN=${BENCH_INFER_RUNS:-10}
    TORCH_THREADS=""
    export OMP_NUM_THREADS="${OMP_NUM_THREADS:-$JOBS}"
else
    CARD="CPU (rehearsal)"
    SM=""
    FREE_MIB=""
    DRIVER=""
    DEV=cpu
    CONFIG=${BENCH_CONFIG:-share/configs/mrsnet-nano.json}
    TB=${BENCH_TRAIN_BATCH:-2} TW=${BENCH_TRAIN_WARMUP:-1} TN=${BENCH_TRAIN_STEPS:-2}
    IB=${BENCH_INFER_BATCH:-1} IW=${BENCH_INFER_WARMUP:-1} IN=${BENCH_INFER_RUNS:-2}
    TORCH_THREADS="--threads ${BENCH_THREADS:-1}"
    export OMP_NUM_THREADS="${BENCH_THREADS:-1}" OPENBLAS_NUM_THREADS="${BENCH_THREADS:-1}"
fi
[ -f "$CONFIG" ] || fail "no configuration '$CONFIG'"
SIZEOPT=""
[ -n "${BENCH_SIZE:-}" ] && SIZEOPT="--size $BENCH_SIZE"
unset RRSIS_CUDA_SYNC RRSIS_TF32 # no launch-by-launch sync; TF32 GEMMs (our default)

# --- 1. the libraries: carried Debian packages, or the system's ------------------------
RUNLIBS="" LDEXTRA="" BLASV=""
if [ "$REHEARSAL" != 1 ] && [ -z "${BENCH_BIN:-}" ]; then
    tc_deps >&2 && tc_check >&2 ||
        fail "error: $(echo "$TC_LINES" | grep 'deps *MISSING' | tail -n1 | sed 's/^toolchain: deps *//')"
fi
# Our program finds the carried libraries through this (PyTorch keeps its own):
# rr COMMAND... runs it with them (rr also under timeout: it is env).
LDP="$RUNLIBS${LD_LIBRARY_PATH:+${RUNLIBS:+:}$LD_LIBRARY_PATH}"
rr() { env LD_LIBRARY_PATH="$LDP" "$@"; }

# --- 2. the build --------------------------------------------------------------------
t=$(date +%s)
if [ -n "${BENCH_BIN:-}" ]; then
    BIN=$BENCH_BIN
    [ -x "$BIN" ] || fail "BENCH_BIN '$BIN' is not an executable"
    note "using $BIN (no build)"
elif [ "$REHEARSAL" = 1 ]; then
    BIN=build/cpu/bench/gpu_bench
    make CUDA=0 DEB_BUILD= DEB_TEST= DEB_MPI= "$BIN" >"$LOG/build.log" 2>&1 ||
        fail "make CUDA=0 $BIN failed: $(grep -m1 -i error "$LOG/build.log")"
else
    [ -n "$NVCC" ] || fail "no nvcc on this machine (see the toolchain lines)"
    BIN=build/cuda/bench/gpu_bench
    ARCH=${CUDA_ARCH:-"-gencode arch=compute_$SM,code=sm_$SM"}
    secs=$(limit 300)
    [ "$secs" != 0 ] || fail "no time left for the build"
    printf '%s\n' "$TC_LINES" | sed '/^$/d' >"$LOG/build.log"
    # shellcheck disable=SC2086
    timeout "$secs" make -j"$JOBS" CUDA=1 DEB_BUILD= DEB_TEST= DEB_MPI= $BLASV NVCC="$NVCC" CUDA_HOME="$CUDA_HOME_TC" \
        CUDA_ARCH="$ARCH" LDFLAGS="-fopenmp $LDEXTRA" "$BIN" >>"$LOG/build.log" 2>&1 ||
        fail "make $BIN failed or ran past $secs s: $(grep -m1 -i 'error\|terminated' "$LOG/build.log") (see $LOG/build.log)"
    note "built $BIN for sm_$SM in $(since "$t") s"
fi

# --- 3. FLOPs and the card's peak ------------------------------------------------------
# shellcheck disable=SC2086
rr "$BIN" flops --config "$CONFIG" $SIZEOPT --batch 1 --gpu "$CARD" >"$W/flops.txt" 2>&1 ||
    fail "gpu_bench flops failed: $(tail -n1 "$W/flops.txt")"
cat "$W/flops.txt" >>"$LOG/build.log" # (8 files at most come back)
# key FILE KIND NAME: the value of NAME= on the last "gpu_bench: KIND ..." line of FILE
key() {
    awk -v kind="$2" -v name="$3" '$1 == "gpu_bench:" && $2 == kind {
        for (i = 3; i <= NF; i++) if (index($i, name "=") == 1) v = substr($i, length(name) + 2)
    } END { print v }' "$1" 2>/dev/null
}
FWD1=$(key "$W/flops.txt" FLOPS forward)        # per image
TRAIN1=$(key "$W/flops.txt" FLOPS train_step)   # per image, 3 x forward
TRAIN_FLOPS=$(awk -v f="$TRAIN1" -v b="$TB" 'BEGIN { printf "%.0f", f * b }')
INFER_FLOPS=$(awk -v f="$FWD1" -v b="$IB" 'BEGIN { printf "%.0f", f * b }')
PEAK=$(key "$W/flops.txt" FLOPS peak_tf32)      # 0.0 for a card not in the table: MFU n/a
CFGNAME=$(key "$W/flops.txt" FLOPS config)
SIZE=$(key "$W/flops.txt" FLOPS size)

# --- 4. the four measurements ------------------------------------------------------------
if [ -n "${PYTHON:-}" ]; then
    PY=$PYTHON
elif python3 -c 'import torch' >/dev/null 2>&1; then
    PY=python3
else
    PY=/usr/bin/python3
fi
"$PY" -c 'import torch' >/dev/null 2>&1 || fail "$PY has no torch (set PYTHON)"
TORCHV=$("$PY" -c 'import torch; print(torch.__version__)' 2>/dev/null)
export PYTHONUNBUFFERED=1

# measure NAME SECONDS COMMAND...: runs it under its timeout (limit), its output in $LOG/NAME.log
FAILED=""
measure() {
    name=$1 secs=$(limit "$2")
    shift 2
    t=$(date +%s)
    if [ "$secs" = 0 ]; then
        FAILED="$FAILED $name(no-time-left)"
        note "$name skipped: less than 20 s of the $BUDGET s budget left"
        return 1
    fi
    note "$name (at most $secs s) ..."
    if timeout "$secs" "$@" >"$LOG/$name.log" 2>&1 && grep -q '^gpu_bench: RESULT ' "$LOG/$name.log"; then
        note "$name: $(key "$LOG/$name.log" RESULT ms_median) ms, the median ($(since "$t") s in all)"
    else
        FAILED="$FAILED $name"
        note "$name FAILED ($(since "$t") s of $secs): $(tail -n1 "$LOG/$name.log")"
        return 1
    fi
}
# The device memory of a training step at batch $TB, estimated before trying
# it from two smaller batches (each a process of its own: the model, AdamW,
# one warm-up and one step), linear in the batch: device_mib (the growth of
# the device's used memory) where the program could read it, else
# reserved_mib (the arenas' blocks).
mem() { m=$(key "$LOG/$1.log" RESULT device_mib); awk -v m="${m:-0}" 'BEGIN { exit !(m + 0 > 0) }' || m=$(key "$LOG/$1.log" RESULT reserved_mib); echo "${m:-nan}"; }
TRY_TRAIN=1
if [ "$TB" -gt 2 ]; then
    # shellcheck disable=SC2086
    measure probe-b1 60 env LD_LIBRARY_PATH="$LDP" "$BIN" train --config "$CONFIG" $SIZEOPT --batch 1 --warmup 1 --steps 1 --device "$DEV" &&
        # shellcheck disable=SC2086
        measure probe-b2 60 env LD_LIBRARY_PATH="$LDP" "$BIN" train --config "$CONFIG" $SIZEOPT --batch 2 --warmup 1 --steps 1 --device "$DEV"
    M1=$(mem probe-b1) M2=$(mem probe-b2)
    cat "$LOG/probe-b1.log" "$LOG/probe-b2.log" >"$LOG/probes.log" 2>/dev/null
    rm -f "$LOG/probe-b1.log" "$LOG/probe-b2.log" # (8 files at most come back)
    EST=$(awk -v a="$M1" -v b="$M2" -v n="$TB" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.0f", a + (n - 1) * (b - a); else print "nan" }')
    note "memory estimate for training at batch $TB: $EST MiB (batch 1: $M1 MiB, batch 2: $M2 MiB, linear); free on the card: ${FREE_MIB:-n/a} MiB"
    if [ -n "$FAILED" ]; then
        TRY_TRAIN=0
        note "ours-train at batch $TB not tried: a smaller batch failed (see $LOG/probes.log)"
    elif [ -n "$FREE_MIB" ] && awk -v e="$EST" -v f="$FREE_MIB" 'BEGIN { exit !(e != "nan" && e + 0 > 0.95 * f) }'; then
        TRY_TRAIN=0
        FAILED="$FAILED ours-train(estimate-${EST}MiB-over-free-${FREE_MIB}MiB)"
        note "ours-train at batch $TB not tried: the estimate does not fit in the card's free memory"
    fi
fi
if [ "$TRY_TRAIN" = 1 ]; then
    # shellcheck disable=SC2086
    measure ours-train 120 env LD_LIBRARY_PATH="$LDP" "$BIN" train --config "$CONFIG" $SIZEOPT --batch "$TB" --warmup "$TW" --steps "$TN" --device "$DEV"
fi
# shellcheck disable=SC2086
measure torch-train 120 "$PY" bench/gpu_torch.py train --config "$CONFIG" $SIZEOPT --batch "$TB" --warmup "$TW" \
    --steps "$TN" --device "$DEV" $TORCH_THREADS
# shellcheck disable=SC2086
measure ours-infer 60 env LD_LIBRARY_PATH="$LDP" "$BIN" infer --config "$CONFIG" $SIZEOPT --batch "$IB" --warmup "$IW" --runs "$IN" --device "$DEV"
# shellcheck disable=SC2086
measure torch-infer 60 "$PY" bench/gpu_torch.py infer --config "$CONFIG" $SIZEOPT --batch "$IB" --warmup "$IW" \
    --runs "$IN" --device "$DEV" $TORCH_THREADS

# --- 5. the table ---------------------------------------------------------------------------
v() { x=$(key "$LOG/$1.log" RESULT "$2"); echo "${x:-nan}"; }
OT=$(v ours-train ms_median) PT=$(v torch-train ms_median) OI=$(v ours-infer ms_median) PI=$(v torch-infer ms_median)
OTI=$(v ours-train ips) PTI=$(v torch-train ips) OII=$(v ours-infer ips) PII=$(v torch-infer ips)
OM=$(v ours-train peak_mib) PM=$(v torch-train peak_mib) OR=$(v ours-train reserved_mib) PR=$(v torch-train reserved_mib)
OD=$(v ours-train device_mib) PD=$(v torch-train device_mib)
OIM=$(v ours-infer peak_mib) PIM=$(v torch-infer peak_mib)
OF=$(v ours-train finite)$(v torch-train finite)$(v ours-infer finite)$(v torch-infer finite)

# calc EXPR with the numbers above ("nan" when one is missing or not positive)
calc() {
    awk -v ot="$OT" -v pt="$PT" -v oi="$OI" -v pi="$PI" -v om="$OM" -v pm="$PM" -v tf="$TRAIN_FLOPS" \
        -v inf="$INFER_FLOPS" -v peak="$PEAK" -v what="$1" 'function ok(x) { return x + 0 > 0 }
        BEGIN {
            if (what == "train_ratio") r = ok(ot) && ok(pt) ? ot / pt : "nan"
            else if (what == "infer_ratio") r = ok(oi) && ok(pi) ? oi / pi : "nan"
            else if (what == "mem_ratio") r = ok(om) && ok(pm) ? om / pm : "nan"
            else if (what == "mfu_ot") r = ok(ot) && ok(peak) ? 100 * tf / (ot / 1e3) / (peak * 1e12) : "nan"
            else if (what == "mfu_pt") r = ok(pt) && ok(peak) ? 100 * tf / (pt / 1e3) / (peak * 1e12) : "nan"
            else if (what == "mfu_oi") r = ok(oi) && ok(peak) ? 100 * inf / (oi / 1e3) / (peak * 1e12) : "nan"
            else if (what == "mfu_pi") r = ok(pi) && ok(peak) ? 100 * inf / (pi / 1e3) / (peak * 1e12) : "nan"
            if (r == "nan") print "nan"; else printf "%.3g\n", r
        }'
}
RT=$(calc train_ratio) RI=$(calc infer_ratio) RM=$(calc mem_ratio)
MOT=$(calc mfu_ot) MPT=$(calc mfu_pt) MOI=$(calc mfu_oi) MPI=$(calc mfu_pi)
goal() { awk -v r="$1" -v g="$2" 'BEGIN { if (r == "nan") print "n/a"; else if (r + 0 <= g + 0) print "met"; else print "NOT met" }'; }
GT=$(goal "$RT" 0.7) GI=$(goal "$RI" 0.5) GM=$(goal "$RM" 1.0)
PREC="fp32 with TF32 GEMMs on both sides"
if [ "$REHEARSAL" = 1 ]; then
    GT="CPU, no goal" GI="CPU, no goal" GM="CPU, no goal" PREC="fp32 on the CPU"
fi
gib() { awk -v m="$1" 'BEGIN { if (m + 0 > 0) printf "%.2f GiB", m / 1024; else print "n/a" }'; }
DATE=$(date -u +%Y-%m-%dT%H:%MZ)
MACHINE="$CARD${SM:+, sm_$SM}${DRIVER:+, driver $DRIVER}, CUDA ${NVCCV:-none}, torch ${TORCHV:-?}, $JOBS CPUs"

{
    echo
    echo "== rrsis GPU benchmark: $MACHINE"
    [ "$REHEARSAL" = 1 ] && echo "== REHEARSAL ON THE CPU: checks the script; no speed or CUDA result"
    echo "== commit $COMMIT, $DATE, $CFGNAME at ${SIZE}x$SIZE, seeded weights, $PREC"
    echo "== FLOPs (nn/flops.h): forward $(awk -v f="$FWD1" 'BEGIN { printf "%.4g", f / 1e9 }') GFLOP per image, a training step 3 x forward; dense TF32 peak of the card ${PEAK:-?} TFLOP/s (0: not in the table)"
    printf '%-30s %14s %14s %8s  %s\n' "" ours PyTorch ratio goal
    printf '%-30s %11s ms %11s ms %8s  %s\n' "train step, batch $TB" "$OT" "$PT" "$RT" "<= 0.7: $GT"
    printf '%-30s %14s %14s\n' "  images/s" "$OTI" "$PTI"
    printf '%-30s %13s%% %13s%%\n' "  MFU (of the TF32 peak)" "$MOT" "$MPT"
    printf '%-30s %14s %14s %8s  %s\n' "  peak memory (allocated)" "$(gib "$OM")" "$(gib "$PM")" "$RM" "<= 1: $GM"
    printf '%-30s %14s %14s\n' "  reserved" "$(gib "$OR")" "$(gib "$PR")"
    printf '%-30s %14s %14s\n' "  device memory used" "$(gib "$OD")" "$(gib "$PD")"
    printf '%-30s %11s ms %11s ms %8s  %s\n' "inference, batch $IB" "$OI" "$PI" "$RI" "<= 0.5: $GI"
    printf '%-30s %14s %14s\n' "  images/s" "$OII" "$PII"
    printf '%-30s %13s%% %13s%%\n' "  MFU (of the TF32 peak)" "$MOI" "$MPI"
    printf '%-30s %14s %14s\n' "  peak memory (allocated)" "$(gib "$OIM")" "$(gib "$PIM")"
    echo "== $TN timed training steps after $TW, $IN timed inferences after $IW (medians); outputs finite: $OF (1 = yes; ours-train torch-train ours-infer torch-infer)"
    [ -n "${EST:-}" ] && echo "== before training at batch $TB, its device memory was estimated at $EST MiB from batches 1 and 2 ($M1, $M2 MiB); free on the card ${FREE_MIB:-n/a} MiB"
    [ -n "$FAILED" ] && echo "== FAILED:$FAILED (logs in $LOG)"
    echo "== $(since "$T0") s in all, logs in $LOG"
} | tee "$LOG/table.txt"

# --- 6. the row ---------------------------------------------------------------------------------
NOTES="torch $TORCHV; $TN+$TW train steps, $IN+$IW inferences (medians); cudnn.benchmark ${BENCH_CUDNN_BENCHMARK:-0}; reserved ours/torch $(gib "$OR")/$(gib "$PR"); device ours/torch $(gib "$OD")/$(gib "$PD")"
[ -n "$FAILED" ] && NOTES="FAILED:$FAILED; $NOTES"
[ "$OF" = 1111 ] || NOTES="outputs finite $OF; $NOTES"
printf '| %s | %s | %s | %s %sx%s, train b%s / infer b%s | %s (%s img/s) | %s (%s img/s) | %s %s | %s | %s | %s %s | %s | %s | %s %s | %s / %s %% | %s / %s %% | %s |\n' \
    "$DATE" "$CARD${DRIVER:+ (driver $DRIVER, CUDA ${NVCCV:-?})}" "$COMMIT" "$CFGNAME" "$SIZE" "$SIZE" "$TB" "$IB" \
    "$OT" "$OTI" "$PT" "$PTI" "$RT" "($GT)" "$OI" "$PI" "$RI" "($GI)" "$(gib "$OM")" "$(gib "$PM")" "$RM" "($GM)" \
    "$MOT" "$MPT" "$MOI" "$MPI" "$NOTES" >"$LOG/results-row.md"
if [ "$REHEARSAL" = 1 ] || [ "$RECORD" = 0 ]; then
    note "row (not recorded): $(cat "$LOG/results-row.md")"
else
    tc_record "$LOG/results-row.md" "$RESULTS"
fi

[ -z "$FAILED" ] && [ "$OF" = 1111 ] || exit 1
[ "$REHEARSAL" = 1 ] && exit 0
[ "$GT" = met ] && [ "$GI" = met ] && [ "$GM" = met ] && exit 0
exit 3
