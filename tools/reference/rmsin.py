"""RMSIN's two backbone modules, written from the description in share/configs/README
(sections iim and cim), for mrsnet.py's dispatch (fusion "iim", cross_scale "cim").

- add_visual_branch / visual_term: the part of RMSIN's intra-scale interaction module (IIM) that LAVT's
  stage lacks.  RMSIN's stage is LAVT's (PWAM and its tanh gate, tools/reference/lavt.py)
  plus a "various receptive" branch V = X * sigmoid(RepBlock(mean_c X)) added through
  its own gate: x <- X + res_gate(F) * F + visual_gate(V) * V.  Names under
  backbone.layers.{i}: visual_residual.repblock.*, visual_gate.{0,2}.weight.
- CIM: the cross-scale interaction module over E1..E4 (backbone.cim.*).

BatchNorms follow the model's mode (batch statistics in training), as in RMSIN.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

import mrsnet


def _bn(c, cfg, dims=2):
    cls = nn.BatchNorm2d if dims == 2 else nn.BatchNorm1d
    return cls(c, eps=cfg["bn_eps"], momentum=cfg["bn_momentum"])


def _conv_bn(cfg, k, names):
    """Bias-free 1 -> 1 channel convolutions, each followed by a BN, in sequence."""
    m = nn.Sequential()
    for conv, bn, kk in zip(names[0::2], names[1::2], k):
        m.add_module(conv, nn.Conv2d(1, 1, kk, padding=kk // 2, bias=False))
        m.add_module(bn, _bn(1, cfg))
    return m


class RepBlock(nn.Module):
    """Two rounds of (1x1 conv+BN) + (1x1 conv+BN, 3x3 conv+BN) + BN on a 1-channel
    map, ReLU between them, sigmoid after (RMSIN's RepBlock(1, 1), unfused)."""

    def __init__(self, cfg):
        super().__init__()
        self.brb_3x3 = _conv_bn(cfg, (1, 3), ("conv1", "bn1", "conv2", "bn2"))
        self.brb_1x1 = _conv_bn(cfg, (1,), ("conv", "bn"))
        self.brb_identity = _bn(1, cfg)
        self.brb_3x3_2 = _conv_bn(cfg, (1, 3), ("conv1", "bn1", "conv2", "bn2"))
        self.brb_1x1_2 = _conv_bn(cfg, (1,), ("conv", "bn"))
        self.brb_identity_2 = _bn(1, cfg)

    def forward(self, x):
        y = F.relu(self.brb_1x1(x) + self.brb_3x3(x) + self.brb_identity(x))
        return torch.sigmoid(self.brb_1x1_2(y) + self.brb_3x3_2(y) + self.brb_identity_2(y))


class VariousReceptive(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.repblock = RepBlock(cfg)

    def forward(self, x, h, w):
        b, n, c = x.shape
        t = x.transpose(1, 2).reshape(b, c, h, w)
        a = self.repblock(t.mean(dim=1, keepdim=True))              # B x 1 x h x w
        return (t * a).reshape(b, c, n).transpose(1, 2)


def tanh_gate(dim):
    return nn.Sequential(nn.Linear(dim, dim, bias=False), nn.ReLU(), nn.Linear(dim, dim, bias=False), nn.Tanh())


def add_visual_branch(stage, dim, cfg):
    """Gives a stage RMSIN's various receptive branch and its gate (cfg: the "iim" section)."""
    stage.visual_residual = VariousReceptive(cfg)
    stage.visual_gate = tanh_gate(dim)


def visual_term(stage, x, h, w, trace=None, tag=""):
    """visual_gate(V) * V, V = visual_residual(X): the stream's third term."""
    v = stage.visual_residual(x, h, w)
    mrsnet._put(trace, tag + "V", v)
    return stage.visual_gate(v) * v


# ---------------------------------------------------------------------------
# CIM
# ---------------------------------------------------------------------------

def h_sigmoid(x):
    return F.relu6(x + 3) / 6


class LinearBN(nn.Sequential):
    """Bias-free Linear, then BatchNorm1d over every token of the batch."""

    def __init__(self, a, b, cfg):
        super().__init__()
        self.add_module("c", nn.Linear(a, b, bias=False))
        self.add_module("bn", _bn(b, cfg, dims=1))

    def forward(self, x):
        y = self.c(x)
        return self.bn(y.flatten(0, 1)).reshape_as(y)


class Residual(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, x):
        return x + self.m(x)


def pooled_sizes(g):
    """Tokens of the three scales CIM's attention sees on a g x g grid: the grid, its
    3x3 stride-2 and 5x5 stride-3 depthwise reductions (padding 1 and 2)."""
    g2, g3 = (g - 1) // 2 + 1, (g - 1) // 3 + 1
    return g * g, g * g + g2 * g2 + g3 * g3


class Attention(nn.Module):
    def __init__(self, dim, g, cfg):
        super().__init__()
        self.heads, self.kd = cfg["heads"], cfg["key_dim"]
        self.d = cfg["attn_ratio"] * self.kd
        self.dh = self.d * self.heads
        self.g = g
        self.n0, n = pooled_sizes(g)
        self.qkv = LinearBN(dim, self.dh + 2 * self.kd * self.heads, cfg)
        self.parallel_conv = nn.Sequential(nn.Hardswish(),
                                           nn.Conv2d(self.dh, self.dh, 3, padding=1, groups=self.dh))
        self.to_out = nn.Linear(self.dh, dim)
        self.proj = nn.Linear(n, self.n0)

    def forward(self, x):
        b, n, _ = x.shape
        q, k, v = self.qkv(x).view(b, n, self.heads, -1).split([self.kd, self.kd, self.d], dim=3)
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)      # B x heads x n x .
        # The grid tokens' values, memory order (head, token, d), read as dh maps of g x g.
        v0 = v[:, :, :self.n0].reshape(b, self.dh, self.g, self.g)
        v_conv = self.parallel_conv(v0).flatten(2)                              # B x dh x n0
        a = torch.softmax((q @ k.transpose(-2, -1)) * self.kd ** -0.5, dim=-1)
        o = (a @ v).transpose(1, 2).reshape(b, self.dh, n)                     # memory (token, head, d)
        o = self.proj(o) + v_conv                                               # B x dh x n0
        return self.to_out(o.transpose(1, 2))                                   # B x n0 x dim


class CrossScaleAttention(nn.Module):
    def __init__(self, dim, g, cfg):
        super().__init__()
        self.g = g
        self.bn1 = _bn(dim, cfg)
        self.DWConv1 = nn.Sequential(nn.Conv2d(dim, dim, 3, stride=2, padding=1, groups=dim), _bn(dim, cfg))
        self.DWConv2 = nn.Sequential(nn.Conv2d(dim, dim, 5, stride=3, padding=2, groups=dim), _bn(dim, cfg))
        self.attention = Attention(dim, g, cfg)
        self.bn4 = _bn(dim, cfg)
        self.conv = nn.Conv2d(dim, dim, 1)

    def forward(self, x):
        b, c = x.shape[:2]
        x0 = self.bn1(x)
        t = torch.cat([x0.flatten(2), self.DWConv1(x0).flatten(2), self.DWConv2(x0).flatten(2)], 2)
        a = self.attention(t.transpose(1, 2)).transpose(1, 2).reshape(b, c, self.g, self.g)
        return self.conv(F.hardswish(self.bn4(a)))


class FeedForward(nn.Module):
    def __init__(self, dim, hidden, cfg):
        super().__init__()
        self.bn1 = _bn(dim, cfg)
        self.conv1 = nn.Conv2d(dim, hidden, 1)
        self.bn2 = _bn(hidden, cfg)
        self.conv2 = nn.Conv2d(hidden, hidden, 3, padding=1, groups=dim)
        self.conv3 = nn.Conv2d(hidden, dim, 1)

    def forward(self, x):
        return self.conv3(F.relu6(self.conv2(self.bn2(self.conv1(self.bn1(x))))))


class IntraFeedForward(nn.Module):
    def __init__(self, split, cfg):
        super().__init__()
        self.split = split
        r = cfg["mlp_ratio"]
        for i, c in enumerate(split):
            self.add_module(f"ff{i + 1}", Residual(FeedForward(c, r * c, cfg)))

    def forward(self, x):
        parts = x.split(self.split, dim=1)
        return torch.cat([getattr(self, f"ff{i + 1}")(p) for i, p in enumerate(parts)], 1)


class CIMBlock(nn.Module):
    def __init__(self, dim, split, g, cfg):
        super().__init__()
        self.csa1 = Residual(CrossScaleAttention(dim, g, cfg))
        self.intra_ff = Residual(IntraFeedForward(split, cfg))
        self.csa2 = Residual(CrossScaleAttention(dim, g, cfg))
        self.ff = Residual(FeedForward(dim, cfg["mlp_ratio"] * dim, cfg))

    def forward(self, x):
        return self.ff(self.csa2(self.intra_ff(self.csa1(x))))


class ScaleAwareGate(nn.Module):
    def __init__(self, c, cfg):
        super().__init__()
        self.local_embedding = nn.Conv2d(c, c, 1)
        self.bn1 = _bn(c, cfg)
        self.global_embedding = nn.Conv2d(c, c, 1)
        self.bn2 = _bn(c, cfg)
        self.global_act = nn.Conv2d(c, c, 1)
        self.bn3 = _bn(c, cfg)

    def forward(self, x_l, x_g):
        h, w = x_l.shape[-2:]
        local = self.bn1(self.local_embedding(x_l))
        glob = F.interpolate(self.bn2(self.global_embedding(x_g)), size=(h, w), mode="bilinear",
                             align_corners=False)
        act = F.interpolate(h_sigmoid(self.bn3(self.global_act(x_g))), size=(h, w), mode="bilinear",
                            align_corners=False)
        return local * act + glob


class CIM(nn.Module):
    """E1..E4 (B x C_i x H_i x W_i) -> D1..D4 of the same shapes."""

    def __init__(self, cfg):
        super().__init__()
        c = cfg["cim"]
        e = cfg["swin"]["embed_dim"]
        self.widths = [e << i for i in range(4)]
        dim = sum(self.widths)
        hidden = dim // 4
        self.g = cfg["image_size"] // (cfg["swin"]["patch_size"] * 8)
        self.down_channel = nn.Conv2d(dim, hidden, 1)
        self.up_channel = nn.Conv2d(hidden, dim, 1)
        self.block = nn.ModuleList([CIMBlock(hidden, [w // 4 for w in self.widths], self.g, c)
                                    for _ in range(c["layers"])])
        self.bn = _bn(hidden, c)
        self.fusion = nn.ModuleList([ScaleAwareGate(w, c) for w in self.widths])

    def forward(self, es, trace=None):
        h, w = es[3].shape[-2:]
        if (h, w) != (self.g, self.g):
            raise ValueError(f"cim: built for a {self.g} x {self.g} stage-4 grid, not {h} x {w} "
                             "(images of image_size)")
        x = torch.cat([F.adaptive_avg_pool2d(e, (h, w)) for e in es], 1)
        x = self.down_channel(x)
        for blk in self.block:
            x = blk(x)
        x = self.up_channel(self.bn(x))
        mrsnet._put(trace, "cim.Y", x)
        ds = []
        for i, (e, part) in enumerate(zip(es, x.split(self.widths, 1))):
            d = self.fusion[i](e, part)
            mrsnet._put(trace, f"cim.D{i + 1}", d)
            ds.append(d)
        return ds
