#!/bin/sh
# The GPU check's tools on a machine without a GPU (tests/gpu/README):
# tests/gpu/ops_check and golden_gpu are built against the library's objects
# (make check builds them; the CUDA objects of build/cuda wherever nvcc is);
# ops_check --list names exactly the
# kernels declared with RR_KERNEL in libcore's headers; ops_check --cpu (the
# checker run against the CPU twins) passes; golden_gpu's three modes run on
# the CPU; without a GPU, each tool says "no CUDA device" and the CUDA
# runtime's reason (the failing call and cudaGetErrorString's text) in one
# line and exits 1, the model programs fall back to the CPU quietly with
# --device auto, name it with --verbose, and give the same reason for
# --device cuda; and tests/gpu/check.sh's first step prints the toolchain
# and fails loudly, naming them, when the build's headers cannot be found.
# Prints "PASS: name" or "FAIL: name: why" per case; exits 1 on any failure.
#   UNIT  the unit-test binary of the build to use (make check sets it;
#         default: build/cuda when nvcc is found, else build/cpu)
#   BIN   the programs (default bin)
. tests/cli/lib.sh

NVCC=$(command -v nvcc 2>/dev/null || ls /usr/local/cuda/bin/nvcc 2>/dev/null)
if [ -n "${UNIT:-}" ]; then
    B=${UNIT%/tests/unit/run-unit}
elif [ -n "$NVCC" ]; then
    B=build/cuda
else
    B=build/cpu
fi

# Why CUDA is unusable, as the library says it: with CUDA, the runtime call
# that failed and its cudaGetErrorString text ("cudaGetDeviceCount(&n) failed:
# CUDA driver version is insufficient ..."); without, the build's reason.
if [ -e "$B/libcore/cuda/device.cu.o" ]; then
    REASON='cuda[A-Za-z]*([^)]*)[^:]* failed: [A-Za-z]|cudaGetDeviceCount found no device'
else
    REASON='built with CUDA=0'
fi

# --- built (make check builds them: the Makefile's gpu-check target) -------------
built=1
for tool in ops_check golden_gpu; do
    if [ -x "$B/tests/gpu/$tool" ]; then
        if [ -e "$B/libcore/cuda/device.cu.o" ]; then what="the CUDA objects of $B"; else what="the CPU objects of $B"; fi
        pass "$tool built and linked with $what"
        ln -sf "$(pwd)/$B/tests/gpu/$tool" "$T/$tool"
    else
        fail "$tool" "$B/tests/gpu/$tool is not built (make check builds it)"
        built=0
    fi
done

if [ $built = 1 ]; then
    # --- every kernel of the headers, and nothing else -------------------------------
    grep -ho 'RR_KERNEL(rr_[a-z0-9_]*' libcore/*.h libcore/*/*.h | sed 's/^RR_KERNEL(//' | sort -u >"$T/headers"
    "$T/ops_check" --list | sort >"$T/listed"
    if [ -s "$T/headers" ] && cmp -s "$T/headers" "$T/listed"; then
        pass "ops_check --list: the $(lines "$T/headers") kernels of libcore's headers"
    else
        fail "ops_check --list" "declared but without a case: $(comm -23 "$T/headers" "$T/listed" | tr '\n' ' ')listed but not declared: $(comm -13 "$T/headers" "$T/listed" | tr '\n' ' ')"
    fi

    # --- the checker against the CPU twins: every case runs, every output written --
    "$T/ops_check" --cpu >"$T/self" 2>&1
    st=$?
    if [ $st = 0 ] && tail -n1 "$T/self" | grep -q '^ops_check: [0-9]* kernels, [0-9]* cases, 0 failed'; then
        pass "ops_check --cpu: $(tail -n1 "$T/self" | sed 's/^ops_check: //; s/;.*//')"
    else
        fail "ops_check --cpu" "exit $st: $(grep '^FAIL' "$T/self" | head -n5) $(tail -n1 "$T/self")"
    fi

    # --- golden_gpu's modes on the CPU ---------------------------------------------
    for args in "parity" "forward --config share/configs/mrsnet-nano.json --runs 2" "train --steps 6 --batch 2"; do
        # shellcheck disable=SC2086
        "$T/golden_gpu" $args --device cpu >"$T/g" 2>&1
        st=$?
        if [ $st = 0 ] && tail -n1 "$T/g" | grep -q '^golden_gpu: '; then
            pass "golden_gpu ${args%% *} --device cpu"
        else
            fail "golden_gpu ${args%% *} --device cpu" "exit $st: $(grep -v '^golden \|^train: \|^forward: ' "$T/g" | tail -n3)"
        fi
    done

    # --- without a GPU: one clear line ------------------------------------------------
    if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
        echo "SKIP(gpu): no-GPU messages: this machine has a GPU"
    else
        for tool in "ops_check" "golden_gpu parity"; do
            # shellcheck disable=SC2086
            "$T"/$tool >"$T/out" 2>"$T/err"
            st=$?
            if [ $st = 1 ] && [ ! -s "$T/out" ] && [ "$(lines "$T/err")" = 1 ] && grep -q 'no CUDA device: ' "$T/err" &&
                grep -Eq "$REASON" "$T/err"; then
                pass "$tool without a GPU: $(cat "$T/err")"
            else
                fail "$tool without a GPU" "exit $st, stdout '$(head -c 200 "$T/out")', stderr '$(head -c 300 "$T/err")'"
            fi
        done
    fi
fi

# --- --device on the model programs (without a GPU: auto is the CPU, quietly) ---------
MODEL=tests/golden/mrsnet-nano/weights.safetensors
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    echo "SKIP(gpu): --device auto on the model programs: this machine has a GPU"
elif [ -x "$BIN/rrsis-tokenize" ] && [ -x "$BIN/rrsis-encode" ] && [ -x "$BIN/rrsis-fuse" ] &&
     [ -x "$BIN/rrsis-decode" ] && [ -f "$MODEL" ]; then
    IMG=tests/golden/pil/bilinear_rgb_13x7_29x31.in.png
    "$BIN/rrsis-tokenize" 'the small ship' >"$T/tok" 2>/dev/null
    "$BIN/rrsis-encode" -m "$MODEL" --image "$IMG" --device auto <"$T/tok" >"$T/enc" 2>"$T/e1" &&
        "$BIN/rrsis-fuse" -m "$MODEL" --device auto <"$T/enc" >"$T/fus" 2>"$T/e2" &&
        "$BIN/rrsis-decode" -m "$MODEL" --device auto -o "$T/mask.png" <"$T/fus" >/dev/null 2>"$T/e3"
    st=$?
    if [ $st = 0 ] && [ ! -s "$T/e1" ] && [ ! -s "$T/e2" ] && [ ! -s "$T/e3" ] && [ -s "$T/mask.png" ]; then
        pass "--device auto without a GPU: encode | fuse | decode on the CPU, nothing on stderr"
    else
        fail "--device auto without a GPU" "exit $st: $(cat "$T/e1" "$T/e2" "$T/e3" | head -c 400)"
    fi
    for p in encode fuse decode; do
        case $p in
        encode) in=$T/tok extra="--image $IMG" ;;
        fuse) in=$T/enc extra="" ;;
        *) in=$T/fus extra="-o $T/m2.png" ;;
        esac
        # shellcheck disable=SC2086
        "$BIN/rrsis-$p" -m "$MODEL" --device auto --verbose $extra <"$in" >/dev/null 2>"$T/v"
        if grep -q ' on cpu' "$T/v"; then
            pass "rrsis-$p --device auto --verbose names the CPU"
        else
            fail "rrsis-$p --device auto --verbose" "$(head -c 300 "$T/v")"
        fi
        # shellcheck disable=SC2086
        "$BIN/rrsis-$p" -m "$MODEL" --device cuda $extra <"$in" >/dev/null 2>"$T/c"
        st=$?
        if [ $st != 0 ] && [ "$(lines "$T/c")" = 1 ] && grep -q -- '--device cuda: ' "$T/c" && grep -Eq "$REASON" "$T/c"; then
            pass "rrsis-$p --device cuda without a GPU: one line with the reason, exit $st"
        else
            fail "rrsis-$p --device cuda without a GPU" "exit $st: $(head -c 300 "$T/c")"
        fi
    done
else
    echo "SKIP: --device on the model programs: rrsis-tokenize, -encode, -fuse or -decode not built"
fi

# --- check.sh's first steps: the toolchain, then the libraries ------------------------
# GPU_CHECK_DEPS_ONLY=1 stops after them; GPU_CHECK_DEBS points away from any
# carried deps/debs, so the system's libraries are what is checked.
mkdir -p "$T/nodebs" "$T/empty"
GPU_CHECK_DEPS_ONLY=1 GPU_CHECK_DEBS="$T/nodebs" GPU_CHECK_LOG="$T/gl" sh tests/gpu/check.sh >"$T/tc" 2>"$T/tce"
st=$?
first=$(grep -n '' "$T/tc" | grep -v ':toolchain: ' | head -n1 | cut -d: -f1)
missing=""
for tool in make gcc nvcc GPU libcublas libcufft libcudart libnccl deps; do
    grep -q "^toolchain: $tool " "$T/tc" || missing="$missing $tool"
done
if [ $st = 0 ] && [ -z "$missing" ] && [ "${first:-0}" -gt 9 ] && grep -q '^| deps | ok ' "$T/tc"; then
    pass "check.sh prints the toolchain first ($(grep -c '^toolchain: ' "$T/tc") lines), the deps step passes here"
else
    fail "check.sh's toolchain lines" "exit $st, no line for:$missing; $(head -c 600 "$T/tc") $(head -c 300 "$T/tce")"
fi
if command -v nvidia-smi >/dev/null 2>&1; then
    echo "SKIP: check.sh without nvidia-smi (this machine has it)"
elif grep -q '^toolchain: GPU *NOT FOUND: nvidia-smi is not installed' "$T/tc"; then
    pass "check.sh without nvidia-smi: $(grep '^toolchain: GPU' "$T/tc" | sed 's/^toolchain: GPU *//')"
else
    fail "check.sh without nvidia-smi" "$(grep '^toolchain: GPU' "$T/tc")"
fi
# Without the headers (an empty system include directory, no carried packages):
# exit 1, one error line naming each missing header and its package, no build.
GPU_CHECK_DEPS_ONLY=1 GPU_CHECK_DEBS="$T/nodebs" GPU_CHECK_SYSTEM_INCLUDE="$T/empty" GPU_CHECK_LOG="$T/gl" CPATH= \
    sh tests/gpu/check.sh >"$T/tc" 2>"$T/tce"
st=$?
unnamed=""
for h in png.h jpeglib.h tiffio.h cjson/cJSON.h utf8proc.h cblas.h fftw3.h; do
    grep -qF " $h (" "$T/tce" || unnamed="$unnamed $h"
done
if [ $st = 1 ] && [ "$(lines "$T/tce")" = 1 ] && grep -q '^check.sh: error: MISSING' "$T/tce" && [ -z "$unnamed" ] &&
    grep -q '^| deps | FAIL ' "$T/tc"; then
    pass "check.sh without the build's headers fails loudly: $(cut -c1-90 "$T/tce")..."
else
    fail "check.sh without the build's headers" "exit $st, not named:$unnamed; stderr '$(head -c 400 "$T/tce")'"
fi

finish
