#!/bin/sh
# The README's typical run (40 synthetic samples through the demo model:
# rrsis-tokenize | rrsis-encode | rrsis-fuse | rrsis-decode) timed on a quiet
# machine and next to one busy neighbour (a shell loop that holds a core), for
# one or more builds of the programs; prints the median of each as a table.  A
# benchmark, not a test: it never fails on a number.
#
#   sh bench/busy.sh [--runs N] [BIN_DIR...]
#
# Defaults: 5 runs, BIN_DIR bin.  With several folders (main's programs and
# yours, say) the runs are interleaved, so that drift in the machine's load
# touches every build alike.  Environment: as given (an OMP_WAIT_POLICY or
# GOMP_SPINCOUNT of yours reaches the programs); OPENBLAS_CORETYPE is set from
# the CPU's flags unless given (tools/openblas-coretype.sh).  The load average
# is printed before and after: other work on the machine makes "idle" less so.
set -u
runs=5
while [ $# -gt 0 ]; do
    case $1 in
    --runs) runs=$2; shift 2 ;;
    -h | --help) sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) echo "busy: unknown argument '$1'" >&2; exit 2 ;;
    *) break ;;
    esac
done
[ $# -gt 0 ] || set -- bin
m=share/models/mrsnet-nano-synth.safetensors
for b in "$@"; do
    [ -x "$b/rrsis-decode" ] || { echo "busy: $b/rrsis-decode not found (make builds it)" >&2; exit 1; }
done
. tools/openblas-coretype.sh
tmp=$(mktemp -d) || exit 1
hog=
trap '[ -n "$hog" ] && kill "$hog"; rm -rf "$tmp"' EXIT
"$1/rrsis-synth" --preset easy --object-scale 2 -n 40 -o "$tmp/scenes" >/dev/null 2>&1 || exit 1

# Seconds of one run of the pipeline with the programs of folder $1.
run() {
    s=$(date +%s.%N)
    "$1/rrsis-tokenize" --vocab share/vocab/bert-base-uncased.txt --queries "$tmp/scenes/test.jsonl" | "$1/rrsis-encode" -m $m | "$1/rrsis-fuse" -m $m \
        | "$1/rrsis-decode" -m $m --outdir "$tmp/masks" --force >/dev/null || { echo "busy: $1 failed" >&2; exit 1; }
    e=$(date +%s.%N)
    echo "$s $e" | awk '{ printf "%.3f\n", $2 - $1 }'
}
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "busy: median of $runs runs; OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-unset}," \
    "GOMP_SPINCOUNT=${GOMP_SPINCOUNT:-unset}; load average $(cut -d' ' -f1-3 /proc/loadavg)"
for b in "$@"; do run "$b" >/dev/null; done # warm the page cache
for load in idle busy; do
    if [ $load = busy ]; then
        sh -c 'while :; do :; done' &
        hog=$!
    fi
    i=0
    while [ $i -lt "$runs" ]; do
        j=0
        for b in "$@"; do
            run "$b" >>"$tmp/t.$load.$j" || exit 1
            j=$((j + 1))
        done
        i=$((i + 1))
    done
    [ -n "$hog" ] && kill "$hog" && hog=
done
echo "busy: load average after $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| programs | idle (s) | one busy neighbour (s) | busy / idle |"
echo "|---|---|---|---|"
j=0
for b in "$@"; do
    idle=$(median <"$tmp/t.idle.$j")
    busy=$(median <"$tmp/t.busy.$j")
    echo "$b $idle $busy" | awk '{ printf "| %s | %.2f | %.2f | %.1f |\n", $1, $2, $3, $3 / $2 }'
    j=$((j + 1))
done
