#!/bin/sh
# CPU speed against the PyTorch reference: mrsnet-b inference
# at 480x480 (batch 1) and a mrsnet-nano training step (batch 8), timed in our C
# implementation (build/cpu/bench/cpu_forward, from bench/cpu_forward.c) and in
# tools/reference/mrsnet.py (bench/cpu_forward.py), on the same machine with the
# same thread count; prints both medians and the ratios ours / PyTorch (below 1:
# ours is faster), and each side's peak resident memory (getrusage's ru_maxrss:
# the model, the inputs and the steps; each case runs in a process of its own)
# with their ratio.  A benchmark, not a test: it never fails on a ratio.
#
#   sh bench/cpu-forward.sh [--threads N] [--runs N] [--warmup N] [--case b-infer|nano-train]
#
# Defaults: every online CPU, 5 timed runs after 2 warm-up runs (our arenas reach
# their steady size in the second run), both cases.  Environment: CPU_FORWARD
# (the C program), PYTHON (an interpreter with torch, default /usr/bin/python3).
# Without torch the PyTorch column is skipped with a message.
#
# OpenBLAS: both sides use the system's OpenBLAS for their matrix products
# (PyTorch for Linear and matmul; its convolutions use oneDNN).  OpenBLAS
# 0.3.21 (Debian 12) does not know CPUs newer than itself and falls back to its
# Prescott (SSE3) kernels, 2 to 3 times slower; unless OPENBLAS_CORETYPE is set,
# this script sets it from the CPU's flags (SkylakeX with AVX-512, Haswell with
# AVX2) for both sides (tools/openblas-coretype.sh), and prints the kernel
# OpenBLAS uses.
#
# Both sides run OpenMP (libgomp) with the environment given (OMP_WAIT_POLICY
# included); with neither OMP_WAIT_POLICY nor GOMP_SPINCOUNT set ours waits
# passively (the programs' default) and PyTorch spins, so set one of them to
# compare like with like.  The machine should be quiet: with another busy process, waiting
# OpenMP threads that spin make both sides several times slower and the ratios
# meaningless; the load average is printed before and after.
set -u
threads=$(getconf _NPROCESSORS_ONLN)
runs=5
warmup=2
cases="b-infer nano-train"
while [ $# -gt 0 ]; do
    case $1 in
    --threads) threads=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --case) cases=$2; shift 2 ;;
    -h | --help) sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "cpu-forward: unknown argument '$1'" >&2; exit 2 ;;
    esac
done
bin=${CPU_FORWARD:-build/cpu/bench/cpu_forward}
python=${PYTHON:-/usr/bin/python3}
[ -x "$bin" ] || { echo "cpu-forward: $bin not found (make bench builds it)" >&2; exit 1; }

. tools/openblas-coretype.sh
core=$(OPENBLAS_VERBOSE=2 "$bin" --help 2>&1 | sed -n 's/^Core: //p')
echo "cpu-forward: $threads threads, median of $runs runs after $warmup warm-up runs;" \
    "OpenBLAS kernels ${core:-unknown} (OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset});" \
    "OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-unset}; load average $(cut -d' ' -f1-3 /proc/loadavg)"

args="--threads $threads --runs $runs --warmup $warmup"
out=$(mktemp -d) || exit 1
trap 'rm -rf "$out"' EXIT
torch=1
"$python" -c 'import torch' 2>/dev/null || {
    echo "cpu-forward: $python cannot import torch: PyTorch not timed, no ratios" >&2
    torch=0
}
: >"$out/ours"
: >"$out/torch"
for c in $cases; do
    # shellcheck disable=SC2086
    "$bin" $args --case "$c" >>"$out/ours" || { echo "cpu-forward: $bin failed" >&2; exit 1; }
    if [ $torch = 1 ]; then
        # shellcheck disable=SC2086
        "$python" bench/cpu_forward.py $args --case "$c" >>"$out/torch" ||
            { echo "cpu-forward: bench/cpu_forward.py failed" >&2; exit 1; }
    fi
done

echo "cpu-forward: load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"
printf '%-12s %10s %12s %8s %14s %14s %8s\n' case "ours (s)" "PyTorch (s)" ratio "ours RSS (MiB)" \
    "PyTorch (MiB)" ratio
while read -r name med _ _ _ rss; do
    ref=$(awk -v n="$name" '$1 == n { print $2, $6 }' "$out/torch")
    if [ -n "$ref" ]; then
        echo "$name $med $rss $ref" | awk '{ printf "%-12s %10.3f %12.3f %8.2f %14.0f %14.0f %8.2f\n",
            $1, $2, $4, $2 / $4, $3, $5, $3 / $5 }'
    else
        printf '%-12s %10.3f %12s %8s %14.0f %14s %8s\n' "$name" "$med" - - "$rss" - -
    fi
done <"$out/ours"
