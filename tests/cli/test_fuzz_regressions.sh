#!/bin/sh
# Replays the fuzz targets' seed corpora and every input that ever crashed a
# target (tests/fuzz/regressions/TARGET/) through the targets' own code,
# built with gcc's AddressSanitizer and UBSan (make's replay-TARGET
# programs), so that no fixed crash, leak or undefined behaviour comes back.
# One PASS or FAIL line per input.
#   FUZZ_REPLAY  the folder of the replay-TARGET programs (default build/asan/tests/fuzz)
#   PYTHON       a Python 3 with numpy, for the seed scripts
. tests/cli/lib.sh
REPLAY=${FUZZ_REPLAY:-build/asan/tests/fuzz}
# As the fuzzer's -rss_limit_mb and -timeout: an input that makes a target
# take a gigabyte, or a minute, fails too.
export ASAN_OPTIONS=detect_leaks=1:hard_rss_limit_mb=1024 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

for src in tests/fuzz/fuzz_*.c; do
    t=$(basename "$src" .c)
    t=${t#fuzz_}
    prog=$REPLAY/replay-$t
    if [ ! -x "$prog" ]; then
        fail "$t" "no $prog (make $prog)"
        continue
    fi
    if ! "$PYTHON" "tests/fuzz/seeds_$t.py" "$T/seeds-$t" >"$T/seeds-$t.log" 2>&1; then
        fail "$t seeds" "tests/fuzz/seeds_$t.py: $(tail -n 1 "$T/seeds-$t.log")"
        continue
    fi
    for f in "$T/seeds-$t"/* tests/fuzz/regressions/"$t"/*; do
        [ -f "$f" ] || continue
        name="$t $(basename "$(dirname "$f")" | sed 's/^seeds-.*/seed/')/$(basename "$f")"
        timeout 60 "$prog" "$f" >"$T/out" 2>&1
        status=$?
        if [ "$status" -eq 0 ]; then
            pass "$name"
        elif [ "$status" -eq 124 ]; then
            fail "$name" "still running after 60 s"
        else
            fail "$name" "$(grep -m 1 -E 'ERROR|runtime error|SUMMARY|exhausted' "$T/out" || tail -n 1 "$T/out")"
        fi
    done
done
finish
