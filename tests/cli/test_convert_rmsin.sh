#!/bin/sh
# tools/convert.py --rmsin into RMSIN's own configuration (rmsin-nano): a fake
# checkpoint in the layout RMSIN's train.py saves ({'model': backbone.*,
# classifier.* and text_encoder.* of its lavt_one model, 'optimizer',
# 'epoch', 'args', 'lr_scheduler'}), made by tests/tools/original_checkpoint.py
# from the reference's seeded rmsin-nano under RMSIN's names (the reference's
# names are RMSIN's), with the buffers a real one holds
# (relative_position_index, num_batches_tracked, position_ids).  Every tensor must be taken (none
# unused, none initialised) and land unchanged, and the C forward on the
# converted file must match the reference's forward on the original weights
# (tests/tools/mrsnet_forward, within 1e-4).  A key with no place in the
# model is an error naming it, and so is a missing one of the CIM or the
# various receptive branch.  Without torch it says SKIP, which tests/run.sh
# counts as a failure (make deps installs python3-torch).
# shellcheck source=tests/cli/lib.sh
. tests/cli/lib.sh

if ! "$PYTHON" -c "import torch" >/dev/null 2>&1; then
    echo "SKIP: convert_rmsin: $PYTHON cannot import torch (make deps installs python3-torch)"
    exit 0
fi
OMP_NUM_THREADS=1
export OMP_NUM_THREADS
CFG=share/configs/rmsin-nano.json
prog=${MRSNET_FORWARD:-build/cpu/tests/tools/mrsnet_forward}

if ! "$PYTHON" tools/reference/make_goldens.py --config "$CFG" --forward-only --batch 2 --out "$T/ref" \
    >"$T/ref.log" 2>&1; then
    fail "reference" "make_goldens.py failed: $(tail -c 600 "$T/ref.log")"
    finish
    exit
fi
# The fakes (tests/tools/original_checkpoint.py): the reference weights under
# RMSIN's names, whole, with a key too many, and without one tensor of each
# RMSIN-only part.
fake() { "$PYTHON" tests/tools/original_checkpoint.py make "$T/ref/weights.safetensors" "$@" 2>>"$T/fake.log"; }
if ! fake "$T/rmsin.pth" ||
    ! fake "$T/rmsin-extra.pth" --add backbone.cim.block.0.csa1.m.attention.extra.weight 4,4 ||
    ! fake "$T/rmsin-no-cim.pth" --drop backbone.cim.fusion.2.bn3.running_var ||
    ! fake "$T/rmsin-no-visual.pth" --drop backbone.layers.1.visual_residual.repblock.brb_3x3_2.conv2.weight; then
    fail "fake checkpoints" "$(tail -c 600 "$T/fake.log")"
    finish
    exit
fi

name=rmsin_taken_whole
if "$PYTHON" tools/convert.py --config "$CFG" --rmsin "$T/rmsin.pth" --report "$T/rmsin.report" \
    -o "$T/rmsin.safetensors" 2>"$T/err"; then
    expect_eq "$name" ok "$("$PYTHON" tests/tools/original_checkpoint.py check "$T/ref/weights.safetensors" \
        "$T/rmsin.safetensors" "$T/rmsin.report" 2>&1)"
else
    fail "$name" "$(tail -n 3 "$T/err")"
fi

name=rmsin_converted_forward_matches_the_original
if [ ! -x "$prog" ]; then
    fail "$name" "$prog is not built (make check builds it)"
elif [ -f "$T/rmsin.safetensors" ]; then
    "$prog" "$T/rmsin.safetensors" "$T/ref/inputs.safetensors" "$T/ref/stages.safetensors" >"$T/table" 2>"$T/c.err"
    rc=$?
    if [ $rc = 0 ] && grep -q "^cim.D1 .* ok" "$T/table"; then
        pass "$name ($(tail -n 1 "$T/table"))"
    else
        fail "$name" "status $rc: $(grep ' FAIL' "$T/table" | head -n 3 | tr '\n' ';') $(cat "$T/c.err")"
    fi
else
    fail "$name" "no converted file"
fi

"$PYTHON" tools/convert.py --config "$CFG" --rmsin "$T/rmsin-extra.pth" -o "$T/x.safetensors" 2>"$T/err"
st=$?
if [ $st = 1 ] && [ ! -e "$T/x.safetensors" ] && grep -q "error: 1 key of --rmsin .*rmsin-extra.pth unused, the first \
'backbone.cim.block.0.csa1.m.attention.extra.weight' (no tensor of that name in the configuration): \
a RMSIN configuration takes every tensor of a RMSIN checkpoint" "$T/err"; then
    pass "rmsin_unused_key_is_an_error_naming_it"
else
    fail "rmsin_unused_key_is_an_error_naming_it" "status $st: $(tail -n 2 "$T/err")"
fi
for part in cim visual; do
    "$PYTHON" tools/convert.py --config "$CFG" --rmsin "$T/rmsin-no-$part.pth" -o "$T/x.safetensors" 2>"$T/err"
    st=$?
    if [ $st = 1 ] && grep -q "error: 1 tensor missing (part $part), the first backbone\.\(cim\|layers\)" "$T/err"; then
        pass "rmsin_missing_${part}_tensor_is_an_error"
    else
        fail "rmsin_missing_${part}_tensor_is_an_error" "status $st: $(tail -n 2 "$T/err")"
    fi
done
# Into an MRSNet configuration the RMSIN-only modules are reported unused, with their reason.
"$PYTHON" tools/convert.py --config share/configs/mrsnet-nano.json --rmsin "$T/rmsin.pth" --partial \
    --report "$T/mrsnet.report" -o "$T/m.safetensors" 2>"$T/err"
st=$?
why=$("$PYTHON" -c '
import json, sys
u = json.load(open(sys.argv[1]))["unused"]["--rmsin"]
print(u.get("backbone.cim.bn.weight"), "|", u.get("backbone.layers.0.visual_gate.0.weight"))' "$T/mrsnet.report" 2>&1)
expect_eq rmsin_into_mrsnet_reports_cim_and_visual_unused \
    "0 RMSIN's CIM (the configuration's cross_scale is not cim) | RMSIN's gate of its various receptive branch (the configuration's fusion is not iim)" \
    "$st $why"
finish
