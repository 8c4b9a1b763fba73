"""MRSNet in PyTorch alone: the reference the C implementation is checked against.

Written from doc/network.md and doc/training.md (the sections cited below
are theirs).  Module paths give the state_dict names of LAVT/RMSIN for the parts
MRSNet shares with them (LAVT's LAVTOne model: `backbone.`, `classifier.`,
`text_encoder.`); the new parts live under `backbone.layers.{i}.ifim.*` and
`backbone.hfim.*` (HFIM sits where RMSIN's CIM sits, `backbone.cim`).

    import mrsnet
    cfg = mrsnet.load_config("share/configs/mrsnet-nano.json")
    model = mrsnet.MRSNet(cfg)
    mrsnet.init_weights(model, seed=2401)
    trace = {}
    logits = model(image, input_ids, attention_mask, trace=trace)
    loss, parts = mrsnet.loss_fn(logits, target, cfg)

`trace` (a dict, optional) receives every stage's output under the names
listed in tools/reference/README.

Only torch (Debian's python3-torch 1.13) and the standard library are used.
"""
import copy
import json
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

# ---------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------

# Every field with the mrsnet-b value (share/configs/README documents them).
DEFAULTS = {
    "format": "rrsis-config/1",
    "name": "mrsnet-b",
    "image_size": 480,
    "in_chans": 3,
    "num_classes": 2,
    "pixel_mean": [0.485, 0.456, 0.406],
    "pixel_std": [0.229, 0.224, 0.225],
    "fusion": ["ifim", "ifim", "ifim", "ifim"],
    "cross_scale": "hfim",
    "swin": {
        "patch_size": 4,
        "embed_dim": 128,
        "depths": [2, 2, 18, 2],
        "num_heads": [4, 8, 16, 32],
        "window_size": 12,
        "mlp_ratio": 4.0,
        "qkv_bias": True,
        "ape": False,
        "drop_rate": 0.0,
        "attn_drop_rate": 0.0,
        "drop_path_rate": 0.3,
        "ln_eps": 1e-5,
        "shift_mask_value": -100.0,
    },
    "text": {
        "vocab_size": 30522,
        "hidden_size": 768,
        "num_layers": 12,
        "num_heads": 12,
        "intermediate_size": 3072,
        "max_position": 512,
        "type_vocab_size": 2,
        "ln_eps": 1e-12,
        "hidden_dropout": 0.1,
        "attention_dropout": 0.1,
        "pad_token_id": 0,
        "max_len": 20,
        "train_layers": 10,
    },
    "ifim": {
        "psr": True,
        "csr": True,
        "psr_levels": [1, 2, 4],
        "psr_rescale": "channels",
        "psr_log1p": False,
        "csr_radius": 1,
        "cma_heads": 1,
        "dropout": 0.0,
        "in_eps": 1e-5,
        "mask_value": 10000.0,
    },
    "pwam": {
        "heads": 1,
        "dropout": 0.0,
        "in_eps": 1e-5,
        "mask_value": 10000.0,
    },
    "hfim": {
        "sr": 4,
        "heads": 8,
        "head_dim": 32,
        "freq_heads": 8,
        "l2_eps": 1e-6,
        "ln_eps": 1e-5,
        "bn_eps": 1e-5,
        "bn_momentum": 0.1,
    },
    "iim": {
        "bn_eps": 1e-5,
        "bn_momentum": 0.1,
    },
    "cim": {
        "layers": 1,
        "key_dim": 32,
        "heads": 8,
        "attn_ratio": 2,
        "mlp_ratio": 2,
        "bn_eps": 1e-5,
        "bn_momentum": 0.1,
    },
    "decoder": {
        "kind": "rmsin",
        "hidden": 512,
        "arc_kernel_number": 1,
        "arc_dropout": 0.2,
        "arc_max_angle_deg": 40.0,
        "ln_eps": 1e-5,
        "bn_eps": 1e-5,
        "bn_momentum": 0.1,
    },
    "loss": {
        "ce_weight": 0.9,
        "class_weights": [0.9, 1.1],
        "dice_weight": 0.2,
        "dice_batch_reduction": "mean",
        "dice_smooth": 1e-6,
        "dice_fg_only_nonempty": False,
        "presence_weight": 0.0,
    },
}


def _merge(base, over, path=""):
    out = copy.deepcopy(base)
    for k, v in over.items():
        if k.startswith("_"):  # comments
            continue
        if k not in base:
            raise ValueError(f"config: unknown field {path}{k}")
        if isinstance(base[k], dict):
            if not isinstance(v, dict):
                raise ValueError(f"config: {path}{k} must be an object")
            out[k] = _merge(base[k], v, f"{path}{k}.")
        else:
            out[k] = v
    return out


def make_config(over=None):
    """The full configuration: DEFAULTS overridden by `over` (a dict)."""
    cfg = _merge(DEFAULTS, over or {})
    check_config(cfg)
    return cfg


def load_config(path):
    with open(path) as f:
        return make_config(json.load(f))


# The module kinds a configuration chooses (share/configs/README, Methods).
FUSION_KINDS = ("ifim", "pwam", "iim")
CROSS_SCALE_KINDS = ("hfim", "cim", "none")
DECODER_KINDS = ("rmsin", "lavt")


def _check_kind(path, value, kinds):
    if value not in kinds:
        raise ValueError(f"config: {path} is {value!r}, must be one of {', '.join(kinds)}")


def check_config(cfg):
    s, t, h, d = cfg["swin"], cfg["text"], cfg["hfim"], cfg["decoder"]
    n = len(s["depths"])
    if n != 4 or len(s["num_heads"]) != 4:
        raise ValueError("config: swin.depths and swin.num_heads need 4 stages")
    if not isinstance(cfg["fusion"], list) or len(cfg["fusion"]) != 4:
        raise ValueError("config: fusion must be an array of 4 strings")
    for i, kind in enumerate(cfg["fusion"]):
        _check_kind(f"fusion[{i}]", kind, FUSION_KINDS)
    _check_kind("cross_scale", cfg["cross_scale"], CROSS_SCALE_KINDS)
    _check_kind("decoder.kind", d["kind"], DECODER_KINDS)
    e = s["embed_dim"]
    for i in range(4):
        if (e << i) % s["num_heads"][i]:
            raise ValueError(f"config: stage {i + 1} width {e << i} is not a multiple of its heads")
        if cfg["fusion"][i] == "ifim" and (e << i) % cfg["ifim"]["cma_heads"]:
            raise ValueError(f"config: stage {i + 1} width {e << i} is not a multiple of ifim.cma_heads")
        if cfg["fusion"][i] in ("pwam", "iim") and (e << i) % cfg["pwam"]["heads"]:
            raise ValueError(f"config: stage {i + 1} width {e << i} is not a multiple of pwam.heads")
    if t["hidden_size"] % t["num_heads"]:
        raise ValueError("config: text.hidden_size is not a multiple of text.num_heads")
    if cfg["cross_scale"] == "hfim":
        if e % 8:
            raise ValueError("config: swin.embed_dim must be a multiple of 8 (HFIM PixelShuffle by 8 of stage 4)")
        stride = s["patch_size"] * 8
        if cfg["image_size"] % stride:
            raise ValueError(f"config: image_size must be a multiple of {stride} (HFIM aligns all four scales)")
        ch = hfim_channels(cfg)
        if ch % h["freq_heads"]:
            raise ValueError(f"config: HFIM width {ch} is not a multiple of hfim.freq_heads")
        g = cfg["image_size"] // s["patch_size"]
        if g % h["sr"]:
            raise ValueError("config: the stride-4 grid is not a multiple of hfim.sr")
    if cfg["cross_scale"] == "cim":
        if e % 4:
            raise ValueError("config: swin.embed_dim must be a multiple of 4 (CIM splits C_i / 4)")
        if cfg["image_size"] % (s["patch_size"] * 8):
            raise ValueError(f"config: image_size must be a multiple of {s['patch_size'] * 8} "
                             "(CIM is built for stage 4's grid)")
    if cfg["ifim"]["psr_rescale"] not in ("channels", "none"):
        raise ValueError("config: ifim.psr_rescale is 'channels' or 'none'")
    if cfg["loss"]["dice_batch_reduction"] not in ("mean", "sum"):
        raise ValueError("config: loss.dice_batch_reduction is 'mean' or 'sum'")
    if d["arc_kernel_number"] < 1:
        raise ValueError("config: decoder.arc_kernel_number must be >= 1")


def hfim_channels(cfg):
    e = cfg["swin"]["embed_dim"]
    return sum((e << i) // (1 << i) ** 2 for i in range(4))


def without_dropout(cfg):
    """A copy of cfg with every dropout / DropPath probability set to 0."""
    c = copy.deepcopy(cfg)
    c["swin"]["drop_rate"] = 0.0
    c["swin"]["attn_drop_rate"] = 0.0
    c["swin"]["drop_path_rate"] = 0.0
    c["text"]["hidden_dropout"] = 0.0
    c["text"]["attention_dropout"] = 0.0
    c["ifim"]["dropout"] = 0.0
    c["pwam"]["dropout"] = 0.0
    c["decoder"]["arc_dropout"] = 0.0
    return c


def gelu(x):
    """Exact (erf) GELU.  torch 1.13's float32 CPU gelu backward returns garbage when the
    incoming gradient is not contiguous (it is, after a transpose); make it contiguous."""
    y = F.gelu(x)
    if y.requires_grad:
        y.register_hook(lambda g: g.contiguous())
    return y


def _put(trace, name, t):
    if trace is not None:
        if t.requires_grad:
            t.retain_grad()
        trace[name] = t


# ---------------------------------------------------------------------------
# Swin backbone (doc/network.md, Swin backbone)
# ---------------------------------------------------------------------------

class DropPath(nn.Module):
    def __init__(self, p):
        super().__init__()
        self.p = p

    def forward(self, x):
        if self.p == 0.0 or not self.training:
            return x
        keep = 1.0 - self.p
        mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
        return x * mask / keep


class Mlp(nn.Module):
    def __init__(self, dim, hidden, drop):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)
        self.drop = nn.Dropout(drop)

    def forward(self, x):
        return self.drop(self.fc2(self.drop(gelu(self.fc1(x)))))


def relative_position_index(w):
    """(w*w) x (w*w): (yi-yj+w-1)*(2w-1) + (xi-xj+w-1)  (doc/network.md, Swin block)."""
    ys, xs = torch.meshgrid(torch.arange(w), torch.arange(w), indexing="ij")
    c = torch.stack([ys.flatten(), xs.flatten()])          # 2, N
    rel = c[:, :, None] - c[:, None, :]                     # 2, N, N (i - j)
    return (rel[0] + w - 1) * (2 * w - 1) + (rel[1] + w - 1)


class WindowAttention(nn.Module):
    def __init__(self, dim, window, heads, qkv_bias, attn_drop, proj_drop):
        super().__init__()
        self.dim, self.window, self.heads = dim, window, heads
        self.scale = (dim // heads) ** -0.5
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * window - 1) ** 2, heads))
        self.register_buffer("relative_position_index", relative_position_index(window), persistent=False)
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, x, mask=None):
        bw, n, c = x.shape
        qkv = self.qkv(x).reshape(bw, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        q = q * self.scale
        attn = q @ k.transpose(-2, -1)
        bias = self.relative_position_bias_table[self.relative_position_index.reshape(-1)]
        attn = attn + bias.reshape(n, n, -1).permute(2, 0, 1).unsqueeze(0)
        if mask is not None:
            nw = mask.shape[0]
            attn = attn.reshape(bw // nw, nw, self.heads, n, n) + mask.unsqueeze(1).unsqueeze(0)
            attn = attn.reshape(bw, self.heads, n, n)
        attn = self.attn_drop(attn.softmax(dim=-1))
        x = (attn @ v).transpose(1, 2).reshape(bw, n, c)
        return self.proj_drop(self.proj(x))


def window_partition(x, w):
    b, h, wd, c = x.shape
    x = x.reshape(b, h // w, w, wd // w, w, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, w * w, c)


def window_reverse(win, w, h, wd):
    b = win.shape[0] // ((h // w) * (wd // w))
    x = win.reshape(b, h // w, wd // w, w, w, -1).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(b, h, wd, -1)


def shift_mask(hp, wp, w, shift, value, device, dtype):
    """nW x (w*w) x (w*w): 0 within a region, `value` across (doc/network.md, Shifted-window mask)."""
    img = torch.zeros((1, hp, wp, 1), device=device, dtype=dtype)
    cnt = 0
    for hs in (slice(0, -w), slice(-w, -shift), slice(-shift, None)):
        for ws in (slice(0, -w), slice(-w, -shift), slice(-shift, None)):
            img[:, hs, ws, :] = cnt
            cnt += 1
    mw = window_partition(img, w).squeeze(-1)               # nW, w*w
    m = mw.unsqueeze(1) - mw.unsqueeze(2)
    return m.masked_fill(m != 0, float(value)).masked_fill(m == 0, 0.0)


class SwinBlock(nn.Module):
    def __init__(self, dim, heads, window, shift, cfg_swin, drop_path):
        super().__init__()
        s = cfg_swin
        self.window, self.shift = window, shift
        self.norm1 = nn.LayerNorm(dim, eps=s["ln_eps"])
        self.attn = WindowAttention(dim, window, heads, s["qkv_bias"], s["attn_drop_rate"], s["drop_rate"])
        self.drop_path = DropPath(drop_path)
        self.norm2 = nn.LayerNorm(dim, eps=s["ln_eps"])
        self.mlp = Mlp(dim, int(dim * s["mlp_ratio"]), s["drop_rate"])

    def forward(self, x, h, w, mask):
        b, n, c = x.shape
        ws = self.window
        shortcut = x
        x = self.norm1(x).reshape(b, h, w, c)
        pad_r = (ws - w % ws) % ws
        pad_b = (ws - h % ws) % ws
        x = F.pad(x, (0, 0, 0, pad_r, 0, pad_b))   # after LN1: padded tokens are exact zeros
        hp, wp = h + pad_b, w + pad_r
        if self.shift > 0:
            x = torch.roll(x, shifts=(-self.shift, -self.shift), dims=(1, 2))
        win = self.attn(window_partition(x, ws), mask if self.shift > 0 else None)
        x = window_reverse(win, ws, hp, wp)
        if self.shift > 0:
            x = torch.roll(x, shifts=(self.shift, self.shift), dims=(1, 2))
        x = x[:, :h, :w, :].reshape(b, h * w, c)
        x = shortcut + self.drop_path(x)
        return x + self.drop_path(self.mlp(self.norm2(x)))


class PatchMerging(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.norm = nn.LayerNorm(4 * dim, eps=eps)
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)

    def forward(self, x, h, w):
        b, n, c = x.shape
        x = x.reshape(b, h, w, c)
        if h % 2 or w % 2:
            x = F.pad(x, (0, 0, 0, w % 2, 0, h % 2))
        x = torch.cat([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]], -1)
        x = x.reshape(b, -1, 4 * c)
        return self.reduction(self.norm(x))


class PatchEmbed(nn.Module):
    def __init__(self, patch, in_chans, dim, eps):
        super().__init__()
        self.patch = patch
        self.proj = nn.Conv2d(in_chans, dim, patch, patch)
        self.norm = nn.LayerNorm(dim, eps=eps)

    def forward(self, x):
        p = self.patch
        h, w = x.shape[-2:]
        if w % p:
            x = F.pad(x, (0, p - w % p))
        if h % p:
            x = F.pad(x, (0, 0, 0, p - h % p))
        x = self.proj(x)
        gh, gw = x.shape[-2:]
        return self.norm(x.flatten(2).transpose(1, 2)), gh, gw


# ---------------------------------------------------------------------------
# IFIM (doc/network.md, IFIM)
# ---------------------------------------------------------------------------

# atan2's cut: P jumps by 2 pi where Im Z changes sign with Re Z < 0.  Two
# float32 implementations whose inputs differ by ~1e-6 can land on opposite
# sides at a bin whose Im Z is that close to 0; make_goldens.py
# --phase-sides puts such bins on the C forward's side (tests/tools/
# mrsnet_forward.c finds them), never a bin farther than PHASE_CUT_MARGIN
# radians from the cut, nor a self-conjugate one (there P is exactly 0 or pi).
PHASE_CUT_MARGIN = 1e-3


def _selfconj_mask(h, w, device):
    """True at the bins a real input's spectrum holds real values: (0|h/2, 0|w/2)."""
    m = torch.zeros(h, w, dtype=torch.bool, device=device)
    rows = [0] + ([h // 2] if h % 2 == 0 and h > 1 else [])
    cols = [0] + ([w // 2] if w % 2 == 0 and w > 1 else [])
    for r in rows:
        for c in cols:
            m[r, c] = True
    return m


def _other_side(pha, idx, name):
    """pha with the entries at flat indices idx moved across atan2's cut (P -> -P)."""
    flat = pha.detach().reshape(-1)
    idx = torch.as_tensor(idx, dtype=torch.long)
    h, w = pha.shape[-2:]
    sc = _selfconj_mask(h, w, pha.device).reshape(-1)[idx % (h * w)]
    far = math.pi - flat[idx].abs() > PHASE_CUT_MARGIN
    if sc.any() or far.any():
        bad = int(idx[sc | far][0])
        raise ValueError(f"{name}: entry {bad} (P = {float(flat[bad]):.7g}) is self-conjugate or "
                         f"more than {PHASE_CUT_MARGIN} from the cut; its side is not in doubt")
    pha = pha.clone()
    pha.view(-1)[idx] = -pha.view(-1)[idx]
    return pha


def set_phase_sides(model, sides):
    """sides: {trace name "stage{i}.ifim.psr.P{s}": [flat indices]} for every PSR of model."""
    for mod in model.modules():
        if isinstance(mod, PSR):
            mod.phase_sides = {k: list(v) for k, v in sides.items()}


class PSR(nn.Module):
    """Pyramidal spatial-spectral refinement; one SSR shared by the levels (6.2.1)."""

    def __init__(self, c, cfg_ifim):
        super().__init__()
        self.c = c
        self.levels = list(cfg_ifim["psr_levels"])
        self.rescale = cfg_ifim["psr_rescale"] == "channels"
        self.log1p = cfg_ifim["psr_log1p"]
        self.dw = nn.Conv2d(c, c, 3, padding=1, groups=c, bias=True)
        self.pw = nn.Conv2d(c, c, 1)
        self.spectral = nn.Conv2d(2 * c, c, 1)
        self.fuse = nn.Conv2d(2 * c, c, 1)
        self.agg = nn.Conv2d(len(self.levels) * c, c, 1)
        self.phase_sides = {}   # trace name -> flat indices of P to take across the cut (set_phase_sides)

    def ssr(self, x, trace=None, name=""):
        xs = self.pw(self.dw(x))
        z = torch.fft.fft2(x, norm="ortho")
        re, im = z.real, z.imag
        # Im is exactly 0 at the self-conjugate bins of a real input; make it +0 so
        # that P there is 0 or +pi (P in (-pi, pi]) whatever the FFT's rounding.
        im = im.masked_fill(_selfconj_mask(x.shape[-2], x.shape[-1], x.device), 0.0)
        mag = torch.sqrt(re * re + im * im)
        if self.log1p:
            mag = torch.log1p(mag)
        pha = torch.atan2(im, re)
        if name in self.phase_sides:
            pha = _other_side(pha, self.phase_sides[name], name)
        _put(trace, name, pha)
        g = self.spectral(torch.cat([mag, pha], 1))
        wf = torch.softmax(g, dim=1)
        if self.rescale:
            wf = wf * self.c
        return self.fuse(torch.cat([xs, wf * x], 1))

    def forward(self, x, trace=None, tag=""):
        h, w = x.shape[-2:]
        ys = []
        for s in self.levels:
            if s == 1:
                y = self.ssr(x, trace, f"{tag}P{s}")
            else:
                xl = F.adaptive_avg_pool2d(x, (math.ceil(h / s), math.ceil(w / s)))
                y = F.interpolate(self.ssr(xl, trace, f"{tag}P{s}"), size=(h, w), mode="bilinear",
                                  align_corners=False)
            ys.append(y)
        return self.agg(torch.cat(ys, 1))


class CSR(nn.Module):
    """Context-aware spatial relation: row-normalised 3x3 neighbourhood GCN (6.2.2)."""

    def __init__(self, c, radius):
        super().__init__()
        self.r = radius
        self.gcn = nn.Conv2d(c, c, 1)
        self.out = nn.Conv2d(c, c, 1)

    def forward(self, x):
        k = 2 * self.r + 1
        ctx = F.avg_pool2d(x, k, stride=1, padding=self.r, count_include_pad=False)
        return self.out(F.relu(self.gcn(ctx)))


def pixel_word_attention(q, k, v, mt, heads, mask_value):
    """LAVT's attention of the pixels' queries q (B x C x N) over the words' keys k and
    values v (B x C x N_l, already times the mask), shared by the CMA and the PWAM:
    per head of C/heads consecutive channels, scores scaled by C^-0.5 (not (C/heads)^-0.5)
    plus mask_value*m - mask_value; mt: the mask as B x 1 x N_l.  Returns B x C x N."""
    b, c, n = q.shape
    hd, nl = c // heads, k.shape[-1]
    q = q.permute(0, 2, 1).reshape(b, n, heads, hd).permute(0, 2, 1, 3)
    k = k.reshape(b, heads, hd, nl)
    v = v.reshape(b, heads, hd, nl)
    s = (c ** -0.5) * (q @ k)
    s = s + (mask_value * mt.unsqueeze(1) - mask_value)
    s = torch.softmax(s, dim=-1)
    return (s @ v.permute(0, 1, 3, 2)).permute(0, 2, 1, 3).reshape(b, n, c).permute(0, 2, 1)


class CMA(nn.Module):
    """Cross-modal align (6.2.3); PWAM conventions where the paper is silent."""

    def __init__(self, c, l_dim, cfg_ifim):
        super().__init__()
        self.c, self.heads = c, cfg_ifim["cma_heads"]
        self.eps = cfg_ifim["in_eps"]
        self.mask_value = cfg_ifim["mask_value"]
        self.vis_project = nn.Conv1d(c, c, 1)
        self.f_query = nn.Conv1d(c, c, 1)
        self.lang_gate = nn.Conv1d(l_dim, 1, 1)
        self.f_key = nn.Conv1d(l_dim, c, 1)
        self.f_value = nn.Conv1d(l_dim, c, 1)
        self.W = nn.Conv1d(c, c, 1)
        self.fusion_weight = nn.Conv1d(2 * c, c, 1)
        self.project_mm = nn.Conv1d(c, c, 1)
        self.drop = nn.Dropout(cfg_ifim["dropout"])

    def forward(self, x, l, m):
        # x: B x C x N; l: B x D_l x N_l; m: B x N_l x 1 (0/1)
        mt = m.permute(0, 2, 1)                                     # B x 1 x N_l
        vproj = self.drop(gelu(self.vis_project(x)))
        q = F.instance_norm(self.f_query(vproj), eps=self.eps)     # B x C x N
        lt = l * torch.sigmoid(self.lang_gate(l))                  # B x D_l x N_l
        k = self.f_key(lt) * mt
        v = self.f_value(lt) * mt
        o = pixel_word_attention(q, k, v, mt, self.heads, self.mask_value)
        vl = F.instance_norm(self.W(o), eps=self.eps)
        wp = torch.sigmoid(self.fusion_weight(torch.cat([vproj, vl], 1)))
        f = wp * vproj + (1 - wp) * vl
        return self.drop(gelu(self.project_mm(f)))


class AFF(nn.Module):
    """Adaptive gated fusion of the k branches (6.2.4)."""

    def __init__(self, c, k):
        super().__init__()
        self.k = k
        self.fc1 = nn.Linear(k * c, c)
        self.fc2 = nn.Linear(c, k * c)
        self.proj = nn.Linear(c, c)

    def forward(self, branches):
        z = torch.cat(branches, -1)
        g = torch.sigmoid(self.fc2(F.relu(self.fc1(z))))
        gs = g.chunk(self.k, -1)
        return self.proj(sum(gi * fi for gi, fi in zip(gs, branches)))


class IFIM(nn.Module):
    def __init__(self, c, l_dim, cfg_ifim):
        super().__init__()
        self.psr = PSR(c, cfg_ifim) if cfg_ifim["psr"] else None
        self.csr = CSR(c, cfg_ifim["csr_radius"]) if cfg_ifim["csr"] else None
        self.cma = CMA(c, l_dim, cfg_ifim)
        self.aff = AFF(c, 1 + (self.psr is not None) + (self.csr is not None))

    def forward(self, x, h, w, l, m, trace=None, tag=""):
        b, n, c = x.shape
        img = x.transpose(1, 2).reshape(b, c, h, w)
        branches = []
        if self.psr is not None:
            fpy = self.psr(img, trace, tag + "psr.")
            _put(trace, tag + "F_py", fpy)
            branches.append(fpy.flatten(2).transpose(1, 2))
        if self.csr is not None:
            frel = self.csr(img)
            _put(trace, tag + "F_rel", frel)
            branches.append(frel.flatten(2).transpose(1, 2))
        fcm = self.cma(x.transpose(1, 2), l, m)
        _put(trace, tag + "F_cm", fcm.reshape(b, c, h, w))
        branches.append(fcm.transpose(1, 2))
        return self.aff(branches)


def _not_built(what, kind):
    return ValueError(f"{what}: {kind!r} is not built by this version")


class Stage(nn.Module):
    """LAVT's MMBasicLayer (2.6, 6.2.6) with the stage's fusion module: MRSNet's IFIM
    (`ifim`, traced under "ifim."), or LAVT's PWAM (`fusion`, traced under "pwam.")."""

    def __init__(self, i, cfg, dpr):
        super().__init__()
        s = cfg["swin"]
        dim = s["embed_dim"] << i
        self.window = s["window_size"]
        self.shift = s["window_size"] // 2
        self.mask_value = s["shift_mask_value"]
        self.blocks = nn.ModuleList([
            SwinBlock(dim, s["num_heads"][i], self.window, 0 if j % 2 == 0 else self.shift, s, dpr[j])
            for j in range(s["depths"][i])])
        self.kind = cfg["fusion"][i]
        if self.kind == "ifim":
            self.ifim = IFIM(dim, cfg["text"]["hidden_size"], cfg["ifim"])
        elif self.kind in ("pwam", "iim"):
            import lavt   # here: lavt.py imports this module
            self.fusion = lavt.PWAM(dim, cfg["text"]["hidden_size"], cfg["pwam"])
        else:
            raise _not_built(f"fusion[{i}]", self.kind)
        self.res_gate = nn.Sequential(nn.Linear(dim, dim, bias=False), nn.ReLU(),
                                      nn.Linear(dim, dim, bias=False), nn.Tanh())
        if self.kind == "iim":   # RMSIN: the various receptive branch and its gate
            import rmsin   # here: rmsin.py imports this module
            rmsin.add_visual_branch(self, dim, cfg["iim"])
        self.downsample = PatchMerging(dim, s["ln_eps"]) if i < 3 else None

    def fuse(self, x, h, w, l, m, trace, tag):
        """F (B x N x C) from the stream x on the h x w grid and the words."""
        if self.kind in ("pwam", "iim"):
            return self.fusion(x, l, m, trace, tag + "pwam.")
        return self.ifim(x, h, w, l, m, trace, tag + "ifim.")

    def forward(self, x, h, w, l, m, trace=None, tag=""):
        ws = self.window
        hp, wp = math.ceil(h / ws) * ws, math.ceil(w / ws) * ws
        mask = shift_mask(hp, wp, ws, self.shift, self.mask_value, x.device, x.dtype)
        for blk in self.blocks:
            x = blk(x, h, w, mask)
        _put(trace, tag + "X", x)
        f = self.fuse(x, h, w, l, m, trace, tag)
        _put(trace, tag + "F", f)
        gated = x + self.res_gate(f) * f
        if self.downsample is None:
            return f, gated, h, w   # the stage-4 stream (and its gates) feed nothing
        if self.kind == "iim":
            import rmsin
            gated = gated + rmsin.visual_term(self, x, h, w, trace, tag)
        x = gated
        _put(trace, tag + "x_gated", x)
        return f, self.downsample(x, h, w), (h + 1) // 2, (w + 1) // 2


# ---------------------------------------------------------------------------
# HFIM (doc/network.md, HFIM)
# ---------------------------------------------------------------------------

class HFIM(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        e = cfg["swin"]["embed_dim"]
        hc = cfg["hfim"]
        self.widths = [e << i for i in range(4)]
        self.r = [1, 2, 4, 8]
        self.split = [w // (r * r) for w, r in zip(self.widths, self.r)]
        ch = sum(self.split)
        self.ch = ch
        self.sr, self.heads, self.hd = hc["sr"], hc["heads"], hc["head_dim"]
        self.fheads, self.l2_eps = hc["freq_heads"], hc["l2_eps"]
        bn = dict(eps=hc["bn_eps"], momentum=hc["bn_momentum"])
        inner = self.heads * self.hd
        self.local_dw = nn.Conv2d(ch, ch, 3, padding=1, groups=ch, bias=False)
        self.local_pw = nn.Conv2d(ch, ch, 1, bias=False)
        self.local_bn = nn.BatchNorm2d(ch, **bn)
        self.global_norm = nn.LayerNorm(ch, eps=hc["ln_eps"])
        self.global_norm_kv = nn.LayerNorm(ch, eps=hc["ln_eps"])
        self.global_q = nn.Linear(ch, inner)
        self.global_kv = nn.Linear(ch, 2 * inner)
        self.global_proj = nn.Linear(inner, ch)
        self.freq_q = nn.Conv2d(ch, ch, 1)
        self.freq_k = nn.Conv2d(ch, ch, 1)
        self.freq_v = nn.Conv2d(ch, ch, 1)
        self.freq_temperature = nn.Parameter(torch.ones(self.fheads, 1, 1))
        self.freq_proj = nn.Conv2d(ch, ch, 1)
        self.fuse = nn.Conv2d(3 * ch, ch, 1, bias=False)
        self.fuse_bn = nn.BatchNorm2d(ch, **bn)

    def branch_global(self, x):
        b, c, h, w = x.shape
        t = x.flatten(2).transpose(1, 2)                                   # B x N x ch
        q = self.global_q(self.global_norm(t)).reshape(b, h * w, self.heads, self.hd).transpose(1, 2)
        xr = F.avg_pool2d(x, self.sr, self.sr) if self.sr > 1 else x
        tr = self.global_norm_kv(xr.flatten(2).transpose(1, 2))          # B x Nr x ch
        kv = self.global_kv(tr).reshape(b, -1, 2, self.heads, self.hd).permute(2, 0, 3, 1, 4)
        k, v = kv[0], kv[1]                                                # B x heads x Nr x hd
        a = torch.softmax((q @ k.transpose(-2, -1)) * self.hd ** -0.5, dim=-1)
        o = (a @ v).transpose(1, 2).reshape(b, h * w, self.heads * self.hd)
        return self.global_proj(o).transpose(1, 2).reshape(b, c, h, w)

    def branch_freq(self, x, trace=None):
        b, c, h, w = x.shape
        hh, cc = self.fheads, c // self.fheads
        qf = torch.fft.rfft2(self.freq_q(x), norm="ortho").abs().reshape(b, hh, cc, -1)
        kf = torch.fft.rfft2(self.freq_k(x), norm="ortho").abs().reshape(b, hh, cc, -1)
        qf = F.normalize(qf, dim=-1, eps=self.l2_eps)
        kf = F.normalize(kf, dim=-1, eps=self.l2_eps)
        a = torch.softmax(self.freq_temperature * (qf @ kf.transpose(-2, -1)), dim=-1)
        _put(trace, "hfim.freq_attn", a)
        # IFFT(A . FFT(V)) == A . V exactly (A is real and acts on channels only).
        v = self.freq_v(x).reshape(b, hh, cc, h * w)
        return self.freq_proj((a @ v).reshape(b, c, h, w))

    def forward(self, es, trace=None):
        u = [F.pixel_shuffle(e, r) if r > 1 else e for e, r in zip(es, self.r)]
        x = torch.cat(u, 1)
        _put(trace, "hfim.X", x)
        fl = F.relu(self.local_bn(self.local_pw(self.local_dw(x))))
        fg = self.branch_global(x)
        ff = self.branch_freq(x, trace)
        _put(trace, "hfim.F_local", fl)
        _put(trace, "hfim.F_global", fg)
        _put(trace, "hfim.F_freq", ff)
        y = x + self.fuse_bn(self.fuse(torch.cat([fl, fg, ff], 1)))
        _put(trace, "hfim.Y", y)
        ds = []
        for i, (part, r) in enumerate(zip(torch.split(y, self.split, 1), self.r)):
            d = F.pixel_unshuffle(part, r) if r > 1 else part
            _put(trace, f"hfim.D{i + 1}", d)
            ds.append(d)
        return ds


class Backbone(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        s = cfg["swin"]
        self.patch_embed = PatchEmbed(s["patch_size"], cfg["in_chans"], s["embed_dim"], s["ln_eps"])
        # Swin's optional absolute position embedding (lib/backbone.py: ape; off in MRSNet).
        self.absolute_pos_embed = None
        if s.get("ape"):
            g = cfg["image_size"] // s["patch_size"]
            self.absolute_pos_embed = nn.Parameter(torch.zeros(1, s["embed_dim"], g, g))
        self.pos_drop = nn.Dropout(s["drop_rate"])
        depths = s["depths"]
        dpr = [v.item() for v in torch.linspace(0, s["drop_path_rate"], sum(depths))]
        self.layers = nn.ModuleList([
            Stage(i, cfg, dpr[sum(depths[:i]):sum(depths[:i + 1])]) for i in range(4)])
        for i in range(4):
            self.add_module(f"norm{i}", nn.LayerNorm(s["embed_dim"] << i, eps=s["ln_eps"]))
        self.cross_scale = cfg["cross_scale"]
        if self.cross_scale == "hfim":
            self.hfim = HFIM(cfg)
        elif self.cross_scale == "cim":
            import rmsin   # here: rmsin.py imports this module
            self.cim = rmsin.CIM(cfg)
        elif self.cross_scale != "none":
            raise _not_built("cross_scale", self.cross_scale)

    def forward(self, img, l, m, trace=None):
        x, h, w = self.patch_embed(img)
        if self.absolute_pos_embed is not None:
            # The table is image_size / patch_size square and is not resized (nor in the C
            # model): another grid, even one of as many tokens, is refused, naming both.
            gh, gw = self.absolute_pos_embed.shape[-2:]
            if (h, w) != (gh, gw):
                raise ValueError(f"backbone: swin.ape needs a {gh} x {gw} patch grid, not {h} x {w} "
                                 "(images of image_size)")
            x = x + self.absolute_pos_embed.flatten(2).transpose(1, 2)
        _put(trace, "patch_embed", x)
        x = self.pos_drop(x)
        es = []
        for i, layer in enumerate(self.layers):
            f, x, nh, nw = layer(x, h, w, l, m, trace, f"stage{i + 1}.")
            e = getattr(self, f"norm{i}")(f)
            e = e.reshape(-1, h, w, e.shape[-1]).permute(0, 3, 1, 2)
            _put(trace, f"stage{i + 1}.E", e)
            es.append(e)
            h, w = nh, nw
        if self.cross_scale == "none":
            return es   # the decoder reads E1..E4
        if self.cross_scale == "cim":
            return self.cim(es, trace)
        return self.hfim(es, trace)


# ---------------------------------------------------------------------------
# BERT (doc/network.md, BERT): HF Transformers v3.0.2 module paths, pooler removed
# ---------------------------------------------------------------------------

class BertEmbeddings(nn.Module):
    def __init__(self, t):
        super().__init__()
        h = t["hidden_size"]
        self.word_embeddings = nn.Embedding(t["vocab_size"], h, padding_idx=t["pad_token_id"])
        self.position_embeddings = nn.Embedding(t["max_position"], h)
        self.token_type_embeddings = nn.Embedding(t["type_vocab_size"], h)
        self.LayerNorm = nn.LayerNorm(h, eps=t["ln_eps"])
        self.dropout = nn.Dropout(t["hidden_dropout"])

    def forward(self, ids):
        n = ids.shape[1]
        pos = torch.arange(n, device=ids.device).unsqueeze(0).expand_as(ids)
        e = self.word_embeddings(ids) + self.position_embeddings(pos) \
            + self.token_type_embeddings(torch.zeros_like(ids))
        return self.dropout(self.LayerNorm(e))


class BertSelfAttention(nn.Module):
    def __init__(self, t):
        super().__init__()
        h = t["hidden_size"]
        self.heads, self.hd = t["num_heads"], h // t["num_heads"]
        self.query = nn.Linear(h, h)
        self.key = nn.Linear(h, h)
        self.value = nn.Linear(h, h)
        self.dropout = nn.Dropout(t["attention_dropout"])

    def _split(self, x):
        b, n, _ = x.shape
        return x.reshape(b, n, self.heads, self.hd).permute(0, 2, 1, 3)

    def forward(self, x, ext_mask):
        q, k, v = self._split(self.query(x)), self._split(self.key(x)), self._split(self.value(x))
        s = (q @ k.transpose(-1, -2)) / math.sqrt(self.hd) + ext_mask
        p = self.dropout(torch.softmax(s, dim=-1))
        o = (p @ v).permute(0, 2, 1, 3)
        return o.reshape(o.shape[0], o.shape[1], -1)


class BertSelfOutput(nn.Module):
    def __init__(self, t):
        super().__init__()
        self.dense = nn.Linear(t["hidden_size"], t["hidden_size"])
        self.LayerNorm = nn.LayerNorm(t["hidden_size"], eps=t["ln_eps"])
        self.dropout = nn.Dropout(t["hidden_dropout"])

    def forward(self, h, x):
        return self.LayerNorm(self.dropout(self.dense(h)) + x)


class BertAttention(nn.Module):
    def __init__(self, t):
        super().__init__()
        self.self = BertSelfAttention(t)
        self.output = BertSelfOutput(t)

    def forward(self, x, ext_mask):
        return self.output(self.self(x, ext_mask), x)


class BertIntermediate(nn.Module):
    def __init__(self, t):
        super().__init__()
        self.dense = nn.Linear(t["hidden_size"], t["intermediate_size"])

    def forward(self, x):
        return gelu(self.dense(x))


class BertOutput(nn.Module):
    def __init__(self, t):
        super().__init__()
        self.dense = nn.Linear(t["intermediate_size"], t["hidden_size"])
        self.LayerNorm = nn.LayerNorm(t["hidden_size"], eps=t["ln_eps"])
        self.dropout = nn.Dropout(t["hidden_dropout"])

    def forward(self, h, x):
        return self.LayerNorm(self.dropout(self.dense(h)) + x)


class BertLayer(nn.Module):
    def __init__(self, t):
        super().__init__()
        self.attention = BertAttention(t)
        self.intermediate = BertIntermediate(t)
        self.output = BertOutput(t)

    def forward(self, x, ext_mask):
        a = self.attention(x, ext_mask)
        return self.output(self.intermediate(a), a)


class BertEncoder(nn.Module):
    def __init__(self, t):
        super().__init__()
        self.layer = nn.ModuleList([BertLayer(t) for _ in range(t["num_layers"])])


class BertModel(nn.Module):
    def __init__(self, t):
        super().__init__()
        self.embeddings = BertEmbeddings(t)
        self.encoder = BertEncoder(t)

    def forward(self, ids, mask):
        x = self.embeddings(ids)
        ext = (1.0 - mask[:, None, None, :].to(x.dtype)) * -10000.0
        for layer in self.encoder.layer:
            x = layer(x, ext)
        return x


# ---------------------------------------------------------------------------
# Decoder: RMSIN SimpleDecoding with adaptive rotated convolution (doc/network.md, Decoder)
# ---------------------------------------------------------------------------

class LayerNormProxy(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.norm = nn.LayerNorm(dim, eps=eps)

    def forward(self, x):
        return self.norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class RountingFunction(nn.Module):   # sic: RMSIN's spelling, kept for the names
    def __init__(self, c, n, drop, max_deg, eps):
        super().__init__()
        self.dwc = nn.Conv2d(c, c, 3, padding=1, groups=c, bias=False)
        self.norm = LayerNormProxy(c, eps)
        self.dropout1 = nn.Dropout(drop)
        self.fc_alpha = nn.Linear(c, n, bias=True)
        self.dropout2 = nn.Dropout(drop)
        self.fc_theta = nn.Linear(c, n, bias=False)
        self.proportion = max_deg / 180.0 * math.pi

    def forward(self, x):
        g = F.relu(self.norm(self.dwc(x))).mean(dim=(2, 3))
        alpha = torch.sigmoid(self.fc_alpha(self.dropout1(g)))
        theta = F.softsign(self.fc_theta(self.dropout2(g))) * self.proportion
        return alpha, theta


def rotation_matrix(theta):
    """theta: B x n -> B x n x 9 x 9, R[r, j] of doc/network.md, ARC (taps in raster order)."""
    x, y = torch.cos(theta), torch.sin(theta)
    a, bb, c = x - y, x * y, x + y
    z = torch.zeros_like(theta)
    o = torch.ones_like(theta)

    def rows(entries):
        m = [[z] * 9 for _ in range(9)]
        for r, row in enumerate(entries):
            for j, v in row.items():
                m[r][j] = v
        return torch.stack([torch.stack(r_, -1) for r_ in m], -2)

    pos = rows([
        {0: a, 1: 1 - a},
        {1: x - bb, 2: bb, 4: 1 - c + bb, 5: y - bb},
        {2: a, 5: 1 - a},
        {0: bb, 1: y - bb, 3: x - bb, 4: 1 - c + bb},
        {4: o},
        {4: 1 - c + bb, 5: x - bb, 7: y - bb, 8: bb},
        {3: 1 - a, 6: a},
        {3: y - bb, 4: 1 - c + bb, 6: bb, 7: x - bb},
        {7: 1 - a, 8: a},
    ])
    neg = rows([
        {0: c, 3: 1 - c},
        {0: -bb, 1: x + bb, 3: bb - y, 4: 1 - a - bb},
        {1: 1 - c, 2: c},
        {3: x + bb, 4: 1 - a - bb, 6: -bb, 7: bb - y},
        {4: o},
        {1: bb - y, 2: -bb, 4: 1 - a - bb, 5: x + bb},
        {6: c, 7: 1 - c},
        {4: 1 - a - bb, 5: bb - y, 7: x + bb, 8: -bb},
        {5: 1 - c, 8: c},
    ])
    sel = (theta >= 0).to(theta.dtype)[..., None, None]
    return sel * pos + (1 - sel) * neg


class AdaptiveRotatedConv2d(nn.Module):
    def __init__(self, c, n, drop, max_deg, eps):
        super().__init__()
        self.c, self.n = c, n
        self.weight = nn.Parameter(torch.empty(n, c, c, 3, 3))
        self.rounting_func = RountingFunction(c, n, drop, max_deg, eps)

    def forward(self, x, trace=None, tag=""):
        b, c, h, w = x.shape
        alpha, theta = self.rounting_func(x)
        _put(trace, tag + "alpha", alpha)
        _put(trace, tag + "theta", theta)
        rot = rotation_matrix(theta) * alpha[..., None, None]          # B x n x 9 x 9
        rot = rot.permute(0, 2, 1, 3).reshape(b * 9, self.n * 9)
        wt = self.weight.permute(0, 3, 4, 1, 2).reshape(self.n * 9, c * c)
        wb = (rot @ wt).reshape(b, 3, 3, c, c).permute(0, 3, 4, 1, 2).reshape(b * c, c, 3, 3)
        out = F.conv2d(x.reshape(1, b * c, h, w), wb, None, 1, 1, 1, groups=b)
        return out.reshape(b, c, h, w)


class SimpleDecoding(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d = cfg["decoder"]
        e = cfg["swin"]["embed_dim"]
        hid = d["hidden"]
        bn = dict(eps=d["bn_eps"], momentum=d["bn_momentum"])
        arc = (d["arc_kernel_number"], d["arc_dropout"], d["arc_max_angle_deg"], d["ln_eps"])
        ins = {4: 8 * e + 4 * e, 3: hid + 2 * e, 2: hid + e}
        self.arc = d["kind"] == "rmsin"   # "lavt": LAVT's plain 3x3 convolutions (no bias)
        for k in (4, 3, 2):
            setattr(self, f"conv1_{k}", nn.Conv2d(ins[k], hid, 3, padding=1, bias=False))
            setattr(self, f"bn1_{k}", nn.BatchNorm2d(hid, **bn))
            setattr(self, f"conv2_{k}", AdaptiveRotatedConv2d(hid, *arc) if self.arc
                    else nn.Conv2d(hid, hid, 3, padding=1, bias=False))
            setattr(self, f"bn2_{k}", nn.BatchNorm2d(hid, **bn))
        self.conv1_1 = nn.Conv2d(hid, cfg["num_classes"], 1)

    def forward(self, x_c4, x_c3, x_c2, x_c1, trace=None):
        x = x_c4
        for k, skip in ((4, x_c3), (3, x_c2), (2, x_c1)):
            if x.shape[-2] < skip.shape[-2] or x.shape[-1] < skip.shape[-1]:
                x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=True)
            x = torch.cat([x, skip], 1)
            x = F.relu(getattr(self, f"bn1_{k}")(getattr(self, f"conv1_{k}")(x)))
            _put(trace, f"decoder.l{k}.conv1", x)
            if self.arc:
                x = getattr(self, f"conv2_{k}")(x, trace, f"decoder.l{k}.")
                _put(trace, f"decoder.l{k}.arc_conv", x)
            else:
                x = getattr(self, f"conv2_{k}")(x)
            x = F.relu(getattr(self, f"bn2_{k}")(x))
            _put(trace, f"decoder.l{k}.out", x)
        return self.conv1_1(x)


# ---------------------------------------------------------------------------
# The whole network
# ---------------------------------------------------------------------------

class MRSNet(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.backbone = Backbone(cfg)
        self.classifier = SimpleDecoding(cfg)
        self.text_encoder = BertModel(cfg["text"])

    def forward(self, img, ids, mask, trace=None):
        l = self.text_encoder(ids, mask).permute(0, 2, 1)      # B x D_l x N_l
        _put(trace, "text.L", l)
        m = mask.to(l.dtype).unsqueeze(-1)                     # B x N_l x 1
        d1, d2, d3, d4 = self.backbone(img, l, m, trace)
        out = self.classifier(d4, d3, d2, d1, trace)
        _put(trace, "decoder.out", out)
        logits = F.interpolate(out, size=img.shape[-2:], mode="bilinear", align_corners=True)
        _put(trace, "logits", logits)
        return logits


def loss_fn(logits, target, cfg):
    """doc/training.md, Loss: ce_weight * CE_w + dice_weight * Dice term.  target: B x H x W int64.
    Returns (loss, {"ce": ..., "dice": ...})."""
    lc = cfg["loss"]
    w = torch.tensor(lc["class_weights"], dtype=logits.dtype, device=logits.device)
    ce = F.cross_entropy(logits, target, weight=w)
    p = torch.softmax(logits, dim=1)
    t = F.one_hot(target, logits.shape[1]).permute(0, 3, 1, 2).to(logits.dtype)
    inter = (p * t).sum(dim=(2, 3))
    union = (p + t).sum(dim=(2, 3))
    sm = lc["dice_smooth"]
    one_minus = 1 - (2 * inter + sm) / (union + sm)              # B x classes
    if lc["dice_fg_only_nonempty"]:
        keep = (t[:, 1].sum(dim=(1, 2)) > 0).to(logits.dtype)
        dice = (one_minus[:, 1] * keep).sum() / keep.sum().clamp(min=1)
    elif lc["dice_batch_reduction"] == "mean":
        dice = one_minus.sum(dim=1).mean()
    else:
        dice = one_minus.sum()
    loss = lc["ce_weight"] * ce + lc["dice_weight"] * dice
    if lc["presence_weight"] > 0:
        loss = loss + lc["presence_weight"] * presence_loss(logits, target)
    return loss, {"ce": ce, "dice": dice}


def presence_loss(logits, target):
    """Ours (loss.presence_weight): BCE-with-logits of each sample's largest margin
    logit_1 - logit_0 against "its target has a foreground pixel", averaged over the
    batch.  The margin is negative exactly when the decoded mask is empty."""
    margin = (logits[:, 1] - logits[:, 0]).flatten(1).max(dim=1).values
    present = (target.flatten(1) > 0).any(dim=1).to(logits.dtype)
    return F.binary_cross_entropy_with_logits(margin, present)


# ---------------------------------------------------------------------------
# Initialisation (doc/training.md, Initialisation) and the state (weights) as named tensors
# ---------------------------------------------------------------------------

def init_weights(model, seed=2401):
    """Seeded initialisation by the rules of doc/training.md, Initialisation (torch's RNG)."""
    g = torch.manual_seed(seed)
    # Every module was built with PyTorch's defaults (Conv: kaiming_uniform(a=sqrt 5),
    # bias U(+-1/sqrt(fan_in)); Linear likewise; LN and BN 1/0).  Now the overrides:

    def backbone_rule(m):
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)

    # Conv / BN modules get reset_parameters again so that the whole draw depends on the seed.
    for m in model.modules():
        if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Linear, nn.BatchNorm2d, nn.LayerNorm, nn.Embedding)):
            m.reset_parameters()
    model.backbone.apply(backbone_rule)
    for m in model.backbone.modules():
        if isinstance(m, WindowAttention):
            nn.init.trunc_normal_(m.relative_position_bias_table, std=0.02)
        if isinstance(m, HFIM):
            nn.init.ones_(m.freq_temperature)
    if model.backbone.absolute_pos_embed is not None:
        nn.init.trunc_normal_(model.backbone.absolute_pos_embed, std=0.02)
    # Decoder: ARC base weight kaiming_normal(fan_out, relu); routing trunc_normal(.02).
    for m in model.classifier.modules():
        if isinstance(m, AdaptiveRotatedConv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        if isinstance(m, RountingFunction):
            nn.init.trunc_normal_(m.dwc.weight, std=0.02)
            nn.init.trunc_normal_(m.fc_alpha.weight, std=0.02)
            nn.init.trunc_normal_(m.fc_theta.weight, std=0.02)
    # BERT: Hugging Face's _init_weights (normal .02 for Linear and Embedding, bias 0, LN 1/0).
    for m in model.text_encoder.modules():
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=0.02)
            if isinstance(m, nn.Linear) and m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    return g


def state_tensors(model):
    """{name: tensor}: every parameter and every BN running mean/var (what a weight file holds)."""
    out = {}
    for name, p in model.named_parameters():
        out[name] = p.detach()
    for name, b in model.named_buffers():
        if name.endswith(".running_mean") or name.endswith(".running_var"):
            out[name] = b.detach()
    return out


IGNORED_SUFFIXES = (".num_batches_tracked", ".relative_position_index", ".attn_mask",
                    "embeddings.position_ids")


def load_state(model, tensors, partial=False):
    """Copies {name: array/tensor} into model; a missing or mis-shaped tensor is an error
    (unless partial, which allows missing ones).  Returns the list of missing names."""
    want = state_tensors(model)
    missing = [n for n in want if n not in tensors]
    extra = [n for n in tensors if n not in want and not n.endswith(IGNORED_SUFFIXES)]
    if extra:
        raise ValueError(f"unexpected tensor {extra[0]!r} (and {len(extra) - 1} more)")
    if missing and not partial:
        raise ValueError(f"missing tensor {missing[0]!r} (and {len(missing) - 1} more)")
    with torch.no_grad():
        for n, dst in want.items():
            if n not in tensors:
                continue
            src = tensors[n] if torch.is_tensor(tensors[n]) else torch.tensor(tensors[n])
            if tuple(src.shape) != tuple(dst.shape):
                raise ValueError(f"tensor {n!r}: shape {list(src.shape)}, the model wants {list(dst.shape)}")
            dst.copy_(src.to(dst.dtype))
    return missing


def param_groups(model):
    """Parameter counts per part, as doc/network.md (Parameters and cost) counts them."""
    parts = {"swin": 0, "ifim": 0, "hfim": 0, "decoder": 0, "bert": 0}
    for name, p in model.named_parameters():
        n = p.numel()
        if name.startswith("text_encoder."):
            parts["bert"] += n
        elif name.startswith("classifier."):
            parts["decoder"] += n
        elif name.startswith(("backbone.hfim.", "backbone.cim.")):
            parts["hfim"] += n
        elif ".ifim." in name or ".fusion." in name or ".res_gate." in name or ".visual_" in name:
            parts["ifim"] += n
        else:
            parts["swin"] += n
    parts["total"] = sum(parts.values())
    return parts
