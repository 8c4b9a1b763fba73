#!/usr/bin/python3
"""Turns PyTorch checkpoints (Swin, BERT, LAVT, RMSIN) into an rrsis weight file.

Needs PyTorch (Debian's python3-torch: run it with /usr/bin/python3) to read
.pth/.bin files and to build the target model from the reference
(tools/reference/mrsnet.py).  See --help and tools/README.
"""
import io
import json
import math
import os
import pickle
import re
import sys
import tempfile
import types

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "reference"))
sys.path.insert(0, HERE)
import rrsis_manifest as rm  # noqa: E402  (the command-line conventions; standard library only)

WEIGHTS_FORMAT = "rrsis-weights/1"
REPORT_FORMAT = "rrsis-convert-report/1"

DESCRIPTION = """\
Turns pretrained PyTorch checkpoints into an rrsis weight file: one safetensors
file whose tensor names are the PyTorch module paths of the MRSNet reference
(tools/reference/mrsnet.py, state_tensors) and whose metadata holds the model
configuration (JSON under "config", format "rrsis-weights/1").

The target.  --config names the configuration; its complete list of tensors
(every parameter and every BatchNorm running mean and variance) is built from
the reference model.  Every tensor is first initialised with the reference's
seeded initialisation (doc/training.md, Initialisation; --init-seed, default 2401), then the
tensors found in the checkpoints overwrite theirs.  --list prints the target
names, shapes and parts instead (for people writing other converters).

Parts.  Each target tensor belongs to one part:
  swin     backbone.patch_embed.*, backbone.layers.*.blocks.*, .downsample.*,
           backbone.absolute_pos_embed (with swin.ape)
  norms    backbone.norm0..3 (the stage outputs' LayerNorms)
  gates    backbone.layers.*.res_gate.* (the tanh gates into the Swin stream)
  ifim     backbone.layers.*.ifim.*     (new in MRSNet)
  pwam     backbone.layers.*.fusion.*   (LAVT's PWAM, fusion "pwam" or "iim")
  visual   backbone.layers.*.visual_residual.*, .visual_gate.*
                                        (RMSIN's various receptive branch, fusion "iim")
  cim      backbone.cim.*               (RMSIN's CIM, cross_scale "cim")
  hfim     backbone.hfim.*              (new in MRSNet)
  decoder  classifier.*                 (RMSIN's decoder, or LAVT's)
  text     text_encoder.*               (BERT, without the pooler)

Sources and their names:
  --swin FILE    a Swin checkpoint (swin_base_patch4_window12_384_22k.pth):
                 {'model': state_dict} (or 'state_dict', or a bare state
                 dict); prefixes module., backbone., encoder. are stripped;
                 'layers.0.blocks.0.attn.qkv.weight' becomes
                 'backbone.layers.0.blocks.0.attn.qkv.weight'.  Gives: swin.
                 norm.* and head.* (the classifier) are unused; attn_mask and
                 relative_position_index are ignored (rebuilt from the
                 configuration).  A relative_position_bias_table of another
                 window size is resized bicubically, as LAVT's loader does.
                 With swin.ape, absolute_pos_embed [1, g*g, C] becomes
                 [1, C, g, g] (g = image_size / patch_size; another grid is
                 an error); a checkpoint without one (ape off) leaves it
                 initialised, and with ape off it is unused.
  --bert PATH    a Hugging Face BERT: a folder with model.safetensors or
                 pytorch_model.bin, or one such file.  'bert.X' and bare
                 'embeddings.X'/'encoder.X' become 'text_encoder.X';
                 LayerNorm gamma/beta become weight/bias.  Gives: text.  The
                 pooler and cls.* (pre-training heads) are unused.
  --lavt FILE    a LAVT checkpoint, --rmsin FILE an RMSIN one: {'model':
                 state_dict} with the module. prefix stripped, names kept
                 as they are (backbone.*, classifier.*, text_encoder.*; a
                 separate 'bert_model' state dict goes to text_encoder.*:
                 LAVT's train.py saves {'model', 'bert_model', ...}, its
                 lavt_one model and RMSIN keep BERT in 'model' as
                 text_encoder.*).  Give: the parts of --take (default all
                 the configuration has: swin, norms, gates, pwam, visual,
                 cim, decoder, text).  Into an MRSNet configuration, PWAM (layers.*.fusion),
                 RMSIN's VariousReceptive and its gate (layers.*.visual_residual,
                 .visual_gate) and CIM (backbone.cim) are reported as unused.
                 LAVT's decoder has plain 3x3 convs where RMSIN has adaptive
                 rotated ones: with --lavt into a configuration with RMSIN's
                 decoder, classifier.conv2_K.weight [C,C,3,3] becomes each of
                 the n base kernels divided by n (the rotated conv at angle 0
                 then computes alpha times LAVT's conv) and the routing
                 functions keep their initial values.
                 Into the checkpoint's own method (--lavt with a configuration
                 whose fusion is "pwam" at every stage, cross_scale "none" and
                 decoder.kind "lavt", e.g. share/configs/lavt-b.json; --rmsin
                 with fusion "iim" at every stage, cross_scale "cim" and
                 decoder.kind "rmsin", e.g. share/configs/rmsin-b.json) every
                 tensor is taken: a key left unused, other than by --take, is
                 an error naming it.  An RMSIN checkpoint ({'model': ...,
                 'optimizer', 'epoch', 'args', 'lr_scheduler'}, BERT inside
                 'model' as text_encoder.*, or apart as 'bert_model') holds
                 every tensor of rmsin-b: nothing is initialised.
A tensor given by two sources is an error: --take decides.

Checks.  A tensor of another shape than the target stops the conversion
with its name and both shapes.  Every tensor of a part a source gives must
be found in it; a missing one is an error unless --partial, which keeps its
initial value and lists it.  The report (stderr; JSON with --report) says
what was found, what was initialised, what is missing, and which
checkpoint keys were unused (counted per prefix, with the reason) or ignored.

Output.  -o FILE (- for stdout), F32 unless --dtype.  --found-only writes
only the tensors found in the checkpoints: a partial weight file, for a
partial load (which lists the tensors it lacks).  The metadata also holds
init_seed, converted_from and the tensors' checksums (checksums_sum64,
tools/rrsis_stream.py; the C programs verify them when they load the file).

Exit status: 0 on success, 1 on an error (an unreadable checkpoint, a
mis-shaped or missing tensor, torch not installed), 2 on a usage error.

Examples (the paper's configuration):
  /usr/bin/python3 tools/convert.py --config share/configs/mrsnet-b.json \\
      --swin swin_base_patch4_window12_384_22k.pth --bert bert-base-uncased/ \\
      -o mrsnet-b-init.safetensors
  /usr/bin/python3 tools/convert.py --config share/configs/mrsnet-b.json \\
      --rmsin rmsin.pth --take backbone,decoder --found-only -o rmsin-part.safetensors
  /usr/bin/python3 tools/convert.py --config share/configs/lavt-b.json \\
      --lavt lavt_refcoco.pth -o lavt-b.safetensors
  /usr/bin/python3 tools/convert.py --config share/configs/rmsin-b.json \\
      --rmsin rmsin_rrsisd.pth -o rmsin-b.safetensors
  /usr/bin/python3 tools/convert.py --config share/configs/mrsnet-nano.json --list
"""

PARTS = ("swin", "norms", "gates", "ifim", "pwam", "visual", "hfim", "cim", "decoder", "text")
TAKE_DEFAULT = ("swin", "norms", "gates", "pwam", "visual", "cim", "decoder", "text")
TAKE_ALIASES = {"backbone": ("swin", "norms", "gates"), "all": TAKE_DEFAULT}

# Checkpoint keys that are buffers MRSNet rebuilds from its configuration.
IGNORED = (
    (re.compile(r"(^|\.)attn_mask$"), "attn_mask"),
    (re.compile(r"(^|\.)relative_position_index$"), "relative_position_index"),
    (re.compile(r"(^|\.)num_batches_tracked$"), "num_batches_tracked"),
    (re.compile(r"(^|\.)position_ids$"), "position_ids"),
)

PWAM_UNUSED = "PWAM (the configuration's fusion is not pwam or iim)"
VISUAL_UNUSED = "RMSIN's various receptive branch (the configuration's fusion is not iim)"
VISUAL_GATE_UNUSED = "RMSIN's gate of its various receptive branch (the configuration's fusion is not iim)"
CIM_UNUSED = "RMSIN's CIM (the configuration's cross_scale is not cim)"
# The part a configuration must have for keys of these reasons to be its own.
UNUSED_PART = {PWAM_UNUSED: "pwam", VISUAL_UNUSED: "visual", VISUAL_GATE_UNUSED: "visual", CIM_UNUSED: "cim"}
# Why a checkpoint key has no place in MRSNet: (pattern, shown prefix, reason).
UNUSED_REASONS = (
    (re.compile(r"^backbone\.layers\.\d+\.fusion\."), "backbone.layers.*.fusion.*",
     PWAM_UNUSED),
    (re.compile(r"^backbone\.layers\.\d+\.visual_residual\."), "backbone.layers.*.visual_residual.*",
     VISUAL_UNUSED),
    (re.compile(r"^backbone\.layers\.\d+\.visual_gate\."), "backbone.layers.*.visual_gate.*",
     VISUAL_GATE_UNUSED),
    (re.compile(r"^backbone\.cim\."), "backbone.cim.*", CIM_UNUSED),
    (re.compile(r"^norm\."), "norm.*", "Swin's final LayerNorm (classification only)"),
    (re.compile(r"^head\."), "head.*", "Swin's ImageNet classifier head"),
    (re.compile(r"^(backbone\.)?absolute_pos_embed$"), "absolute_pos_embed",
     "Swin's absolute position embedding (swin.ape is off)"),
    (re.compile(r"(^|\.)pooler\."), "pooler.*", "BERT's pooler (deleted, doc/network.md, BERT)"),
    (re.compile(r"^cls\."), "cls.*", "BERT's pre-training heads"),
)


class Error(rm.Error):
    pass


# --------------------------------------------------------------------------- torch, lazily

torch = None
mrsnet = None
rrsis_stream = None   # the C writer's byte layout, BF16 (numpy)


def need_torch():
    global torch, mrsnet, rrsis_stream
    if torch is None:
        try:
            import rrsis_stream as rs  # numpy
            import torch as t
        except ImportError:
            raise Error("this needs numpy and PyTorch: run it with /usr/bin/python3 "
                        "(Debian's python3-torch)") from None
        import mrsnet as m
        torch, mrsnet, rrsis_stream = t, m, rs


# --------------------------------------------------------------------------- reading checkpoints

class _Untrusted:
    """Stands for any class a checkpoint names that we do not need (argparse.Namespace,
    an optimizer's or scheduler's classes): built from its arguments, never run."""
    qualname = "?"

    def __init__(self, *args, **kwargs):
        self._args = args

    def __setstate__(self, state):
        self._state = state

    def __repr__(self):
        return "<untrusted %s>" % self.qualname


def _allowed_globals():
    import collections
    allowed = {("collections", "OrderedDict"): collections.OrderedDict,
               ("builtins", "set"): set, ("builtins", "frozenset"): frozenset,
               ("builtins", "slice"): slice, ("torch", "Size"): torch.Size,
               ("torch", "device"): torch.device}
    for mod, names in (("torch._utils", ("_rebuild_tensor", "_rebuild_tensor_v2", "_rebuild_parameter",
                                          "_rebuild_parameter_with_state")),
                       ("torch._tensor", ("_rebuild_from_type", "_rebuild_from_type_v2"))):
        m = sys.modules.get(mod) or __import__(mod, fromlist=["_"])
        for n in names:
            if hasattr(m, n):
                allowed[(mod, n)] = getattr(m, n)
    for n in dir(torch):
        if isinstance(getattr(torch, n, None), torch.dtype):
            allowed[("torch", n)] = getattr(torch, n)
    try:
        import numpy as np
        allowed[("numpy", "dtype")] = np.dtype
        allowed[("numpy", "ndarray")] = np.ndarray
        for mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
            allowed[(mod, "_reconstruct")] = np.core.multiarray._reconstruct
            allowed[(mod, "scalar")] = np.core.multiarray.scalar
    except (ImportError, AttributeError):
        pass
    return allowed


def _safe_pickle_module():
    """A pickle module for torch.load that runs no code of the checkpoint: tensors,
    containers and numbers are rebuilt, any other class becomes an inert stand-in."""
    allowed = _allowed_globals()
    stubs = {}

    class Unpickler(pickle.Unpickler):
        def find_class(self, module, name):
            f = allowed.get((module, name))
            if f is not None:
                return f
            key = module + "." + name
            if key not in stubs:
                stubs[key] = type(name, (_Untrusted,), {"qualname": key})
            return stubs[key]

    mod = types.ModuleType("rrsis_safe_pickle")
    mod.Unpickler = Unpickler
    mod.load = lambda f, **kw: Unpickler(f, **kw).load()
    mod.loads = lambda b, **kw: Unpickler(io.BytesIO(b), **kw).load()
    mod.__name__ = "rrsis_safe_pickle"
    return mod


def _torch_load(path):
    """torch.load with our unpickler.  torch.load itself cannot be given one: some
    builds (Debian's 1.13) replace any pickle_module by pickle unless weights_only,
    and weights_only refuses LAVT's checkpoints (they pickle argparse.Namespace)."""
    ser = torch.serialization
    if not all(hasattr(ser, f) for f in ("_is_zipfile", "_open_zipfile_reader", "_load", "_legacy_load")):
        return torch.load(path, map_location="cpu", weights_only=True)
    mod = _safe_pickle_module()
    with open(path, "rb") as f:
        if ser._is_zipfile(f):
            with ser._open_zipfile_reader(f) as z:
                return ser._load(z, "cpu", mod, encoding="utf-8")
        f.seek(0)
        return ser._legacy_load(f, "cpu", mod, encoding="utf-8")


def _is_safetensors(path):
    with open(path, "rb") as f:
        head = f.read(9)
    return len(head) == 9 and int.from_bytes(head[:8], "little") < (1 << 32) and head[8:9] == b"{"


def read_checkpoint(path):
    """The top-level object of a .pth/.bin file, or {name: tensor} of a safetensors file."""
    if os.path.isdir(path):
        raise Error("%s: is a folder, not a checkpoint file" % path)
    try:
        if _is_safetensors(path):
            with open(path, "rb") as f:
                recs = list(rrsis_stream.read_records(f))
            if len(recs) != 1:
                raise Error("%s: %d safetensors records, expected one" % (path, len(recs)))
            return {k: torch.from_numpy(v.copy()) for k, v in recs[0][1].items()}
        return _torch_load(path)
    except OSError as e:
        raise Error("%s: %s" % (path, e.strerror or e)) from None
    except Error:
        raise
    except Exception as e:  # a damaged or foreign file: torch and pickle raise many kinds
        raise Error("%s: not a readable checkpoint (%s: %s)" % (path, type(e).__name__, e)) from None


def _tensor_dict(obj, path, what):
    if not isinstance(obj, dict):
        raise Error("%s: %s is a %s, not a state dict" % (path, what, type(obj).__name__))
    out = {}
    for k, v in obj.items():
        if not isinstance(k, str):
            raise Error("%s: %s has a key %r that is not a string" % (path, what, k))
        if not torch.is_tensor(v):
            raise Error("%s: %s[%r] is a %s, not a tensor" % (path, what, k, type(v).__name__))
        out[k] = v
    return out


def state_dicts(obj, path):
    """[(where, state dict)] of a checkpoint, and the top-level entries not read."""
    if isinstance(obj, dict) and obj and all(torch.is_tensor(v) for v in obj.values()):
        return [("state dict", _tensor_dict(obj, path, "the state dict"))], []
    if not isinstance(obj, dict):
        raise Error("%s: holds a %s, not a state dict" % (path, type(obj).__name__))
    for key in ("model", "state_dict", "module"):
        if key in obj and isinstance(obj[key], dict):
            found = [(key, _tensor_dict(obj[key], path, "['%s']" % key))]
            if isinstance(obj.get("bert_model"), dict):
                found.append(("bert_model", _tensor_dict(obj["bert_model"], path, "['bert_model']")))
            used = {w for w, _ in found}
            return found, sorted(str(k) for k in obj if k not in used)
    raise Error("%s: no state dict in it (top-level keys: %s)" % (path, ", ".join(sorted(map(str, obj)))[:200]))


def strip(key, prefix):
    return key[len(prefix):] if key.startswith(prefix) else key


def bert_name(key):
    """A Hugging Face BERT key as our text_encoder name (None: not BERT's encoder)."""
    k = strip(key, "module.")
    if k.startswith("text_encoder."):
        t = k
    elif k.startswith("bert."):
        t = "text_encoder." + k[5:]
    elif k.startswith(("embeddings.", "encoder.", "pooler.")):
        t = "text_encoder." + k
    else:
        return None
    if ".LayerNorm." in t:
        t = re.sub(r"\.gamma$", ".weight", re.sub(r"\.beta$", ".bias", t))
    return t


def part_of(name):
    if name.startswith("text_encoder."):
        return "text"
    if name.startswith("classifier."):
        return "decoder"
    if name.startswith("backbone.hfim."):
        return "hfim"
    if re.match(r"backbone\.norm\d+\.", name):
        return "norms"
    if name.startswith("backbone.patch_embed.") or name == "backbone.absolute_pos_embed" or \
            re.match(r"backbone\.layers\.\d+\.(blocks|downsample)\.", name):
        return "swin"
    if re.match(r"backbone\.layers\.\d+\.res_gate\.", name):
        return "gates"
    if re.match(r"backbone\.layers\.\d+\.ifim\.", name):
        return "ifim"
    if re.match(r"backbone\.layers\.\d+\.fusion\.", name):
        return "pwam"
    if re.match(r"backbone\.layers\.\d+\.visual_(residual|gate)\.", name):
        return "visual"
    if name.startswith("backbone.cim."):
        return "cim"
    return None


def method_of(cfg):
    """The method whose checkpoints a configuration takes whole: "lavt" or "rmsin" when its
    modules are that method's (share/configs/README, Methods), else None."""
    if cfg["fusion"] == ["pwam"] * 4 and cfg["cross_scale"] == "none" and cfg["decoder"]["kind"] == "lavt":
        return "lavt"
    if cfg["fusion"] == ["iim"] * 4 and cfg["cross_scale"] == "cim" and cfg["decoder"]["kind"] == "rmsin":
        return "rmsin"
    return None


def group_of(key, depth=3):
    """A key's prefix for counting: numbers become *, at most `depth` named components."""
    comps = key.split(".")[:-1] or key.split(".")
    out, named = [], 0
    for c in comps:
        if c.isdigit():
            out.append("*")
            continue
        out.append(re.sub(r"^norm\d+$", "norm*", re.sub(r"_\d+$", "_*", c)))
        named += 1
        if named == depth:
            break
    return ".".join(out) + (".*" if len(out) < len(key.split(".")) else "")


# --------------------------------------------------------------------------- sources

class Source:
    def __init__(self, option, kind, path, parts):
        self.option, self.kind, self.path, self.parts = option, kind, path, tuple(parts)
        self.files = []
        self.keys = 0
        self.found = {}      # target -> (key, tensor, note)
        self.unused = {}     # key -> reason
        self.ignored = {}    # key -> what
        self.skipped = []    # top-level entries not read

    @property
    def label(self):
        return "%s %s" % (self.option, self.path)

    def exempt(self, target):
        """Targets of the given parts this kind of checkpoint does not have: LAVT's
        routing functions, and the absolute position embedding of a checkpoint
        trained without one (swin.ape; most are)."""
        return (self.kind == "lavt" and ".rounting_func." in target) or target == "backbone.absolute_pos_embed"


def bert_files(path):
    if not os.path.isdir(path):
        return [path]
    for index in ("model.safetensors.index.json", "pytorch_model.bin.index.json"):
        p = os.path.join(path, index)
        if os.path.isfile(p):
            try:
                with open(p) as f:
                    shards = sorted(set(json.load(f)["weight_map"].values()))
            except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
                raise Error("%s: not a checkpoint index (%s)" % (p, e)) from None
            return [os.path.join(path, s) for s in shards]
    for name in ("model.safetensors", "pytorch_model.bin"):
        p = os.path.join(path, name)
        if os.path.isfile(p):
            return [p]
    raise Error("%s: no model.safetensors or pytorch_model.bin in this folder" % path)


def classify(src, key, target, targets, take):
    """Records a checkpoint key as found (returns True), unused or ignored."""
    for pat, what in IGNORED:
        if pat.search(key):
            src.ignored[key] = what
            return False
    if target is not None and target in targets:
        part = part_of(target)
        if part in take:
            return True
        if src.kind in ("lavt", "rmsin"):
            src.unused[key] = "part %s not taken (--take %s)" % (part, ",".join(take))
        else:
            src.unused[key] = "part %s: not taken from %s" % (part, src.option)
        return False
    for pat, shown, reason in UNUSED_REASONS:
        if reason in UNUSED_PART and any(part_of(n) == UNUSED_PART[reason] for n in targets):
            continue   # the configuration has such modules: this key is not one of theirs
        if pat.search(key) or (target is not None and pat.search(target)):
            src.unused[key] = reason
            return False
    src.unused[key] = "no tensor of that name in the configuration"
    return False


def load_source(src, targets):
    """Fills src.found / unused / ignored from its files."""
    files = bert_files(src.path) if src.kind == "bert" else [src.path]
    src.files = files
    for path in files:
        dicts, skipped = state_dicts(read_checkpoint(path), path)
        src.skipped += skipped
        for where, sd in dicts:
            for key, t in sd.items():
                src.keys += 1
                if src.kind == "swin":
                    k = key
                    for p in ("module.", "backbone.", "encoder."):
                        k = strip(k, p)
                    target = "backbone." + k
                elif src.kind == "bert" or where == "bert_model":
                    target = bert_name(key if src.kind == "bert" else "text_encoder." + strip(key, "module."))
                else:
                    target = strip(key, "module.")
                    if target.startswith("text_encoder."):
                        target = bert_name(target)
                if classify(src, key, target, targets, src.parts):
                    if target in src.found:
                        raise Error("%s: keys %r and %r both give %s" % (path, src.found[target][0], key, target))
                    src.found[target] = (key, t, None)


# --------------------------------------------------------------------------- shapes

def resize_table(t, want):
    """LAVT's load_checkpoint: a relative_position_bias_table [L1, h] resized bicubically."""
    l1, h1 = t.shape
    l2, h2 = want
    s1, s2 = math.isqrt(l1), math.isqrt(l2)
    if h1 != h2 or s1 * s1 != l1 or s2 * s2 != l2:
        return None
    f = torch.nn.functional.interpolate(t.float().permute(1, 0).reshape(1, h1, s1, s1), size=(s2, s2),
                                        mode="bicubic")
    return f.reshape(h2, l2).permute(1, 0).contiguous()


def fit(src, target, key, t, want):
    """The tensor in the target's shape, or an Error naming it and both shapes."""
    want = tuple(want)
    got = tuple(t.shape)
    if got == want:
        return t, None
    if target == "backbone.absolute_pos_embed" and len(got) == 3 and len(want) == 4 and \
            got == (1, want[2] * want[3], want[1]):
        # Swin's classification models keep it as 1 x (g*g) x C, the tokens row-major
        return t.transpose(1, 2).reshape(want).contiguous(), "Swin's %s layout as %s" % (list(got), list(want))
    if target.endswith(".relative_position_bias_table") and len(got) == 2 and len(want) == 2:
        r = resize_table(t, want)
        if r is not None:
            return r, "resized %s -> %s (bicubic)" % (list(got), list(want))
    m = re.match(r"classifier\.conv2_\d\.weight$", target)
    if m and src.kind == "lavt" and len(got) == 4 and len(want) == 5 and got == want[1:]:
        n = want[0]
        return (t.float() / n).unsqueeze(0).expand(want).contiguous(), \
            "LAVT's 3x3 conv %s as %d base kernel%s / %d" % (list(got), n, "s" if n > 1 else "", n)
    hint = ""
    if m and len(got) == 5 and len(want) == 5 and got[1:] == want[1:]:
        hint = " (the checkpoint's rotated conv has %d base kernels: set decoder.arc_kernel_number to %d)" % (
            got[0], got[0])
    elif m and len(got) == 4:
        hint = " (a plain 3x3 conv: LAVT's decoder? use --lavt)"
    raise Error("%s: shape %s in %s (key %r), the model wants %s%s"
                % (target, list(got), src.label, key, list(want), hint))


# --------------------------------------------------------------------------- the model

def target_shapes(cfg):
    """{name: shape} of every tensor of the model, in state_dict order, and the model."""
    model = mrsnet.MRSNet(cfg)
    state = mrsnet.state_tensors(model)
    for n in state:
        if part_of(n) is None:
            raise Error("internal: %s belongs to no part" % n)
    return {n: tuple(t.shape) for n, t in state.items()}, model


def nice(n):
    return "%.2f M" % (n / 1e6) if n >= 1e5 else str(n)


def to_dtype(a, dtype):
    if dtype == "f16":
        return a.astype("<f2")
    if dtype == "bf16":
        return rrsis_stream.to_bf16(a)
    return a


def write_weights(path, meta, tensors):
    if path == "-":
        if sys.stdout.isatty():
            raise Error("the weights are binary: not written to a terminal (give -o FILE)")
        out = sys.stdout.buffer
        rrsis_stream.write_record(out, meta, tensors)
        out.flush()
        return
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".convert-", suffix=".tmp", dir=folder)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)  # mkstemp's 0600 is not what a user expects of an output
        with os.fdopen(fd, "wb") as f:
            rrsis_stream.write_record(f, meta, tensors)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


# --------------------------------------------------------------------------- report

def summary(report, sources, shapes, missing, partial):
    lines = []
    found = report["found"]
    nv = lambda names: sum(math.prod(shapes[n]) for n in names)  # noqa: E731
    lines.append("%s: %d tensors, %s values -> %s (%s)" % (
        report["config"], len(shapes), nice(nv(shapes)), report["output"], report["dtype"].upper()))
    lines.append("found %d tensors (%s values):" % (len(found), nice(nv(found))))
    for s in sources:
        names = [n for n in found if found[n]["from"] == s.option]
        for part in PARTS:
            p = [n for n in names if part_of(n) == part]
            if p:
                lines.append("  %-8s %5d tensors  <- %s" % (part, len(p), s.label))
    notes = {}
    for n, f in found.items():
        if f.get("note"):
            notes.setdefault("resized" if f["note"].startswith("resized") else "adapted", []).append(n)
    for kind, names in notes.items():
        lines.append("  %d %s, e.g. %s: %s" % (len(names), kind, names[0], found[names[0]]["note"]))
    init = report["initialised"]
    if report["found_only"]:
        lines.append("not written (--found-only) %d tensors" % (len(shapes) - len(found)))
    else:
        lines.append("initialised (seed %d) %d tensors (%s values):" % (report["init_seed"], len(init), nice(nv(init))))
        groups = {}
        for n in init:
            groups.setdefault(part_of(n), []).append(n)
        for part in PARTS:
            if part in groups:
                g = groups[part]
                extra = ""
                if any(part_of(n) == part for n in found):  # partly found: say which
                    sub = sorted({group_of(n) for n in g})
                    extra = "  " + ", ".join(sub[:4]) + (", ..." if len(sub) > 4 else "")
                lines.append("  %-8s %5d tensors%s" % (part, len(g), extra))
    if missing:
        how = "kept their initial values (--partial)" if partial else "an error without --partial"
        lines.append("missing %d tensors, %s:" % (len(missing), how))
        for n in missing[:50]:
            lines.append("  %s" % n)
        if len(missing) > 50:
            lines.append("  ... and %d more (--report lists them all)" % (len(missing) - 50))
    nun = sum(len(s.unused) for s in sources)
    if nun:
        lines.append("unused checkpoint keys %d:" % nun)
        for s in sources:
            groups = {}
            for k, reason in s.unused.items():
                shown = None
                for pat, disp, r in UNUSED_REASONS:
                    if r == reason:
                        shown = disp
                groups.setdefault((shown or group_of(k), reason), []).append(k)
            for (shown, reason), keys in sorted(groups.items()):
                lines.append("  %-7s %-40s %5d  %s" % (s.option, shown, len(keys), reason))
    nig = sum(len(s.ignored) for s in sources)
    if nig:
        counts = {}
        for s in sources:
            for what in s.ignored.values():
                counts[what] = counts.get(what, 0) + 1
        lines.append("ignored %d checkpoint buffers (rebuilt from the configuration): %s" % (
            nig, ", ".join("%s %d" % kv for kv in sorted(counts.items()))))
    for s in sources:
        if s.skipped:
            lines.append("%s: top-level entries not read: %s" % (s.label, ", ".join(s.skipped)))
    return lines


def write_report(path, report):
    text = json.dumps(report, indent=1, sort_keys=False) + "\n"
    if path == "-":
        sys.stdout.write(text)
        return
    with open(path, "w") as f:
        f.write(text)


# --------------------------------------------------------------------------- main

def parse_take(text, parser):
    parts = []
    for w in text.split(","):
        w = w.strip()
        if w in TAKE_ALIASES:
            parts += TAKE_ALIASES[w]
        elif w in PARTS:
            parts.append(w)
        else:
            parser.error("--take: unknown part %r (parts: %s; backbone = swin,norms,gates; all)"
                         % (w, ", ".join(PARTS)))
    return tuple(p for p in PARTS if p in parts)


def main():
    p = rm.Parser(prog=rm.prog(), description=DESCRIPTION)
    p.add_argument("--config", metavar="FILE", required=True, help="the model configuration (share/configs/*.json)")
    p.add_argument("--swin", metavar="FILE", help="a Swin checkpoint (.pth): gives the swin part")
    p.add_argument("--bert", metavar="PATH", help="a Hugging Face BERT folder or file: gives the text part")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--lavt", metavar="FILE", help="a LAVT checkpoint: gives the --take parts")
    g.add_argument("--rmsin", metavar="FILE", help="an RMSIN checkpoint: gives the --take parts")
    p.add_argument("--take", metavar="PARTS",
                   help="the parts taken from --lavt/--rmsin, comma-separated (default: %s; "
                        "backbone = swin,norms,gates)" % ",".join(TAKE_DEFAULT))
    p.add_argument("--init-seed", metavar="N", type=int, default=2401,
                   help="seed of the initialisation of the tensors not found (default 2401)")
    p.add_argument("-o", "--output", metavar="FILE", help="the weight file to write (- for stdout)")
    p.add_argument("--dtype", choices=("f32", "f16", "bf16"), default="f32", help="tensor dtype (default f32)")
    p.add_argument("--partial", action="store_true",
                   help="allow tensors missing from a source (they keep their initial values; listed)")
    p.add_argument("--found-only", action="store_true",
                   help="write only the tensors found in the checkpoints (a partial weight file)")
    p.add_argument("--report", metavar="FILE", help="write the full report as JSON to FILE (- for stdout)")
    p.add_argument("--list", action="store_true",
                   help="print the target tensors (name, shape, part; tab-separated) and exit")
    p.add_argument("-q", "--quiet", action="store_true", help="no report on stderr")
    a = p.parse_args()

    if a.list:
        if a.output or a.swin or a.bert or a.lavt or a.rmsin or a.report:
            p.error("--list takes only --config")
    elif not a.output:
        p.error("no output: give -o FILE (or --list)")
    if a.take and not (a.lavt or a.rmsin):
        p.error("--take needs --lavt or --rmsin")
    take = parse_take(a.take, p) if a.take else TAKE_DEFAULT
    if a.report == "-" and a.output == "-":
        p.error("the weights and the report cannot both go to stdout")

    need_torch()
    try:
        cfg = mrsnet.load_config(a.config)
    except OSError as e:
        raise Error("%s: %s" % (a.config, e.strerror or e)) from None
    except ValueError as e:
        raise Error("%s: %s" % (a.config, e)) from None
    shapes, model = target_shapes(cfg)

    if a.list:
        out = sys.stdout
        for n, s in shapes.items():
            out.write("%s\t[%s]\t%s\n" % (n, ",".join(map(str, s)), part_of(n)))
        return 0

    sources = []
    if a.swin:
        sources.append(Source("--swin", "swin", a.swin, ("swin",)))
    if a.bert:
        sources.append(Source("--bert", "bert", a.bert, ("text",)))
    if a.lavt or a.rmsin:
        kind = "lavt" if a.lavt else "rmsin"
        sources.append(Source("--" + kind, kind, a.lavt or a.rmsin, take))
    if a.found_only and not sources:
        p.error("--found-only needs a checkpoint (--swin, --bert, --lavt or --rmsin)")

    report = {"format": REPORT_FORMAT, "config": cfg["name"], "output": a.output, "dtype": a.dtype,
              "init_seed": None if a.found_only else a.init_seed, "found_only": a.found_only,
              "sources": [], "tensors": len(shapes), "found": {}, "initialised": [], "missing": [],
              "unused": {}, "ignored": {}, "not_read": {}}

    def fail(msg):
        if a.report:
            report["error"] = msg
            try:
                write_report(a.report, report)
            except OSError:
                pass
        raise Error(msg)

    found = {}   # target -> (source, key, tensor, note)
    try:
        for s in sources:
            load_source(s, shapes)
            report["sources"].append({"option": s.option, "path": s.path, "files": s.files, "keys": s.keys,
                                      "parts": list(s.parts)})
            for target, (key, t, _) in s.found.items():
                if target in found:
                    o = found[target][0]
                    raise Error("%s is given by both %s and %s (part %s): use --take to say which"
                                % (target, o.label, s.label, part_of(target)))
                if not t.is_floating_point():
                    raise Error("%s: key %r in %s is %s, not floating point" % (target, key, s.label, t.dtype))
                t, note = fit(s, target, key, t, shapes[target])
                found[target] = (s, key, t, note)
    except Error as e:
        fail(str(e))

    for target, (s, key, t, note) in found.items():
        report["found"][target] = {"from": s.option, "key": key, "shape": list(shapes[target])}
        if note:
            report["found"][target]["note"] = note
        if not bool(torch.isfinite(t).all()):
            rm.warn("%s (key %r in %s) holds NaN or infinite values" % (target, key, s.label))
    for s in sources:
        whole = s.kind == method_of(cfg)
        left = [k for k, reason in s.unused.items() if not (whole and reason.startswith("part "))]
        if whole and left:
            fail("%d key%s of %s unused, the first %r (%s): a %s configuration takes every tensor of "
                 "a %s checkpoint" % (len(left), "s" if len(left) > 1 else "", s.label, left[0],
                                      s.unused[left[0]], s.kind.upper(), s.kind.upper()))
        report["unused"][s.option] = s.unused
        report["ignored"][s.option] = s.ignored
        if s.skipped:
            report["not_read"][s.option] = s.skipped

    missing = []
    for s in sources:
        for n in shapes:
            if part_of(n) in s.parts and not s.exempt(n) and n not in found:
                missing.append(n)
                report["missing"].append(n)
    if missing and not a.partial:
        by_src = {}
        for s in sources:
            ms = [n for n in missing if part_of(n) in s.parts and not s.exempt(n)]
            if ms:
                by_src[s] = ms
        for n in missing[:20]:
            sys.stderr.write("%s: missing: %s\n" % (rm.prog(), n))
        s, ms = next(iter(by_src.items()))
        parts = sorted({part_of(n) for n in missing}, key=PARTS.index)
        fail("%d tensor%s missing (part %s), the first %s, from %s; --partial keeps their initial values"
             % (len(missing), "s" if len(missing) > 1 else "", ",".join(parts), ms[0], s.label))

    if a.found_only:
        tensors = {n: found[n][2].detach().float().contiguous().numpy() for n in shapes if n in found}
    else:
        mrsnet.init_weights(model, seed=a.init_seed)
        state = mrsnet.state_tensors(model)
        with torch.no_grad():
            for n, (s, key, t, note) in found.items():
                state[n].copy_(t.to(state[n].dtype))
        tensors = {n: state[n].contiguous().numpy() for n in shapes}
        report["initialised"] = [n for n in shapes if n not in found]
    tensors = {n: to_dtype(v, a.dtype) for n, v in tensors.items()}

    meta = {"format": WEIGHTS_FORMAT, "config": json.dumps(cfg, separators=(",", ":")),
            "converted_from": json.dumps({s.option: os.path.basename(os.path.normpath(s.path)) for s in sources},
                                         separators=(",", ":"))}
    if not a.found_only:
        meta["init_seed"] = str(a.init_seed)
    if a.found_only:
        meta["partial"] = "only the tensors found in the checkpoints (tools/convert.py --found-only)"
    meta[rrsis_stream.CHECKSUMS_KEY] = rrsis_stream.checksums(tensors)
    write_weights(a.output, meta, tensors)
    if a.report:
        write_report(a.report, report)
    if not a.quiet:
        for line in summary(report, sources, shapes, missing, a.partial):
            sys.stderr.write("%s: %s\n" % (rm.prog(), line))
    return 0


if __name__ == "__main__":
    rm.run(main)
