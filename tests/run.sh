#!/bin/sh
# Runs every test that needs no GPU and ends with the line
# "N passed, N failed, N skipped".
#
# A suite is a program that prints "PASS: name" or "FAIL: name: why" lines and
# exits non-zero on failure: the unit tests (and their ASan/UBSan build), and
# every tests/cli/*.sh.  Logs go to tests/out/.
#
# A check that cannot run here prints "SKIP: name: why" and counts as a
# failure: make deps installs everything these checks need, so a skip means
# a missing package, program or resource.  The one exception is a check that
# depends on whether this machine has a GPU ("SKIP(gpu): name: why", e.g. the
# no-GPU messages on a machine with one): those are listed, not failed.  The
# last line is "N passed, N failed, N skipped" (the failures include the
# skips other than the GPU's).
#   UNIT       the unit-test binary          ASAN_UNIT  its sanitizer build
#   BIN        the folder of the programs    PYTHON     an interpreter with numpy
set -u
UNIT=${UNIT:-build/cpu/tests/unit/run-unit}
ASAN_UNIT=${ASAN_UNIT:-}
BIN=${BIN:-bin}
PYTHON=${PYTHON:-/usr/bin/python3}
export BIN PYTHON
out=tests/out
mkdir -p "$out"
passed=0
failed=0
skipped=0
skips=""     # every skip line, after its suite's name

suite() {
    name=$1
    shift
    log="$out/$name.log"
    start=$(date +%s)
    "$@" >"$log" 2>&1
    status=$?
    p=$(grep -c '^PASS: ' "$log")
    f=$(grep -c '^FAIL: ' "$log")
    s=$(grep -c '^SKIP: ' "$log")
    g=$(grep -c '^SKIP(gpu): ' "$log")
    if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "FAIL: $name: exited with status $status" >>"$log"
        f=1
    fi
    # A result behind other output on its line (a program's stdout let into
    # the log) would be counted as nothing: a failure of the test itself.
    hidden=$(grep -a 'PASS: \|FAIL: \|SKIP: ' "$log" | grep -avc '^PASS: \|^FAIL: \|^SKIP: \|^SKIP(gpu): ')
    if [ "$hidden" -gt 0 ]; then
        echo "FAIL: $name: $hidden result lines do not start their line (output let into the log)" >>"$log"
        f=$((f + 1))
    fi
    passed=$((passed + p))
    failed=$((failed + f + s))
    skipped=$((skipped + s + g))
    skips="$skips$(grep -a '^SKIP' "$log" | sed "s/^/   $name: /")
"
    printf '== %s: %d passed, %d failed, %d skipped (%ss)\n' "$name" "$p" "$((f + s))" "$((s + g))" \
        "$(($(date +%s) - start))"
    # Show what failed, and tables (the op table, benchmarks' summaries).
    grep -av '^PASS: ' "$log" | sed 's/^/   /'
}

suite unit "$UNIT"
if [ -n "$ASAN_UNIT" ]; then
    # The same tests under AddressSanitizer and UBSan; OpenMP's runtime keeps
    # some memory for the process's lifetime, which is no leak of ours.
    ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1 OMP_NUM_THREADS=2 \
        suite unit-asan "$ASAN_UNIT"
fi
for t in tests/cli/test_*.sh; do
    [ -e "$t" ] || continue
    suite "$(basename "$t" .sh)" sh "$t"
done

if [ "$skipped" -gt 0 ]; then
    echo "skipped (SKIP: a failure, make deps installs what they need; SKIP(gpu): this machine's GPU decides):"
    printf '%s' "$skips" | grep -v '^$'
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
