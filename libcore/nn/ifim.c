#include "ifim.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "../error.h"
#include "pwam.h"

/* The convolutions and linear layers of the IFIM are created under
 * PREFIX.NAME; convolutions keep PyTorch's default init, linear layers the
 * backbone's trunc_normal(.02) (doc/training.md, Initialisation; doc/network.md, Stage wiring). */
static int join(char *full, size_t n, const char *prefix, const char *name)
{
    if ((size_t)snprintf(full, n, "%s.%s", prefix, name) >= n)
        return rr_error("parameter name %s.%s is too long", prefix, name);
    return 0;
}

static int conv2d(rr_params *p, rr_conv2d_m *m, int64_t in, int64_t out, int k, int groups, const char *prefix,
                  const char *name)
{
    char full[256];
    if (join(full, sizeof full, prefix, name))
        return -1;
    return rr_conv2d_m_init(p, m, in, out, k, 1, k / 2, groups, 1, RR_PARAM_TRAIN, full);
}

static int conv1d(rr_params *p, rr_conv1d_m *m, int64_t in, int64_t out, const char *prefix, const char *name)
{
    char full[256];
    if (join(full, sizeof full, prefix, name))
        return -1;
    return rr_conv1d_m_init(p, m, in, out, 1, RR_PARAM_TRAIN, full);
}

static int linear(rr_params *p, rr_linear_m *m, int64_t in, int64_t out, const char *prefix, const char *name)
{
    char full[256];
    if (join(full, sizeof full, prefix, name))
        return -1;
    return rr_linear_m_init(p, m, in, out, 1, RR_LINEAR_TRUNC, RR_PARAM_TRAIN, full);
}

/* --- PSR (doc/network.md, PSR) ------------------------------------------------ */

static int psr_init(rr_params *p, rr_psr *m, int64_t c, const rr_ifim_config *f, const char *prefix)
{
    if (f->psr_log1p)
        return rr_error("%s: ifim.psr_log1p is not supported (libcore/ops has no log1p)", prefix);
    if (f->npsr_levels < 1 || f->npsr_levels > 3)
        return rr_error("%s: ifim.psr_levels needs 1 to 3 levels, not %d", prefix, f->npsr_levels);
    m->c = c;
    m->nlevels = f->npsr_levels;
    for (int i = 0; i < m->nlevels; i++) {
        if (f->psr_levels[i] < 1)
            return rr_error("%s: ifim.psr_levels[%d] is %d; strides are >= 1", prefix, i, f->psr_levels[i]);
        m->levels[i] = f->psr_levels[i];
    }
    m->rescale = f->psr_rescale_channels;
    if (conv2d(p, &m->dw, c, c, 3, (int)c, prefix, "dw") || conv2d(p, &m->pw, c, c, 1, 1, prefix, "pw") ||
        conv2d(p, &m->spectral, 2 * c, c, 1, 1, prefix, "spectral") ||
        conv2d(p, &m->fuse, 2 * c, c, 1, 1, prefix, "fuse") ||
        conv2d(p, &m->agg, m->nlevels * c, c, 1, 1, prefix, "agg"))
        return -1;
    return 0;
}

/* The spectrum z (B, C, h, w, 2) of a real input with its imaginary part set
 * to +0 at the self-conjugate bins (rows 0 and h/2 for even h, crossed with
 * columns 0 and w/2 for even w), as the reference's _selfconj_mask does:
 * there the exact value is 0, so P = atan2(Im, Re) is then 0 or +pi whatever
 * sign the FFT's rounding left.  z * keep zeroes those entries (keeping every
 * other bit pattern, -0 included), and adding `zero` (+0 there, -0
 * elsewhere) turns a -0 into +0 there and changes nothing elsewhere. */
static rr_tensor *selfconj_fix(rr_ctx *c, rr_tensor *z, int64_t h, int64_t w)
{
    int64_t n = h * w * 2;
    float *host = malloc((size_t)(2 * n) * sizeof *host);
    if (!host) {
        rr_error("out of memory");
        return NULL;
    }
    float *keep = host, *zero = host + n;
    for (int64_t i = 0; i < n; i++) {
        keep[i] = 1.0f;
        zero[i] = -0.0f;
    }
    int64_t rows[2] = {0, h / 2}, cols[2] = {0, w / 2};
    int nr = h % 2 == 0 && h > 1 ? 2 : 1, nc = w % 2 == 0 && w > 1 ? 2 : 1;
    for (int i = 0; i < nr; i++)
        for (int j = 0; j < nc; j++) {
            int64_t im = (rows[i] * w + cols[j]) * 2 + 1;
            keep[im] = 0.0f;
            zero[im] = 0.0f;
        }
    rr_tensor *tk = rr_const(c, RR_F32, RR_SHAPE(h, w, 2), keep);
    rr_tensor *tz = rr_const(c, RR_F32, RR_SHAPE(h, w, 2), zero);
    free(host);
    if (!tk || !tz)
        return NULL;
    return rr_add(c, rr_mul(c, z, tk), tz);
}

/* SSR of x (B, C, h, w) at pyramid stride s: Y = fuse([PW(DW(x)); W_f * x])
 * with W_f = softmax_C(spectral([|Z|; angle Z])) (x C), Z = FFT2(x) (ortho).
 * Records the phase angle Z as tag + "psr.P{s}". */
static rr_tensor *ssr_fwd(rr_ctx *c, const rr_psr *m, rr_tensor *x, int64_t s, rr_trace *tr, const char *tag)
{
    rr_tensor *xs = rr_conv2d_m_fwd(c, &m->pw, rr_conv2d_m_fwd(c, &m->dw, x));
    rr_tensor *z = rr_fft2(c, rr_real_to_complex(c, x), RR_FFT_ORTHO);
    z = selfconj_fix(c, z, x->shape[2], x->shape[3]);
    rr_tensor *mp[2] = {rr_complex_abs(c, z), rr_complex_angle(c, z)};
    if (tr) {
        char name[32];
        snprintf(name, sizeof name, "psr.P%lld", (long long)s);
        rr_trace_put(tr, tag, name, mp[1]);
    }
    rr_tensor *wf = rr_softmax(c, rr_conv2d_m_fwd(c, &m->spectral, rr_concat(c, 2, mp, 1)), 1, NULL);
    if (m->rescale)
        wf = rr_scale(c, wf, (float)m->c);
    rr_tensor *sf[2] = {xs, rr_mul(c, wf, x)};
    return rr_conv2d_m_fwd(c, &m->fuse, rr_concat(c, 2, sf, 1));
}

/* F_py of x (B, C, h, w): the shared SSR at every pyramid level (adaptive
 * average pool to ceil(h/s) x ceil(w/s), bilinear back with
 * align_corners=False), concatenated and projected to C. */
static rr_tensor *psr_fwd(rr_ctx *c, const rr_psr *m, rr_tensor *x, rr_trace *tr, const char *tag)
{
    int64_t h = x->shape[2], w = x->shape[3];
    rr_tensor *ys[3];
    for (int i = 0; i < m->nlevels; i++) {
        int64_t s = m->levels[i];
        if (s == 1) {
            ys[i] = ssr_fwd(c, m, x, s, tr, tag);
            continue;
        }
        rr_tensor *xl = rr_adaptive_avg_pool2d(c, x, (h + s - 1) / s, (w + s - 1) / s);
        ys[i] = xl ? rr_resize_bilinear(c, ssr_fwd(c, m, xl, s, tr, tag), h, w, 0) : NULL;
    }
    return rr_conv2d_m_fwd(c, &m->agg, rr_concat(c, m->nlevels, ys, 1));
}

/* --- CSR (doc/network.md, CSR) ------------------------------------------------ */

static int csr_init(rr_params *p, rr_csr *m, int64_t c, const rr_ifim_config *f, const char *prefix)
{
    if (f->csr_radius < 1)
        return rr_error("%s: ifim.csr_radius is %d; it must be >= 1", prefix, f->csr_radius);
    m->radius = f->csr_radius;
    if (conv2d(p, &m->gcn, c, c, 1, 1, prefix, "gcn") || conv2d(p, &m->out, c, c, 1, 1, prefix, "out"))
        return -1;
    return 0;
}

/* F_rel = out(ReLU(gcn(Â x))), Â x the mean over each pixel's
 * (2r+1)^2 neighbourhood inside the image. */
static rr_tensor *csr_fwd(rr_ctx *c, const rr_csr *m, rr_tensor *x)
{
    int r = m->radius;
    rr_tensor *ctx = rr_avg_pool2d(c, x, 2 * r + 1, 1, r, 0);
    return rr_conv2d_m_fwd(c, &m->out, rr_relu(c, rr_conv2d_m_fwd(c, &m->gcn, ctx)));
}

/* --- CMA (doc/network.md, CMA) ------------------------------------------------ */

static int cma_init(rr_params *p, rr_cma *m, int64_t c, int64_t dl, const rr_ifim_config *f, const char *prefix)
{
    if (f->cma_heads < 1 || c % f->cma_heads)
        return rr_error("%s: width %lld is not a multiple of ifim.cma_heads %d", prefix, (long long)c,
                        f->cma_heads);
    m->c = c;
    m->heads = f->cma_heads;
    m->eps = f->in_eps;
    m->mask_value = f->mask_value;
    m->dropout = f->dropout;
    if (conv1d(p, &m->vis_project, c, c, prefix, "vis_project") ||
        conv1d(p, &m->f_query, c, c, prefix, "f_query") || conv1d(p, &m->lang_gate, dl, 1, prefix, "lang_gate") ||
        conv1d(p, &m->f_key, dl, c, prefix, "f_key") || conv1d(p, &m->f_value, dl, c, prefix, "f_value") ||
        conv1d(p, &m->W, c, c, prefix, "W") || conv1d(p, &m->fusion_weight, 2 * c, c, prefix, "fusion_weight") ||
        conv1d(p, &m->project_mm, c, c, prefix, "project_mm"))
        return -1;
    return 0;
}

/* x: B x C x N, l: B x D_l x N_l, mt: the word mask as B x 1 x N_l.
 * Returns F_cm, B x C x N. */
static rr_tensor *cma_fwd(rr_ctx *c, const rr_cma *m, rr_tensor *x, rr_tensor *l, rr_tensor *mt)
{
    float one_value = 1.0f;
    rr_tensor *one = rr_const(c, RR_F32, RR_SHAPE(1), &one_value);

    rr_tensor *vproj = rr_dropout(c, rr_gelu(c, rr_conv1d_m_fwd(c, &m->vis_project, x)), m->dropout);
    rr_tensor *q = rr_instance_norm1d(c, rr_conv1d_m_fwd(c, &m->f_query, vproj), NULL, NULL, m->eps);
    rr_tensor *lt = rr_mul(c, l, rr_sigmoid(c, rr_conv1d_m_fwd(c, &m->lang_gate, l)));
    rr_tensor *k = rr_mul(c, rr_conv1d_m_fwd(c, &m->f_key, lt), mt);
    rr_tensor *v = rr_mul(c, rr_conv1d_m_fwd(c, &m->f_value, lt), mt);
    rr_tensor *o = rr_pixel_word_attention(c, q, k, v, mt, m->heads, m->mask_value); /* LAVT's (pwam.h) */
    rr_tensor *vl = rr_instance_norm1d(c, rr_conv1d_m_fwd(c, &m->W, o), NULL, NULL, m->eps);
    rr_tensor *cat[2] = {vproj, vl};
    rr_tensor *wp = rr_sigmoid(c, rr_conv1d_m_fwd(c, &m->fusion_weight, rr_concat(c, 2, cat, 1)));
    rr_tensor *f = rr_add(c, rr_mul(c, wp, vproj), rr_mul(c, rr_sub(c, one, wp), vl));
    return rr_dropout(c, rr_gelu(c, rr_conv1d_m_fwd(c, &m->project_mm, f)), m->dropout);
}

/* --- AFF (doc/network.md, AFF) ------------------------------------------------ */

static int aff_init(rr_params *p, rr_aff *m, int64_t c, int k, const char *prefix)
{
    m->k = k;
    if (linear(p, &m->fc1, k * c, c, prefix, "fc1") || linear(p, &m->fc2, c, k * c, prefix, "fc2") ||
        linear(p, &m->proj, c, c, prefix, "proj"))
        return -1;
    return 0;
}

/* br: the k branches, each B x N x C.  proj(sum_i g_i * F_i) with
 * [g_1 .. g_k] = sigmoid(fc2(ReLU(fc1([F_1 .. F_k])))). */
static rr_tensor *aff_fwd(rr_ctx *c, const rr_aff *m, rr_tensor *const *br)
{
    rr_tensor *g = rr_sigmoid(
        c, rr_linear_m_fwd(c, &m->fc2, rr_relu(c, rr_linear_m_fwd(c, &m->fc1, rr_concat(c, m->k, br, -1)))));
    if (!g)
        return NULL;
    int64_t sizes[3] = {br[0]->shape[2], br[0]->shape[2], br[0]->shape[2]};
    rr_tensor *gs[3];
    if (rr_split(c, g, -1, m->k, sizes, gs))
        return NULL;
    rr_tensor *sum = rr_mul(c, gs[0], br[0]);
    for (int i = 1; i < m->k; i++)
        sum = rr_add(c, sum, rr_mul(c, gs[i], br[i]));
    return rr_linear_m_fwd(c, &m->proj, sum);
}

/* --- IFIM -------------------------------------------------------------------- */

int rr_ifim_init(rr_params *p, rr_ifim *m, int64_t c, const rr_config *cfg, const char *prefix)
{
    const rr_ifim_config *f = &cfg->ifim;
    char sub[256];
    m->has_psr = f->psr != 0;
    m->has_csr = f->csr != 0;
    if (m->has_psr && (join(sub, sizeof sub, prefix, "psr") || psr_init(p, &m->psr, c, f, sub)))
        return -1;
    if (m->has_csr && (join(sub, sizeof sub, prefix, "csr") || csr_init(p, &m->csr, c, f, sub)))
        return -1;
    if (join(sub, sizeof sub, prefix, "cma") || cma_init(p, &m->cma, c, cfg->text.hidden_size, f, sub) ||
        join(sub, sizeof sub, prefix, "aff") || aff_init(p, &m->aff, c, 1 + m->has_psr + m->has_csr, sub))
        return -1;
    return 0;
}

/* B x C x h x w -> B x N x C. */
static rr_tensor *tokens(rr_ctx *c, rr_tensor *f)
{
    return f ? rr_transpose(c, rr_reshape(c, f, RR_SHAPE(f->shape[0], f->shape[1], -1)), 1, 2) : NULL;
}

rr_tensor *rr_ifim_fwd(rr_ctx *c, const rr_ifim *m, rr_tensor *x, int64_t h, int64_t w, rr_tensor *l,
                       rr_tensor *lmask, rr_trace *tr, const char *tag)
{
    if (!x || !l || !lmask) {
        rr_error("ifim: %s is NULL (a failed earlier op)", !x ? "x" : !l ? "l" : "lmask");
        return NULL;
    }
    int64_t b = x->shape[0], ch = m->cma.c;
    if (x->ndim != 3 || x->shape[1] != h * w || x->shape[2] != ch || l->ndim != 3 || l->shape[0] != b ||
        lmask->numel != b * l->shape[2]) {
        char sx[64], sl[64], sm[64];
        rr_error("ifim: x %s on a %lldx%lld grid of width %lld, l %s and lmask %s do not fit "
                 "(B x N x C, B x D_l x N_l, B x N_l x 1)",
                 rr_shape_str(x, sx, sizeof sx), (long long)h, (long long)w, (long long)ch,
                 rr_shape_str(l, sl, sizeof sl), rr_shape_str(lmask, sm, sizeof sm));
        return NULL;
    }
    rr_tensor *xt = rr_transpose(c, x, 1, 2); /* B x C x N */
    rr_tensor *img = rr_reshape(c, xt, RR_SHAPE(b, ch, h, w));
    if (!img)
        return NULL;
    rr_tensor *br[3];
    int k = 0;
    if (m->has_psr) {
        rr_tensor *fpy = psr_fwd(c, &m->psr, img, tr, tag);
        rr_trace_put(tr, tag, "F_py", fpy);
        br[k++] = tokens(c, fpy);
    }
    if (m->has_csr) {
        rr_tensor *frel = csr_fwd(c, &m->csr, img);
        rr_trace_put(tr, tag, "F_rel", frel);
        br[k++] = tokens(c, frel);
    }
    rr_tensor *mt = rr_reshape(c, lmask, RR_SHAPE(b, 1, l->shape[2])); /* m^T: B x 1 x N_l */
    rr_tensor *fcm = cma_fwd(c, &m->cma, xt, l, mt);
    if (!fcm)
        return NULL;
    if (tr)
        rr_trace_put(tr, tag, "F_cm", rr_reshape(c, fcm, RR_SHAPE(b, ch, h, w)));
    br[k++] = rr_transpose(c, fcm, 1, 2);
    return aff_fwd(c, &m->aff, br); /* a NULL branch fails its concat */
}
