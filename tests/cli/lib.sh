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
# FULL: a device where every write fails with ENOSPC (/dev/full, or a node
# made here when a sandbox lacks it); empty when neither is possible.
if [ -c /dev/full ]; then
    FULL=/dev/full
elif mknod "$T/full" c 1 7 2>/dev/null; then
    FULL=$T/full
else
    FULL=
fi
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
