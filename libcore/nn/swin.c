#include "swin.h"

#include <math.h>
#include <stdlib.h>

#include "../error.h"
#include "../ops/check.h"
#include "scope.h"

/* --- patch embedding (doc/network.md, Patch embedding) ------------------------ */

int rr_patch_embed_init(rr_params *p, rr_patch_embed *m, const rr_config *cfg, const char *prefix)
{
    char name[256];
    const rr_swin_config *s = &cfg->swin;
    m->patch = s->patch_size;
    snprintf(name, sizeof name, "%s.proj", prefix);
    if (rr_conv2d_m_init(p, &m->proj, cfg->in_chans, s->embed_dim, s->patch_size, s->patch_size, 0, 1, 1,
                         RR_PARAM_TRAIN, name))
        return -1;
    snprintf(name, sizeof name, "%s.norm", prefix);
    return rr_layer_norm_m_init(p, &m->norm, s->embed_dim, s->ln_eps, RR_PARAM_TRAIN, name);
}

rr_tensor *rr_patch_embed_fwd(rr_ctx *c, const rr_patch_embed *m, rr_tensor *img, int64_t *gh, int64_t *gw)
{
    if (rr_check_f32("patch_embed", img) || rr_check_ndim("patch_embed", img, 4))
        return NULL;
    int64_t p = m->patch, B = img->shape[0], H = img->shape[2], W = img->shape[3];
    int64_t pr = (p - W % p) % p, pb = (p - H % p) % p;
    rr_scope s = rr_scope_begin(c, NULL);
    rr_tensor *x = img;
    if (pr || pb)
        x = rr_pad(c, x, (const int64_t[]){0, pr, 0, pb}, 2, 0.0f);
    *gh = (H + pb) / p;
    *gw = (W + pr) / p;
    x = rr_conv2d_m_fwd(c, &m->proj, x); /* B x C x gh x gw */
    x = rr_transpose(c, rr_reshape(c, x, RR_SHAPE(B, m->proj.weight->shape[0], *gh * *gw)), 1, 2);
    return rr_scope_keep(&s, rr_layer_norm_m_fwd(c, &m->norm, x));
}

/* --- Swin block (doc/network.md, Swin block) ---------------------------------- */

/* (yi - yj + w - 1) * (2w - 1) + (xi - xj + w - 1) for tokens i, j of a w x w window. */
static rr_tensor *relative_position_index(rr_ctx *store, int64_t w)
{
    int64_t n = w * w;
    int32_t *idx = malloc((size_t)(n * n) * sizeof *idx);
    if (!idx) {
        rr_error("out of memory");
        return NULL;
    }
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < n; j++)
            idx[i * n + j] = (int32_t)((i / w - j / w + w - 1) * (2 * w - 1) + (i % w - j % w + w - 1));
    rr_tensor *t = rr_from_host(store, RR_I32, RR_SHAPE(n * n), idx);
    free(idx);
    return t;
}

int rr_swin_block_init(rr_params *p, rr_swin_block *m, int64_t dim, int64_t heads, int64_t shift, float drop_path,
                       const rr_config *cfg, const char *prefix)
{
    char name[256];
    const rr_swin_config *s = &cfg->swin;
    int64_t w = s->window_size, hidden = (int64_t)((float)dim * s->mlp_ratio);
    if (heads < 1 || dim % heads)
        return rr_error("%s: width %lld is not a multiple of %lld heads", prefix, (long long)dim, (long long)heads);
    *m = (rr_swin_block){.dim = dim, .heads = heads, .window = w, .shift = shift,
                         .scale = (float)pow((double)(dim / heads), -0.5), .drop_path = drop_path,
                         .drop = s->drop_rate, .attn_drop = s->attn_drop_rate};
#define SUB(fmt) (snprintf(name, sizeof name, "%s." fmt, prefix), name)
    if (rr_layer_norm_m_init(p, &m->norm1, dim, s->ln_eps, RR_PARAM_TRAIN, SUB("norm1")) ||
        rr_linear_m_init(p, &m->qkv, dim, 3 * dim, s->qkv_bias, RR_LINEAR_TRUNC, RR_PARAM_TRAIN, SUB("attn.qkv")) ||
        rr_linear_m_init(p, &m->proj, dim, dim, 1, RR_LINEAR_TRUNC, RR_PARAM_TRAIN, SUB("attn.proj")) ||
        rr_layer_norm_m_init(p, &m->norm2, dim, s->ln_eps, RR_PARAM_TRAIN, SUB("norm2")) ||
        rr_linear_m_init(p, &m->fc1, dim, hidden, 1, RR_LINEAR_TRUNC, RR_PARAM_TRAIN, SUB("mlp.fc1")) ||
        rr_linear_m_init(p, &m->fc2, hidden, dim, 1, RR_LINEAR_TRUNC, RR_PARAM_TRAIN, SUB("mlp.fc2")))
        return -1;
#undef SUB
    m->rel_table = rr_param_add(p, RR_PARAM_TRAIN, RR_INIT_TRUNC_NORMAL, 0.02f,
                                RR_SHAPE((2 * w - 1) * (2 * w - 1), heads), "%s.attn.relative_position_bias_table",
                                prefix);
    m->rel_index = m->rel_table ? relative_position_index(&p->store, w) : NULL;
    return m->rel_index ? 0 : -1;
}

/* W-MSA on windows xw (BW x n x C): the reference's WindowAttention.  q, k
 * and v come from three GEMMs on row blocks of the qkv weight, each
 * permuted once into (BW, heads, n, d); q's scale is folded into its
 * weight and bias ((x W^T + b) s = x (sW)^T + sb).  The relative position
 * bias (heads x n x n) and the shift mask (nW x 1 x n x n) are added to the
 * logits by the softmax as one broadcast mask; its gradient reaches the
 * bias table through the gather. */
static rr_tensor *window_attention(rr_ctx *c, const rr_swin_block *m, rr_tensor *xw, rr_tensor *mask)
{
    int64_t BW = xw->shape[0], n = xw->shape[1], C = m->dim, H = m->heads, d = C / H;
    rr_tensor *qkv[3];
    for (int t = 0; t < 3; t++) {
        rr_tensor *w = rr_slice(c, m->qkv.weight, 0, t * C, (t + 1) * C, 1);
        rr_tensor *b = m->qkv.bias ? rr_slice(c, m->qkv.bias, 0, t * C, (t + 1) * C, 1) : NULL;
        if (t == 0) {
            w = rr_scale(c, w, m->scale);
            b = b ? rr_scale(c, b, m->scale) : NULL;
        }
        rr_tensor *y = rr_reshape(c, rr_linear(c, xw, w, b), RR_SHAPE(BW, n, H, d));
        qkv[t] = rr_permute(c, y, (const int[]){0, 2, 1, 3});
    }
    rr_tensor *attn = rr_matmul_t(c, qkv[0], qkv[1], 0, 1); /* BW x H x n x n */
    rr_tensor *bias = rr_reshape(c, rr_embedding(c, m->rel_index, m->rel_table), RR_SHAPE(n, n, H));
    bias = rr_permute(c, bias, (const int[]){2, 0, 1});
    if (mask) {
        int64_t nW = mask->shape[0];
        bias = rr_add(c, bias, mask); /* nW x H x n x n */
        attn = rr_reshape(c, attn, RR_SHAPE(BW / nW, nW, H, n, n));
    }
    attn = rr_dropout(c, rr_softmax(c, attn, -1, bias), m->attn_drop);
    rr_tensor *o = rr_matmul(c, rr_reshape(c, attn, RR_SHAPE(BW, H, n, n)), qkv[2]); /* BW x H x n x d */
    o = rr_reshape(c, rr_permute(c, o, (const int[]){0, 2, 1, 3}), RR_SHAPE(BW, n, C));
    return rr_dropout(c, rr_linear_m_fwd(c, &m->proj, o), m->drop);
}

rr_tensor *rr_swin_block_fwd(rr_ctx *c, const rr_swin_block *m, rr_tensor *x, int64_t h, int64_t w,
                             rr_tensor *mask)
{
    char s[64];
    if (rr_check_f32("swin_block", x) || rr_check_ndim("swin_block", x, 3))
        return NULL;
    int64_t B = x->shape[0], C = m->dim, ws = m->window, sh = m->shift;
    if (x->shape[1] != h * w || x->shape[2] != C) {
        rr_error("swin_block: input %s is not B x %lld x %lld", rr_shape_str(x, s, sizeof s), (long long)(h * w),
                 (long long)C);
        return NULL;
    }
    int64_t pb = (ws - h % ws) % ws, pr = (ws - w % ws) % ws, hp = h + pb, wp = w + pr;
    if (sh && (!mask || mask->shape[0] != (hp / ws) * (wp / ws))) {
        rr_error("swin_block: a shifted block needs the shift mask of its %lldx%lld padded grid",
                 (long long)hp, (long long)wp);
        return NULL;
    }
    /* Everything but the output is released at the end (ctx.h, Scopes), and
     * each half keeps only what the next reads: the attention's output, the
     * residual stream after it. */
    rr_scope scope = rr_scope_begin(c, NULL), step = rr_scope_begin(c, NULL);
    /* Padding after norm1: the padded tokens are exact zeros and, unmasked,
     * take part in the attention of unshifted windows (doc/network.md, Swin block, step 2). */
    rr_tensor *t = rr_reshape(c, rr_layer_norm_m_fwd(c, &m->norm1, x), RR_SHAPE(B, h, w, C));
    if (pb || pr)
        t = rr_pad(c, t, (const int64_t[]){0, 0, 0, pr, 0, pb}, 3, 0.0f);
    if (sh)
        t = rr_roll(c, t, 2, (const int64_t[]){-sh, -sh}, (const int[]){1, 2});
    t = rr_reshape(c, rr_window_partition(c, t, ws), RR_SHAPE(-1, ws * ws, C));
    t = rr_scope_keep(&step, window_attention(c, m, t, sh ? mask : NULL));
    step = rr_scope_begin(c, NULL);
    t = rr_window_reverse(c, rr_reshape(c, t, RR_SHAPE(-1, ws, ws, C)), ws, hp, wp);
    if (sh)
        t = rr_roll(c, t, 2, (const int64_t[]){sh, sh}, (const int[]){1, 2});
    if (pb)
        t = rr_slice(c, t, 1, 0, h, 1);
    if (pr)
        t = rr_slice(c, t, 2, 0, w, 1);
    x = rr_scope_keep(&step, rr_add(c, x, rr_drop_path(c, rr_reshape(c, t, RR_SHAPE(B, h * w, C)), m->drop_path)));
    t = rr_gelu(c, rr_linear_m_fwd(c, &m->fc1, rr_layer_norm_m_fwd(c, &m->norm2, x)));
    t = rr_dropout(c, rr_linear_m_fwd(c, &m->fc2, rr_dropout(c, t, m->drop)), m->drop);
    return rr_scope_keep(&scope, rr_add(c, x, rr_drop_path(c, t, m->drop_path)));
}

/* --- shifted-window mask (doc/network.md, Shifted-window mask) ---------------- */

/* Region 0, 1 or 2 of a padded coordinate: slices [0, n-w), [n-w, n-shift), [n-shift, n). */
static int region(int64_t y, int64_t n, int64_t w, int64_t shift)
{
    return y < n - w ? 0 : y < n - shift ? 1 : 2;
}

rr_tensor *rr_swin_shift_mask(rr_ctx *c, int64_t hp, int64_t wp, int64_t window, int64_t shift, float value)
{
    int64_t w = window, n = w * w, nh = hp / w, nw = wp / w;
    if (w < 1 || hp % w || wp % w || shift < 1 || shift >= w) {
        rr_error("shift_mask: a %lldx%lld grid, window %lld, shift %lld", (long long)hp, (long long)wp,
                 (long long)w, (long long)shift);
        return NULL;
    }
    float *mask = malloc((size_t)(nh * nw * n * n) * sizeof *mask);
    int *label = malloc((size_t)n * sizeof *label);
    rr_tensor *t = NULL;
    if (!mask || !label) {
        rr_error("out of memory");
        goto done;
    }
    for (int64_t wi = 0; wi < nh * nw; wi++) {
        for (int64_t i = 0; i < n; i++)
            label[i] = 3 * region(wi / nw * w + i / w, hp, w, shift) + region(wi % nw * w + i % w, wp, w, shift);
        float *mw = mask + wi * n * n;
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < n; j++)
                mw[i * n + j] = label[i] == label[j] ? 0.0f : value;
    }
    t = rr_const(c, RR_F32, RR_SHAPE(nh * nw, 1, n, n), mask);
done:
    free(mask);
    free(label);
    return t;
}

/* --- patch merging (doc/network.md, Patch merging) ---------------------------- */

int rr_patch_merging_init(rr_params *p, rr_patch_merging *m, int64_t dim, const rr_config *cfg,
                          const char *prefix)
{
    char name[256];
    snprintf(name, sizeof name, "%s.norm", prefix);
    if (rr_layer_norm_m_init(p, &m->norm, 4 * dim, cfg->swin.ln_eps, RR_PARAM_TRAIN, name))
        return -1;
    snprintf(name, sizeof name, "%s.reduction", prefix);
    return rr_linear_m_init(p, &m->reduction, 4 * dim, 2 * dim, 0, RR_LINEAR_TRUNC, RR_PARAM_TRAIN, name);
}

rr_tensor *rr_patch_merging_fwd(rr_ctx *c, const rr_patch_merging *m, rr_tensor *x, int64_t h, int64_t w)
{
    char s[64];
    if (rr_check_f32("patch_merging", x) || rr_check_ndim("patch_merging", x, 3))
        return NULL;
    int64_t B = x->shape[0], C = x->shape[2];
    if (x->shape[1] != h * w || 4 * C != m->norm.weight->shape[0]) {
        rr_error("patch_merging: input %s is not B x %lld x %lld", rr_shape_str(x, s, sizeof s),
                 (long long)(h * w), (long long)(m->norm.weight->shape[0] / 4));
        return NULL;
    }
    rr_scope scope = rr_scope_begin(c, NULL);
    rr_tensor *t = rr_reshape(c, x, RR_SHAPE(B, h, w, C));
    if (h % 2 || w % 2)
        t = rr_pad(c, t, (const int64_t[]){0, 0, 0, w % 2, 0, h % 2}, 3, 0.0f);
    if (!t)
        return NULL;
    int64_t hp = h + h % 2, wp = w + w % 2;
    /* cat([x[0::2, 0::2], x[1::2, 0::2], x[0::2, 1::2], x[1::2, 1::2]], -1) as
     * one gather: output (b, i, j, dx, dy, ch) reads x[b, 2i + dy, 2j + dx, ch]
     * (the row offset varies fastest among the four pieces). */
    const int64_t idx[6] = {B, hp / 2, wp / 2, 2, 2, C};
    const int64_t src[6] = {hp * wp * C, 2 * wp * C, 2 * C, C, wp * C, 1};
    rr_copy_map map;
    rr_copy_map_gather(&map, 6, idx, src, 0);
    t = rr_remap(c, "patch_merging_gather", t, 3, (const int64_t[]){B, hp / 2 * (wp / 2), 4 * C}, &map);
    return rr_scope_keep(&scope, rr_linear_m_fwd(c, &m->reduction, rr_layer_norm_m_fwd(c, &m->norm, t)));
}

float rr_swin_drop_path_rate(float rate, int k, int n)
{
    return n > 1 ? (float)((double)rate * k / (n - 1)) : 0.0f;
}
