#!/bin/sh
# mrsnet-b at 480x480 against the PyTorch reference: one
# forward with seeded random weights, every stage within 1e-4 relative error
# (norm of the difference over the norm of the reference).
#
# tools/reference/make_goldens.py --forward-only writes the weights (seed
# 2401), the inputs and the reference's stages in eval mode (BatchNorm on its
# running statistics, no dropout) into a scratch folder (1.3 GB); then
# tests/tools/mrsnet_forward.c (built by make check) runs the C forward on
# the same weights and inputs and prints one row per stage.  About a minute
# on this project's 2 quiet cores: the reference 25 s, the C side 25 s
# (loading 1 GB of weights 10 s, the first forward 15 s), so it runs in make
# check (make deps installs torch).  Where the C forward puts a PSR phase on
# the other side of atan2's cut than the reference (a bin whose Im Z is
# within float32 noise of 0: tools/reference/README, interpretation 2), the
# reference runs again with the C's sides and the comparison is repeated:
# another minute.
#
# Skipped ("SKIP: ...", exit 0; tests/run.sh counts it as a failure) where
# $PYTHON cannot import torch, with less than 5 GB of memory available (the
# reference peaks at 3.3 GB, the C forward at 2.1: the weights, the trace and
# what a step holds at once) or less than 2 GB
# free in the scratch folder's file system.
#   MRSNET_FORWARD  the built tests/tools/mrsnet_forward (make check sets
#                   it; default build/cpu/tests/tools/mrsnet_forward)
#   MRSNET_B_REF    a folder that already holds weights, inputs and stages
#                   .safetensors from make_goldens.py --forward-only (skips
#                   the reference run; the checks still apply)
. tests/cli/lib.sh
name=mrsnet_b_forward_matches_pytorch

if ! "$PYTHON" -c 'import torch' 2>/dev/null; then
    echo "SKIP: $name: $PYTHON cannot import torch (make deps installs python3-torch)"
    exit 0
fi
avail=$(awk '/^MemAvailable:/ { print int($2 / 1048576) }' /proc/meminfo 2>/dev/null)
if [ "${avail:-0}" -lt 5 ]; then
    echo "SKIP: $name: ${avail:-?} GB of memory available, the reference run of mrsnet-b needs 3.3 (5 to be safe)"
    exit 0
fi
if [ -z "${MRSNET_B_REF:-}" ]; then
    free=$(df -Pk "$T" | awk 'NR == 2 { print int($4 / 1048576) }')
    if [ "${free:-0}" -lt 2 ]; then
        echo "SKIP: $name: ${free:-?} GB free in $T, the reference files take 1.3 (1.6 with a second round)"
        exit 0
    fi
fi

# --- the C program (make check builds it) ---------------------------------------
prog=${MRSNET_FORWARD:-build/cpu/tests/tools/mrsnet_forward}
if [ ! -x "$prog" ]; then
    fail "$name" "$prog is not built (make check builds it)"
    finish
    exit
fi

# --- the reference ---------------------------------------------------------------
ref=${MRSNET_B_REF:-$T/ref}
if [ -z "${MRSNET_B_REF:-}" ]; then
    start=$(date +%s)
    if ! "$PYTHON" tools/reference/make_goldens.py --config share/configs/mrsnet-b.json --forward-only \
        --size 480 --out "$ref" >"$T/ref.log" 2>&1; then
        fail "$name" "the reference run failed: $(tail -c 600 "$T/ref.log")"
        finish
        exit
    fi
    echo "reference: make_goldens.py --forward-only, $(($(date +%s) - start)) s"
fi

# --- the comparison --------------------------------------------------------------
start=$(date +%s)
forward_rounds "$prog" "$ref" "$T"
[ -f "$T/rounds.log" ] && sed 's/^/mrsnet-b /' "$T/rounds.log"
sed 's/^/mrsnet-b /' "$T/table"
echo "C forward: $(cat "$T/c.err") ($rounds rounds, $(($(date +%s) - start)) s in all)"
case $rc in
0) pass "$name" ;;
1) fail "$name" "$(grep -c ' FAIL' "$T/table") stages over 1e-4; $(tail -n 1 "$T/table")" ;;
3) fail "$name" "phases still across atan2's cut after $rounds rounds: $(tail -n 2 "$T/table" | head -n 1)" ;;
4) fail "$name" "the reference run with the C forward's phase sides failed: $(tail -c 600 "$T/sided.log")" ;;
*) fail "$name" "mrsnet_forward exited with status $rc: $(cat "$T/c.err")" ;;
esac
finish
