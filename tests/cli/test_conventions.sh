#!/bin/sh
# The command-line conventions, for every program in $BIN: --help on stdout
# with exit 0, --version, usage errors exit 2 with a "Try" line, a man page
# and bash/zsh completions that name exactly the options of --help, a full
# disk reported, and random bytes on stdin refused in one line by the
# programs that read a stream.
. tests/cli/lib.sh

# Long options named in a text: --word, or \-\-word in a man page.
options() { sed 's/\\-/-/g' | grep -o -- '--[a-z][a-z0-9-]*' | sort -u; }

stream_readers="rrsis-inspect rrsis-encode rrsis-fuse rrsis-decode"

found=0
for p in "$BIN"/rrsis-*; do
    [ -x "$p" ] || continue
    found=1
    prog=$(basename "$p")
    if "$p" --help >"$T/help" 2>"$T/err" && [ -s "$T/help" ] && [ ! -s "$T/err" ]; then
        pass "$prog --help"
    else
        fail "$prog --help" "no help on stdout, or exit non-zero"
    fi
    if "$p" --version | grep -q "^$prog (rrsis) "; then pass "$prog --version"; else fail "$prog --version" "bad version line"; fi
    "$p" --no-such-option >/dev/null 2>"$T/err"
    st=$?
    if [ $st -eq 2 ] && grep -q "Try '$prog --help'" "$T/err"; then
        pass "$prog usage error"
    else
        fail "$prog usage error" "exit $st, stderr: $(head -c 200 "$T/err")"
    fi
    options <"$T/help" >"$T/o.help"
    for doc in "man/man1/$prog.1" "completions/bash/$prog" "completions/zsh/_$prog"; do
        if [ ! -f "$doc" ]; then
            fail "$prog docs" "$doc is missing"
            continue
        fi
        case $doc in
        man/*) sed -n '/^\.SH OPTIONS/,/^\.SH /p' "$doc" | options >"$T/o.doc" ;;
        *) options <"$doc" >"$T/o.doc" ;;
        esac
        if cmp -s "$T/o.help" "$T/o.doc"; then
            pass "$prog $doc agrees with --help"
        else
            fail "$prog $doc agrees with --help" "$(diff "$T/o.help" "$T/o.doc" | grep '^[<>]' | tr '\n' ' ')"
        fi
    done
    if [ -n "$FULL" ]; then
        "$p" --help >"$FULL" 2>"$T/err"
        st=$?
        if [ $st -eq 1 ] && grep -q "^$prog: error: " "$T/err"; then
            pass "$prog /dev/full"
        else
            fail "$prog /dev/full" "exit $st: $(cat "$T/err")"
        fi
    fi
    case " $stream_readers " in
    *" $prog "*)
        # a model for the programs that need one (rrsis-inspect ignores it)
        head -c 100 /dev/urandom | RRSIS_MODEL=tests/golden/mrsnet-nano/weights.safetensors "$p" >"$T/out" 2>"$T/err"
        st=$?
        if [ $st -eq 1 ] && [ "$(lines "$T/err")" = 1 ] && grep -q "^$prog: error: " "$T/err"; then
            pass "$prog random bytes"
        else
            fail "$prog random bytes" "exit $st, stderr: $(head -c 300 "$T/err")"
        fi
        ;;
    esac
done
[ $found = 1 ] || echo "no programs built in $BIN yet"
finish
