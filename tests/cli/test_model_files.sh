#!/bin/sh
# Model files the programs must refuse, each with one clear line and exit 1,
# through the real programs, with the shipped demo model as the good file:
#   - configurations (a weight file's metadata, rrsis-train -c): every field
#     in its range and the fields consistent with each other, the message
#     naming the field and the value;
#   - tensors the configuration does not use (unless --allow-unused);
#   - weight files that are not what they say: a flipped data byte against
#     the checksums, an unknown format, a dtype relabelled, a NaN.
#   BIN     the programs (default bin)
#   PYTHON  a Python 3 with numpy (default /usr/bin/python3)
. tests/cli/lib.sh
MODEL=share/models/mrsnet-nano-synth.safetensors
unset RRSIS_MODEL

# edit OUT EXPR [SRC]: the demo model (or SRC) rewritten by the Python
# statements EXPR, which change meta (the metadata), cfg (its configuration)
# and t (the tensors) in place.
edit() {
    "$PYTHON" - "${3:-$MODEL}" "$1" "$2" <<'EOF'
import json, sys
import numpy as np
import rrsis_stream as rs
src, out, expr = sys.argv[1:4]
with open(src, "rb") as f:
    meta, t = next(rs.read_records(f))
meta, t = dict(meta), {k: np.array(v) for k, v in t.items()}
cfg = json.loads(meta["config"])
exec(expr)
meta["config"] = json.dumps(cfg)
with open(out, "wb") as f:
    rs.write_record(f, meta, t)
EOF
}

# refused NAME PROG MESSAGE ARGS...: PROG ARGS (stdin empty) must exit 1
# with the one line "PROG: error: MESSAGE" (a fixed string).
refused() {
    name=$1 prog=$2 msg=$3
    shift 3
    "$BIN/$prog" "$@" </dev/null >"$T/out" 2>"$T/err"
    st=$?
    if [ $st -eq 1 ] && [ "$(lines "$T/err")" = 1 ] && [ "$(cat "$T/err")" = "$prog: error: $msg" ]; then
        pass "$name"
    else
        fail "$name" "exit $st, stderr: $(head -c 300 "$T/err")"
    fi
}

# accepted NAME PROG ARGS...: PROG ARGS (stdin a stream of no records) must exit 0.
accepted() {
    name=$1 prog=$2
    shift 2
    if "$BIN/$prog" "$@" <"$(empty_stream)" >"$T/out" 2>"$T/err"; then
        pass "$name"
    else
        fail "$name" "exit $?, stderr: $(head -c 300 "$T/err")"
    fi
}

accepted "the demo model loads" rrsis-fuse -m "$MODEL"

# ---------------------------------------------------------------- configurations
# bad_config NAME EXPR MESSAGE: the demo model with its configuration changed
# by EXPR is refused by rrsis-fuse with "FILE: config: MESSAGE".
bad_config() {
    edit "$T/c.safetensors" "$2" || { fail "$1" "could not write the file"; return; }
    refused "$1" rrsis-fuse "$T/c.safetensors: config: $3" -m "$T/c.safetensors"
}
bad_config "depths all 0" 'cfg["swin"]["depths"] = [0, 0, 0, 0]' "swin.depths[0] is 0, must be 1 to 64"
bad_config "a negative depth" 'cfg["swin"]["depths"][2] = -1' "swin.depths[2] is -1, must be 1 to 64"
bad_config "a huge depth" 'cfg["swin"]["depths"][1] = 1e20' \
    "swin.depths[1] is 1e+20, must be 1 to 64"
bad_config "ln_eps -1" 'cfg["swin"]["ln_eps"] = -1' "swin.ln_eps is -1, must be above 0 and at most 1"
bad_config "negative padding id" 'cfg["text"]["pad_token_id"] = -1' "text.pad_token_id is -1, must be 0 to 999999"
bad_config "text hidden size 0" 'cfg["text"]["hidden_size"] = 0' "text.hidden_size is 0, must be 1 to 8192"
bad_config "text heads 0" 'cfg["text"]["num_heads"] = 0' "text.num_heads is 0, must be 1 to 1024"
bad_config "drop_path_rate 2" 'cfg["swin"]["drop_path_rate"] = 2' \
    "swin.drop_path_rate is 2, must be at least 0 and below 1"
bad_config "embed_dim 2^29" 'cfg["swin"]["embed_dim"] = 1 << 29' "swin.embed_dim is 536870912, must be 8 to 4096"
bad_config "patch_size 2^28" 'cfg["swin"]["patch_size"] = 1 << 28' "swin.patch_size is 268435456, must be 1 to 64"
bad_config "image_size 2^30" 'cfg["image_size"] = 1 << 30' "image_size is 1073741824, must be 1 to 8192"
bad_config "heads that do not divide a width" 'cfg["swin"]["num_heads"][1] = 3' \
    "swin.num_heads[1] is 3, does not divide stage 2's width 16"
bad_config "text heads that do not divide the width" 'cfg["text"]["num_heads"] = 3' \
    "text.num_heads is 3, does not divide text.hidden_size 32"
bad_config "a window larger than the grid" 'cfg["swin"]["window_size"] = 40' \
    "swin.window_size is 40, larger than stage 1's 32 x 32 grid (image_size / swin.patch_size)"
bad_config "image_size not a multiple of 8 patches" 'cfg["image_size"] = 120' \
    "image_size is 120, must be a multiple of 8 x swin.patch_size = 32 (HFIM aligns all four scales)"
bad_config "max_len over max_position" 'cfg["text"]["max_len"] = 40' \
    "text.max_len is 40, more than text.max_position 32"
bad_config "pad id outside the vocabulary" 'cfg["text"]["pad_token_id"] = 30522' \
    "text.pad_token_id is 30522, not below text.vocab_size 30522"
bad_config "freq_heads that do not divide the HFIM" 'cfg["hfim"]["freq_heads"] = 4' \
    "hfim.freq_heads is 4, does not divide the HFIM width 15"

# rrsis-train -c checks the same before anything else.
if command -v jq >/dev/null 2>&1; then
    jq '.swin.ln_eps = -1' share/configs/mrsnet-nano.json >"$T/bad.json"
    refused "rrsis-train -c: ln_eps -1" rrsis-train "$T/bad.json: config: swin.ln_eps is -1, must be above 0 and at most 1" \
        -c "$T/bad.json" --train "$T/none.jsonl" --val "$T/none.jsonl" -o "$T/run1"
    jq '.swin.depths = [2, 2, -1, 2]' share/configs/mrsnet-nano.json >"$T/bad.json"
    refused "rrsis-train -c: a negative depth" rrsis-train "$T/bad.json: config: swin.depths[2] is -1, must be 1 to 64" \
        -c "$T/bad.json" --train "$T/none.jsonl" --val "$T/none.jsonl" -o "$T/run2"
else
    fail "jq" "jq is not installed"
fi

# ---------------------------------------------------------------- unused tensors
# One block fewer in stage 1: its second block's tensors are unused.
edit "$T/shallow.safetensors" 'cfg["swin"]["depths"][0] = 1'
refused "tensors the configuration does not use" rrsis-fuse \
    "$T/shallow.safetensors: tensor 'backbone.layers.0.blocks.1.attn.proj.bias' is in the weights but not in the model its configuration (mrsnet-nano) describes (--allow-unused ignores such tensors)" \
    -m "$T/shallow.safetensors"
accepted "--allow-unused ignores them" rrsis-fuse --allow-unused -m "$T/shallow.safetensors"
accepted "the other parts' programs do not load them" rrsis-decode -m "$T/shallow.safetensors" --outdir "$T/masks"
edit "$T/extra.safetensors" 't["stray.weight"] = np.zeros(3, np.float32); del meta["checksums"]'
refused "a tensor of no part" rrsis-encode \
    "$T/extra.safetensors: tensor 'stray.weight' is in the weights but not in the model its configuration (mrsnet-nano) describes (--allow-unused ignores such tensors)" \
    -m "$T/extra.safetensors"
accepted "--allow-unused (rrsis-encode)" rrsis-encode --allow-unused -m "$T/extra.safetensors"

# rrsis-train --init: the same rule, the same option.
W=backbone.hfim.fuse.weight
if "$BIN/rrsis-synth" --train 4 --val 2 --size 64 --seed 3 -q -o "$T/syn" 2>"$T/err"; then
    init() { "$BIN/rrsis-train" --init "$T/extra.safetensors" --train "$T/syn/train.jsonl" --val "$T/syn/val.jsonl" \
        --batch 2 --epochs 1 --max-steps 1 --ckpt-every 0 --device cpu "$@"; }
    init -o "$T/run3" </dev/null >/dev/null 2>"$T/err"
    st=$?
    msg="rrsis-train: error: $T/extra.safetensors: tensor 'stray.weight' is in the weights but not in the model its configuration (mrsnet-nano) describes (--allow-unused ignores such tensors)"
    if [ $st -eq 1 ] && [ "$(grep -c . "$T/err")" = 1 ] && [ "$(cat "$T/err")" = "$msg" ]; then
        pass "rrsis-train --init: an unused tensor"
    else
        fail "rrsis-train --init: an unused tensor" "exit $st: $(head -c 300 "$T/err")"
    fi
    if init -o "$T/run4" --allow-unused </dev/null >/dev/null 2>"$T/err" && grep -q "1 unused" "$T/err"; then
        pass "rrsis-train --init --allow-unused counts it"
    else
        fail "rrsis-train --init --allow-unused counts it" "$(tail -c 300 "$T/err")"
    fi
    # the checkpoint the trainer wrote: its checksums (checksums_sum64) are
    # those tools/rrsis_stream.py computes, and they are verified
    ck=$T/run4/last.safetensors
    if "$PYTHON" -c 'import sys, rrsis_stream as rs
meta, t = next(rs.read_records(open(sys.argv[1], "rb"), bf16="raw"))
assert rs.CHECKSUMS_KEY in meta and "checksums" not in meta
rs.verify_checksums(meta, t)' "$ck" 2>"$T/err"; then
        pass "the C checksums are those of tools/rrsis_stream.py"
    else
        fail "the C checksums are those of tools/rrsis_stream.py" "$(tail -c 300 "$T/err")"
    fi
    edit "$T/ckflip.safetensors" "t['$W'].reshape(-1).view(np.uint8)[0] ^= 1" "$ck"
    refused "a flipped byte in a checkpoint" rrsis-fuse \
        "$T/ckflip.safetensors: tensor '$W' fails its checksum: the file is corrupt" -m "$T/ckflip.safetensors"
    "$BIN/rrsis-train" -c share/configs/mrsnet-nano.json --allow-unused --train x --val y -o "$T/run5" \
        </dev/null >/dev/null 2>"$T/err"
    st=$?
    if [ $st -eq 2 ] && grep -q "^rrsis-train: --allow-unused needs --init$" "$T/err"; then
        pass "--allow-unused without --init is a usage error"
    else
        fail "--allow-unused without --init is a usage error" "exit $st: $(head -c 300 "$T/err")"
    fi
else
    fail "rrsis-synth" "$(head -c 300 "$T/err")"
fi

# ---------------------------------------------------------------- what the file says
W=backbone.hfim.fuse.weight
edit "$T/flip.safetensors" "t['$W'].reshape(-1).view(np.uint8)[5] ^= 0x10"
refused "a flipped data byte fails its checksum" rrsis-decode \
    "$T/flip.safetensors: tensor '$W' fails its checksum: the file is corrupt" -m "$T/flip.safetensors"
edit "$T/v9.safetensors" 'meta["format"] = "rrsis-weights/9"'
refused "an unknown format" rrsis-fuse \
    "$T/v9.safetensors: format 'rrsis-weights/9' is not one this version reads (rrsis-weights/1, rrsis-checkpoint/1 or rrsis-golden/1)" \
    -m "$T/v9.safetensors"
edit "$T/noformat.safetensors" 'del meta["format"]'
refused "no format" rrsis-fuse \
    "$T/noformat.safetensors: no format in the metadata (a weight file says \"format\": \"rrsis-weights/1\")" \
    -m "$T/noformat.safetensors"
# the bytes (and so the checksum) unchanged, the dtype relabelled
edit "$T/i32.safetensors" "t['$W'] = t['$W'].view(np.int32)"
refused "an F32 tensor relabelled I32" rrsis-fuse \
    "$T/i32.safetensors: tensor '$W': is I32 in the weights; parameters are F32, F16, BF16 or F64" \
    -m "$T/i32.safetensors"
edit "$T/nan.safetensors" "t['$W'].reshape(-1)[7] = np.nan; del meta['checksums']"
refused "a NaN weight" rrsis-fuse \
    "$T/nan.safetensors: tensor '$W': holds NaN at element 7: the weights are damaged" -m "$T/nan.safetensors"
edit "$T/inf.safetensors" "t['classifier.conv1_1.bias'][1] = -np.inf; del meta['checksums']"
refused "an infinite weight" rrsis-decode \
    "$T/inf.safetensors: tensor 'classifier.conv1_1.bias': holds an infinity at element 1: the weights are damaged" \
    -m "$T/inf.safetensors" --outdir "$T/masks"
# without checksums (tools/convert.py writes none) a file loads unchecked
edit "$T/nosums.safetensors" 'del meta["checksums"]'
accepted "a file without checksums loads" rrsis-fuse -m "$T/nosums.safetensors"
finish
