#!/bin/sh
# tools/convert.py --rmsin into RMSIN's own configuration (rmsin-nano): a fake
# checkpoint in the layout RMSIN's train.py saves ({'model': backbone.*,
# classifier.* and text_encoder.* of its lavt_one model, 'optimizer',
# 'epoch', 'args', 'lr_scheduler'}), made here with torch from the
# reference's seeded rmsin-nano under RMSIN's names (the reference's names
# are RMSIN's), with the buffers a real one holds (relative_position_index,
# num_batches_tracked, position_ids).  Every tensor must be taken (none
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
# The fakes: the reference weights under RMSIN's names, whole, with a key
# too many, and without one tensor of each RMSIN-only part.
if ! "$PYTHON" - "$T" <<'EOF_PY' >"$T/fake.log" 2>&1; then
import argparse, sys
from collections import OrderedDict
import torch
sys.path.insert(0, "tools/reference")
import safetensors_io as st
t = sys.argv[1]
w, meta = st.load(t + "/ref/weights.safetensors")
model = OrderedDict()
for k, v in w.items():
    model[k] = torch.from_numpy(v.copy())
    if k.endswith(".attn.relative_position_bias_table"):   # a buffer of Swin's, rebuilt by us
        model[k.replace("bias_table", "index")] = torch.zeros(36, 36, dtype=torch.long)
    if k.endswith(".running_var"):
        model[k.replace("running_var", "num_batches_tracked")] = torch.tensor(1000)
model["text_encoder.embeddings.position_ids"] = torch.arange(32).unsqueeze(0)
extra = {"optimizer": {"state": {}, "param_groups": [{"lr": 3e-5, "weight_decay": 0.01}]},
         "lr_scheduler": {"last_epoch": 40}, "epoch": 40,
         "args": argparse.Namespace(model="lavt_one", swin_type="base", lr=3e-5)}
torch.save(dict(extra, model=model), t + "/rmsin.pth")
bad = OrderedDict(model)
bad["backbone.cim.block.0.csa1.m.attention.extra.weight"] = torch.zeros(4, 4)
torch.save(dict(extra, model=bad), t + "/rmsin-extra.pth")
for part, key in (("cim", "backbone.cim.fusion.2.bn3.running_var"),
                  ("visual", "backbone.layers.1.visual_residual.repblock.brb_3x3_2.conv2.weight")):
    short = OrderedDict((k, v) for k, v in model.items() if k != key)
    torch.save(dict(extra, model=short), t + "/rmsin-no-%s.pth" % part)
EOF_PY
    fail "fake checkpoints" "$(tail -c 600 "$T/fake.log")"
    finish
    exit
fi

name=rmsin_taken_whole
if "$PYTHON" tools/convert.py --config "$CFG" --rmsin "$T/rmsin.pth" --report "$T/rmsin.report" \
    -o "$T/rmsin.safetensors" 2>"$T/err"; then
    verdict=$("$PYTHON" - "$T/ref/weights.safetensors" "$T/rmsin.safetensors" "$T/rmsin.report" <<'EOF_PY'
import json, sys
sys.path.insert(0, "tools/reference")
import numpy as np
import safetensors_io as st
ref, _ = st.load(sys.argv[1])
got, _ = st.load(sys.argv[2])
rep = json.load(open(sys.argv[3]))
unused = [k for v in rep["unused"].values() for k in v]
diff = [k for k in ref if k not in got or got[k].shape != ref[k].shape or not np.array_equal(got[k], ref[k])]
rmsin_only = [k for k in ref if ".visual_" in k or k.startswith("backbone.cim.")]
if set(got) != set(ref) or diff:
    print("tensors differ: %s" % (diff[:3] or sorted(set(got) ^ set(ref))[:3]))
elif unused or rep["initialised"] or rep["missing"]:
    print("unused %s, initialised %d, missing %d" % (unused[:2], len(rep["initialised"]), len(rep["missing"])))
elif len(rmsin_only) < 300:
    print("only %d tensors of the CIM and the various receptive branches" % len(rmsin_only))
else:
    print("ok")
EOF_PY
)
    expect_eq "$name" ok "$verdict"
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
    "0 RMSIN's CIM (the configuration's cross_scale is not cim) | RMSIN's various receptive branch (the configuration's fusion is not iim)" \
    "$st $why"
finish
