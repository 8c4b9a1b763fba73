# Shared by the shell tests: pass/fail lines and small assertions.
# Source it; it sets BIN and PYTHON defaults and a scratch folder $T.
BIN=${BIN:-bin}
PYTHON=${PYTHON:-/usr/bin/python3}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
nfail=0
pass() { echo "PASS: $1"; }
fail() {
    echo "FAIL: $1: $2"
    nfail=$((nfail + 1))
}
# check NAME COMMAND...: passes when the command succeeds.
check() {
    name=$1
    shift
    if "$@"; then pass "$name"; else fail "$name" "command failed: $*"; fi
}
# lines FILE: the number of lines of FILE.
lines() { wc -l <"$1" | tr -d ' '; }
finish() { [ "$nfail" -eq 0 ]; }
