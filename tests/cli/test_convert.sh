#!/bin/sh
# tools/convert.py, on fake checkpoints made here with torch for mrsnet-nano:
# a Swin classification checkpoint (the exact key names and shapes of
# swin_base_patch4_window12_384_22k.pth, scaled to nano, with norm.*, head.*,
# attn_mask and relative_position_index), Hugging Face BERT (pytorch_model.bin
# with bert.* and LayerNorm gamma/beta, cls.*, the pooler, position_ids; and a
# model.safetensors with bare names), and LAVT and RMSIN training checkpoints
# ({'model': {'module.…'}, 'optimizer', 'epoch', 'args'}; RMSIN with PWAM,
# VariousReceptive and CIM).  The values must land under the right names
# (compared exactly), the rest keep the reference's seeded initialisation,
# mis-shaped and missing tensors are errors naming them, a pickled call in a
# checkpoint is never run, and the output is a valid weight file
# ($BIN/rrsis-inspect when built).  Without torch it says SKIP, which
# tests/run.sh counts as a failure (make deps installs python3-torch).
# shellcheck source=tests/cli/lib.sh
. tests/cli/lib.sh
# (from lib.sh: pass, fail, finish, lines, $T, $BIN, $PYTHON)

if ! "$PYTHON" -c "import torch" >/dev/null 2>&1; then
    echo "SKIP: convert: $PYTHON cannot import torch (make deps installs python3-torch)"
    exit 0
fi
OMP_NUM_THREADS=1
export OMP_NUM_THREADS

CFG=share/configs/mrsnet-nano.json
F=$T/fake
mkdir -p "$F"
conv() { "$PYTHON" tools/convert.py "$@"; }

# status NAME EXPECTED_STATUS PATTERN COMMAND...: the exit status, and a
# stderr line matching PATTERN (grep -E)
status() {
    name=$1 want=$2 pat=$3
    shift 3
    "$@" >"$T/stdout" 2>"$T/stderr"
    st=$?
    if [ "$st" -eq "$want" ] && grep -Eq -- "$pat" "$T/stderr"; then
        pass "$name"
    else
        fail "$name" "exit $st (expected $want), stderr: $(head -c 400 "$T/stderr")"
    fi
}
# check NAME PYTHON-EXPRESSION...: noted now and evaluated at the end by
# run_checks, all in one python (torch starts slowly) with numpy, torch, the
# reference, T and the helpers weights(), fake(), init() and same() at hand.
# NAME passes when every expression is True.
check() {
    name=$1
    shift
    printf '%s\n' "== $name" "$@" >>"$T/checks"
}
run_checks() {
    cat >"$T/checks.py" <<'EOF'
import sys
sys.path.insert(0, "tools")
sys.path.insert(0, "tools/reference")
import json  # noqa: E402,F401  (for the expressions)
import numpy as np  # noqa: E402
import torch  # noqa: E402
import mrsnet  # noqa: E402
import rrsis_stream  # noqa: E402

CFG, T = sys.argv[1:3]
_cache = {}


def weights(path, bf16="float32"):
    """({name: array}, metadata) of a weight file (one record)."""
    if (path, bf16) not in _cache:
        with open(path, "rb") as f:
            recs = list(rrsis_stream.read_records(f, bf16=bf16))
        assert len(recs) == 1, "%d records" % len(recs)
        _cache[path, bf16] = recs[0][1], recs[0][0]
    return _cache[path, bf16]


def fake(path):
    if path not in _cache:
        _cache[path] = torch.load(path)
    return _cache[path]


def init(seed=2401):
    """The reference's seeded initialisation of the configuration."""
    if seed not in _cache:
        m = mrsnet.MRSNet(mrsnet.load_config(CFG))
        mrsnet.init_weights(m, seed)
        _cache[seed] = mrsnet.state_tensors(m)
    return _cache[seed]


def same(a, b):
    a, b = np.asarray(a), np.asarray(b.detach().numpy() if torch.is_tensor(b) else b)
    return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b)


groups = []
with open(T + "/checks") as f:
    for line in f:
        line = line.rstrip("\n")
        if line.startswith("== "):
            groups.append((line[3:], []))
        elif line:
            groups[-1][1].append(line)
for name, exprs in groups:
    bad = []
    for expr in exprs:
        try:
            ok = eval(expr, dict(globals()))
        except Exception as e:  # noqa: BLE001
            ok = "%s: %s" % (type(e).__name__, e)
        if ok is not True:
            bad.append("%s -> %s" % (expr[:200], "false" if ok is False else ok))
    print("PASS: %s" % name if not bad else "FAIL: %s: %s" % (name, "; ".join(bad)))
EOF
    "$PYTHON" "$T/checks.py" "$CFG" "$T" >"$T/check" 2>&1
    st=$?
    cat "$T/check"
    n=$(grep -c '^FAIL: ' "$T/check")
    nfail=$((nfail + n))
    if [ "$st" -ne 0 ] && [ "$n" -eq 0 ]; then
        fail "value checks" "exit $st: $(tail -c 600 "$T/check")"
    fi
}

# ----------------------------------------------------------------- the fakes
if "$PYTHON" - "$F" "$CFG" >"$T/err" 2>&1 <<'EOF'; then
import argparse, json, os, sys
from collections import OrderedDict
import torch
sys.path.insert(0, "tools/reference")
import safetensors_io

out, cfg = sys.argv[1], json.load(open(sys.argv[2]))
g = torch.Generator().manual_seed(7)
r = lambda *shape: torch.randn(*shape, generator=g)  # noqa: E731
s, t, d = cfg["swin"], cfg["text"], cfg["decoder"]
C, p = s["embed_dim"], s["patch_size"]


def swin(window):
    """A Swin classification state dict, as swin_base_patch4_window12_384_22k.pth lays it out."""
    sd, w = OrderedDict(), window
    sd["patch_embed.proj.weight"], sd["patch_embed.proj.bias"] = r(C, 3, p, p), r(C)
    sd["patch_embed.norm.weight"], sd["patch_embed.norm.bias"] = r(C), r(C)
    grid = cfg["image_size"] // p
    for i, depth in enumerate(s["depths"]):
        dim, h = C << i, s["num_heads"][i]
        for b in range(depth):
            q = "layers.%d.blocks.%d." % (i, b)
            sd[q + "norm1.weight"], sd[q + "norm1.bias"] = r(dim), r(dim)
            sd[q + "attn.relative_position_bias_table"] = r((2 * w - 1) ** 2, h)
            sd[q + "attn.relative_position_index"] = torch.randint(0, (2 * w - 1) ** 2, (w * w, w * w))
            sd[q + "attn.qkv.weight"], sd[q + "attn.qkv.bias"] = r(3 * dim, dim), r(3 * dim)
            sd[q + "attn.proj.weight"], sd[q + "attn.proj.bias"] = r(dim, dim), r(dim)
            sd[q + "norm2.weight"], sd[q + "norm2.bias"] = r(dim), r(dim)
            sd[q + "mlp.fc1.weight"], sd[q + "mlp.fc1.bias"] = r(4 * dim, dim), r(4 * dim)
            sd[q + "mlp.fc2.weight"], sd[q + "mlp.fc2.bias"] = r(dim, 4 * dim), r(dim)
            if b % 2 and grid > w:
                nw = (-(-grid // w)) ** 2
                sd[q + "attn_mask"] = torch.zeros(nw, w * w, w * w)
        if i < 3:
            q = "layers.%d.downsample." % i
            sd[q + "reduction.weight"] = r(2 * dim, 4 * dim)
            sd[q + "norm.weight"], sd[q + "norm.bias"] = r(4 * dim), r(4 * dim)
        grid = -(-grid // 2)
    sd["norm.weight"], sd["norm.bias"] = r(8 * C), r(8 * C)
    sd["head.weight"], sd["head.bias"] = r(21, 8 * C), r(21)
    return sd


def bert(prefix="bert.", gamma=True, heads=True):
    """Hugging Face BertForPreTraining's state dict (old LayerNorm gamma/beta names)."""
    H, I, L = t["hidden_size"], t["intermediate_size"], t["num_layers"]
    sd = OrderedDict()
    ln = (".gamma", ".beta") if gamma else (".weight", ".bias")
    e = prefix + "embeddings."
    sd[e + "word_embeddings.weight"] = r(t["vocab_size"], H)
    sd[e + "position_embeddings.weight"] = r(t["max_position"], H)
    sd[e + "token_type_embeddings.weight"] = r(t["type_vocab_size"], H)
    sd[e + "LayerNorm" + ln[0]], sd[e + "LayerNorm" + ln[1]] = r(H), r(H)
    sd[e + "position_ids"] = torch.arange(t["max_position"]).unsqueeze(0)
    for k in range(L):
        q = prefix + "encoder.layer.%d." % k
        lnk = ln if k == 0 else (".weight", ".bias")   # both spellings in one file
        for m in ("query", "key", "value"):
            sd[q + "attention.self.%s.weight" % m], sd[q + "attention.self.%s.bias" % m] = r(H, H), r(H)
        sd[q + "attention.output.dense.weight"], sd[q + "attention.output.dense.bias"] = r(H, H), r(H)
        sd[q + "attention.output.LayerNorm" + lnk[0]] = r(H)
        sd[q + "attention.output.LayerNorm" + lnk[1]] = r(H)
        sd[q + "intermediate.dense.weight"], sd[q + "intermediate.dense.bias"] = r(I, H), r(I)
        sd[q + "output.dense.weight"], sd[q + "output.dense.bias"] = r(H, I), r(H)
        sd[q + "output.LayerNorm" + lnk[0]], sd[q + "output.LayerNorm" + lnk[1]] = r(H), r(H)
    if heads:
        sd[prefix + "pooler.dense.weight"], sd[prefix + "pooler.dense.bias"] = r(H, H), r(H)
        sd["cls.predictions.bias"] = r(t["vocab_size"])
        sd["cls.predictions.transform.dense.weight"] = r(H, H)
        sd["cls.predictions.transform.dense.bias"] = r(H)
        sd["cls.predictions.transform.LayerNorm.gamma"] = r(H)
        sd["cls.predictions.transform.LayerNorm.beta"] = r(H)
        sd["cls.predictions.decoder.weight"] = r(t["vocab_size"], H)
        sd["cls.seq_relationship.weight"], sd["cls.seq_relationship.bias"] = r(2, H), r(2)
    return sd


def bn(sd, q, c):
    sd[q + "weight"], sd[q + "bias"] = r(c), r(c)
    sd[q + "running_mean"], sd[q + "running_var"] = r(c), r(c).abs()
    sd[q + "num_batches_tracked"] = torch.tensor(1000)


def lavt(rmsin):
    """LAVT's / RMSIN's LAVTOne state dict ('module.' comes later)."""
    sd = OrderedDict()
    for k, v in swin(s["window_size"]).items():
        if not k.startswith(("norm.", "head.")):
            sd["backbone." + k] = v
    H = t["hidden_size"]
    for i in range(4):
        dim = C << i
        q = "backbone.layers.%d." % i
        sd[q + "fusion.vis_project.0.weight"], sd[q + "fusion.vis_project.0.bias"] = r(dim, dim, 1), r(dim)
        sd[q + "fusion.image_lang_att.f_key.0.weight"] = r(dim, H, 1)
        sd[q + "fusion.image_lang_att.f_key.0.bias"] = r(dim)
        sd[q + "fusion.image_lang_att.f_query.0.weight"] = r(dim, dim, 1)
        sd[q + "fusion.project_mm.0.weight"] = r(dim, dim, 1)
        sd[q + "res_gate.0.weight"], sd[q + "res_gate.2.weight"] = r(dim, dim), r(dim, dim)
        if rmsin:
            sd[q + "visual_residual.rep1.conv1x1.weight"] = r(1, 1, 1, 1)
            bn(sd, q + "visual_residual.rep1.bn.", 1)
            sd[q + "visual_gate.0.weight"], sd[q + "visual_gate.2.weight"] = r(dim, dim), r(dim, dim)
        sd["backbone.norm%d.weight" % i], sd["backbone.norm%d.bias" % i] = r(dim), r(dim)
    if rmsin:
        sd["backbone.cim.down_channel.weight"] = r(C * 15 // 4, C * 15, 1, 1)
        bn(sd, "backbone.cim.block.csa1.bn.", 4)
        sd["backbone.cim.up_channel.weight"] = r(C * 15, C * 15 // 4, 1, 1)
    hid = d["hidden"]
    ins = {4: 12 * C, 3: hid + 2 * C, 2: hid + C}
    for k in (4, 3, 2):
        q = "classifier."
        sd[q + "conv1_%d.weight" % k] = r(hid, ins[k], 3, 3)
        bn(sd, q + "bn1_%d." % k, hid)
        if rmsin:
            n = d["arc_kernel_number"]
            sd[q + "conv2_%d.weight" % k] = r(n, hid, hid, 3, 3)
            f = q + "conv2_%d.rounting_func." % k
            sd[f + "dwc.weight"] = r(hid, 1, 3, 3)
            sd[f + "norm.norm.weight"], sd[f + "norm.norm.bias"] = r(hid), r(hid)
            sd[f + "fc_alpha.weight"], sd[f + "fc_alpha.bias"] = r(n, hid), r(n)
            sd[f + "fc_theta.weight"] = r(n, hid)
        else:
            sd[q + "conv2_%d.weight" % k] = r(hid, hid, 3, 3)
        bn(sd, q + "bn2_%d." % k, hid)
    sd["classifier.conv1_1.weight"], sd["classifier.conv1_1.bias"] = r(2, hid, 1, 1), r(2)
    for k, v in bert("", gamma=False, heads=False).items():
        sd["text_encoder." + k] = v
    return {"model": OrderedDict(("module." + k, v) for k, v in sd.items()),
            "optimizer": {"state": {}, "param_groups": [{"lr": 3e-5, "weight_decay": 0.01}]},
            "lr_scheduler": {"last_epoch": 40}, "epoch": 40,
            "args": argparse.Namespace(model="lavt_one", swin_type="base", lr=3e-5)}


class Evil:
    def __reduce__(self):
        return (os.system, ("touch " + os.path.join(out, "pwned"),))


torch.save({"model": swin(s["window_size"])}, os.path.join(out, "swin.pth"))
sd = swin(s["window_size"])
sd["layers.0.blocks.1.mlp.fc1.weight"] = r(4 * C, C + 1)
torch.save({"model": sd}, os.path.join(out, "swin-misshaped.pth"))
sd = swin(s["window_size"])
del sd["layers.2.downsample.reduction.weight"]
torch.save({"model": sd}, os.path.join(out, "swin-missing.pth"))
sd = swin(4)
torch.save({"model": sd, "evil": Evil()}, os.path.join(out, "swin-window4.pth"))
torch.save({"model": sd}, os.path.join(out, "swin-window4-clean.pth"))  # for the checks to read
os.makedirs(os.path.join(out, "bert"))
torch.save(bert(), os.path.join(out, "bert", "pytorch_model.bin"))
os.makedirs(os.path.join(out, "bert-st"))
safetensors_io.save(os.path.join(out, "bert-st", "model.safetensors"),
                    {k: v.numpy() for k, v in bert("", gamma=False).items()})
torch.save(lavt(False), os.path.join(out, "lavt.pth"))
torch.save(lavt(True), os.path.join(out, "rmsin.pth"))
with open(os.path.join(out, "junk.pth"), "wb") as f:
    f.write(os.urandom(3000))
EOF
    pass "fake checkpoints written"
else
    fail "fake checkpoints written" "$(tail -c 600 "$T/err")"
    finish
    exit
fi

# ----------------------------------------------------------------- --list
conv --config "$CFG" --list >"$T/list" 2>"$T/err"
st=$?
if [ $st -eq 0 ] &&
    grep -q "^backbone.patch_embed.proj.weight	\[8,3,4,4\]	swin$" "$T/list" &&
    grep -q "^classifier.conv2_4.weight	\[1,16,16,3,3\]	decoder$" "$T/list" &&
    grep -q "^text_encoder.embeddings.word_embeddings.weight	\[30522,32\]	text$" "$T/list" &&
    grep -q "^backbone.hfim.local_bn.running_var	\[15\]	hfim$" "$T/list"; then
    pass "--list: names, shapes and parts"
else
    fail "--list" "exit $st: $(head -c 300 "$T/err")"
fi
check "--list: every tensor of the reference, in its order" \
    "[l.split('\t')[0] for l in open(T+'/list')] == list(init())" \
    "all(l.split('\t')[1] == '[%s]' % ','.join(map(str, init()[l.split('\t')[0]].shape)) for l in open(T+'/list'))"

# ----------------------------------------------------------------- Swin + BERT
status "swin + bert converts" 0 "found 154 tensors" \
    conv --config "$CFG" --swin "$F/swin.pth" --bert "$F/bert" -o "$T/sb.safetensors" --report "$T/sb.json"
if grep -Eq "head\.\* +2 +Swin's ImageNet classifier head" "$T/stderr" &&
    grep -Eq "norm\.\* +2 +Swin's final LayerNorm" "$T/stderr" &&
    grep -Eq "cls\.\* +8 +BERT's pre-training heads" "$T/stderr" &&
    grep -Eq "pooler\.\* +2 +BERT's pooler" "$T/stderr" &&
    grep -q "ignored 12 checkpoint buffers.*attn_mask 3, position_ids 1, relative_position_index 8" "$T/stderr"; then
    pass "swin + bert: unused keys counted per prefix, buffers ignored"
else
    fail "swin + bert: report" "$(cat "$T/stderr")"
fi
W="weights(T+'/sb.safetensors')[0]"
SW="fake(T+'/fake/swin.pth')['model']"
BT="fake(T+'/fake/bert/pytorch_model.bin')"
check "swin + bert: the values under the right names" \
    "set($W) == set(init())" \
    "weights(T+'/sb.safetensors')[1]['format'] == 'rrsis-weights/1'" \
    "json.loads(weights(T+'/sb.safetensors')[1]['config']) == mrsnet.load_config(CFG)" \
    "weights(T+'/sb.safetensors')[1]['init_seed'] == '2401'" \
    "same(${W}['backbone.layers.1.blocks.1.attn.qkv.weight'], ${SW}['layers.1.blocks.1.attn.qkv.weight'])" \
    "same(${W}['backbone.layers.3.blocks.0.attn.relative_position_bias_table'], ${SW}['layers.3.blocks.0.attn.relative_position_bias_table'])" \
    "same(${W}['backbone.layers.2.downsample.reduction.weight'], ${SW}['layers.2.downsample.reduction.weight'])" \
    "same(${W}['backbone.layers.0.downsample.norm.bias'], ${SW}['layers.0.downsample.norm.bias'])" \
    "same(${W}['backbone.patch_embed.proj.weight'], ${SW}['patch_embed.proj.weight'])" \
    "same(${W}['text_encoder.embeddings.LayerNorm.weight'], ${BT}['bert.embeddings.LayerNorm.gamma'])" \
    "same(${W}['text_encoder.encoder.layer.0.output.LayerNorm.bias'], ${BT}['bert.encoder.layer.0.output.LayerNorm.beta'])" \
    "same(${W}['text_encoder.encoder.layer.1.attention.self.key.weight'], ${BT}['bert.encoder.layer.1.attention.self.key.weight'])" \
    "same(${W}['text_encoder.embeddings.word_embeddings.weight'], ${BT}['bert.embeddings.word_embeddings.weight'])"
check "swin + bert: the rest is the reference's seeded initialisation" \
    "all(same(${W}[n], v) for n, v in init().items() if not n.startswith(('text_encoder.', 'backbone.patch_embed.')) and '.blocks.' not in n and '.downsample.' not in n)" \
    "(lambda r: len(r['found']) == 154 and len(r['initialised']) == 394 - 154 and r['missing'] == [])(json.load(open(T+'/sb.json')))" \
    "json.load(open(T+'/sb.json'))['found']['text_encoder.embeddings.LayerNorm.weight'] == {'from': '--bert', 'key': 'bert.embeddings.LayerNorm.gamma', 'shape': [32]}" \
    "sorted(json.load(open(T+'/sb.json'))['unused']['--swin']) == ['head.bias', 'head.weight', 'norm.bias', 'norm.weight']"

conv --config "$CFG" --swin "$F/swin.pth" --bert "$F/bert" --init-seed 5 -o "$T/sb5.safetensors" -q 2>"$T/err" ||
    fail "--init-seed 5" "$(head -c 300 "$T/err")"
check "--init-seed changes only the initialised tensors" \
    "(lambda a, b: all(same(a[n], b[n]) for n in a if n.startswith('text_encoder.') or '.blocks.' in n) and same(b['backbone.hfim.global_q.weight'], init(5)['backbone.hfim.global_q.weight']))(weights(T+'/sb.safetensors')[0], weights(T+'/sb5.safetensors')[0])"
conv --config "$CFG" --swin "$F/swin.pth" --bert "$F/bert" --dtype f16 -o "$T/sb16.safetensors" -q 2>"$T/err" ||
    fail "--dtype f16" "$(head -c 300 "$T/err")"
conv --config "$CFG" --swin "$F/swin.pth" --bert "$F/bert" --dtype bf16 -o "$T/sbbf.safetensors" -q 2>"$T/err" ||
    fail "--dtype bf16" "$(head -c 300 "$T/err")"
check "--dtype f16 and bf16 round the f32 values" \
    "(lambda a, b: all(same(b[n], a[n].astype('<f2')) for n in a))($W, weights(T+'/sb16.safetensors')[0])" \
    "(lambda a, b: all(same(rrsis_stream.to_bf16(a[n]).view('<u2'), b[n].view('<u2')) for n in a))($W, weights(T+'/sbbf.safetensors', 'raw')[0])"

status "bert from a model.safetensors with bare names" 0 "text +37 tensors" \
    conv --config "$CFG" --bert "$F/bert-st/model.safetensors" -o "$T/bst.safetensors"
check "bert safetensors: the values" \
    "same(weights(T+'/bst.safetensors')[0]['text_encoder.encoder.layer.1.output.dense.weight'], weights(T+'/fake/bert-st/model.safetensors')[0]['encoder.layer.1.output.dense.weight'])"

# ----------------------------------------------------------------- errors
status "a mis-shaped tensor is an error naming it and both shapes" 1 \
    "^convert.py: error: backbone\.layers\.0\.blocks\.1\.mlp\.fc1\.weight: shape \[32, 9\] in --swin .*swin-misshaped.pth \(key 'layers.0.blocks.1.mlp.fc1.weight'\), the model wants \[32, 8\]$" \
    conv --config "$CFG" --swin "$F/swin-misshaped.pth" -o "$T/bad.safetensors"
if [ ! -e "$T/bad.safetensors" ] && [ "$(grep -c . "$T/stderr")" = 1 ]; then
    pass "mis-shaped: one line, no output file"
else
    fail "mis-shaped: one line, no output file" "$(cat "$T/stderr")"
fi
status "a missing tensor is an error naming it" 1 \
    "^convert.py: error: 1 tensor missing \(part swin\), the first backbone\.layers\.2\.downsample\.reduction\.weight, from --swin .*; --partial keeps" \
    conv --config "$CFG" --swin "$F/swin-missing.pth" -o "$T/bad.safetensors"
status "--partial: the missing tensor is listed" 0 \
    "^convert.py:   backbone\.layers\.2\.downsample\.reduction\.weight$" \
    conv --config "$CFG" --swin "$F/swin-missing.pth" --partial -o "$T/part.safetensors" --report "$T/part.json"
check "--partial: it keeps its initial value" \
    "json.load(open(T+'/part.json'))['missing'] == ['backbone.layers.2.downsample.reduction.weight']" \
    "same(weights(T+'/part.safetensors')[0]['backbone.layers.2.downsample.reduction.weight'], init()['backbone.layers.2.downsample.reduction.weight'])"
status "a bias table of another window is resized" 0 \
    "8 resized, e.g. backbone.layers.0.blocks.0.attn.relative_position_bias_table: resized \[49, 1\] -> \[121, 1\]" \
    conv --config "$CFG" --swin "$F/swin-window4.pth" -o "$T/w4.safetensors"
if grep -q "top-level entries not read: evil" "$T/stderr" && [ ! -e "$F/pwned" ]; then
    pass "a pickled os.system call in a checkpoint is not run"
else
    fail "a pickled os.system call in a checkpoint is not run" "$(ls "$F"): $(cat "$T/stderr")"
fi
check "resized as LAVT's loader does (bicubic)" \
    "same(weights(T+'/w4.safetensors')[0]['backbone.layers.2.blocks.1.attn.relative_position_bias_table'], torch.nn.functional.interpolate(fake(T+'/fake/swin-window4-clean.pth')['model']['layers.2.blocks.1.attn.relative_position_bias_table'].permute(1, 0).reshape(1, 4, 7, 7), size=(11, 11), mode='bicubic').reshape(4, 121).permute(1, 0))"
status "a damaged checkpoint" 1 "^convert.py: error: .*junk.pth: not a readable checkpoint" \
    conv --config "$CFG" --swin "$F/junk.pth" -o "$T/bad.safetensors"
status "usage: no output" 2 "Try 'convert.py --help'" conv --config "$CFG" --swin "$F/swin.pth"
status "usage: --lavt and --rmsin" 2 "not allowed with" \
    conv --config "$CFG" --lavt "$F/lavt.pth" --rmsin "$F/rmsin.pth" -o "$T/x"
status "usage: an unknown part" 2 "unknown part 'wings'" \
    conv --config "$CFG" --rmsin "$F/rmsin.pth" --take swin,wings -o "$T/x"

# ----------------------------------------------------------------- LAVT, RMSIN
status "lavt converts" 0 "found 202 tensors" \
    conv --config "$CFG" --lavt "$F/lavt.pth" -o "$T/lavt.safetensors"
if grep -Eq "backbone\.layers\.\*\.fusion\.\* +24 +PWAM" "$T/stderr" &&
    grep -q "3 adapted, e.g. classifier.conv2_4.weight: LAVT's 3x3 conv \[16, 16, 3, 3\] as 1 base kernel / 1" "$T/stderr" &&
    grep -q "decoder  *18 tensors  classifier.conv2_\*.rounting_func.\*$" "$T/stderr" &&
    grep -q "top-level entries not read: args, epoch, lr_scheduler, optimizer" "$T/stderr"; then
    pass "lavt: PWAM unused, plain convs adapted, routing initialised"
else
    fail "lavt: report" "$(cat "$T/stderr")"
fi
W="weights(T+'/lavt.safetensors')[0]"
L="fake(T+'/fake/lavt.pth')['model']"
check "lavt: the values under the right names" \
    "same(${W}['backbone.layers.2.blocks.0.mlp.fc2.bias'], ${L}['module.backbone.layers.2.blocks.0.mlp.fc2.bias'])" \
    "same(${W}['backbone.layers.1.res_gate.2.weight'], ${L}['module.backbone.layers.1.res_gate.2.weight'])" \
    "same(${W}['classifier.bn2_3.running_var'], ${L}['module.classifier.bn2_3.running_var'])" \
    "same(${W}['classifier.conv2_2.weight'], ${L}['module.classifier.conv2_2.weight'].unsqueeze(0))" \
    "same(${W}['classifier.conv2_2.rounting_func.fc_theta.weight'], init()['classifier.conv2_2.rounting_func.fc_theta.weight'])" \
    "same(${W}['text_encoder.encoder.layer.0.attention.output.LayerNorm.weight'], ${L}['module.text_encoder.encoder.layer.0.attention.output.LayerNorm.weight'])"

status "rmsin converts" 0 "found 220 tensors" \
    conv --config "$CFG" --rmsin "$F/rmsin.pth" -o "$T/rmsin.safetensors" --report "$T/rmsin.json"
if grep -Eq "backbone\.cim\.\* +6 +RMSIN's CIM" "$T/stderr" &&
    grep -Eq "backbone\.layers\.\*\.visual_residual\.\* +20 +RMSIN's various receptive branch" "$T/stderr" &&
    grep -Eq "backbone\.layers\.\*\.visual_gate\.\* +8 +RMSIN's gate" "$T/stderr" &&
    grep -Eq "backbone\.layers\.\*\.fusion\.\* +24 +PWAM" "$T/stderr" &&
    grep -q "num_batches_tracked 11" "$T/stderr"; then
    pass "rmsin: CIM, VariousReceptive and PWAM reported as unused"
else
    fail "rmsin: report" "$(cat "$T/stderr")"
fi
W="weights(T+'/rmsin.safetensors')[0]"
R="fake(T+'/fake/rmsin.pth')['model']"
check "rmsin: the values under the right names" \
    "same(${W}['classifier.conv2_3.weight'], ${R}['module.classifier.conv2_3.weight'])" \
    "same(${W}['classifier.conv2_3.rounting_func.norm.norm.bias'], ${R}['module.classifier.conv2_3.rounting_func.norm.norm.bias'])" \
    "same(${W}['classifier.bn1_4.running_mean'], ${R}['module.classifier.bn1_4.running_mean'])" \
    "same(${W}['backbone.norm3.weight'], ${R}['module.backbone.norm3.weight'])" \
    "same(${W}['text_encoder.embeddings.position_embeddings.weight'], ${R}['module.text_encoder.embeddings.position_embeddings.weight'])" \
    "len(json.load(open(T+'/rmsin.json'))['unused']['--rmsin']) == 58" \
    "json.load(open(T+'/rmsin.json'))['unused']['--rmsin']['module.backbone.cim.down_channel.weight'] == \"RMSIN's CIM (the configuration's cross_scale is not cim)\""
status "rmsin and bert both give the text part: an error" 1 "is given by both --bert .* and --rmsin .*use --take" \
    conv --config "$CFG" --rmsin "$F/rmsin.pth" --bert "$F/bert" -o "$T/bad.safetensors"
status "rmsin --take backbone,decoder with bert" 0 "part text not taken \(--take swin,norms,gates,decoder\)" \
    conv --config "$CFG" --rmsin "$F/rmsin.pth" --take backbone,decoder --bert "$F/bert" -o "$T/rb.safetensors"
check "rmsin --take backbone,decoder with bert: the text from bert" \
    "same(weights(T+'/rb.safetensors')[0]['text_encoder.encoder.layer.1.output.dense.bias'], ${BT}['bert.encoder.layer.1.output.dense.bias'])" \
    "same(weights(T+'/rb.safetensors')[0]['classifier.conv1_1.bias'], ${R}['module.classifier.conv1_1.bias'])"
status "rmsin --take backbone,decoder --found-only" 0 "not written \(--found-only\) 211 tensors" \
    conv --config "$CFG" --rmsin "$F/rmsin.pth" --take backbone,decoder --found-only -o "$T/rpart.safetensors"
check "--found-only: only the backbone and decoder tensors" \
    "sorted(weights(T+'/rpart.safetensors')[0]) == sorted(l.split('\t')[0] for l in open(T+'/list') if l.split('\t')[2].strip() in ('swin', 'norms', 'gates', 'decoder'))" \
    "'init_seed' not in weights(T+'/rpart.safetensors')[1] and 'partial' in weights(T+'/rpart.safetensors')[1]"

run_checks

# ----------------------------------------------------------------- the C reader
if [ -x "$BIN/rrsis-inspect" ]; then
    for f in sb sbbf lavt rpart; do
        if "$BIN/rrsis-inspect" "$T/$f.safetensors" >"$T/inspect" 2>"$T/err" &&
            grep -q '"format":"rrsis-weights/1"' "$T/inspect"; then
            pass "rrsis-inspect reads $f.safetensors"
        else
            fail "rrsis-inspect reads $f.safetensors" "$(head -c 300 "$T/err")"
        fi
    done
else
    echo "SKIP: rrsis-inspect reads the output: rrsis-inspect not built"
fi

finish
