# Shared by the shell tests: pass/fail lines and small assertions.
# Source it from the repository root; it sets BIN and PYTHON defaults,
# PYTHONPATH to tools/, and a scratch folder $T.
BIN=$(cd "${BIN:-bin}" 2>/dev/null && pwd) || BIN=${BIN:-bin}
PYTHON=${PYTHON:-/usr/bin/python3}
PYTHONPATH=$(pwd)/tools${PYTHONPATH:+:$PYTHONPATH}
export PYTHONPATH
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
nfail=0
pass() { echo "PASS: $1"; }
fail() {
    echo "FAIL: $1: $2"
    nfail=$((nfail + 1))
}
# expect_eq NAME EXPECTED ACTUAL
expect_eq() {
    if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "got '$3', wanted '$2'"; fi
}
# lines FILE: the number of lines of FILE.
lines() { wc -l <"$1" | tr -d ' '; }
finish() { [ "$nfail" -eq 0 ]; }
# runs_through MODEL MANIFEST N: MANIFEST's samples through rrsis-tokenize,
# -encode, -fuse and -decode with MODEL (masks in $T/masks), then
# rrsis-score; true when N results and N masks came out and all N scored
# ($T/pipe.err keeps the messages).
runs_through() {
    "$BIN/rrsis-tokenize" --queries "$2" | "$BIN/rrsis-encode" -m "$1" | "$BIN/rrsis-fuse" -m "$1" |
        "$BIN/rrsis-decode" -m "$1" --outdir "$T/masks" >"$T/results.jsonl" 2>"$T/pipe.err" &&
        [ "$(lines "$T/results.jsonl")" = "$3" ] && [ "$(find "$T/masks" -name '*.png' | wc -l | tr -d ' ')" = "$3" ] &&
        "$BIN/rrsis-score" --gt "$2" --pred "$T/masks" --format json >"$T/score.json" 2>>"$T/pipe.err" &&
        [ "$(jq -r '"\(.samples) \(.missing)"' "$T/score.json")" = "$3 0" ]
}
# FULL: a device where every write fails with ENOSPC (/dev/full, or a node
# made here when a sandbox lacks it); empty when neither is possible.
if [ -c /dev/full ]; then
    FULL=/dev/full
elif mknod "$T/full" c 1 7 2>/dev/null; then
    FULL=$T/full
else
    FULL=
fi
# forward_rounds PROG REF WORK: tests/tools/mrsnet_forward (PROG) on the
# weights, inputs and stages of make_goldens.py --forward-only in REF, its
# table in WORK/table and its stderr in WORK/c.err.  Status 3 (PSR phases on
# the other side of atan2's cut than the reference's, each within float32
# noise of it: tools/reference/README, interpretation 2): the reference runs
# again with the C forward's sides (WORK/sides.json, into WORK/sided) and the
# comparison is repeated, at most twice (a side taken upstream can move
# another phase across the cut; WORK/rounds.log keeps the summaries of the
# rounds before the last).  Sets rc (mrsnet_forward's status, or 4 when that
# reference run failed: WORK/sided.log) and rounds.
forward_rounds() {
    fr_stages=$2/stages.safetensors
    rounds=1
    while :; do
        "$1" --sides "$3/sides.json" "$2/weights.safetensors" "$2/inputs.safetensors" "$fr_stages" \
            >"$3/table" 2>"$3/c.err"
        rc=$?
        [ $rc = 3 ] && [ $rounds -lt 3 ] || return 0
        tail -n 2 "$3/table" | sed "s/^/round $rounds: /" >>"$3/rounds.log"
        rounds=$((rounds + 1))
        if ! "$PYTHON" tools/reference/make_goldens.py --forward-only --weights "$2/weights.safetensors" \
            --inputs "$2/inputs.safetensors" --phase-sides "$3/sides.json" --out "$3/sided" \
            >"$3/sided.log" 2>&1; then
            rc=4
            return 0
        fi
        fr_stages=$3/sided/stages.safetensors
    done
}
# empty_stream: prints the path of a stream of no records (its end mark
# alone), made on first use: the input of a program run only to load a model.
empty_stream() {
    [ -s "$T/empty.stream" ] ||
        "$PYTHON" -c 'import sys, rrsis_stream as rs; rs.write_end(sys.stdout.buffer, 0)' >"$T/empty.stream"
    echo "$T/empty.stream"
}
# sample_id SENTENCE [IMAGE]: the id rrsis-tokenize gives a sample without one
# (libcore/io/sample_id.h), computed here independently: the image's file
# name without its extension, '-', and the 32-bit FNV-1a of the sentence.
sample_id() {
    "$PYTHON" -c '
import os, sys
h = 2166136261
for b in sys.argv[1].encode():
    h = ((h ^ b) * 16777619) & 0xFFFFFFFF
stem = os.path.splitext(os.path.basename(sys.argv[2]))[0] if len(sys.argv) > 2 else ""
print((stem + "-" if stem else "") + "%08x" % h)' "$@"
}
# require NAME...: each a program in $BIN (rrsis-*) or a command on PATH; the
# first one missing fails the suite, which ends there.
require() {
    for r; do
        case $r in
        rrsis-*) [ -x "$BIN/$r" ] && continue ;;
        *) command -v "$r" >/dev/null 2>&1 && continue ;;
        esac
        fail "$r" "$r is not built or not installed"
        finish
        exit
    done
}
