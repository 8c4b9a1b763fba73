#!/bin/sh
# The programs under signals and resource limits: none may hang, none may
# die without a word, and none may leave a partial file that looks whole.
#   - rrsis-train: SIGTERM while the model is built ends it at once (status
#     143: nothing of the run to save yet); a second signal while it trains
#     ends it at once (status 130 or 143), its checkpoint whole and
#     resumable;
#   - rrsis-decode killed by SIGTERM while it writes an overlay leaves no
#     partial PNG under the name of a whole one;
#   - an address-space limit (ulimit -v) too small for OpenBLAS's buffers is
#     a clear error at start-up, never a hang; the limit the message names
#     runs the demo model's pipeline;
#   - a file-size limit (ulimit -f) is a write error "File too large", exit 1,
#     never a silent death by SIGXFSZ.
# Every run that could hang runs under timeout(1).
#   BIN     the programs (default bin)
#   PYTHON  a Python 3 with numpy (default /usr/bin/python3)
# shellcheck source=tests/cli/lib.sh
. tests/cli/lib.sh
# (from lib.sh: pass, fail, finish, lines, expect_eq, $T, $BIN, $PYTHON)

TRAIN=$BIN/rrsis-train
VOCAB=share/vocab/bert-base-uncased.txt
MODEL=share/models/mrsnet-nano-synth.safetensors
# what the tests need: the programs they run, and jq
for p in rrsis-train rrsis-synth rrsis-tokenize rrsis-encode rrsis-fuse rrsis-decode rrsis-score jq; do
    [ -x "$BIN/$p" ] || command -v "$p" >/dev/null 2>&1 || { fail "$p" "$p is missing"; finish; exit; }
done
unset RRSIS_MODEL

# ends_within PID SECONDS: 0 when the process has ended within SECONDS.
ends_within() {
    n=0
    while kill -0 "$1" 2>/dev/null && [ $n -lt $(($2 * 10)) ]; do
        sleep 0.1
        n=$((n + 1))
    done
    ! kill -0 "$1" 2>/dev/null
}
# reap NAME PID SECONDS WANT: waits for PID (killing it after SECONDS) and
# checks its exit status against WANT.
reap() {
    if ends_within "$2" "$4"; then
        wait "$2"
        st=$?
        expect_eq "$1" "$3" "$st"
    else
        kill -KILL "$2" 2>/dev/null
        wait "$2" 2>/dev/null
        fail "$1" "still running $4 s later"
    fi
}
# rss_mb PID: the resident size of PID in MB (0 when it is gone).
rss_mb() {
    awk '/^VmRSS:/ { print int($2 / 1024); found = 1 } END { if (!found) print 0 }' "/proc/$1/status" 2>/dev/null ||
        echo 0
}

"$BIN/rrsis-synth" --train 24 --val 4 --size 64 --seed 3 -q -o "$T/syn" || {
    fail "synth" "rrsis-synth failed"
    finish
    exit
}

# ------------------------------------------------- rrsis-train: signals
# mrsnet-b's random initialisation takes a while (a billion bytes of weights
# and moments): a signal there has nothing to save, and must not wait for it.
"$TRAIN" -c share/configs/mrsnet-b.json --train "$T/syn/train.jsonl" --val "$T/syn/val.jsonl" --batch 1 --vocab "$VOCAB" \
    -o "$T/build" 2>"$T/err" &
pid=$!
n=0
while [ "$(rss_mb $pid)" -lt 200 ] && kill -0 $pid 2>/dev/null && [ $n -lt 600 ]; do
    sleep 0.1
    n=$((n + 1))
done
if [ "$(rss_mb $pid)" -ge 200 ]; then
    kill -TERM $pid
    reap "SIGTERM while the model is built ends rrsis-train at once (status 143)" $pid 143 10
    if [ ! -e "$T/build/last.safetensors" ]; then
        pass "no checkpoint from a run stopped before its first update"
    else
        fail "no checkpoint from a run stopped before its first update" "$T/build/last.safetensors exists"
    fi
else
    kill -KILL $pid 2>/dev/null
    wait $pid 2>/dev/null
    fail "SIGTERM while the model is built" "never saw the build (200 MB resident): $(tail -2 "$T/err")"
fi

# While it trains: SIGTERM asks for a checkpoint, and a SIGINT right after it
# ends the program at once; whatever checkpoint is on disk is whole (one is
# written every update, so the kill often lands in a write).
jq '.image_size = 128' share/configs/mrsnet-nano.json >"$T/nano128.json"
"$TRAIN" -c "$T/nano128.json" --train "$T/syn/train.jsonl" --val "$T/syn/val.jsonl" --batch 4 --epochs 1000 \
    --val-every 100000 --ckpt-every 1 --vocab "$VOCAB" -o "$T/twice" 2>"$T/err" &
pid=$!
n=0
while [ ! -e "$T/twice/last.safetensors" ] && kill -0 $pid 2>/dev/null && [ $n -lt 600 ]; do
    sleep 0.1
    n=$((n + 1))
done
kill -TERM $pid 2>/dev/null
kill -INT $pid 2>/dev/null
# Both pending at once are delivered in the order of their numbers (SIGINT
# first): the second to arrive names the status, 130 or 143.
if ends_within $pid 30; then
    wait $pid
    st=$?
    if [ $st -eq 130 ] || [ $st -eq 143 ]; then
        pass "SIGTERM then SIGINT while training end rrsis-train at once (status $st)"
    else
        fail "SIGTERM then SIGINT while training end rrsis-train at once" "exit $st, wanted 130 or 143: $(tail -1 "$T/err")"
    fi
else
    kill -KILL $pid 2>/dev/null
    wait $pid 2>/dev/null
    fail "SIGTERM then SIGINT while training end rrsis-train at once" "still running 30 s later"
fi
if "$TRAIN" --check "$T/twice/last.safetensors" >/dev/null 2>"$T/err" &&
    timeout 120 "$TRAIN" -o "$T/twice" --resume --vocab "$VOCAB" --max-steps "$(($("$TRAIN" --check "$T/twice/last.safetensors" |
        jq .step) + 1))" 2>"$T/err"; then
    pass "after the second signal the checkpoint is whole and the run resumes"
else
    fail "after the second signal the checkpoint is whole and the run resumes" "$(tail -1 "$T/err")"
fi

# ------------------------------------------ other programs: SIGTERM
# rrsis-decode writing overlays of a large image (a second or so each): a
# SIGTERM as soon as the first appears ends it at once, and every PNG under
# its final name is whole (ends with IEND); a partial one is only ever a
# hidden temporary.
"$PYTHON" - "$T/big.png" <<'EOF2' || fail "big image" "cannot write it with $PYTHON"
import struct, sys, zlib
import numpy as np
h = w = 1500
img = np.random.default_rng(1).integers(0, 256, (h, w, 3), dtype=np.uint8)
raw = b"".join(b"\0" + img[y].tobytes() for y in range(h))
def chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
open(sys.argv[1], "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                              + chunk(b"IDAT", zlib.compress(raw, 1)) + chunk(b"IEND", b""))
EOF2
for i in 1 2 3 4; do echo "{\"id\": \"q$i\", \"sentence\": \"the large building $i\", \"image\": \"big.png\"}"; done \
    >"$T/bigq.jsonl"
"$BIN/rrsis-tokenize" --vocab "$VOCAB" --queries "$T/bigq.jsonl" | "$BIN/rrsis-encode" -m "$MODEL" |
    "$BIN/rrsis-fuse" -m "$MODEL" >"$T/bigfus.st" || fail "big pipeline" "encode | fuse failed"
"$BIN/rrsis-decode" -m "$MODEL" --overlay "$T/bov" <"$T/bigfus.st" >/dev/null 2>"$T/err" &
pid=$!
n=0
while ! ls "$T/bov"/*.png >/dev/null 2>&1 && kill -0 $pid 2>/dev/null && [ $n -lt 1200 ]; do
    sleep 0.05
    n=$((n + 1))
done
kill -TERM $pid 2>/dev/null
reap "SIGTERM ends rrsis-decode at once (status 143)" $pid 143 10
partial=
for f in "$T/bov"/*.png; do
    [ -e "$f" ] || continue
    [ "$(tail -c 8 "$f" | od -An -tx1 | tr -d ' \n')" = 49454e44ae426082 ] || partial="$partial $(basename "$f")"
done
if ls "$T/bov"/*.png >/dev/null 2>&1 && [ -z "$partial" ]; then
    pass "rrsis-decode killed while writing: every PNG under its name is whole"
else
    fail "rrsis-decode killed while writing: every PNG under its name is whole" "partial:${partial:- (none written)}"
fi

# ------------------------------------------ an address-space limit (ulimit -v)
# limited KB SECONDS CMD...: CMD under ulimit -v KB and timeout SECONDS,
# stderr in $T/err.
limited() {
    kb=$1 secs=$2
    shift 2
    (
        ulimit -v "$kb" || exit 99
        exec timeout "$secs" "$@"
    ) 2>"$T/err"
}
# clear_failure NAME STATUS: a hang (124) or a crash fails; so does an exit
# without our one-line message (or the dynamic linker's, when the CUDA
# libraries alone do not fit).
clear_failure() {
    if [ "$2" -eq 1 ] && [ "$(lines "$T/err")" -eq 1 ] && grep -q "^$1: error: " "$T/err"; then
        pass "$3: $(cat "$T/err")"
    elif [ "$2" -eq 127 ] && grep -q "error while loading shared libraries" "$T/err"; then
        pass "$3: $(cat "$T/err")"
    else
        fail "$3" "exit $2: $(head -c 300 "$T/err")"
    fi
}
for p in "$BIN"/rrsis-*; do
    name=$(basename "$p")
    limited 100000 10 "$p" --version >/dev/null
    clear_failure "$name" $? "$name under ulimit -v 100000 ends at once"
done

"$BIN/rrsis-synth" --preset easy --seed 2026 -n 3 -o "$T/data" -q || fail "synth" "rrsis-synth failed"
"$BIN/rrsis-tokenize" --vocab "$VOCAB" --queries "$T/data/test.jsonl" >"$T/tok.st" || fail "tokenize" "failed"
# pipeline KB: encode, fuse and decode one after the other under the limit
# (each run replaces the masks of the one before: --force).
pipeline() {
    limited "$1" 60 "$BIN/rrsis-encode" -m "$MODEL" <"$T/tok.st" >"$T/enc.st" &&
        limited "$1" 60 "$BIN/rrsis-fuse" -m "$MODEL" <"$T/enc.st" >"$T/fus.st" &&
        limited "$1" 60 "$BIN/rrsis-decode" -m "$MODEL" --outdir "$T/masks" --force <"$T/fus.st" >"$T/dec.jsonl"
}
for stage in encode fuse decode; do
    limited 300000 20 "$BIN/rrsis-$stage" -m "$MODEL" <"$T/tok.st" >/dev/null
    st=$?
    if [ $st -eq 0 ]; then
        pass "rrsis-$stage works under ulimit -v 300000"
    else
        clear_failure "rrsis-$stage" $st "rrsis-$stage under ulimit -v 300000 says why it cannot run"
    fi
done
# The limit the message asks for is enough for the demo model's pipeline;
# so is any that start-up accepts.  (The CUDA libraries may need a higher
# one just to load.)
kb=100000
while [ $kb -le 16000000 ]; do
    limited $kb 10 "$BIN/rrsis-encode" --version >/dev/null && break
    need=$(sed -n 's/.*(ulimit -v \([0-9]*\))$/\1/p' "$T/err")
    [ -n "$need" ] && kb=$need && break
    kb=$((kb * 2))
done
if pipeline $kb && [ "$(lines "$T/dec.jsonl")" = 3 ]; then
    pass "encode | fuse | decode work under ulimit -v $kb, the limit start-up names or accepts"
else
    fail "encode | fuse | decode under ulimit -v $kb, the limit start-up names or accepts" "$(head -c 300 "$T/err")"
fi

# ------------------------------------------------ a file-size limit (ulimit -f)
# fsize BLOCKS NAME FILE OUT CMD...: CMD, its standard output to OUT, under
# ulimit -f BLOCKS (of 512 bytes) must fail with exit 1 and, last on stderr,
# "NAME: error: ...FILE...: File too large" (never SIGXFSZ's silent death,
# 153).
fsize() {
    blocks=$1 name=$2 file=$3 out=$4
    shift 4
    (
        ulimit -f "$blocks" || exit 99
        exec timeout 60 "$@" >"$out"
    ) 2>"$T/err"
    st=$?
    if [ $st -eq 1 ] && tail -1 "$T/err" | grep -q "^$name: error: .*$file.*File too large$"; then
        pass "$name under ulimit -f $blocks: $(tail -1 "$T/err")"
    else
        fail "$name under ulimit -f $blocks" "exit $st: $(tail -1 "$T/err")"
    fi
}
"$BIN/rrsis-encode" -m "$MODEL" <"$T/tok.st" >"$T/enc.st" && "$BIN/rrsis-fuse" -m "$MODEL" <"$T/enc.st" >"$T/fus.st" &&
    "$BIN/rrsis-decode" -m "$MODEL" --outdir "$T/masks" --force <"$T/fus.st" >/dev/null || fail "pipeline" "failed"
fsize 1 rrsis-tokenize "standard output" "$T/big.st" \
    "$BIN/rrsis-tokenize" --vocab "$VOCAB" --queries "$T/data/test.jsonl"
fsize 8 rrsis-encode "" "$T/big.st" "$BIN/rrsis-encode" -m "$MODEL" "$T/tok.st"
fsize 1 rrsis-decode "$T/ov/.*\.png" /dev/null "$BIN/rrsis-decode" -m "$MODEL" --overlay "$T/ov" "$T/fus.st"
fsize 1 rrsis-score "standard output" "$T/big.json" \
    "$BIN/rrsis-score" --gt "$T/data/test.jsonl" --pred "$T/masks" --format json
fsize 4 rrsis-synth "$T/big/images/.*\.png" /dev/null "$BIN/rrsis-synth" -n 4 -o "$T/big" -q
fsize 200 rrsis-train "$T/fsize/best.safetensors" /dev/null "$TRAIN" -c share/configs/mrsnet-nano.json \
    --vocab "$VOCAB" --train "$T/syn/train.jsonl" --val "$T/syn/val.jsonl" --batch 2 --max-steps 1 -o "$T/fsize"
finish
