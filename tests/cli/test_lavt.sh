#!/bin/sh
# LAVT as a configuration (share/configs/lavt-nano.json: PWAM at every
# stage, no cross-scale module, LAVT's decoder, plain weighted CE), beyond
# the goldens of tests/unit/test_mrsnet_golden.c:
#   - at 120 x 120 (stage grids 30, 15, 8, 4: odd ones, and a size the HFIM
#     refuses) the C forward matches the PyTorch reference
#     (tools/reference/make_goldens.py --forward-only, eval mode) within 1e-4;
#   - rrsis-train trains it on a small synthetic set: the loss is the CE
#     alone and falls; the trained file runs through rrsis-encode,
#     rrsis-fuse and rrsis-decode and gives a mask per sample, and
#     rrsis-score scores them.
# Where $PYTHON cannot import torch the first says SKIP, which tests/run.sh
# counts as a failure (make deps installs python3-torch).
. tests/cli/lib.sh

prog=${MRSNET_FORWARD:-build/cpu/tests/tools/mrsnet_forward}
name=lavt_nano_120_forward_matches_pytorch
if ! "$PYTHON" -c 'import torch' 2>/dev/null; then
    echo "SKIP: $name: $PYTHON cannot import torch (make deps installs python3-torch)"
elif [ ! -x "$prog" ]; then
    fail "$name" "$prog is not built (make check builds it)"
elif ! "$PYTHON" tools/reference/make_goldens.py --config share/configs/lavt-nano.json --forward-only \
    --size 120 --batch 2 --out "$T/ref" >"$T/ref.log" 2>&1; then
    fail "$name" "the reference run failed: $(tail -c 600 "$T/ref.log")"
else
    mkdir -p "$T/cmp"
    forward_rounds "$prog" "$T/ref" "$T/cmp"
    if [ "$rc" = 0 ] && grep -q '^stage4.pwam.lang .* ok$' "$T/cmp/table" &&
        grep -q '^decoder.l2.out .* ok$' "$T/cmp/table"; then
        pass "$name ($(tail -n 1 "$T/cmp/table"))"
    else
        fail "$name" "status $rc: $(grep ' FAIL' "$T/cmp/table" | head -n 3 | tr '\n' ';') $(cat "$T/cmp/c.err")"
    fi
fi

# ------------------------------------------------------------------ training
if ! "$BIN/rrsis-synth" --train 64 --val 8 --size 64 --seed 3 -q -o "$T/syn"; then
    fail "lavt_synth" "rrsis-synth failed"
    finish
    exit
fi
jq '.image_size = 64' share/configs/lavt-nano.json >"$T/lavt64.json"
if "$BIN/rrsis-train" -c "$T/lavt64.json" --train "$T/syn/train.jsonl" --val "$T/syn/val.jsonl" --batch 4 \
    -o "$T/run" --epochs 4 --max-steps 48 --val-every 1000 --ckpt-every 0 --log-every 8 2>"$T/train.err"; then
    # the loss is the CE alone (dice_weight 0); mean of the first 8 updates against the last 8
    verdict=$(jq -rs '[.[] | select(.type == "step")] as $s
        | if ($s | length) != 48 then "\($s | length) updates, not 48"
          elif ($s | map(.loss == .ce) | all | not) then "a loss that is not the CE"
          elif (($s[:8] | map(.loss) | add) <= ($s[-8:] | map(.loss) | add)) then
              "the loss did not fall: \($s[:8] | map(.loss) | add / 8) -> \($s[-8:] | map(.loss) | add / 8)"
          else "ok" end' "$T/run/log.jsonl")
    expect_eq "lavt_nano_trains_on_the_ce" ok "$verdict"
else
    fail "lavt_nano_trains_on_the_ce" "rrsis-train failed: $(tail -n 3 "$T/train.err")"
fi

m=$T/run/last.safetensors
if [ -f "$m" ] && runs_through "$m" "$T/syn/val.jsonl" 8; then
    pass "lavt_nano_runs_through_the_programs"
else
    fail "lavt_nano_runs_through_the_programs" "$(tail -n 3 "$T/pipe.err")"
fi
finish
