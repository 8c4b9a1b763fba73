#include "pwam.h"

#include <math.h>
#include <stdio.h>

#include "../error.h"

rr_tensor *rr_pixel_word_attention(rr_ctx *c, rr_tensor *q, rr_tensor *k, rr_tensor *v, rr_tensor *mt, int heads,
                                   float mask_value)
{
    if (!q || !k || !v || !mt)
        return NULL;
    int64_t b = q->shape[0], ch = q->shape[1], n = q->shape[2], nl = k->shape[2], hd = ch / heads;
    float neg_value = -mask_value;
    rr_tensor *neg = rr_const(c, RR_F32, RR_SHAPE(1), &neg_value);
    /* Per head, channels h*hd .. h*hd+hd-1: views B x heads x hd x (N | N_l),
     * so S = Q^T K and O^T = V S^T need no copies. */
    q = rr_reshape(c, q, RR_SHAPE(b, heads, hd, n));
    k = rr_reshape(c, k, RR_SHAPE(b, heads, hd, nl));
    v = rr_reshape(c, v, RR_SHAPE(b, heads, hd, nl));
    /* the mask is 1e4 * m - 1e4, computed as LAVT does */
    rr_tensor *s = rr_scale(c, rr_matmul_t(c, q, k, 1, 0), (float)(1.0 / sqrt((double)ch)));
    rr_tensor *mask = rr_add(c, rr_scale(c, rr_reshape(c, mt, RR_SHAPE(b, 1, 1, nl)), mask_value), neg);
    s = rr_softmax(c, s, -1, mask); /* B x heads x N x N_l */
    return rr_reshape(c, rr_matmul_t(c, v, s, 0, 1), RR_SHAPE(b, ch, n));
}

static int conv1d(rr_params *p, rr_conv1d_m *m, int64_t in, int64_t out, const char *prefix, const char *name)
{
    char full[256];
    if (snprintf(full, sizeof full, "%s.%s.0", prefix, name) >= (int)sizeof full)
        return rr_error("parameter name too long: %s.%s.0", prefix, name);
    return rr_conv1d_m_init(p, m, in, out, 1, RR_PARAM_TRAIN, full);
}

int rr_pwam_init(rr_params *p, rr_pwam *m, int64_t c, const rr_config *cfg, const char *prefix)
{
    const rr_pwam_config *f = &cfg->pwam;
    int64_t dl = cfg->text.hidden_size;
    if (f->heads < 1 || c % f->heads)
        return rr_error("%s: width %lld is not a multiple of pwam.heads %d", prefix, (long long)c, f->heads);
    *m = (rr_pwam){.c = c, .heads = f->heads, .eps = f->in_eps, .mask_value = f->mask_value, .dropout = f->dropout};
    if (conv1d(p, &m->vis_project, c, c, prefix, "vis_project") ||
        conv1d(p, &m->f_key, dl, c, prefix, "image_lang_att.f_key") ||
        conv1d(p, &m->f_query, c, c, prefix, "image_lang_att.f_query") ||
        conv1d(p, &m->f_value, dl, c, prefix, "image_lang_att.f_value") ||
        conv1d(p, &m->W, c, c, prefix, "image_lang_att.W") || conv1d(p, &m->project_mm, c, c, prefix, "project_mm"))
        return -1;
    return 0;
}

rr_tensor *rr_pwam_fwd(rr_ctx *c, const rr_pwam *m, rr_tensor *x, rr_tensor *l, rr_tensor *lmask, rr_trace *tr,
                       const char *tag)
{
    if (!x || !l || !lmask) {
        rr_error("pwam: %s is NULL (a failed earlier op)", !x ? "x" : !l ? "l" : "lmask");
        return NULL;
    }
    int64_t b = x->shape[0];
    if (x->ndim != 3 || x->shape[2] != m->c || l->ndim != 3 || l->shape[0] != b ||
        l->shape[1] != m->f_key.weight->shape[1] || lmask->numel != b * l->shape[2]) {
        char sx[64], sl[64], sm[64];
        rr_error("pwam: x %s of width %lld, l %s and lmask %s do not fit (B x N x C, B x D_l x N_l, B x N_l x 1)",
                 rr_shape_str(x, sx, sizeof sx), (long long)m->c, rr_shape_str(l, sl, sizeof sl),
                 rr_shape_str(lmask, sm, sizeof sm));
        return NULL;
    }
    rr_tensor *xt = rr_transpose(c, x, 1, 2); /* B x C x N */
    rr_tensor *mt = rr_reshape(c, lmask, RR_SHAPE(b, 1, l->shape[2]));
    rr_tensor *vis = rr_dropout(c, rr_gelu(c, rr_conv1d_m_fwd(c, &m->vis_project, xt)), m->dropout);
    rr_trace_put(tr, tag, "vis", vis);
    /* The queries come from X itself, not from V (LAVT: image_lang_att(x, ...)). */
    rr_tensor *q = rr_instance_norm1d(c, rr_conv1d_m_fwd(c, &m->f_query, xt), NULL, NULL, m->eps);
    rr_tensor *k = rr_mul(c, rr_conv1d_m_fwd(c, &m->f_key, l), mt);
    rr_tensor *v = rr_mul(c, rr_conv1d_m_fwd(c, &m->f_value, l), mt);
    rr_tensor *o = rr_pixel_word_attention(c, q, k, v, mt, m->heads, m->mask_value);
    rr_tensor *lang = rr_instance_norm1d(c, rr_conv1d_m_fwd(c, &m->W, o), NULL, NULL, m->eps);
    rr_trace_put(tr, tag, "lang", lang);
    rr_tensor *mm = rr_dropout(c, rr_gelu(c, rr_conv1d_m_fwd(c, &m->project_mm, rr_mul(c, vis, lang))), m->dropout);
    return rr_transpose(c, mm, 1, 2);
}
