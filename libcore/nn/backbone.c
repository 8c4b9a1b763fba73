#include "backbone.h"

#include <stdio.h>

#include "../error.h"
#include "../ops/check.h"
#include "scope.h"

/* Stage i of width C = embed_dim * 2^i; its blocks are blocks first.. of
 * the backbone's total (for their DropPath rates, doc/network.md, Swin configuration). */
static int stage_init(rr_params *p, rr_stage *m, int i, const rr_config *cfg, int first, int total,
                      const char *prefix)
{
    char name[256];
    const rr_swin_config *s = &cfg->swin;
    int64_t dim = (int64_t)s->embed_dim << i;
    m->depth = s->depths[i];
    m->blocks = rr_arena_calloc(&p->store.meta, (size_t)m->depth * sizeof *m->blocks);
    if (!m->blocks)
        return -1;
    for (int j = 0; j < m->depth; j++) {
        snprintf(name, sizeof name, "%s.layers.%d.blocks.%d", prefix, i, j);
        float dpr = rr_swin_drop_path_rate(s->drop_path_rate, first + j, total);
        if (rr_swin_block_init(p, &m->blocks[j], dim, s->num_heads[i], j % 2 ? s->window_size / 2 : 0, dpr, cfg,
                               name))
            return -1;
    }
    m->fusion_kind = cfg->fusion[i];
    switch (m->fusion_kind) {
    case RR_FUSION_IFIM:
        snprintf(name, sizeof name, "%s.layers.%d.ifim", prefix, i);
        if (rr_ifim_init(p, &m->fusion.ifim, dim, cfg, name))
            return -1;
        break;
    case RR_FUSION_PWAM:
        snprintf(name, sizeof name, "%s.layers.%d.fusion", prefix, i);
        if (rr_pwam_init(p, &m->fusion.pwam, dim, cfg, name))
            return -1;
        break;
    case RR_FUSION_IIM:
        snprintf(name, sizeof name, "%s.layers.%d", prefix, i);
        if (rr_iim_init(p, &m->fusion.iim, dim, cfg, name))
            return -1;
        break;
    default:
        return rr_error("fusion[%d]: '%s' is not built by this version", i, rr_fusion_name(m->fusion_kind));
    }
    snprintf(name, sizeof name, "%s.layers.%d.res_gate.0", prefix, i);
    if (rr_linear_m_init(p, &m->gate1, dim, dim, 0, RR_LINEAR_TRUNC, RR_PARAM_TRAIN, name))
        return -1;
    snprintf(name, sizeof name, "%s.layers.%d.res_gate.2", prefix, i);
    if (rr_linear_m_init(p, &m->gate2, dim, dim, 0, RR_LINEAR_TRUNC, RR_PARAM_TRAIN, name))
        return -1;
    m->has_downsample = i < 3;
    if (!m->has_downsample)
        return 0;
    snprintf(name, sizeof name, "%s.layers.%d.downsample", prefix, i);
    return rr_patch_merging_init(p, &m->downsample, dim, cfg, name);
}

int rr_backbone_init(rr_params *p, rr_backbone *m, const rr_config *cfg, const char *prefix)
{
    char name[256];
    const rr_swin_config *s = &cfg->swin;
    *m = (rr_backbone){.window = s->window_size, .shift = s->window_size / 2, .mask_value = s->shift_mask_value,
                       .drop_rate = s->drop_rate};
    snprintf(name, sizeof name, "%s.patch_embed", prefix);
    if (rr_patch_embed_init(p, &m->patch_embed, cfg, name))
        return -1;
    /* Swin's optional absolute position embedding (lib/backbone.py: ape),
     * added after the patch embedding's norm.  Off in MRSNet (doc/network.md, Swin configuration);
     * without it the backbone knows a token's place only from the borders,
     * which a small model trained from scratch does not learn to use
     * (share/configs/README). */
    if (s->ape) {
        int64_t g = cfg->image_size / s->patch_size;
        m->ape = rr_param_add(p, RR_PARAM_TRAIN, RR_INIT_TRUNC_NORMAL, 0.02f, RR_SHAPE(1, s->embed_dim, g, g),
                              "%s.absolute_pos_embed", prefix);
        if (!m->ape)
            return -1;
    }
    int total = 0;
    for (int i = 0; i < 4; i++)
        total += s->depths[i];
    for (int i = 0, first = 0; i < 4; first += s->depths[i], i++)
        if (stage_init(p, &m->layers[i], i, cfg, first, total, prefix))
            return -1;
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof name, "%s.norm%d", prefix, i);
        if (rr_layer_norm_m_init(p, &m->norm[i], (int64_t)s->embed_dim << i, s->ln_eps, RR_PARAM_TRAIN, name))
            return -1;
    }
    m->cross_scale = cfg->cross_scale;
    switch (m->cross_scale) {
    case RR_CROSS_HFIM:
        snprintf(name, sizeof name, "%s.hfim", prefix);
        return rr_hfim_init(p, &m->cross.hfim, cfg, name);
    case RR_CROSS_CIM:
        snprintf(name, sizeof name, "%s.cim", prefix);
        return rr_cim_init(p, &m->cross.cim, cfg, name);
    case RR_CROSS_NONE:
        return 0;
    default:
        return rr_error("cross_scale: '%s' is not built by this version", rr_cross_scale_name(m->cross_scale));
    }
}

/* The stage's fusion module: F (B x N x C) from its stream X on the h x w
 * grid and the words. */
static rr_tensor *fusion_fwd(rr_ctx *c, const rr_stage *m, int i, rr_tensor *x, int64_t h, int64_t w, rr_tensor *l,
                             rr_tensor *lmask, rr_trace *tr)
{
    char tag[48];
    switch (m->fusion_kind) {
    case RR_FUSION_IFIM:
        snprintf(tag, sizeof tag, "stage%d.ifim.", i + 1);
        return rr_ifim_fwd(c, &m->fusion.ifim, x, h, w, l, lmask, tr, tag);
    case RR_FUSION_PWAM:
        snprintf(tag, sizeof tag, "stage%d.pwam.", i + 1);
        return rr_pwam_fwd(c, &m->fusion.pwam, x, l, lmask, tr, tag);
    case RR_FUSION_IIM:
        snprintf(tag, sizeof tag, "stage%d.pwam.", i + 1);
        return rr_pwam_fwd(c, &m->fusion.iim.pwam, x, l, lmask, tr, tag);
    }
    rr_error("fusion[%d]: kind %d is not built", i, m->fusion_kind); /* rr_backbone_init refused it */
    return NULL;
}

/* Stage i on the h x w stream *x (B x N x C): returns its F (B x N x C)
 * and replaces *x by the next stage's input, the gated stream after
 * PatchMerging.  Stage 4 leaves *x alone: the reference computes its gated
 * stream too, but nothing reads it (so res_gate of layers.3 never gets a
 * gradient). */
static rr_tensor *stage_fwd(rr_ctx *c, const rr_backbone *bb, int i, rr_tensor **x, int64_t h, int64_t w,
                            rr_tensor *l, rr_tensor *lmask, rr_trace *tr)
{
    const rr_stage *m = &bb->layers[i];
    char tag[32];
    snprintf(tag, sizeof tag, "stage%d.", i + 1);
    /* One shift mask per stage, on the padded grid (doc/network.md, Shifted-window mask). */
    rr_tensor *mask = NULL;
    if (bb->shift && m->depth > 1) {
        int64_t ws = bb->window;
        mask = rr_swin_shift_mask(c, (h + ws - 1) / ws * ws, (w + ws - 1) / ws * ws, ws, bb->shift, bb->mask_value);
        if (!mask)
            return NULL;
    }
    rr_tensor *t = *x;
    for (int j = 0; j < m->depth; j++)
        t = rr_swin_block_fwd(c, &m->blocks[j], t, h, w, mask);
    rr_trace_put(tr, tag, "X", t);
    rr_tensor *f = fusion_fwd(c, m, i, t, h, w, l, lmask, tr);
    rr_trace_put(tr, tag, "F", f);
    if (!m->has_downsample)
        return f;
    rr_scope s = rr_scope_begin(c, tr);
    rr_tensor *gate = rr_tanh(c, rr_linear_m_fwd(c, &m->gate2, rr_relu(c, rr_linear_m_fwd(c, &m->gate1, f))));
    rr_tensor *gated = rr_add(c, t, rr_mul(c, gate, f));
    /* RMSIN adds its various receptive branch of X through its own gate. */
    t = m->fusion_kind == RR_FUSION_IIM ? rr_add(c, gated, rr_iim_fwd(c, &m->fusion.iim, t, h, w, tr, tag)) : gated;
    rr_trace_put(tr, tag, "x_gated", t);
    *x = rr_scope_keep(&s, rr_patch_merging_fwd(c, &m->downsample, t, h, w));
    return *x ? f : NULL;
}

int rr_backbone_fwd(rr_ctx *c, const rr_backbone *m, rr_tensor *img, rr_tensor *l, rr_tensor *lmask,
                    rr_tensor *d[4], rr_trace *tr)
{
    if (rr_check_f32("backbone", img) || rr_check_ndim("backbone", img, 4))
        return -1;
    int64_t B = img->shape[0], h, w;
    rr_scope whole = rr_scope_begin(c, tr);
    rr_tensor *x = rr_patch_embed_fwd(c, &m->patch_embed, img, &h, &w);
    if (x && m->ape) {
        /* The table is image_size / patch_size square; Swin interpolates it
         * to other grids, the pipeline always feeds image_size. */
        int64_t C = m->ape->shape[1];
        if (h != m->ape->shape[2] || w != m->ape->shape[3])
            return rr_error("backbone: swin.ape needs a %lld x %lld patch grid, not %lld x %lld (images of image_size)",
                            (long long)m->ape->shape[2], (long long)m->ape->shape[3], (long long)h, (long long)w);
        x = rr_add(c, x, rr_transpose(c, rr_reshape(c, m->ape, RR_SHAPE(1, C, h * w)), 1, 2));
    }
    rr_trace_put(tr, "", "patch_embed", x);
    x = rr_dropout(c, x, m->drop_rate); /* pos_drop */
    if (!x)
        return -1;
    rr_tensor *e[4];
    for (int i = 0; i < 4; i++) {
        char tag[32];
        /* A stage keeps its E and the next stage's input. */
        rr_scope s = rr_scope_begin(c, tr);
        rr_tensor *f = stage_fwd(c, m, i, &x, h, w, l, lmask, tr);
        /* E_i = norm_i(F_i) as B x C x h x w (doc/network.md, Stage wiring). */
        rr_tensor *t = rr_layer_norm_m_fwd(c, &m->norm[i], f);
        e[i] = rr_permute(c, rr_reshape(c, t, RR_SHAPE(B, h, w, -1)), (const int[]){0, 3, 1, 2});
        snprintf(tag, sizeof tag, "stage%d.", i + 1);
        rr_trace_put(tr, tag, "E", e[i]);
        if (rr_scope_end(&s, 2, (rr_tensor *[]){e[i], x}))
            return -1;
        h = (h + 1) / 2;
        w = (w + 1) / 2;
    }
    int rc = 0;
    if (m->cross_scale == RR_CROSS_HFIM)
        rc = rr_hfim_fwd(c, &m->cross.hfim, e, d, tr);
    else if (m->cross_scale == RR_CROSS_CIM)
        rc = rr_cim_fwd(c, &m->cross.cim, e, d, tr);
    else
        for (int i = 0; i < 4; i++) /* RR_CROSS_NONE: the decoder reads E1..E4 */
            d[i] = e[i];
    /* The backbone keeps D1..D4 only. */
    return rc || rr_scope_end(&whole, 4, d);
}
