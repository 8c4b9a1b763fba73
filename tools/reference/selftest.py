#!/usr/bin/python3
"""Checks of the reference against independent, literal formulations (float64).

    /usr/bin/python3 tools/reference/selftest.py

Each check prints one line; the exit status is 1 if any fails.
"""
import math
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import mrsnet  # noqa: E402
import safetensors_io as st  # noqa: E402

torch.manual_seed(0)
D = torch.float64
FAILED = []


def check(name, err, tol=1e-10):
    ok = err <= tol
    print(f"{'ok  ' if ok else 'FAIL'} {name}: {err:.2e}")
    if not ok:
        FAILED.append(name)


def maxdiff(a, b):
    return float((a - b).abs().max())


def rmsin_rotation(thetas):
    """RMSIN arc/adaptive_rotated_conv.py _get_rotation_matrix, transcribed loop by loop."""
    bs, g = thetas.shape
    t = thetas.reshape(-1)
    x, y = torch.cos(t), torch.sin(t)
    a, b, c = x - y, x * y, x + y
    n = bs * g
    out = torch.zeros(n, 9, 9, dtype=thetas.dtype)
    for i in range(n):
        xi, yi, ai, bi, ci = x[i], y[i], a[i], b[i], c[i]
        if t[i] >= 0:
            rows = [[ai, 1 - ai, 0, 0, 0, 0, 0, 0, 0],
                    [0, xi - bi, bi, 0, 1 - ci + bi, yi - bi, 0, 0, 0],
                    [0, 0, ai, 0, 0, 1 - ai, 0, 0, 0],
                    [bi, yi - bi, 0, xi - bi, 1 - ci + bi, 0, 0, 0, 0],
                    [0, 0, 0, 0, 1, 0, 0, 0, 0],
                    [0, 0, 0, 0, 1 - ci + bi, xi - bi, 0, yi - bi, bi],
                    [0, 0, 0, 1 - ai, 0, 0, ai, 0, 0],
                    [0, 0, 0, yi - bi, 1 - ci + bi, 0, bi, xi - bi, 0],
                    [0, 0, 0, 0, 0, 0, 0, 1 - ai, ai]]
        else:
            rows = [[ci, 0, 0, 1 - ci, 0, 0, 0, 0, 0],
                    [-bi, xi + bi, 0, bi - yi, 1 - ai - bi, 0, 0, 0, 0],
                    [0, 1 - ci, ci, 0, 0, 0, 0, 0, 0],
                    [0, 0, 0, xi + bi, 1 - ai - bi, 0, -bi, bi - yi, 0],
                    [0, 0, 0, 0, 1, 0, 0, 0, 0],
                    [0, bi - yi, -bi, 0, 1 - ai - bi, xi + bi, 0, 0, 0],
                    [0, 0, 0, 0, 0, 0, ci, 1 - ci, 0],
                    [0, 0, 0, 0, 1 - ai - bi, bi - yi, 0, xi + bi, -bi],
                    [0, 0, 0, 0, 0, 1 - ci, 0, 0, ci]]
        out[i] = torch.tensor([[float(v) for v in r] for r in rows], dtype=thetas.dtype)
    return out.reshape(bs, g, 9, 9)


def test_rotation():
    th = torch.tensor([[0.3], [-0.45], [0.0], [-1e-3]], dtype=D)
    check("ARC rotation matrix vs RMSIN's table", maxdiff(mrsnet.rotation_matrix(th), rmsin_rotation(th)))
    r0 = mrsnet.rotation_matrix(torch.zeros(1, 1, dtype=D))[0, 0]
    check("ARC rotation at theta=0 is the identity", maxdiff(r0, torch.eye(9, dtype=D)))


def test_arc():
    b, c, h, w = 3, 5, 7, 6
    cfg = mrsnet.make_config({"decoder": {"arc_kernel_number": 2}})
    arc = mrsnet.AdaptiveRotatedConv2d(c, 2, 0.0, 40.0, 1e-5).to(D)
    torch.nn.init.normal_(arc.weight)
    torch.nn.init.normal_(arc.rounting_func.fc_theta.weight, std=2.0)
    x = torch.randn(b, c, h, w, dtype=D)
    out = arc(x)
    alpha, theta = arc.rounting_func(x)
    ref = []
    for i in range(b):
        wi = torch.zeros(c, c, 3, 3, dtype=D)
        for k in range(2):
            r = mrsnet.rotation_matrix(theta[i:i + 1, k:k + 1])[0, 0]
            base = arc.weight[k].reshape(c, c, 9)
            wi += alpha[i, k] * torch.einsum("rj,ocj->ocr", r, base).reshape(c, c, 3, 3)
        ref.append(F.conv2d(x[i:i + 1], wi, padding=1))
    check("ARC grouped conv vs per-sample conv (n=2 kernels)", maxdiff(out, torch.cat(ref)))
    del cfg


def test_shift_mask():
    w, s, hp = 6, 3, 12
    m = mrsnet.shift_mask(hp, hp, w, s, -100.0, "cpu", D)
    lab = torch.zeros(hp, hp)
    for a, rs in enumerate([range(0, hp - w), range(hp - w, hp - s), range(hp - s, hp)]):
        for bb, cs in enumerate([range(0, hp - w), range(hp - w, hp - s), range(hp - s, hp)]):
            for r in rs:
                for cc in cs:
                    lab[r, cc] = 3 * a + bb
    err = 0.0
    for wy in range(hp // w):
        for wx in range(hp // w):
            win = lab[wy * w:(wy + 1) * w, wx * w:(wx + 1) * w].reshape(-1)
            ref = torch.where(win[:, None] == win[None, :], 0.0, -100.0)
            err = max(err, maxdiff(m[wy * (hp // w) + wx].float(), ref))
    check("Swin shift mask vs region labels", err)


def test_relpos():
    w = 5
    idx = mrsnet.relative_position_index(w)
    err = 0
    for i in range(w * w):
        for j in range(w * w):
            yi, xi, yj, xj = i // w, i % w, j // w, j % w
            err = max(err, abs(int(idx[i, j]) - ((yi - yj + w - 1) * (2 * w - 1) + (xi - xj + w - 1))))
    check("relative position index formula", float(err))


def test_swin_block_literal():
    """One shifted block on a padded grid against a loop over windows."""
    cfg = mrsnet.make_config({"swin": {"window_size": 4}})
    blk = mrsnet.SwinBlock(8, 2, 4, 2, cfg["swin"], 0.0).to(D)
    torch.nn.init.normal_(blk.attn.relative_position_bias_table)
    h, w = 6, 7
    x = torch.randn(2, h * w, 8, dtype=D)
    mask = mrsnet.shift_mask(8, 8, 4, 2, -100.0, "cpu", D)
    out = blk(x, h, w, mask)
    # literal: LN1, zero-pad to 8x8, roll, per-window attention with bias and mask
    y = blk.norm1(x).reshape(2, h, w, 8)
    y = F.pad(y, (0, 0, 0, 1, 0, 2))
    y = torch.roll(y, (-2, -2), (1, 2))
    res = torch.zeros_like(y)
    a = blk.attn
    tab = a.relative_position_bias_table
    for bi in range(2):
        for wy in range(2):
            for wx in range(2):
                t = y[bi, wy * 4:wy * 4 + 4, wx * 4:wx * 4 + 4].reshape(16, 8)
                qkv = a.qkv(t).reshape(16, 3, 2, 4)
                o = torch.zeros(16, 8, dtype=D)
                for hh in range(2):
                    q, k, v = qkv[:, 0, hh] * 4 ** -0.5, qkv[:, 1, hh], qkv[:, 2, hh]
                    s = q @ k.T
                    for i in range(16):
                        for j in range(16):
                            s[i, j] += tab[(i // 4 - j // 4 + 3) * 7 + (i % 4 - j % 4 + 3), hh]
                    s = s + mask[wy * 2 + wx]
                    o[:, hh * 4:(hh + 1) * 4] = torch.softmax(s, -1) @ v
                res[bi, wy * 4:wy * 4 + 4, wx * 4:wx * 4 + 4] = a.proj(o).reshape(4, 4, 8)
    res = torch.roll(res, (2, 2), (1, 2))[:, :h, :w].reshape(2, h * w, 8)
    z = x + res
    ref = z + blk.mlp(blk.norm2(z))
    check("Swin shifted block (padded 6x7 -> 8x8) vs literal windows", maxdiff(out, ref))


def test_csr():
    h, w, c = 5, 4, 3
    x = torch.randn(1, c, h, w, dtype=D)
    a = torch.zeros(h * w, h * w, dtype=D)
    for i in range(h * w):
        yi, xi = divmod(i, w)
        for j in range(h * w):
            yj, xj = divmod(j, w)
            if abs(yi - yj) <= 1 and abs(xi - xj) <= 1:
                a[i, j] = 1
    a = a / a.sum(1, keepdim=True)
    ref = (a @ x.reshape(c, -1).T).T.reshape(1, c, h, w)
    got = F.avg_pool2d(x, 3, 1, 1, count_include_pad=False)
    check("CSR row-normalised adjacency == avg_pool(count_include_pad=False)", maxdiff(got, ref))


def test_psr_phase():
    x = torch.randn(2, 3, 6, 5, dtype=D)
    cfg = mrsnet.make_config({})
    p = mrsnet.PSR(3, cfg["ifim"]).to(D)
    z = torch.fft.fft2(x, norm="ortho")
    # a naive DFT
    hh, ww = 6, 5
    u = torch.arange(hh, dtype=D)
    v = torch.arange(ww, dtype=D)
    eh = torch.exp(-2j * math.pi * torch.outer(u, u) / hh)
    ew = torch.exp(-2j * math.pi * torch.outer(v, v) / ww)
    zn = (eh @ x.to(torch.complex128) @ ew.T) / math.sqrt(hh * ww)
    check("fft2(ortho) vs naive DFT", float((z - zn).abs().max()))
    m = mrsnet._selfconj_mask(6, 5, "cpu")
    check("self-conjugate bins of 6x5 are (0,0) and (3,0)",
          float(m.sum() != 2 or not m[0, 0] or not m[3, 0]), 0)
    del p


def test_hfim_freq_shortcut():
    cfg = mrsnet.make_config({"image_size": 128, "swin": {"embed_dim": 8},
                              "hfim": {"heads": 2, "head_dim": 8, "freq_heads": 3}})
    hf = mrsnet.HFIM(cfg).to(D)
    x = torch.randn(2, hf.ch, 12, 10, dtype=D)
    got = hf.branch_freq(x)
    # literal: F_freq = proj(IFFT(A . FFT(V_s)))
    b, c, h, w = x.shape
    qf = torch.fft.rfft2(hf.freq_q(x), norm="ortho").abs().reshape(b, 3, c // 3, -1)
    kf = torch.fft.rfft2(hf.freq_k(x), norm="ortho").abs().reshape(b, 3, c // 3, -1)
    qf = qf / qf.norm(dim=-1, keepdim=True).clamp(min=1e-6)
    kf = kf / kf.norm(dim=-1, keepdim=True).clamp(min=1e-6)
    a = torch.softmax(hf.freq_temperature * (qf @ kf.transpose(-1, -2)), -1)
    vf = torch.fft.fft2(hf.freq_v(x), norm="ortho").reshape(b, 3, c // 3, -1)
    mixed = (a.to(torch.complex128) @ vf).reshape(b, c, h, w)
    ref = hf.freq_proj(torch.fft.ifft2(mixed, norm="ortho").real)
    check("HFIM frequency branch shortcut A.V == IFFT(A.FFT(V))", maxdiff(got, ref))


def test_pixel_shuffle():
    r, c, h, w = 2, 3, 2, 3
    x = torch.randn(1, c * r * r, h, w, dtype=D)
    y = F.pixel_shuffle(x, r)
    err = 0.0
    for cc in range(c):
        for hh in range(h):
            for ww in range(w):
                for i in range(r):
                    for j in range(r):
                        err = max(err, abs(float(y[0, cc, hh * r + i, ww * r + j] - x[0, cc * r * r + i * r + j, hh, ww])))
    check("PixelShuffle index rule out[c,h*r+i,w*r+j] = in[c*r*r+i*r+j,h,w]", err)
    check("PixelUnshuffle inverts PixelShuffle", maxdiff(F.pixel_unshuffle(y, r), x))


def test_loss():
    logits = torch.randn(2, 2, 9, 7, dtype=D)
    tgt = (torch.rand(2, 9, 7) > 0.6).long()
    tgt[1] = 0
    cfg = mrsnet.make_config({})
    loss, _ = mrsnet.loss_fn(logits, tgt, cfg)
    # RMSIN loss/loss.py with weight 0.1 (dice sum over the batch of 2)
    ce = F.cross_entropy(logits, tgt, weight=torch.tensor([0.9, 1.1], dtype=D))
    p = torch.softmax(logits, 1)
    t = torch.stack([(tgt == 0), (tgt == 1)], 1).to(D)
    dice = (1 - (2 * (p * t).sum((2, 3)) + 1e-6) / ((p + t).sum((2, 3)) + 1e-6)).sum()
    check("loss (0.9 CE_w + 0.2 mean_b) == RMSIN's (0.9 CE_w + 0.1 sum) at batch 2",
          abs(float(loss - (0.9 * ce + 0.1 * dice))))


def test_safetensors_roundtrip():
    import numpy as np
    t = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.array([1, 2], dtype=np.int32),
         "c": np.zeros((2, 2), dtype=np.uint8), "d": np.ones(3, dtype=np.float64)}
    blob = st.dumps(t, {"k": "v"})
    back, meta = st.loads(blob)
    err = max(float(np.abs(back[k].astype(np.float64) - t[k].astype(np.float64)).max()) for k in t)
    ok = meta == {"k": "v"} and int.from_bytes(blob[:8], "little") % 8 == 0
    check("safetensors round trip", err + (0 if ok else 1), 0)


def test_param_counts():
    cfg = mrsnet.load_config(os.path.join(ROOT, "share/configs/mrsnet-b.json"))
    m = mrsnet.MRSNet(cfg)
    pg = mrsnet.param_groups(m)
    want = {"swin": 86880376, "ifim": 37821956, "decoder": 20670981, "bert": 108891648}
    err = sum(abs(pg[k] - v) for k, v in want.items())
    check(f"mrsnet-b parameter counts {pg}", float(err), 0)
    check("mrsnet-b HFIM 0.71 M", float(round(pg["hfim"] / 1e6, 2) != 0.71), 0)


def main():
    for f in (test_rotation, test_arc, test_shift_mask, test_relpos, test_swin_block_literal, test_csr,
              test_psr_phase, test_hfim_freq_shortcut, test_pixel_shuffle, test_loss,
              test_safetensors_roundtrip, test_param_counts):
        f()
    print(f"{len(FAILED)} failed")
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
