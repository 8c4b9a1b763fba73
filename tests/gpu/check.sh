#!/bin/sh
# The GPU check of rrsis, in one script for a machine with an NVIDIA GPU,
# run from the repository root:   sh tests/gpu/check.sh
#
#  1. unpacks the Debian packages in deps/debs (tests/gpu/fetch-deps.sh
#     fetches them on a Debian machine; the GPU machine has none and no
#     network) into /tmp/deps, never into /, and points CPATH and
#     LIBRARY_PATH at it (LD_LIBRARY_PATH for our programs only);
#  2. builds everything for the GPU present (sm from nvidia-smi), and
#     tests/gpu/ops_check and golden_gpu;
#  3. compares the kernels declared in libcore's headers with ops_check's;
#  4. ops_check: every kernel on CUDA against the CPU, TF32 off then on;
#  5. golden_gpu parity: mrsnet-nano against the PyTorch goldens on the GPU,
#     twice (bit-identical gradients);
#  6. golden_gpu forward: mrsnet-b at 480x480 with seeded weights, timed;
#  7. 20 training steps of mrsnet-nano: bin/rrsis-train on a synthetic
#     dataset (when the program exists) and golden_gpu train in process;
# and prints a table of the steps LAST.  Exit status 0 when every step
# passed.  About 2 to 3 minutes on an H100 (the build is most of it).
#
# Logs (8 files at most, for the device tool's $OUT): $GPU_CHECK_LOG, else
# $OUT, else tests/out/gpu.  GPU_CHECK_BUILD_ONLY=1 stops after step 3
# (what a machine without a GPU can do; CUDA_ARCH then defaults to sm_90).
# GPU_CHECK_CPU=1 rehearses the whole script without a GPU: every step on
# the CPU (ops_check --cpu, --device cpu, mrsnet-nano instead of mrsnet-b,
# 3 training steps); it proves nothing about CUDA.
set -u
[ -f Makefile ] && [ -d libcore ] && [ -d tests/gpu ] || {
    echo "check.sh: run it from the repository root" >&2
    exit 2
}
T0=$(date +%s)
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
# The last line of a log that starts with PREFIX (a program's summary), or its last line.
summary() { l=$(grep "^$2" "$1" 2>/dev/null | tail -n1); [ -n "$l" ] || l=$(tail -n1 "$1" 2>/dev/null); echo "${l#"$2"}"; }

print_table() {
    echo
    echo "== rrsis GPU check: $MACHINE"
    echo "== commit $COMMIT, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(since "$T0") s in all, logs in $LOG"
    printf '%-34s %-6s %6s  %s\n' step result time detail
    tab=$(printf '\t')
    passed=0
    failed=0
    while IFS="$tab" read -r step result secs detail; do
        printf '%-34s %-6s %5ss  %s\n' "$step" "$result" "$secs" "$detail"
        case $result in ok) passed=$((passed + 1)) ;; skip) ;; *) failed=$((failed + 1)) ;; esac
    done <"$ROWS"
    echo "== $passed passed, $failed failed"
    [ "$failed" -eq 0 ]
}

finish() {
    print_table | tee "$LOG/table.txt"
    grep -q '^== [0-9]* passed, 0 failed$' "$LOG/table.txt"
    exit $?
}

COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git status --porcelain 2>/dev/null | grep -v '^??' | head -n1)" ]; then COMMIT="$COMMIT+changes"; fi

# --- the machine ------------------------------------------------------------------
GPU=""
REHEARSAL=${GPU_CHECK_CPU:-0}
if [ "${GPU_CHECK_BUILD_ONLY:-0}" != 1 ] && [ "$REHEARSAL" != 1 ] && command -v nvidia-smi >/dev/null 2>&1; then
    GPU=$(nvidia-smi --query-gpu=name,compute_cap,driver_version --format=csv,noheader 2>/dev/null | head -n1)
fi
NVCC=$(command -v nvcc 2>/dev/null || ls /usr/local/cuda/bin/nvcc 2>/dev/null)
NVCCV=$([ -n "$NVCC" ] && "$NVCC" --version | sed -n 's/.*release \([0-9.]*\).*/\1/p')
if [ -n "$GPU" ]; then
    CC_=$(echo "$GPU" | cut -d, -f2 | tr -d ' .')
    case $CC_ in [1-9][0-9]*) ;; *) CC_=90 ;; esac # an old nvidia-smi without compute_cap
    MACHINE="$(echo "$GPU" | cut -d, -f1), sm_$CC_, driver$(echo "$GPU" | cut -d, -f3), CUDA ${NVCCV:-?}, $JOBS CPUs"
elif [ "$REHEARSAL" = 1 ]; then
    CC_=90
    MACHINE="REHEARSAL ON THE CPU (GPU_CHECK_CPU=1: no CUDA result), CUDA ${NVCCV:-none}, $JOBS CPUs"
else
    CC_=90
    MACHINE="no GPU (build only), CUDA ${NVCCV:-none}, $JOBS CPUs"
fi
# What the steps run on: the GPU, or the CPU in a rehearsal.
if [ "$REHEARSAL" = 1 ]; then
    OPS="--cpu" DEV="--device cpu" TRAINDEV=cpu STEPS=3 FWD="--config share/configs/mrsnet-nano.json --runs 2"
else
    OPS="" DEV="" TRAINDEV=cuda STEPS=20 FWD="--runs 5"
fi
CUDA_ARCH=${CUDA_ARCH:-"-gencode arch=compute_$CC_,code=sm_$CC_"}

# --- 1. the carried Debian packages -------------------------------------------------
t=$(date +%s)
DEPS=${GPU_CHECK_DEPS:-/tmp/deps}
RUNLIBS=""
LDEXTRA=""
if ls deps/debs/*.deb >/dev/null 2>&1; then
    rm -rf "$DEPS"
    mkdir -p "$DEPS"
    n=0
    bad=""
    for f in deps/debs/*.deb; do
        if command -v dpkg >/dev/null 2>&1; then
            dpkg -x "$f" "$DEPS" || bad="$bad $(basename "$f")"
        else # a .deb is an ar archive holding data.tar.xz (or .gz, .zst)
            data=$(ar t "$f" | grep '^data\.tar')
            case $data in *.xz) z=-J ;; *.gz) z=-z ;; *.zst) z=--zstd ;; *) z= ;; esac
            ar p "$f" "$data" | tar $z -x -f - -C "$DEPS" || bad="$bad $(basename "$f")"
        fi
        n=$((n + 1))
    done
    A=$(gcc -dumpmachine 2>/dev/null || echo x86_64-linux-gnu)
    case $A in x86_64-*linux-gnu) A=x86_64-linux-gnu ;; esac
    INC="$DEPS/usr/include:$DEPS/usr/include/$A:$DEPS/usr/include/$A/openblas-openmp"
    RUNLIBS="$DEPS/usr/lib/$A:$DEPS/usr/lib/$A/openblas-openmp:$DEPS/lib/$A"
    export CPATH="$INC${CPATH:+:$CPATH}"
    export LIBRARY_PATH="$RUNLIBS${LIBRARY_PATH:+:$LIBRARY_PATH}"
    LDEXTRA="-Wl,-rpath-link,$RUNLIBS"
    BLASV="OPENBLAS_INC=$DEPS/usr/include/$A/openblas-openmp OPENBLAS_LIB=$DEPS/usr/lib/$A/openblas-openmp"
    if [ -z "$bad" ]; then
        row "deps" ok "$(since "$t")" "$n packages from deps/debs unpacked into $DEPS"
    else
        row "deps" FAIL "$(since "$t")" "could not unpack:$bad"
    fi
else
    row "deps" ok 0 "none carried (no deps/debs/*.deb): the system's libraries"
fi
# Our programs find the carried libraries (and what they link) through this.
rr() { LD_LIBRARY_PATH="$RUNLIBS${LD_LIBRARY_PATH:+${RUNLIBS:+:}$LD_LIBRARY_PATH}" "$@"; }

# --- 2. the build --------------------------------------------------------------------
# DEB_BUILD and DEB_TEST empty: make's deps step would otherwise try apt-get.
t=$(date +%s)
MAKEV="CUDA=1 DEB_BUILD= DEB_TEST= ${BLASV:-}"
build_ok=0
if [ -z "$NVCC" ]; then
    row "build" FAIL 0 "no nvcc on this machine"
elif make -j"$JOBS" $MAKEV CUDA_ARCH="$CUDA_ARCH" LDFLAGS="-fopenmp $LDEXTRA" all >"$LOG/build.log" 2>&1; then
    # the GPU tools (ops_check, golden_gpu)
    make -j"$JOBS" $MAKEV CUDA_ARCH="$CUDA_ARCH" LDFLAGS="-fopenmp $LDEXTRA" gpu-check >>"$LOG/build.log" 2>&1
    if [ -x "$TOOLS/ops_check" ] && [ -x "$TOOLS/golden_gpu" ]; then
        build_ok=1
        row "build ($(echo "$CUDA_ARCH" | sed 's/.*code=//'))" ok "$(since "$t")" "make -j$JOBS all, ops_check, golden_gpu"
    else
        row "build" FAIL "$(since "$t")" "the GPU tools: $(grep -m1 -i 'error' "$LOG/build.log")"
    fi
else
    row "build" FAIL "$(since "$t")" "make: $(grep -m1 -i 'error' "$LOG/build.log")"
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
    for s in "ops_check TF32 off" "ops_check TF32 on" "golden parity (nano)" "forward mrsnet-b 480x480" "train nano 20 steps"; do
        row "$s" skip 0 "$why"
    done
    finish
fi

# --- 4. every kernel against the CPU ---------------------------------------------------
# (RRSIS_CUDA_SYNC=1: a fault is reported at the launch that caused it)
RRSIS_CUDA_SYNC=1
export RRSIS_CUDA_SYNC
for mode in off on; do
    t=$(date +%s)
    # shellcheck disable=SC2086
    if rr timeout 180 "$TOOLS/ops_check" --tf32 "$mode" $OPS >"$LOG/ops-tf32-$mode.log" 2>&1; then r=ok; else r=FAIL; fi
    row "ops_check TF32 $mode" $r "$(since "$t")" "$(summary "$LOG/ops-tf32-$mode.log" 'ops_check: ')"
done
unset RRSIS_CUDA_SYNC

# --- 5. the network against the goldens ------------------------------------------------
t=$(date +%s)
# shellcheck disable=SC2086
if rr timeout 180 "$TOOLS/golden_gpu" parity $DEV >"$LOG/parity.log" 2>&1; then r=ok; else r=FAIL; fi
row "golden parity (nano)" $r "$(since "$t")" "$(summary "$LOG/parity.log" 'golden_gpu: ')"

# --- 6. mrsnet-b forward ---------------------------------------------------------------
t=$(date +%s)
# shellcheck disable=SC2086
if rr timeout 240 "$TOOLS/golden_gpu" forward $FWD $DEV >"$LOG/forward-b.log" 2>&1; then r=ok; else r=FAIL; fi
row "forward $([ "$REHEARSAL" = 1 ] && echo mrsnet-nano || echo mrsnet-b 480x480)" $r "$(since "$t")" "$(summary "$LOG/forward-b.log" 'golden_gpu: ')"

# --- 7. training -----------------------------------------------------------------------
if [ -x bin/rrsis-train ] && [ -x bin/rrsis-synth ]; then
    t=$(date +%s)
    {
        rr bin/rrsis-synth --train 80 --val 8 --test 8 --seed 5 -q -o "$W/synth" &&
            rr timeout 240 bin/rrsis-train -c share/configs/mrsnet-nano.json --train="$W/synth/train.jsonl" \
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
    cp "$W/run/log.jsonl" "$LOG/train.log.jsonl" 2>/dev/null && cat "$LOG/train.log.jsonl" >>"$LOG/train.log" && rm -f "$LOG/train.log.jsonl"
    if [ "$st" = 0 ] && [ "${steps:-0}" = "$STEPS" ] && [ "$dev" = "$TRAINDEV" ]; then r=ok; else r=FAIL; fi
    row "train nano $STEPS steps (rrsis-train)" $r "$(since "$t")" \
        "exit $st, ${steps:-0} steps on ${dev:-?}, loss ${first:-?} -> ${last:-?}, ${ms:-?} ms/step after the first"
else
    row "train nano $STEPS steps (rrsis-train)" skip 0 "bin/rrsis-train or bin/rrsis-synth not built"
fi
t=$(date +%s)
# shellcheck disable=SC2086
if rr timeout 180 "$TOOLS/golden_gpu" train --steps $STEPS $DEV >"$LOG/train-inproc.log" 2>&1; then r=ok; else r=FAIL; fi
row "train nano $STEPS steps (in process)" $r "$(since "$t")" "$(summary "$LOG/train-inproc.log" 'golden_gpu: ')"

finish
