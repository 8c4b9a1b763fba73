"""LAVT's pixel-word attention module for the reference (doc/network.md, PWAM): the
fusion module of the stages whose configuration says "pwam".

Written from reading LAVT's code (Yang et al., CVPR 2022; lib/backbone.py: PWAM,
SpatialImageLanguageAttention).  The module paths are LAVT's state_dict names under
`backbone.layers.{i}.fusion.`: vis_project.0, image_lang_att.{f_key,f_query,f_value,W}.0
and project_mm.0.  The gate that follows the PWAM (LAVT's language gate, res_gate) is
mrsnet.Stage's; LAVT's decoder (decoder.kind "lavt") is mrsnet.SimpleDecoding with plain
convolutions in place of RMSIN's rotated ones.
"""
import torch.nn as nn
import torch.nn.functional as F

import mrsnet


class SpatialImageLanguageAttention(nn.Module):
    """The words each pixel attends to: IN(W(softmax(C^-1/2 Q^T K + mask) V)), per head."""

    def __init__(self, c, l_dim, cfg_pwam):
        super().__init__()
        self.c, self.heads = c, cfg_pwam["heads"]
        self.eps, self.mask_value = cfg_pwam["in_eps"], cfg_pwam["mask_value"]
        self.f_key = nn.Sequential(nn.Conv1d(l_dim, c, 1))
        self.f_query = nn.Sequential(nn.Conv1d(c, c, 1))    # then InstanceNorm1d (no parameters)
        self.f_value = nn.Sequential(nn.Conv1d(l_dim, c, 1))
        self.W = nn.Sequential(nn.Conv1d(c, c, 1))          # then InstanceNorm1d

    def forward(self, x, l, m):
        # x: B x C x N (the Swin output, channel-first); l: B x D_l x N_l; m: B x N_l x 1
        mt = m.permute(0, 2, 1)                                     # B x 1 x N_l
        q = F.instance_norm(self.f_query(x), eps=self.eps)         # from X, not vis_project's V
        k = self.f_key(l) * mt
        v = self.f_value(l) * mt
        o = mrsnet.pixel_word_attention(q, k, v, mt, self.heads, self.mask_value)
        return F.instance_norm(self.W(o), eps=self.eps)            # B x C x N


class PWAM(nn.Module):
    """F = Dropout(GELU(project_mm(Dropout(GELU(vis_project(X))) * attention(X, L))))."""

    def __init__(self, c, l_dim, cfg_pwam):
        super().__init__()
        self.vis_project = nn.Sequential(nn.Conv1d(c, c, 1))
        self.image_lang_att = SpatialImageLanguageAttention(c, l_dim, cfg_pwam)
        self.project_mm = nn.Sequential(nn.Conv1d(c, c, 1))
        self.drop = nn.Dropout(cfg_pwam["dropout"])

    def forward(self, x, l, m, trace=None, tag=""):
        # x: B x N x C -> F: B x N x C
        xt = x.transpose(1, 2)
        vis = self.drop(mrsnet.gelu(self.vis_project(xt)))
        mrsnet._put(trace, tag + "vis", vis)
        lang = self.image_lang_att(xt, l, m)
        mrsnet._put(trace, tag + "lang", lang)
        return self.drop(mrsnet.gelu(self.project_mm(vis * lang))).transpose(1, 2)
