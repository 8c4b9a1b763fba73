#!/bin/sh
# Swin's absolute position embedding (swin.ape, the shipped demo model's
# configuration) through tools/convert.py and the PyTorch reference:
#   - convert.py lists it (part swin) and converts such a configuration, from
#     nothing (initialised) and from a Swin checkpoint holding it in Swin's
#     1 x g*g x C layout (it lands as 1 x C x g x g, exactly);
#   - the C programs load what convert.py writes, its checksums included;
#   - another input grid, even one of as many tokens, is refused by the
#     reference with the C model's message (tests/unit/test_backbone.c has
#     the C side).
# Skipped without torch.
. tests/cli/lib.sh

if ! "$PYTHON" -c "import torch" >/dev/null 2>&1; then
    echo "SKIP: torch not installed ($PYTHON cannot import torch)"
    exit 0
fi
OMP_NUM_THREADS=1
export OMP_NUM_THREADS

# the demo model's configuration: mrsnet-nano with swin.ape
"$PYTHON" - share/models/mrsnet-nano-synth.safetensors "$T/ape.json" <<'EOF' || fail "the demo configuration" "not read"
import json, sys
import rrsis_stream as rs
with open(sys.argv[1], "rb") as f:
    meta, _ = next(rs.read_records(f))
cfg = json.loads(meta["config"])
assert cfg["swin"]["ape"] is True
json.dump(cfg, open(sys.argv[2], "w"))
EOF

if "$PYTHON" tools/convert.py --config "$T/ape.json" --list >"$T/list" 2>"$T/err" &&
    grep -q "^backbone.absolute_pos_embed	\[1,8,32,32\]	swin$" "$T/list"; then
    pass "--list: the absolute position embedding, part swin"
else
    fail "--list: the absolute position embedding, part swin" "$(head -c 300 "$T/err")"
fi

if "$PYTHON" tools/convert.py --config "$T/ape.json" -q -o "$T/init.safetensors" 2>"$T/err" &&
    "$BIN/rrsis-fuse" -m "$T/init.safetensors" <"$(empty_stream)" >/dev/null 2>>"$T/err"; then
    pass "an ape configuration converts (initialised) and loads in C"
else
    fail "an ape configuration converts (initialised) and loads in C" "$(head -c 300 "$T/err")"
fi

# A Swin checkpoint with only the embedding (the rest kept: --partial).
"$PYTHON" - "$T/swin.pth" <<'EOF'
import sys, torch
g = torch.Generator().manual_seed(5)
torch.save({"model": {"absolute_pos_embed": torch.randn(1, 32 * 32, 8, generator=g)}}, sys.argv[1])
EOF
if "$PYTHON" tools/convert.py --config "$T/ape.json" --swin "$T/swin.pth" --partial -q -o "$T/swin.safetensors" \
    2>"$T/err" &&
    "$PYTHON" - "$T/swin.pth" "$T/swin.safetensors" <<'EOF' 2>>"$T/err"
import sys, numpy as np, torch
import rrsis_stream as rs
a = torch.load(sys.argv[1])["model"]["absolute_pos_embed"].numpy()
with open(sys.argv[2], "rb") as f:
    meta, t = next(rs.read_records(f, bf16="raw"))
got = t["backbone.absolute_pos_embed"]
want = a.transpose(0, 2, 1).reshape(1, 8, 32, 32)  # token n = row * 32 + column
assert got.shape == want.shape and np.array_equal(got, want), "values differ"
rs.verify_checksums(meta, t)
assert rs.CHECKSUMS_KEY in meta
EOF
then
    pass "Swin's 1 x g*g x C embedding lands as 1 x C x g x g"
else
    fail "Swin's 1 x g*g x C embedding lands as 1 x C x g x g" "$(head -c 300 "$T/err")"
fi
# the C programs verify the checksums convert.py wrote: a good file loads, a
# changed byte does not
if "$BIN/rrsis-fuse" -m "$T/swin.safetensors" <"$(empty_stream)" >/dev/null 2>"$T/err"; then
    pass "the C programs accept convert.py's checksums"
else
    fail "the C programs accept convert.py's checksums" "$(head -c 300 "$T/err")"
fi
"$PYTHON" - "$T/swin.safetensors" "$T/flip.safetensors" <<'EOF'
import sys, numpy as np
import rrsis_stream as rs
with open(sys.argv[1], "rb") as f:
    meta, t = next(rs.read_records(f, bf16="raw"))
t = {k: np.array(v) for k, v in t.items()}
t["backbone.absolute_pos_embed"].reshape(-1).view(np.uint8)[9] ^= 1
with open(sys.argv[2], "wb") as f:
    rs.write_record(f, meta, t)
EOF
"$BIN/rrsis-fuse" -m "$T/flip.safetensors" </dev/null 2>"$T/err"
st=$?
if [ $st -eq 1 ] && [ "$(cat "$T/err")" = "rrsis-fuse: error: $T/flip.safetensors: tensor 'backbone.absolute_pos_embed' fails its checksum: the file is corrupt" ]; then
    pass "a changed byte in convert.py's output fails its checksum"
else
    fail "a changed byte in convert.py's output fails its checksum" "exit $st: $(head -c 300 "$T/err")"
fi

# Another grid of as many tokens (16 x 64 patches, not 32 x 32): refused.
if "$PYTHON" - "$T/ape.json" <<'EOF' >"$T/out" 2>&1
import sys, torch
sys.path.insert(0, "tools/reference")
import mrsnet
cfg = mrsnet.load_config(sys.argv[1])
m = mrsnet.MRSNet(cfg).eval()
l, mask = torch.zeros(1, cfg["text"]["hidden_size"], 20), torch.ones(1, 20, 1)
try:
    m.backbone(torch.zeros(1, 3, 64, 256), l, mask)
except ValueError as e:
    print(e)
    sys.exit(0)
sys.exit("no error")
EOF
then
    expect_eq "the reference refuses another grid, as the C model does" \
        "backbone: swin.ape needs a 32 x 32 patch grid, not 16 x 64 (images of image_size)" "$(cat "$T/out")"
else
    fail "the reference refuses another grid, as the C model does" "$(tail -c 300 "$T/out")"
fi
finish
