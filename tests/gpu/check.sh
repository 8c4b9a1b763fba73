#!/bin/sh
# The GPU check of rrsis, in one script for a machine with an NVIDIA GPU,
# run from the repository root:   sh tests/gpu/check.sh
#
#  0. prints the toolchain it found (tests/gpu/toolchain.sh): make, gcc,
#     nvcc and its version, the GPU's driver and compute capability from
#     nvidia-smi, where libcublas, libcufft, libcudart and libnccl are;
#  1. unpacks the Debian packages in deps/debs (tests/gpu/fetch-deps.sh
#     fetches them on a Debian machine; the GPU machine has none and no
#     network) into /tmp/deps, never into /, and checks that every header
#     and library of the build is found there or on the system: when one is
#     not, the step fails naming it, and nothing is built;
#  2. builds everything for the GPU present (sm from nvidia-smi), the GPU
#     tools (ops_check, golden_gpu) and bench/gpu.sh's gpu_bench, in one make;
#  3. compares the kernels declared in libcore's headers with ops_check's;
#  4. ops_check: every kernel on CUDA against the CPU, TF32 off with the
#     fault slots in mapped host memory, then TF32 on with them in device
#     memory (RRSIS_FAULT_SLOTS: both ways, each with its invalid inputs);
#  5. golden_gpu parity: mrsnet-nano, then lavt-nano and rmsin-nano (the baselines' modules),
#     against the PyTorch goldens on the GPU,
#     twice (bit-identical gradients);
#  6. golden_gpu forward: mrsnet-b at 480x480 with seeded weights, timed;
#  7. 20 training steps of mrsnet-nano: bin/rrsis-train on a synthetic
#     dataset, and golden_gpu train in process (three batch sizes: no
#     allocation after the first epoch);
#  8. the same rrsis-train run as rank 0 of 1 under mpirun (the gradients
#     through the sum across ranks: NCCL on the GPU), its weights bit for bit
#     those of step 7's run (only where mpirun is found and rrsis-train
#     links MPI);
# and prints a table of the steps LAST, which it also appends to
# tests/gpu/RESULTS.md (a GPU run only).  Exit status 0 when every step passed.
#
# Time: every step has its own timeout (seconds, below), cut to what is left
# of GPU_CHECK_BUDGET (default 480 s, so that a remote command limited to
# 600 s has room to spare); a step with less than 20 s left is
# skipped and says so.  GPU_CHECK_NO_BUILD=1 builds nothing (a build already
# made on this machine).
#
# Logs (11 files, few enough to copy back): $GPU_CHECK_LOG, else $OUT, else
# tests/out/gpu: build.log (the toolchain report first), ops-mapped.log,
# ops-device.log, parity.log, parity-lavt.log, parity-rmsin.log, forward-b.log,
# train.log, train-inproc.log, train-mpi.log and table.md (the section for RESULTS.md).  Bring a GPU run's table home with
#     sh tests/gpu/check.sh --record DIR/table.md
#
# GPU_CHECK_BUILD_ONLY=1 stops after step 3 (what a machine without a GPU can
# do; CUDA_ARCH then defaults to sm_90).  GPU_CHECK_CPU=1 rehearses the whole
# script without a GPU: every step on the CPU (ops_check --cpu, --device
# cpu, mrsnet-nano instead of mrsnet-b, 6 training steps); it proves nothing
# about CUDA.  GPU_CHECK_DEPS_ONLY=1 stops after step 1 (make check runs it).
set -u
[ -f Makefile ] && [ -d libcore ] && [ -d tests/gpu ] || {
    echo "check.sh: run it from the repository root" >&2
    exit 2
}
RESULTS=${GPU_CHECK_RESULTS:-tests/gpu/RESULTS.md}
. tests/gpu/toolchain.sh
case ${1:-} in
--record)
    [ $# -ge 2 ] || {
        echo "check.sh: --record needs a file" >&2
        exit 2
    }
    tc_record "$2" "$RESULTS"
    exit $?
    ;;
"") ;;
*)
    echo "check.sh: unknown argument '$1' (--record TABLE; settings are environment variables, see the script's head)" >&2
    exit 2
    ;;
esac

T0=$(date +%s)
BUDGET=${GPU_CHECK_BUDGET:-480}
LOG=${GPU_CHECK_LOG:-${OUT:-tests/out/gpu}}
mkdir -p "$LOG"
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
ROWS=$W/rows
: >"$ROWS"
JOBS=$(nproc 2>/dev/null || echo 8)
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$JOBS}
BUILD=build/cuda
TOOLS=$BUILD/tests/gpu

# row STEP RESULT SECONDS DETAIL
row() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$ROWS"; }
since() { echo $(($(date +%s) - $1)); }
# The timeout of a step: its own ($1 s), cut to what is left of the budget
# less 10 s for the table; 0 when less than 20 s would be left.
limit() {
    left=$((BUDGET - $(since "$T0") - 10))
    [ "$left" -lt 20 ] && {
        echo 0
        return
    }
    [ "$1" -lt "$left" ] && echo "$1" || echo "$left"
}
# step NAME SECONDS LOGFILE COMMAND...: runs COMMAND under its timeout, output
# into LOGFILE; a row with the summary line of the log (PREFIX: $SUMMARY).
step() {
    name=$1 secs=$(limit "$2") log=$3
    shift 3
    if [ "$secs" = 0 ]; then
        row "$name" skip 0 "out of time: less than 20 s of the ${BUDGET} s budget left"
        return
    fi
    t=$(date +%s)
    rr timeout "$secs" "$@" >"$log" 2>&1
    st=$?
    if [ $st = 0 ]; then r=ok; else r=FAIL; fi
    detail=$(summary "$log" "$SUMMARY")
    [ $st = 124 ] && detail="TIMED OUT after $secs s: $detail"
    row "$name" $r "$(since "$t")" "$detail"
}
# The last line of a log that starts with PREFIX (a program's summary), or its last line.
summary() { l=$(grep "^$2" "$1" 2>/dev/null | tail -n1); [ -n "$l" ] || l=$(tail -n1 "$1" 2>/dev/null); echo "${l#"$2"}"; }

print_table() {
    echo
    echo "### $MACHINE"
    echo
    echo "commit $COMMIT, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(since "$T0") s in all (budget $BUDGET s)"
    echo
    echo "| step | result | time | detail |"
    echo "|---|---|---|---|"
    tab=$(printf '\t')
    passed=0
    failed=0
    while IFS="$tab" read -r s result secs detail; do
        printf '| %s | %s | %ss | %s |\n' "$s" "$result" "$secs" "$(echo "$detail" | sed 's/|/\\|/g')"
        case $result in ok) passed=$((passed + 1)) ;; skip) ;; *) failed=$((failed + 1)) ;; esac
    done <"$ROWS"
    echo
    echo "$passed passed, $failed failed"
}

finish() {
    print_table | tee "$LOG/table.md"
    if [ -n "$GPU" ] && [ "$REHEARSAL" != 1 ] && [ "${GPU_CHECK_BUILD_ONLY:-0}" != 1 ]; then
        tc_record "$LOG/table.md" "$RESULTS"
    fi
    tail -n1 "$LOG/table.md" | grep -q '^[0-9]* passed, 0 failed$'
    exit $?
}

COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git status --porcelain 2>/dev/null | grep -v '^??' | head -n1)" ]; then COMMIT="$COMMIT+changes"; fi

# --- 0. the toolchain, first ------------------------------------------------------
tc_report
REHEARSAL=${GPU_CHECK_CPU:-0}
[ "${GPU_CHECK_BUILD_ONLY:-0}" = 1 ] || [ "$REHEARSAL" = 1 ] && GPU=""
CC_=${SM:-90}
if [ -n "$GPU" ]; then
    MACHINE="$(echo "$GPU" | cut -d, -f1), sm_$CC_, driver$(echo "$GPU" | cut -d, -f3), CUDA ${NVCCV:-?}, $JOBS CPUs"
elif [ "$REHEARSAL" = 1 ]; then
    MACHINE="REHEARSAL ON THE CPU (GPU_CHECK_CPU=1: no CUDA result), CUDA ${NVCCV:-none}, $JOBS CPUs"
else
    MACHINE="no GPU (build only: ${GPU_WHY:-GPU_CHECK_BUILD_ONLY=1}), CUDA ${NVCCV:-none}, $JOBS CPUs"
fi
# What the steps run on: the GPU, or the CPU in a rehearsal.
if [ "$REHEARSAL" = 1 ]; then
    OPS="--cpu" DEV="--device cpu" TRAINDEV=cpu STEPS=6 FWD="--config share/configs/mrsnet-nano.json --runs 2"
else
    OPS="" DEV="" TRAINDEV=cuda STEPS=20 FWD="--runs 5"
fi
CUDA_ARCH=${CUDA_ARCH:-"-gencode arch=compute_$CC_,code=sm_$CC_"}

# --- 1. the libraries: carried Debian packages, or the system's ------------------------
t=$(date +%s)
RUNLIBS="" LDEXTRA="" BLASV=""
if tc_deps && tc_check; then
    row "deps" ok "$(since "$t")" "$(echo "$TC_LINES" | grep '^toolchain: deps' | sed 's/^toolchain: deps *//' | paste -sd';' - | sed 's/;/; /g')"
    deps_ok=1
else
    echo "check.sh: error: $(echo "$TC_LINES" | grep 'deps *MISSING' | tail -n1 | sed 's/^toolchain: deps *//')" >&2
    row "deps" FAIL "$(since "$t")" "$(echo "$TC_LINES" | grep 'deps *MISSING' | tail -n1 | sed 's/^toolchain: deps *//')"
    deps_ok=0
fi
printf '%s\n' "$TC_LINES" | sed '/^$/d' >"$LOG/build.log"
# Our programs find the carried libraries (and what they link) through this.
rr() { env LD_LIBRARY_PATH="$RUNLIBS${LD_LIBRARY_PATH:+${RUNLIBS:+:}$LD_LIBRARY_PATH}" "$@"; }
if [ "${GPU_CHECK_DEPS_ONLY:-0}" = 1 ]; then
    print_table
    [ "$deps_ok" = 1 ]
    exit $?
fi

# --- 2. the build ----------------------------------------------------------------------
# DEB_BUILD, DEB_TEST and DEB_MPI empty: make's deps step would otherwise try apt-get.
t=$(date +%s)
MAKEV="CUDA=1 DEB_BUILD= DEB_TEST= DEB_MPI= ${BLASV:-} ${NVCC:+NVCC=$NVCC} ${CUDA_HOME_TC:+CUDA_HOME=$CUDA_HOME_TC}"
build_ok=0
secs=$(limit 300)
if [ "$deps_ok" != 1 ]; then
    row "build" FAIL 0 "not tried: the deps step failed"
elif [ -z "$NVCC" ]; then
    row "build" FAIL 0 "no nvcc on this machine (see the toolchain lines)"
elif [ "${GPU_CHECK_NO_BUILD:-0}" = 1 ]; then
    [ -x "$TOOLS/ops_check" ] && [ -x "$TOOLS/golden_gpu" ] && build_ok=1
    row "build" "$([ $build_ok = 1 ] && echo ok || echo FAIL)" 0 "GPU_CHECK_NO_BUILD=1: the tools already built"
else
    # shellcheck disable=SC2086
    timeout "$secs" make -j"$JOBS" $MAKEV CUDA_ARCH="$CUDA_ARCH" LDFLAGS="-fopenmp $LDEXTRA" \
        all gpu-check "$BUILD/bench/gpu_bench" >>"$LOG/build.log" 2>&1
    st=$?
    if [ $st = 0 ] && [ -x "$TOOLS/ops_check" ] && [ -x "$TOOLS/golden_gpu" ]; then
        build_ok=1
        row "build ($(echo "$CUDA_ARCH" | sed 's/.*code=//'))" ok "$(since "$t")" "make -j$JOBS all gpu-check gpu_bench"
    elif [ $st = 124 ]; then
        row "build" FAIL "$(since "$t")" "TIMED OUT after $secs s"
    else
        row "build" FAIL "$(since "$t")" "make: $(grep -m1 -i 'error' "$LOG/build.log")"
    fi
fi

# --- 3. every kernel in the headers has a case -----------------------------------------
if [ "$build_ok" = 1 ]; then
    t=$(date +%s)
    grep -ho 'RR_KERNEL(rr_[a-z0-9_]*' libcore/*.h libcore/*/*.h | sed 's/^RR_KERNEL(//' | sort -u >"$W/headers"
    rr "$TOOLS/ops_check" --list | sort >"$W/listed"
    if cmp -s "$W/headers" "$W/listed"; then
        row "kernel list" ok "$(since "$t")" "$(wc -l <"$W/headers" | tr -d ' ') kernels in libcore's headers, all in ops_check"
    else
        row "kernel list" FAIL "$(since "$t")" "headers only: $(comm -23 "$W/headers" "$W/listed" | tr '\n' ' ')ops_check only: $(comm -13 "$W/headers" "$W/listed" | tr '\n' ' ')"
    fi
fi

if [ "${GPU_CHECK_BUILD_ONLY:-0}" = 1 ] || { [ -z "$GPU" ] && [ "$REHEARSAL" != 1 ]; } || [ "$build_ok" != 1 ]; then
    why="no GPU"
    [ "$build_ok" = 1 ] || why="the build failed"
    for s in "ops_check TF32 off (faults: mapped)" "ops_check TF32 on (faults: device)" "golden parity (nano)" \
        "golden parity (lavt-nano)" "golden parity (rmsin-nano)" "forward mrsnet-b 480x480" \
        "train nano (rrsis-train)" "train nano (in process)" "train nano, 1 rank (mpirun)"; do
        row "$s" skip 0 "$why"
    done
    finish
fi

# --- 4. every kernel against the CPU, the fault slots both ways ------------------------------
# (RRSIS_CUDA_SYNC=1: a fault is reported at the launch that caused it)
SUMMARY='ops_check: '
# shellcheck disable=SC2086
step "ops_check TF32 off (faults: mapped)" 120 "$LOG/ops-mapped.log" \
    env RRSIS_CUDA_SYNC=1 RRSIS_FAULT_SLOTS=mapped "$TOOLS/ops_check" --tf32 off $OPS
# shellcheck disable=SC2086
step "ops_check TF32 on (faults: device)" 120 "$LOG/ops-device.log" \
    env RRSIS_CUDA_SYNC=1 RRSIS_FAULT_SLOTS=device "$TOOLS/ops_check" --tf32 on $OPS

# --- 5. the network against the goldens ------------------------------------------------
SUMMARY='golden_gpu: '
# shellcheck disable=SC2086
step "golden parity (nano)" 90 "$LOG/parity.log" "$TOOLS/golden_gpu" parity $DEV
# shellcheck disable=SC2086
step "golden parity (lavt-nano)" 60 "$LOG/parity-lavt.log" "$TOOLS/golden_gpu" parity --dir tests/golden/lavt-nano/ $DEV
# shellcheck disable=SC2086
step "golden parity (rmsin-nano)" 60 "$LOG/parity-rmsin.log" "$TOOLS/golden_gpu" parity --dir tests/golden/rmsin-nano/ $DEV

# --- 6. mrsnet-b forward ---------------------------------------------------------------
# shellcheck disable=SC2086
step "forward $([ "$REHEARSAL" = 1 ] && echo mrsnet-nano || echo mrsnet-b 480x480)" 120 "$LOG/forward-b.log" \
    "$TOOLS/golden_gpu" forward $FWD $DEV

# --- 7. training -----------------------------------------------------------------------
secs=$(limit 120)
if [ "$secs" = 0 ]; then
    row "train nano $STEPS steps (rrsis-train)" skip 0 "out of time: less than 20 s of the ${BUDGET} s budget left"
elif [ -x bin/rrsis-train ] && [ -x bin/rrsis-synth ]; then
    t=$(date +%s)
    {
        rr bin/rrsis-synth --train 80 --val 8 --test 8 --seed 5 -q -o "$W/synth" &&
            rr timeout "$secs" bin/rrsis-train -c share/configs/mrsnet-nano.json --train="$W/synth/train.jsonl" \
                --val="$W/synth/val.jsonl" -o "$W/run" --device=$TRAINDEV --epochs=1 --batch=4 --max-steps=$STEPS \
                --ckpt-every=0 --threads=4
    } >"$LOG/train.log" 2>&1
    st=$?
    steps=$(grep -c '"type": *"step"' "$W/run/log.jsonl" 2>/dev/null)
    first=$(grep '"type": *"step"' "$W/run/log.jsonl" 2>/dev/null | head -n1 | sed -n 's/.*"loss": *\([^,}]*\).*/\1/p')
    last=$(grep '"type": *"step"' "$W/run/log.jsonl" 2>/dev/null | tail -n1 | sed -n 's/.*"loss": *\([^,}]*\).*/\1/p')
    ms=$(grep '"type": *"step"' "$W/run/log.jsonl" 2>/dev/null | tail -n +2 |
         sed -n 's/.*"seconds": *\([0-9.eE+-]*\).*/\1/p' | awk '{ s += $1; n++ } END { if (n) printf "%.1f", 1000 * s / n }')
    dev=$(sed -n 's/.*"device": *"\([^"]*\)".*/\1/p' "$W/run/log.jsonl" 2>/dev/null | head -n1)
    cat "$W/run/log.jsonl" >>"$LOG/train.log" 2>/dev/null
    if [ "$st" = 0 ] && [ "${steps:-0}" = "$STEPS" ] && [ "$dev" = "$TRAINDEV" ]; then r=ok; else r=FAIL; fi
    detail="exit $st, ${steps:-0} steps on ${dev:-?}, loss ${first:-?} -> ${last:-?}, ${ms:-?} ms/step after the first"
    [ "$st" = 124 ] && detail="TIMED OUT after $secs s: $detail"
    row "train nano $STEPS steps (rrsis-train)" $r "$(since "$t")" "$detail"
else
    row "train nano $STEPS steps (rrsis-train)" skip 0 "bin/rrsis-train or bin/rrsis-synth not built"
fi
SUMMARY='golden_gpu: '
# shellcheck disable=SC2086
step "train nano $STEPS steps (in process)" 90 "$LOG/train-inproc.log" "$TOOLS/golden_gpu" train --steps $STEPS $DEV

# --- 8. step 7's run as rank 0 of 1 under mpirun ----------------------------------------
name="train nano $STEPS steps, 1 rank (mpirun$([ "$TRAINDEV" = cuda ] && echo ", NCCL"))"
secs=$(limit 90)
if [ "$secs" = 0 ]; then
    row "$name" skip 0 "out of time: less than 20 s of the ${BUDGET} s budget left"
elif ! command -v mpirun >/dev/null 2>&1 || ! rr ldd bin/rrsis-train 2>/dev/null | grep -q libmpi; then
    row "$name" skip 0 "no mpirun here, or rrsis-train built without MPI (make found no Open MPI)"
elif [ ! -s "$W/run/last.safetensors" ]; then
    row "$name" skip 0 "step 7's run left no checkpoint to compare with"
else
    t=$(date +%s)
    rr timeout "$secs" mpirun --allow-run-as-root -np 1 -x LD_LIBRARY_PATH bin/rrsis-train \
        -c share/configs/mrsnet-nano.json --train="$W/synth/train.jsonl" --val="$W/synth/val.jsonl" -o "$W/run1" \
        --device=$TRAINDEV --epochs=1 --batch=4 --max-steps=$STEPS --ckpt-every=0 --threads=4 >"$LOG/train-mpi.log" 2>&1
    st=$?
    cmp=$(PYTHONPATH=tools python3 - "$W/run/last.safetensors" "$W/run1/last.safetensors" 2>&1 <<'EOF'
import sys
from reference import safetensors_io as st
a, _ = st.load(sys.argv[1])
b, _ = st.load(sys.argv[2])
bad = sorted(set(a) ^ set(b)) + [k for k in a if k in b and a[k].tobytes() != b[k].tobytes()]
print(f"{len(a)} tensors, {len(bad)} differ from step 7's run {bad[:3]}")
EOF
)
    echo "$cmp" >>"$LOG/train-mpi.log"
    if [ "$st" = 0 ] && echo "$cmp" | grep -q ', 0 differ'; then r=ok; else r=FAIL; fi
    detail="exit $st; $(echo "$cmp" | tail -n1)"
    [ "$st" = 124 ] && detail="TIMED OUT after $secs s: $detail"
    row "$name" $r "$(since "$t")" "$detail"
fi

finish
