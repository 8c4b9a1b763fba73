#!/bin/sh
# Options of the configuration that mrsnet-b leaves off, against the PyTorch
# reference: for each variant of mrsnet-nano below, one forward at 128x128
# with seeded random weights (tools/reference/make_goldens.py --forward-only,
# eval mode), then tests/tools/mrsnet_forward runs the C forward on the same
# weights and inputs and compares every stage (relative error <= 1e-4).  A
# few seconds each.  Where $PYTHON cannot import torch it says SKIP, which
# tests/run.sh counts as a failure (make deps installs python3-torch).
#   swin.ape  Swin's absolute position embedding (the demo model has it)
#   cim       RMSIN's cross-scale module in place of the HFIM (cross_scale "cim")
. tests/cli/lib.sh

if ! "$PYTHON" -c 'import torch' 2>/dev/null; then
    echo "SKIP: nano variants against the reference: $PYTHON cannot import torch (make deps installs python3-torch)"
    exit 0
fi
prog=${MRSNET_FORWARD:-build/cpu/tests/tools/mrsnet_forward}
for variant in ape:'.swin.ape = true' cim:'.cross_scale = "cim" | .cim.key_dim = 4 | .cim.heads = 2'; do
    tag=${variant%%:*}
    name=nano_${tag}_forward_matches_pytorch
    if [ ! -x "$prog" ]; then
        fail "$name" "$prog is not built (make check builds it)"
        continue
    fi
    jq "${variant#*:}" share/configs/mrsnet-nano.json >"$T/$tag.json"
    if ! "$PYTHON" tools/reference/make_goldens.py --config "$T/$tag.json" --forward-only --size 128 \
        --out "$T/$tag" >"$T/$tag.log" 2>&1; then
        fail "$name" "the reference run failed: $(tail -c 600 "$T/$tag.log")"
        continue
    fi
    mkdir -p "$T/$tag.cmp"
    forward_rounds "$prog" "$T/$tag" "$T/$tag.cmp"
    case $rc in
    0) pass "$name ($(tail -n 1 "$T/$tag.cmp/table"))" ;;
    1) fail "$name" "$(grep ' FAIL' "$T/$tag.cmp/table" | head -n 3 | tr '\n' ';')" ;;
    3) fail "$name" "phases still across atan2's cut after $rounds rounds" ;;
    4) fail "$name" "the reference run with the C forward's phase sides failed: $(tail -c 600 "$T/$tag.cmp/sided.log")" ;;
    *) fail "$name" "mrsnet_forward exited with status $rc: $(cat "$T/$tag.cmp/c.err")" ;;
    esac
done
finish
