#!/bin/sh
# tools/convert.py --lavt into LAVT's own configuration (lavt-nano): fake
# checkpoints in the layouts LAVT's train.py saves ({'model': backbone.* and
# classifier.*, 'bert_model': BERT's state dict, 'optimizer', 'epoch',
# 'lr_scheduler', 'args'}) and its lavt_one model ({'model': ... with
# text_encoder.*}), made by tests/tools/original_checkpoint.py from the
# reference's seeded lavt-nano under LAVT's names, with the buffers a real one holds
# (relative_position_index, num_batches_tracked, position_ids).  Every tensor
# must be taken (none unused, none initialised), land unchanged, and the C
# forward on the converted file must match the reference's forward on the
# original weights (tests/tools/mrsnet_forward, within 1e-4); a key with no
# place in the model is an error naming it.  Without torch it says SKIP,
# which tests/run.sh counts as a failure (make deps installs python3-torch).
# shellcheck source=tests/cli/lib.sh
. tests/cli/lib.sh

if ! "$PYTHON" -c "import torch" >/dev/null 2>&1; then
    echo "SKIP: convert_lavt: $PYTHON cannot import torch (make deps installs python3-torch)"
    exit 0
fi
OMP_NUM_THREADS=1
export OMP_NUM_THREADS
CFG=share/configs/lavt-nano.json
prog=${MRSNET_FORWARD:-build/cpu/tests/tools/mrsnet_forward}

if ! "$PYTHON" tools/reference/make_goldens.py --config "$CFG" --forward-only --batch 2 --out "$T/ref" \
    >"$T/ref.log" 2>&1; then
    fail "reference" "make_goldens.py failed: $(tail -c 600 "$T/ref.log")"
    finish
    exit
fi
# The fake checkpoints (tests/tools/original_checkpoint.py): the reference
# weights under LAVT's names.
fake() { "$PYTHON" tests/tools/original_checkpoint.py make "$T/ref/weights.safetensors" "$@" 2>>"$T/fake.log"; }
if ! fake "$T/lavt.pth" --bert-apart --model lavt || ! fake "$T/lavt_one.pth" ||
    ! fake "$T/lavt-extra.pth" --bert-apart --model lavt \
        --add backbone.layers.2.fusion.image_lang_att.f_extra.0.weight 32,32,1 ||
    ! fake "$T/lavt-short.pth" --bert-apart --model lavt --drop backbone.layers.1.fusion.project_mm.0.bias; then
    fail "fake checkpoints" "$(tail -c 600 "$T/fake.log")"
    finish
    exit
fi

# same NAME FILE: every tensor of FILE equals the reference weights', and the
# report ($T/NAME.report) has nothing unused, initialised or missing
same() {
    expect_eq "$1" ok "$("$PYTHON" tests/tools/original_checkpoint.py check "$T/ref/weights.safetensors" "$2" \
        "$T/$1.report" 2>&1)"
}

for f in lavt lavt_one; do
    if "$PYTHON" tools/convert.py --config "$CFG" --lavt "$T/$f.pth" --report "$T/${f}_taken_whole.report" \
        -o "$T/$f.safetensors" 2>"$T/err"; then
        same "${f}_taken_whole" "$T/$f.safetensors"
    else
        fail "${f}_taken_whole" "$(tail -n 3 "$T/err")"
    fi
done

name=lavt_converted_forward_matches_the_original
if [ ! -x "$prog" ]; then
    fail "$name" "$prog is not built (make check builds it)"
elif [ -f "$T/lavt.safetensors" ]; then
    "$prog" "$T/lavt.safetensors" "$T/ref/inputs.safetensors" "$T/ref/stages.safetensors" >"$T/table" 2>"$T/c.err"
    rc=$?
    if [ $rc = 0 ]; then
        pass "$name ($(tail -n 1 "$T/table"))"
    else
        fail "$name" "status $rc: $(grep ' FAIL' "$T/table" | head -n 3 | tr '\n' ';') $(cat "$T/c.err")"
    fi
else
    fail "$name" "no converted file"
fi

"$PYTHON" tools/convert.py --config "$CFG" --lavt "$T/lavt-extra.pth" -o "$T/x.safetensors" 2>"$T/err"
st=$?
if [ $st = 1 ] && [ ! -e "$T/x.safetensors" ] && grep -q "error: 1 key of --lavt .*lavt-extra.pth unused, the first \
'backbone.layers.2.fusion.image_lang_att.f_extra.0.weight' (no tensor of that name in the configuration): \
a LAVT configuration takes every tensor of a LAVT checkpoint" "$T/err"; then
    pass "lavt_unused_key_is_an_error_naming_it"
else
    fail "lavt_unused_key_is_an_error_naming_it" "status $st: $(tail -n 2 "$T/err")"
fi
"$PYTHON" tools/convert.py --config "$CFG" --lavt "$T/lavt-short.pth" -o "$T/x.safetensors" 2>"$T/err"
st=$?
if [ $st = 1 ] && grep -q "error: 1 tensor missing (part pwam), the first backbone.layers.1.fusion.project_mm.0.bias" \
    "$T/err"; then
    pass "lavt_missing_pwam_tensor_is_an_error"
else
    fail "lavt_missing_pwam_tensor_is_an_error" "status $st: $(tail -n 2 "$T/err")"
fi
finish
