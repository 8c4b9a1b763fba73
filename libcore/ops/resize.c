#include "resize.h"

#include <math.h>
#include <stdlib.h>

#include "../tape.h"
#include "check.h"

/* One axis of the mapping: output index o reads input indices *i0 and *i1
 * with weights 1-*l1 and *l1.  PyTorch's area_pixel_compute_scale,
 * area_pixel_compute_source_index and guard_index_and_lambda, in f32. */
static inline void source(int64_t o, int64_t in, int64_t out, int align_corners, int64_t *i0, int64_t *i1,
                          float *l1)
{
    float src;
    if (align_corners)
        src = out > 1 ? (float)(in - 1) / (float)(out - 1) * (float)o : 0.0f;
    else
        src = fmaxf((float)in / (float)out * ((float)o + 0.5f) - 0.5f, 0.0f);
    int64_t i = (int64_t)floorf(src);
    if (i > in - 1)
        i = in - 1;
    *i0 = i;
    *i1 = i < in - 1 ? i + 1 : i;
    *l1 = fminf(fmaxf(src - (float)i, 0.0f), 1.0f);
}

/* One axis's mapping for every output index, computed once per call. */
typedef struct {
    int64_t i0, i1;
    float l1;
} axis_tap;

static axis_tap *axis_table(int64_t in, int64_t out, int align_corners)
{
    axis_tap *t = malloc((size_t)(out > 0 ? out : 1) * sizeof *t);
    if (!t) {
        rr_error("resize: out of memory");
        return NULL;
    }
    for (int64_t o = 0; o < out; o++)
        source(o, in, out, align_corners, &t[o].i0, &t[o].i1, &t[o].l1);
    return t;
}

int rr_resize_bilinear_fwd_cpu(const float *x, float *y, const rr_resize_geom *g)
{
    axis_tap *th = axis_table(g->H, g->Ho, g->align_corners), *tw = axis_table(g->W, g->Wo, g->align_corners);
    if (!th || !tw) {
        free(th);
        free(tw);
        return -1;
    }
    int64_t rows = g->planes * g->Ho;
#pragma omp parallel for if (rows * g->Wo > 65536)
    for (int64_t r = 0; r < rows; r++) {
        const axis_tap *h = th + r % g->Ho;
        float lh = h->l1;
        const float *x0 = x + (r / g->Ho * g->H + h->i0) * g->W, *x1 = x0 + (h->i1 - h->i0) * g->W;
        for (int64_t ow = 0; ow < g->Wo; ow++) {
            int64_t w0 = tw[ow].i0, w1 = tw[ow].i1;
            float lw = tw[ow].l1;
            y[r * g->Wo + ow] =
                (1 - lh) * ((1 - lw) * x0[w0] + lw * x0[w1]) + lh * ((1 - lw) * x1[w0] + lw * x1[w1]);
        }
    }
    free(th);
    free(tw);
    return 0;
}

int rr_resize_bilinear_bwd_cpu(const float *dy, float *dx, const rr_resize_geom *g)
{
    axis_tap *th = axis_table(g->H, g->Ho, g->align_corners), *tw = axis_table(g->W, g->Wo, g->align_corners);
    if (!th || !tw) {
        free(th);
        free(tw);
        return -1;
    }
    /* One thread per plane scatters its outputs in order: deterministic. */
#pragma omp parallel for if (g->planes * g->Ho * g->Wo > 16384)
    for (int64_t pl = 0; pl < g->planes; pl++) {
        float *dxp = dx + pl * g->H * g->W;
        const float *dyp = dy + pl * g->Ho * g->Wo;
        for (int64_t oh = 0; oh < g->Ho; oh++) {
            int64_t h0 = th[oh].i0, h1 = th[oh].i1;
            float lh = th[oh].l1;
            for (int64_t ow = 0; ow < g->Wo; ow++) {
                int64_t w0 = tw[ow].i0, w1 = tw[ow].i1;
                float lw = tw[ow].l1, d = dyp[oh * g->Wo + ow];
                dxp[h0 * g->W + w0] += (1 - lh) * (1 - lw) * d;
                dxp[h0 * g->W + w1] += (1 - lh) * lw * d;
                dxp[h1 * g->W + w0] += lh * (1 - lw) * d;
                dxp[h1 * g->W + w1] += lh * lw * d;
            }
        }
    }
    free(th);
    free(tw);
    return 0;
}

static int resize_backward(rr_ctx *c, rr_node *n)
{
    rr_tensor *x = n->in[0], *gx = rr_grad_of(c, x);
    if (!gx)
        return -1;
    return RR_BACKEND(x->device, rr_resize_bilinear_bwd, rr_f32(n->out->grad), rr_f32(gx), n->saved);
}

rr_tensor *rr_resize_bilinear(rr_ctx *c, rr_tensor *x, int64_t out_h, int64_t out_w, int align_corners)
{
    const char *name = align_corners ? "resize_bilinear_ac" : "resize_bilinear";
    if (rr_check_f32(name, x) || rr_check_ndim(name, x, 4))
        return NULL;
    if (out_h < 1 || out_w < 1) {
        rr_error("%s: output size %lldx%lld must be positive", name, (long long)out_h, (long long)out_w);
        return NULL;
    }
    rr_resize_geom g = {x->shape[0] * x->shape[1], x->shape[2], x->shape[3], out_h, out_w,
                        align_corners != 0};
    rr_tensor *y = rr_new(c, RR_F32, RR_SHAPE(x->shape[0], x->shape[1], out_h, out_w));
    if (!y || RR_BACKEND(x->device, rr_resize_bilinear_fwd, rr_f32(x), rr_f32(y), &g))
        return NULL;
    int err;
    rr_node *n = rr_tape_record(c, name, resize_backward, y, 1, &x, sizeof g, &err);
    if (err)
        return NULL;
    if (n)
        *(rr_resize_geom *)n->saved = g;
    return y;
}
