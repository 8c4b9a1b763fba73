#!/bin/sh
# The GPU benchmark of issue 8: MRSNet in C/CUDA against the PyTorch reference,
# side by side on one GPU in one run, from the repository root:
#
#   sh bench/gpu.sh                    on a machine with an NVIDIA GPU
#   sh bench/gpu.sh --cpu-rehearsal    anywhere: the whole script on the CPU with
#                                      mrsnet-nano in seconds (checks the script,
#                                      proves nothing about speed or CUDA)
#   sh bench/gpu.sh --record ROWFILE   appends a row that a GPU run wrote (its
#                                      $OUT/results-row.md) to bench/RESULTS.md
#
# What it does:
#  1. unpacks deps/debs/*.deb (tests/gpu/fetch-deps.sh fetches them on a Debian
#     machine; the GPU machine has none of our libraries and no network) with
#     dpkg -x into /tmp/deps, never into /, as tests/gpu/check.sh does;
#  2. builds the library for the GPU present (sm from nvidia-smi) and
#     build/cuda/bench/gpu_bench (make's bench rule; no other program);
#  3. counts the FLOPs of the configuration (gpu_bench flops: nn/flops.h, spec
#     section 10; a training step = 3 x forward) and looks the card's dense
#     TF32 peak up (nn/flops.c's table, by the name nvidia-smi gives);
#  4. measures, each in its own process, one after the other:
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
#     bench/RESULTS.md, and writes it to $LOG/results-row.md too: on the device
#     tool only $OUT comes back, so bring the row home with
#     `sh bench/gpu.sh --record <files_at>/results-row.md`.
#
# Exit status: 0 when all four measurements ran and the three goals are met;
# 3 when they ran and a goal is not met; 1 when something failed; 2 on usage.
#
# Logs (8 files at most, for the device tool's $OUT): $BENCH_LOG, else $OUT,
# else tests/out/bench.  With the device tool: carry ["deps"], timeout_s 600;
# about 4 to 6 minutes on an H100 (an estimate: the build is 2 to 3 of them).
#
# Settings (environment):
#   BENCH_CONFIG        share/configs/mrsnet-b.json (rehearsal: mrsnet-nano.json)
#   BENCH_SIZE          the image size (default the configuration's: 480)
#   BENCH_TRAIN_BATCH   8 (rehearsal 2)      BENCH_INFER_BATCH   1
#   BENCH_TRAIN_WARMUP  2 (rehearsal 1)      BENCH_TRAIN_STEPS   5 (rehearsal 2)
#   BENCH_INFER_WARMUP  3 (rehearsal 1)      BENCH_INFER_RUNS    10 (rehearsal 2)
#   BENCH_TIMEOUT       seconds per measurement (300)
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
PLACEHOLDER='^No GPU run has happened yet'

# Appends the row of file $1 to RESULTS (and drops the "no run yet" line).
record_row() {
    [ -s "$1" ] || {
        echo "gpu.sh: no row in '$1'" >&2
        return 1
    }
    if grep -q "$PLACEHOLDER" "$RESULTS" 2>/dev/null; then
        tmp=$(mktemp) && grep -v "$PLACEHOLDER" "$RESULTS" >"$tmp" && cat "$tmp" >"$RESULTS" && rm -f "$tmp"
    fi
    cat "$1" >>"$RESULTS" && echo "gpu.sh: row appended to $RESULTS" >&2
}

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
        record_row "$2"
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
LOG=${BENCH_LOG:-${OUT:-tests/out/bench}}
mkdir -p "$LOG"
JOBS=$(nproc 2>/dev/null || echo 8)
since() { echo $(($(date +%s) - $1)); }
note() { echo "gpu.sh: $*" >&2; }
fail() {
    note "$*"
    exit 1
}

COMMIT=${BENCH_COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}
if [ -z "${BENCH_COMMIT:-}" ] && [ -n "$(git status --porcelain 2>/dev/null | grep -v '^??' | head -n1)" ]; then
    COMMIT="$COMMIT+changes"
fi

# --- the machine ------------------------------------------------------------------
GPU=""
if [ "$REHEARSAL" != 1 ]; then
    command -v nvidia-smi >/dev/null 2>&1 &&
        GPU=$(nvidia-smi --query-gpu=name,compute_cap,driver_version --format=csv,noheader 2>/dev/null | head -n1)
    [ -n "$GPU" ] || fail "no GPU (nvidia-smi found none); --cpu-rehearsal runs the script on the CPU"
    CARD=$(echo "$GPU" | cut -d, -f1 | sed 's/^ *//; s/ *$//')
    SM=$(echo "$GPU" | cut -d, -f2 | tr -d ' .')
    case $SM in [1-9][0-9]*) ;; *) SM=90 ;; esac
    DRIVER=$(echo "$GPU" | cut -d, -f3 | tr -d ' ')
    DEV=cuda
    CONFIG=${BENCH_CONFIG:-share/configs/mrsnet-b.json}
    TB=${BENCH_TRAIN_BATCH:-8} TW=${BENCH_TRAIN_WARMUP:-2} TN=${BENCH_TRAIN_STEPS:-5}
    IB=${BENCH_INFER_BATCH:-1} IW=${BENCH_INFER_WARMUP:-3} IN=${BENCH_INFER_RUNS:-10}
    TORCH_THREADS=""
    export OMP_NUM_THREADS="${OMP_NUM_THREADS:-$JOBS}"
else
    CARD="CPU (rehearsal)"
    SM=""
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
TIMEOUT=${BENCH_TIMEOUT:-300}
unset RRSIS_CUDA_SYNC RRSIS_TF32 # no launch-by-launch sync; TF32 GEMMs (our default)
NVCC=$(command -v nvcc 2>/dev/null || ls /usr/local/cuda/bin/nvcc 2>/dev/null)
NVCCV=$([ -n "$NVCC" ] && "$NVCC" --version | sed -n 's/.*release \([0-9.]*\).*/\1/p')

# --- 1. the carried Debian packages (tests/gpu/check.sh's step 1) -------------------
RUNLIBS=""
LDEXTRA=""
BLASV=""
if [ "$REHEARSAL" != 1 ] && [ -z "${BENCH_BIN:-}" ] && ls deps/debs/*.deb >/dev/null 2>&1; then
    t=$(date +%s)
    DEPS=${BENCH_DEPS:-/tmp/deps}
    rm -rf "$DEPS"
    mkdir -p "$DEPS"
    n=0
    for f in deps/debs/*.deb; do
        if command -v dpkg >/dev/null 2>&1; then
            dpkg -x "$f" "$DEPS" || fail "could not unpack $f"
        else # a .deb is an ar archive holding data.tar.xz (or .gz, .zst)
            data=$(ar t "$f" | grep '^data\.tar')
            case $data in *.xz) z=-J ;; *.gz) z=-z ;; *.zst) z=--zstd ;; *) z= ;; esac
            ar p "$f" "$data" | tar $z -x -f - -C "$DEPS" || fail "could not unpack $f"
        fi
        n=$((n + 1))
    done
    A=$(gcc -dumpmachine 2>/dev/null || echo x86_64-linux-gnu)
    case $A in x86_64-*linux-gnu) A=x86_64-linux-gnu ;; esac
    RUNLIBS="$DEPS/usr/lib/$A:$DEPS/usr/lib/$A/openblas-openmp:$DEPS/lib/$A"
    export CPATH="$DEPS/usr/include:$DEPS/usr/include/$A:$DEPS/usr/include/$A/openblas-openmp${CPATH:+:$CPATH}"
    export LIBRARY_PATH="$RUNLIBS${LIBRARY_PATH:+:$LIBRARY_PATH}"
    LDEXTRA="-Wl,-rpath-link,$RUNLIBS"
    BLASV="OPENBLAS_INC=$DEPS/usr/include/$A/openblas-openmp OPENBLAS_LIB=$DEPS/usr/lib/$A/openblas-openmp"
    note "$n packages from deps/debs unpacked into $DEPS ($(since "$t") s)"
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
    make CUDA=0 DEB_BUILD= DEB_TEST= "$BIN" >"$LOG/build.log" 2>&1 ||
        fail "make CUDA=0 $BIN failed: $(grep -m1 -i error "$LOG/build.log")"
else
    [ -n "$NVCC" ] || fail "no nvcc on this machine"
    BIN=build/cuda/bench/gpu_bench
    ARCH=${CUDA_ARCH:-"-gencode arch=compute_$SM,code=sm_$SM"}
    # shellcheck disable=SC2086
    make -j"$JOBS" CUDA=1 DEB_BUILD= DEB_TEST= $BLASV CUDA_ARCH="$ARCH" LDFLAGS="-fopenmp $LDEXTRA" "$BIN" \
        >"$LOG/build.log" 2>&1 || fail "make $BIN failed: $(grep -m1 -i error "$LOG/build.log") (see $LOG/build.log)"
    note "built $BIN for sm_$SM in $(since "$t") s"
fi

# --- 3. FLOPs and the card's peak ------------------------------------------------------
# shellcheck disable=SC2086
rr "$BIN" flops --config "$CONFIG" $SIZEOPT --batch 1 --gpu "$CARD" >"$LOG/flops.txt" 2>&1 ||
    fail "gpu_bench flops failed: $(tail -n1 "$LOG/flops.txt")"
# key FILE KIND NAME: the value of NAME= on the last "gpu_bench: KIND ..." line of FILE
key() {
    awk -v kind="$2" -v name="$3" '$1 == "gpu_bench:" && $2 == kind {
        for (i = 3; i <= NF; i++) if (index($i, name "=") == 1) v = substr($i, length(name) + 2)
    } END { print v }' "$1" 2>/dev/null
}
FWD1=$(key "$LOG/flops.txt" FLOPS forward)        # per image
TRAIN1=$(key "$LOG/flops.txt" FLOPS train_step)   # per image, 3 x forward
TRAIN_FLOPS=$(awk -v f="$TRAIN1" -v b="$TB" 'BEGIN { printf "%.0f", f * b }')
INFER_FLOPS=$(awk -v f="$FWD1" -v b="$IB" 'BEGIN { printf "%.0f", f * b }')
PEAK=$(key "$LOG/flops.txt" FLOPS peak_tf32)      # 0.0 for a card not in the table: MFU n/a
CFGNAME=$(key "$LOG/flops.txt" FLOPS config)
SIZE=$(key "$LOG/flops.txt" FLOPS size)

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

# measure NAME COMMAND...: runs it under the timeout, its output in $LOG/NAME.log
FAILED=""
measure() {
    name=$1
    shift
    t=$(date +%s)
    note "$name ..."
    if timeout "$TIMEOUT" "$@" >"$LOG/$name.log" 2>&1 && grep -q '^gpu_bench: RESULT ' "$LOG/$name.log"; then
        note "$name: $(key "$LOG/$name.log" RESULT ms_median) ms, the median ($(since "$t") s in all)"
    else
        FAILED="$FAILED $name"
        note "$name FAILED ($(since "$t") s): $(tail -n1 "$LOG/$name.log")"
    fi
}
# shellcheck disable=SC2086
measure ours-train env LD_LIBRARY_PATH="$LDP" "$BIN" train --config "$CONFIG" $SIZEOPT --batch "$TB" --warmup "$TW" --steps "$TN" --device "$DEV"
# shellcheck disable=SC2086
measure torch-train "$PY" bench/gpu_torch.py train --config "$CONFIG" $SIZEOPT --batch "$TB" --warmup "$TW" \
    --steps "$TN" --device "$DEV" $TORCH_THREADS
# shellcheck disable=SC2086
measure ours-infer env LD_LIBRARY_PATH="$LDP" "$BIN" infer --config "$CONFIG" $SIZEOPT --batch "$IB" --warmup "$IW" --runs "$IN" --device "$DEV"
# shellcheck disable=SC2086
measure torch-infer "$PY" bench/gpu_torch.py infer --config "$CONFIG" $SIZEOPT --batch "$IB" --warmup "$IW" \
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
    echo "== rrsis GPU benchmark (issue 8): $MACHINE"
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
    record_row "$LOG/results-row.md"
fi

[ -z "$FAILED" ] && [ "$OF" = 1111 ] || exit 1
[ "$REHEARSAL" = 1 ] && exit 0
[ "$GT" = met ] && [ "$GI" = met ] && [ "$GM" = met ] && exit 0
exit 3
