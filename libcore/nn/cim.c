#include "cim.h"

#include <stdio.h>

#include "../arena.h"
#include "../error.h"
#include "../ops/check.h"

/* Name buffers grow with the nesting (the compiler checks that none can be cut). */
enum { NAME_BLOCK = 320, NAME_CSA = 384, NAME_FULL = 448 };

int64_t rr_cim_tokens(int64_t g)
{
    int64_t g2 = (g + 1) / 2, g3 = (g + 2) / 3;
    return g * g + g2 * g2 + g3 * g3;
}

/* PREFIX.NAME as a BatchNorm of width n with the CIM's eps and momentum. */
static int bn_init(rr_params *p, rr_batch_norm_m *m, int64_t n, const rr_config *cfg, const char *prefix,
                   const char *name)
{
    char full[NAME_FULL];
    snprintf(full, sizeof full, "%s.%s", prefix, name);
    return rr_batch_norm_m_init(p, m, n, cfg->cim.bn_eps, cfg->cim.bn_momentum, RR_PARAM_TRAIN, full);
}

static int conv_init(rr_params *p, rr_conv2d_m *m, int64_t in, int64_t out, int k, int stride, int pad,
                     int groups, const char *prefix, const char *name)
{
    char full[NAME_FULL];
    snprintf(full, sizeof full, "%s.%s", prefix, name);
    return rr_conv2d_m_init(p, m, in, out, k, stride, pad, groups, 1, RR_PARAM_TRAIN, full);
}

static int linear_init(rr_params *p, rr_linear_m *m, int64_t in, int64_t out, int bias, const char *prefix,
                       const char *name)
{
    char full[NAME_FULL];
    snprintf(full, sizeof full, "%s.%s", prefix, name);
    return rr_linear_m_init(p, m, in, out, bias, RR_LINEAR_TRUNC, RR_PARAM_TRAIN, full);
}

static int ff_init(rr_params *p, rr_cim_ff *m, int64_t dim, const rr_config *cfg, const char *prefix)
{
    int64_t hid = dim * cfg->cim.mlp_ratio;
    return bn_init(p, &m->bn1, dim, cfg, prefix, "bn1") || conv_init(p, &m->conv1, dim, hid, 1, 1, 0, 1, prefix, "conv1") ||
           bn_init(p, &m->bn2, hid, cfg, prefix, "bn2") ||
           conv_init(p, &m->conv2, hid, hid, 3, 1, 1, (int)dim, prefix, "conv2") ||
           conv_init(p, &m->conv3, hid, dim, 1, 1, 0, 1, prefix, "conv3");
}

static int csa_init(rr_params *p, rr_cim_csa *m, int64_t dim, int64_t g, const rr_config *cfg, const char *prefix)
{
    const rr_cim_config *cc = &cfg->cim;
    rr_cim_attn *a = &m->attn;
    char at[NAME_CSA];
    m->g = g;
    a->heads = cc->heads;
    a->kd = cc->key_dim;
    a->d = (int64_t)cc->attn_ratio * cc->key_dim;
    a->dh = a->d * a->heads;
    a->g = g;
    a->n0 = g * g;
    a->n = rr_cim_tokens(g);
    snprintf(at, sizeof at, "%s.attention", prefix);
    return bn_init(p, &m->bn1, dim, cfg, prefix, "bn1") ||
           conv_init(p, &m->dw1, dim, dim, 3, 2, 1, (int)dim, prefix, "DWConv1.0") ||
           bn_init(p, &m->dw1_bn, dim, cfg, prefix, "DWConv1.1") ||
           conv_init(p, &m->dw2, dim, dim, 5, 3, 2, (int)dim, prefix, "DWConv2.0") ||
           bn_init(p, &m->dw2_bn, dim, cfg, prefix, "DWConv2.1") ||
           linear_init(p, &a->qkv, dim, a->dh + 2 * a->kd * a->heads, 0, at, "qkv.c") ||
           bn_init(p, &a->qkv_bn, a->dh + 2 * a->kd * a->heads, cfg, at, "qkv.bn") ||
           conv_init(p, &a->parallel_conv, a->dh, a->dh, 3, 1, 1, (int)a->dh, at, "parallel_conv.1") ||
           linear_init(p, &a->to_out, a->dh, dim, 1, at, "to_out") ||
           linear_init(p, &a->proj, a->n, a->n0, 1, at, "proj") || bn_init(p, &m->bn4, dim, cfg, prefix, "bn4") ||
           conv_init(p, &m->conv, dim, dim, 1, 1, 0, 1, prefix, "conv");
}

static int block_init(rr_params *p, rr_cim *m, rr_cim_block *b, const rr_config *cfg, const char *prefix)
{
    char name[NAME_BLOCK];
    snprintf(name, sizeof name, "%s.csa1.m", prefix);
    if (csa_init(p, &b->csa1, m->hidden, m->g, cfg, name))
        return -1;
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof name, "%s.intra_ff.m.ff%d.m", prefix, i + 1);
        if (ff_init(p, &b->intra[i], m->widths[i] / 4, cfg, name))
            return -1;
    }
    snprintf(name, sizeof name, "%s.csa2.m", prefix);
    if (csa_init(p, &b->csa2, m->hidden, m->g, cfg, name))
        return -1;
    snprintf(name, sizeof name, "%s.ff.m", prefix);
    return ff_init(p, &b->ff, m->hidden, cfg, name);
}

int rr_cim_init(rr_params *p, rr_cim *m, const rr_config *cfg, const char *prefix)
{
    char name[256];
    int64_t dim = 0;
    for (int i = 0; i < 4; i++)
        dim += m->widths[i] = (int64_t)cfg->swin.embed_dim << i;
    m->hidden = dim / 4;
    m->g = cfg->image_size / (cfg->swin.patch_size * 8);
    m->nblocks = cfg->cim.layers;
    m->blocks = rr_arena_calloc(&p->store.meta, (size_t)m->nblocks * sizeof *m->blocks);
    if (!m->blocks)
        return rr_error("out of memory");
    if (conv_init(p, &m->down, dim, m->hidden, 1, 1, 0, 1, prefix, "down_channel") ||
        conv_init(p, &m->up, m->hidden, dim, 1, 1, 0, 1, prefix, "up_channel"))
        return -1;
    for (int k = 0; k < m->nblocks; k++) {
        snprintf(name, sizeof name, "%s.block.%d", prefix, k);
        if (block_init(p, m, &m->blocks[k], cfg, name))
            return -1;
    }
    if (bn_init(p, &m->bn, m->hidden, cfg, prefix, "bn"))
        return -1;
    for (int i = 0; i < 4; i++) {
        rr_cim_gate *f = &m->fusion[i];
        int64_t w = m->widths[i];
        snprintf(name, sizeof name, "%s.fusion.%d", prefix, i);
        if (conv_init(p, &f->local, w, w, 1, 1, 0, 1, name, "local_embedding") ||
            bn_init(p, &f->bn1, w, cfg, name, "bn1") ||
            conv_init(p, &f->global, w, w, 1, 1, 0, 1, name, "global_embedding") ||
            bn_init(p, &f->bn2, w, cfg, name, "bn2") || conv_init(p, &f->act, w, w, 1, 1, 0, 1, name, "global_act") ||
            bn_init(p, &f->bn3, w, cfg, name, "bn3"))
            return -1;
    }
    return 0;
}

static rr_tensor *ff_fwd(rr_ctx *c, const rr_cim_ff *m, rr_tensor *x)
{
    rr_tensor *t = rr_conv2d_m_fwd(c, &m->conv1, rr_batch_norm_m_fwd(c, &m->bn1, x));
    t = rr_conv2d_m_fwd(c, &m->conv2, rr_batch_norm_m_fwd(c, &m->bn2, t));
    return rr_conv2d_m_fwd(c, &m->conv3, rr_relu6(c, t));
}

/* t: B x n x dim tokens (the grid's first).  Returns B x g² x dim. */
static rr_tensor *attn_fwd(rr_ctx *c, const rr_cim_attn *m, rr_tensor *t)
{
    int64_t B = t->shape[0], n = m->n, H = m->heads;
    rr_tensor *qkv = rr_linear_m_fwd(c, &m->qkv, t);
    qkv = rr_reshape(c, rr_batch_norm_m_fwd(c, &m->qkv_bn, rr_reshape(c, qkv, RR_SHAPE(B * n, -1))),
                     RR_SHAPE(B, n, H, -1));
    rr_tensor *q, *k, *v, *parts[3];
    if (rr_split(c, qkv, 3, 3, (const int64_t[]){m->kd, m->kd, m->d}, parts))
        return NULL;
    static const int heads_first[] = {0, 2, 1, 3};
    q = rr_permute(c, parts[0], heads_first); /* B x H x n x . */
    k = rr_permute(c, parts[1], heads_first);
    v = rr_permute(c, parts[2], heads_first);
    /* The grid tokens' values in memory order (head, token, d) read as dh
     * maps of g x g, as RMSIN's reshape does. */
    rr_tensor *v0 = rr_reshape(c, rr_slice(c, v, 2, 0, m->n0, 1), RR_SHAPE(B, m->dh, m->g, m->g));
    rr_tensor *vc = rr_conv2d_m_fwd(c, &m->parallel_conv, rr_hswish(c, v0));
    rr_tensor *a = rr_softmax(c, rr_scale(c, rr_matmul_t(c, q, k, 0, 1), 1.0f / sqrtf((float)m->kd)), -1, NULL);
    /* (B, n, H, d) memory read as dh x n. */
    rr_tensor *o = rr_reshape(c, rr_permute(c, rr_matmul(c, a, v), heads_first), RR_SHAPE(B, m->dh, n));
    o = rr_add(c, rr_linear_m_fwd(c, &m->proj, o), rr_reshape(c, vc, RR_SHAPE(B, m->dh, m->n0)));
    return rr_linear_m_fwd(c, &m->to_out, rr_transpose(c, o, 1, 2));
}

static rr_tensor *csa_fwd(rr_ctx *c, const rr_cim_csa *m, rr_tensor *x)
{
    int64_t B = x->shape[0], C = x->shape[1];
    rr_tensor *x0 = rr_batch_norm_m_fwd(c, &m->bn1, x);
    rr_tensor *x1 = rr_batch_norm_m_fwd(c, &m->dw1_bn, rr_conv2d_m_fwd(c, &m->dw1, x0));
    rr_tensor *x2 = rr_batch_norm_m_fwd(c, &m->dw2_bn, rr_conv2d_m_fwd(c, &m->dw2, x0));
    rr_tensor *flat[3] = {rr_reshape(c, x0, RR_SHAPE(B, C, -1)), rr_reshape(c, x1, RR_SHAPE(B, C, -1)),
                          rr_reshape(c, x2, RR_SHAPE(B, C, -1))};
    rr_tensor *t = rr_transpose(c, rr_concat(c, 3, flat, 2), 1, 2);
    if (!t)
        return NULL;
    rr_tensor *a = rr_reshape(c, rr_transpose(c, attn_fwd(c, &m->attn, t), 1, 2), RR_SHAPE(B, C, m->g, m->g));
    return rr_conv2d_m_fwd(c, &m->conv, rr_hswish(c, rr_batch_norm_m_fwd(c, &m->bn4, a)));
}

/* x + [p_i + FF_i(p_i)]_i over the channel split (a residual around residuals). */
static rr_tensor *intra_fwd(rr_ctx *c, const rr_cim *cim, const rr_cim_block *m, rr_tensor *x)
{
    rr_tensor *p[4];
    int64_t sizes[4];
    for (int i = 0; i < 4; i++)
        sizes[i] = cim->widths[i] / 4;
    if (rr_split(c, x, 1, 4, sizes, p))
        return NULL;
    for (int i = 0; i < 4; i++)
        p[i] = rr_add(c, p[i], ff_fwd(c, &m->intra[i], p[i]));
    return rr_add(c, x, rr_concat(c, 4, p, 1));
}

static rr_tensor *block_fwd(rr_ctx *c, const rr_cim *cim, const rr_cim_block *m, rr_tensor *x)
{
    x = rr_add(c, x, csa_fwd(c, &m->csa1, x));
    x = x ? intra_fwd(c, cim, m, x) : NULL;
    x = x ? rr_add(c, x, csa_fwd(c, &m->csa2, x)) : NULL;
    return x ? rr_add(c, x, ff_fwd(c, &m->ff, x)) : NULL;
}

int rr_cim_fwd(rr_ctx *c, const rr_cim *m, rr_tensor *const e[4], rr_tensor *d[4], rr_trace *tr)
{
    for (int i = 0; i < 4; i++)
        if (rr_check_f32("cim", e[i]) || rr_check_ndim("cim", e[i], 4))
            return -1;
    if (e[3]->shape[2] != m->g || e[3]->shape[3] != m->g)
        return rr_error("cim: built for a %lld x %lld stage-4 grid, not %lld x %lld (images of image_size)",
                        (long long)m->g, (long long)m->g, (long long)e[3]->shape[2], (long long)e[3]->shape[3]);
    rr_tensor *pooled[4];
    for (int i = 0; i < 4; i++)
        pooled[i] = rr_adaptive_avg_pool2d(c, e[i], m->g, m->g);
    rr_tensor *x = rr_conv2d_m_fwd(c, &m->down, rr_concat(c, 4, pooled, 1));
    for (int k = 0; k < m->nblocks && x; k++)
        x = block_fwd(c, m, &m->blocks[k], x);
    x = rr_conv2d_m_fwd(c, &m->up, rr_batch_norm_m_fwd(c, &m->bn, x));
    rr_trace_put(tr, "cim.", "Y", x);
    rr_tensor *g[4];
    if (!x || rr_split(c, x, 1, 4, m->widths, g))
        return -1;
    for (int i = 0; i < 4; i++) {
        const rr_cim_gate *f = &m->fusion[i];
        int64_t h = e[i]->shape[2], w = e[i]->shape[3];
        rr_tensor *local = rr_batch_norm_m_fwd(c, &f->bn1, rr_conv2d_m_fwd(c, &f->local, e[i]));
        rr_tensor *glob = rr_batch_norm_m_fwd(c, &f->bn2, rr_conv2d_m_fwd(c, &f->global, g[i]));
        rr_tensor *act = rr_hsigmoid(c, rr_batch_norm_m_fwd(c, &f->bn3, rr_conv2d_m_fwd(c, &f->act, g[i])));
        d[i] = rr_add(c, rr_mul(c, local, rr_resize_bilinear(c, act, h, w, 0)), rr_resize_bilinear(c, glob, h, w, 0));
        if (!d[i])
            return -1;
        char name[8];
        snprintf(name, sizeof name, "D%d", i + 1);
        rr_trace_put(tr, "cim.", name, d[i]);
    }
    return 0;
}
