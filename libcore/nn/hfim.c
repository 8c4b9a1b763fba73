#include "hfim.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "../error.h"
#include "scope.h"

/* The 1x1 convolution PREFIX.NAME (stride 1, unpadded). */
static int conv1x1_init(rr_params *p, rr_conv2d_m *m, int64_t in, int64_t out, int bias, const char *prefix,
                        const char *name)
{
    char n[160];
    snprintf(n, sizeof n, "%s.%s", prefix, name);
    return rr_conv2d_m_init(p, m, in, out, 1, 1, 0, 1, bias, RR_PARAM_TRAIN, n);
}

int rr_hfim_init(rr_params *p, rr_hfim *m, const rr_config *cfg, const char *prefix)
{
    const rr_hfim_config *h = &cfg->hfim;
    int64_t e = cfg->swin.embed_dim;
    for (int i = 0; i < 4; i++)
        m->split[i] = (e << i) >> (2 * i);
    m->ch = rr_config_hfim_channels(cfg);
    m->heads = h->heads;
    m->head_dim = h->head_dim;
    m->freq_heads = h->freq_heads;
    m->sr = h->sr;
    m->l2_eps = h->l2_eps;
    int64_t ch = m->ch, inner = m->heads * m->head_dim;
    char n[160];
    int rc = 0;
    snprintf(n, sizeof n, "%s.local_dw", prefix);
    rc |= rr_conv2d_m_init(p, &m->local_dw, ch, ch, 3, 1, 1, (int)ch, 0, RR_PARAM_TRAIN, n);
    rc |= conv1x1_init(p, &m->local_pw, ch, ch, 0, prefix, "local_pw");
    snprintf(n, sizeof n, "%s.local_bn", prefix);
    rc |= rr_batch_norm_m_init(p, &m->local_bn, ch, h->bn_eps, h->bn_momentum, RR_PARAM_TRAIN, n);
    snprintf(n, sizeof n, "%s.global_norm", prefix);
    rc |= rr_layer_norm_m_init(p, &m->global_norm, ch, h->ln_eps, RR_PARAM_TRAIN, n);
    snprintf(n, sizeof n, "%s.global_norm_kv", prefix);
    rc |= rr_layer_norm_m_init(p, &m->global_norm_kv, ch, h->ln_eps, RR_PARAM_TRAIN, n);
    snprintf(n, sizeof n, "%s.global_q", prefix);
    rc |= rr_linear_m_init(p, &m->global_q, ch, inner, 1, RR_LINEAR_TRUNC, RR_PARAM_TRAIN, n);
    snprintf(n, sizeof n, "%s.global_kv", prefix);
    rc |= rr_linear_m_init(p, &m->global_kv, ch, 2 * inner, 1, RR_LINEAR_TRUNC, RR_PARAM_TRAIN, n);
    snprintf(n, sizeof n, "%s.global_proj", prefix);
    rc |= rr_linear_m_init(p, &m->global_proj, inner, ch, 1, RR_LINEAR_TRUNC, RR_PARAM_TRAIN, n);
    rc |= conv1x1_init(p, &m->freq_q, ch, ch, 1, prefix, "freq_q");
    rc |= conv1x1_init(p, &m->freq_k, ch, ch, 1, prefix, "freq_k");
    rc |= conv1x1_init(p, &m->freq_v, ch, ch, 1, prefix, "freq_v");
    m->freq_temperature = rr_param_add(p, RR_PARAM_TRAIN, RR_INIT_ONES, 0, RR_SHAPE(m->freq_heads, 1, 1),
                                       "%s.freq_temperature", prefix);
    rc |= conv1x1_init(p, &m->freq_proj, ch, ch, 1, prefix, "freq_proj");
    rc |= conv1x1_init(p, &m->fuse, 3 * ch, ch, 0, prefix, "fuse");
    snprintf(n, sizeof n, "%s.fuse_bn", prefix);
    rc |= rr_batch_norm_m_init(p, &m->fuse_bn, ch, h->bn_eps, h->bn_momentum, RR_PARAM_TRAIN, n);
    return rc || !m->freq_temperature ? -1 : 0;
}

/* B x C x H x W -> B x HW x C (tokens). */
static rr_tensor *tokens(rr_ctx *c, rr_tensor *x)
{
    if (!x)
        return NULL;
    return rr_transpose(c, rr_reshape(c, x, RR_SHAPE(x->shape[0], x->shape[1], -1)), 1, 2);
}

/* B x N x (heads·hd) -> B x heads x N x hd. */
static rr_tensor *split_heads(rr_ctx *c, const rr_hfim *m, rr_tensor *t)
{
    if (!t)
        return NULL;
    return rr_transpose(c, rr_reshape(c, t, RR_SHAPE(t->shape[0], t->shape[1], m->heads, m->head_dim)), 1, 2);
}

/* softmax(q kᵀ) v, q already scaled. */
static rr_tensor *attention(rr_ctx *c, rr_tensor *q, rr_tensor *k, rr_tensor *v)
{
    return rr_matmul(c, rr_softmax(c, rr_matmul_t(c, q, k, 0, 1), -1, NULL), v);
}

/* The same one head at a time, each head's attention map released before
 * the next (ctx.h, Scopes): the maps of all heads are the forward's biggest
 * tensors (mrsnet-b at 480: 8 heads x 14400 x 900, 415 MB, twice, the
 * logits and their softmax).  Every product and softmax row is the one of
 * the batched form, so the values are the same bit for bit.  Only in a
 * context that releases: with the tape, the pieces would be kept besides. */
static rr_tensor *heads_one_by_one(rr_ctx *c, const rr_hfim *m, rr_tensor *q, rr_tensor *k, rr_tensor *v)
{
    rr_tensor **o = q && k && v ? malloc((size_t)m->heads * sizeof *o) : NULL;
    if (!o) {
        if (q && k && v)
            rr_error("out of memory");
        return NULL;
    }
    for (int64_t i = 0; i < m->heads; i++) {
        rr_scope s = rr_scope_begin(c, NULL);
        o[i] = rr_scope_keep(&s, attention(c, rr_slice(c, q, 1, i, i + 1, 1), rr_slice(c, k, 1, i, i + 1, 1),
                                           rr_slice(c, v, 1, i, i + 1, 1)));
    }
    rr_tensor *all = rr_concat(c, (int)m->heads, o, 1);
    free(o);
    return all;
}

/* doc/network.md, HFIM, step 3: softmax(Q Kᵀ / sqrt(hd)) V with keys and values from the sr x sr
 * average-pooled map. */
static rr_tensor *branch_global(rr_ctx *c, const rr_hfim *m, rr_tensor *x)
{
    int64_t b = x->shape[0], ch = x->shape[1], h = x->shape[2], w = x->shape[3], inner = m->heads * m->head_dim;
    rr_tensor *q = split_heads(c, m, rr_linear_m_fwd(c, &m->global_q, rr_layer_norm_m_fwd(c, &m->global_norm,
                                                                                         tokens(c, x))));
    rr_tensor *xr = m->sr > 1 ? rr_avg_pool2d(c, x, m->sr, m->sr, 0, 1) : x;
    rr_tensor *kv = rr_linear_m_fwd(c, &m->global_kv, rr_layer_norm_m_fwd(c, &m->global_norm_kv, tokens(c, xr)));
    rr_tensor *kv_parts[2];
    if (!kv || rr_split(c, kv, -1, 2, (int64_t[]){inner, inner}, kv_parts))
        return NULL;
    rr_tensor *k = split_heads(c, m, kv_parts[0]), *v = split_heads(c, m, kv_parts[1]);
    /* The reference scales the logits; scaling q first is the same up to
     * rounding and keeps one B x heads x N x N_r tensor fewer. */
    rr_tensor *qs = rr_scale(c, q, (float)pow((double)m->head_dim, -0.5));
    rr_tensor *av = rr_ctx_releases(c) ? heads_one_by_one(c, m, qs, k, v) : attention(c, qs, k, v);
    rr_tensor *o = rr_reshape(c, rr_transpose(c, av, 1, 2), RR_SHAPE(b, h * w, inner));
    return rr_reshape(c, rr_transpose(c, rr_linear_m_fwd(c, &m->global_proj, o), 1, 2), RR_SHAPE(b, ch, h, w));
}

/* F.normalize(x, dim=-1, eps) = x / max(||x||, eps), composed from ops (there
 * is no square root op): LayerNorm of [x, -x] (mean exactly 0, variance
 * ||x||²/L) gives u = sqrt(L)·x/||x|| in its first half, so ||x|| =
 * <x, u>/sqrt(L), and max(n, eps) = ReLU(n - eps) + eps.  The gradient is
 * torch's: that of x/||x|| above eps, x/eps with the norm's gradient cut
 * below (as clamp_min cuts it).  The LayerNorm's own eps (1e-30) only keeps
 * x = 0 finite; at ||x|| >= eps it changes the norm by at most
 * L·1e-30/(2·eps²) relative (4e-15 for eps 1e-6 and L = 120·61). */
static rr_tensor *l2_normalize(rr_ctx *c, rr_tensor *x, float eps)
{
    if (!x)
        return NULL;
    int64_t len = x->shape[x->ndim - 1];
    rr_tensor *z = rr_concat(c, 2, (rr_tensor *[]){x, rr_scale(c, x, -1.0f)}, -1);
    rr_tensor *u = rr_slice(c, rr_layer_norm(c, z, NULL, NULL, 1e-30f), -1, 0, len, 1);
    rr_tensor *n = rr_scale(c, rr_sum(c, rr_mul(c, x, u), 1, (int[]){-1}, 1), (float)(1.0 / sqrt((double)len)));
    rr_tensor *e = rr_const(c, RR_F32, RR_SHAPE(1), &eps);
    return rr_div(c, x, rr_add(c, rr_relu(c, rr_sub(c, n, e)), e));
}

/* |rfft2(conv(x), ortho)| per head: B x fheads x (ch/fheads) x (H·(W/2+1)). */
static rr_tensor *amplitudes(rr_ctx *c, const rr_hfim *m, const rr_conv2d_m *conv, rr_tensor *x)
{
    rr_tensor *a = rr_complex_abs(c, rr_rfft2(c, rr_conv2d_m_fwd(c, conv, x), RR_FFT_ORTHO));
    return rr_reshape(c, a, RR_SHAPE(x->shape[0], m->freq_heads, m->ch / m->freq_heads, -1));
}

/* doc/network.md, HFIM, step 4: A = softmax(τ · q̂ k̂ᵀ) over the amplitude spectra's channels per
 * head; IFFT(A · FFT(V_s)) = A · V_s exactly (A is real and mixes channels
 * only), so V needs no transform. */
static rr_tensor *branch_freq(rr_ctx *c, const rr_hfim *m, rr_tensor *x, rr_trace *tr)
{
    int64_t b = x->shape[0], h = x->shape[2], w = x->shape[3];
    /* q and k each keep their normalised spectra only (ctx.h, Scopes). */
    rr_scope s = rr_scope_begin(c, NULL);
    rr_tensor *q = rr_scope_keep(&s, l2_normalize(c, amplitudes(c, m, &m->freq_q, x), m->l2_eps));
    s = rr_scope_begin(c, NULL);
    rr_tensor *k = rr_scope_keep(&s, l2_normalize(c, amplitudes(c, m, &m->freq_k, x), m->l2_eps));
    rr_tensor *a = rr_softmax(c, rr_mul(c, m->freq_temperature, rr_matmul_t(c, q, k, 0, 1)), -1, NULL);
    rr_trace_put(tr, "hfim.", "freq_attn", a);
    rr_tensor *v = rr_reshape(c, rr_conv2d_m_fwd(c, &m->freq_v, x),
                              RR_SHAPE(b, m->freq_heads, m->ch / m->freq_heads, h * w));
    return rr_conv2d_m_fwd(c, &m->freq_proj, rr_reshape(c, rr_matmul(c, a, v), RR_SHAPE(b, m->ch, h, w)));
}

int rr_hfim_fwd(rr_ctx *c, const rr_hfim *m, rr_tensor *const e[4], rr_tensor *d[4], rr_trace *tr)
{
    rr_tensor *u[4];
    for (int i = 0; i < 4; i++) {
        int64_t r = 1 << i;
        if (!e[i])
            return rr_error_prefix("hfim: E%d missing (an earlier op failed): ", i + 1);
        if (e[i]->ndim != 4 || e[i]->shape[1] != m->split[i] * r * r)
            return rr_error("hfim: E%d has %lld channels, expected %lld", i + 1,
                            (long long)(e[i]->ndim == 4 ? e[i]->shape[1] : -1), (long long)(m->split[i] * r * r));
        u[i] = r > 1 ? rr_pixel_shuffle(c, e[i], r) : e[i];
    }
    /* Each branch keeps its output only, the HFIM D1..D4 only. */
    rr_scope whole = rr_scope_begin(c, tr), s;
    rr_tensor *x = rr_concat(c, 4, u, 1);
    if (!x)
        return -1;
    rr_trace_put(tr, "hfim.", "X", x);
    s = rr_scope_begin(c, tr);
    rr_tensor *dw = rr_conv2d_m_fwd(c, &m->local_dw, x);
    rr_tensor *fl =
        rr_scope_keep(&s, rr_relu(c, rr_batch_norm_m_fwd(c, &m->local_bn, rr_conv2d_m_fwd(c, &m->local_pw, dw))));
    s = rr_scope_begin(c, tr);
    rr_tensor *fg = rr_scope_keep(&s, branch_global(c, m, x));
    s = rr_scope_begin(c, tr);
    rr_tensor *ff = rr_scope_keep(&s, branch_freq(c, m, x, tr));
    rr_trace_put(tr, "hfim.", "F_local", fl);
    rr_trace_put(tr, "hfim.", "F_global", fg);
    rr_trace_put(tr, "hfim.", "F_freq", ff);
    s = rr_scope_begin(c, tr);
    rr_tensor *f = rr_conv2d_m_fwd(c, &m->fuse, rr_concat(c, 3, (rr_tensor *[]){fl, fg, ff}, 1));
    rr_tensor *y = rr_scope_keep(&s, rr_add(c, x, rr_batch_norm_m_fwd(c, &m->fuse_bn, f)));
    if (!y)
        return -1;
    rr_trace_put(tr, "hfim.", "Y", y);
    rr_tensor *parts[4];
    if (rr_split(c, y, 1, 4, m->split, parts))
        return -1;
    for (int i = 0; i < 4; i++) {
        char name[16];
        d[i] = i ? rr_pixel_unshuffle(c, parts[i], 1 << i) : parts[i];
        if (!d[i])
            return -1;
        snprintf(name, sizeof name, "D%d", i + 1);
        rr_trace_put(tr, "hfim.", name, d[i]);
    }
    return rr_scope_end(&whole, 4, d);
}
