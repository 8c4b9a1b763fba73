#!/bin/sh
# RMSIN as a configuration (share/configs/rmsin-nano.json: the IIM at every
# stage, the CIM, RMSIN's decoder and loss), beyond the goldens of
# tests/unit/test_mrsnet_golden.c: rrsis-train trains it on a small
# synthetic set at 64 x 64 (the CIM on a 2 x 2 grid): the loss is
# ce_weight·CE + dice_weight·Dice and falls; the trained file runs through
# rrsis-encode, rrsis-fuse and rrsis-decode and gives a mask per sample,
# and rrsis-score scores them (the programs feed image_size: the CIM's grid,
# tests/unit/test_cim.c checks the refusal of another).
. tests/cli/lib.sh

if ! "$BIN/rrsis-synth" --train 64 --val 8 --size 64 --seed 5 -q -o "$T/syn"; then
    fail "rmsin_synth" "rrsis-synth failed"
    finish
    exit
fi
jq '.image_size = 64' share/configs/rmsin-nano.json >"$T/rmsin64.json"
if "$BIN/rrsis-train" -c "$T/rmsin64.json" --train "$T/syn/train.jsonl" --val "$T/syn/val.jsonl" --batch 4 \
    -o "$T/run" --epochs 4 --max-steps 48 --val-every 1000 --ckpt-every 0 --log-every 8 2>"$T/train.err"; then
    # mean of the first 8 updates against the last 8
    verdict=$(jq -rs '[.[] | select(.type == "step")] as $s
        | if ($s | length) != 48 then "\($s | length) updates, not 48"
          elif ($s | map(((.loss - 0.9 * .ce - 0.2 * .dice) | fabs) < 1e-4 * .loss) | all | not) then
              "a loss that is not 0.9 CE + 0.2 Dice"
          elif (($s[:8] | map(.loss) | add) <= ($s[-8:] | map(.loss) | add)) then
              "the loss did not fall: \($s[:8] | map(.loss) | add / 8) -> \($s[-8:] | map(.loss) | add / 8)"
          else "ok" end' "$T/run/log.jsonl")
    expect_eq "rmsin_nano_trains" ok "$verdict"
else
    fail "rmsin_nano_trains" "rrsis-train failed: $(tail -n 3 "$T/train.err")"
fi

m=$T/run/last.safetensors
if [ -f "$m" ] && runs_through "$m" "$T/syn/val.jsonl" 8; then
    pass "rmsin_nano_runs_through_the_programs"
else
    fail "rmsin_nano_runs_through_the_programs" "$(tail -n 3 "$T/pipe.err")"
fi
finish
