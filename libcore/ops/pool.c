#include "pool.h"

#include "../tape.h"
#include "check.h"

/* The input range [*lo, *hi) that output index o averages along an axis of
 * `size` (out outputs), and the length it counts for the divisor. */
static inline void window(const rr_pool2d_geom *g, int64_t o, int64_t size, int64_t out, int64_t *lo,
                          int64_t *hi, int64_t *len)
{
    if (g->adaptive) {
        *lo = o * size / out;
        *hi = ((o + 1) * size + out - 1) / out;
        *len = *hi - *lo;
        return;
    }
    /* PyTorch's avg_pool2d: the window may reach `padding` past either
     * edge; count_include_pad counts that part, never what lies beyond. */
    int64_t s = o * g->stride - g->padding, e = s + g->kernel;
    if (e > size + g->padding)
        e = size + g->padding;
    *lo = s < 0 ? 0 : s;
    *hi = e > size ? size : e;
    *len = g->count_include_pad ? e - s : *hi - *lo;
}

int rr_avg_pool2d_fwd_cpu(const float *x, float *y, const rr_pool2d_geom *g)
{
    int64_t n = g->planes * g->Ho * g->Wo;
#pragma omp parallel for if (n > 16384)
    for (int64_t i = 0; i < n; i++) {
        int64_t ow = i % g->Wo, oh = i / g->Wo % g->Ho, pl = i / (g->Ho * g->Wo);
        int64_t h0, h1, lh, w0, w1, lw;
        window(g, oh, g->H, g->Ho, &h0, &h1, &lh);
        window(g, ow, g->W, g->Wo, &w0, &w1, &lw);
        const float *xp = x + pl * g->H * g->W;
        float s = 0;
        for (int64_t h = h0; h < h1; h++)
            for (int64_t w = w0; w < w1; w++)
                s += xp[h * g->W + w];
        y[i] = s / (float)(lh * lw);
    }
    return 0;
}

int rr_avg_pool2d_bwd_cpu(const float *dy, float *dx, const rr_pool2d_geom *g)
{
    /* One thread per plane scatters its outputs in order: deterministic. */
#pragma omp parallel for if (g->planes * g->H * g->W > 16384)
    for (int64_t pl = 0; pl < g->planes; pl++) {
        float *dxp = dx + pl * g->H * g->W;
        const float *dyp = dy + pl * g->Ho * g->Wo;
        for (int64_t oh = 0; oh < g->Ho; oh++)
            for (int64_t ow = 0; ow < g->Wo; ow++) {
                int64_t h0, h1, lh, w0, w1, lw;
                window(g, oh, g->H, g->Ho, &h0, &h1, &lh);
                window(g, ow, g->W, g->Wo, &w0, &w1, &lw);
                float d = dyp[oh * g->Wo + ow] / (float)(lh * lw);
                for (int64_t h = h0; h < h1; h++)
                    for (int64_t w = w0; w < w1; w++)
                        dxp[h * g->W + w] += d;
            }
    }
    return 0;
}

static int pool_backward(rr_ctx *c, rr_node *n)
{
    rr_tensor *x = n->in[0], *gx = rr_grad_of(c, x);
    if (!gx)
        return -1;
    return RR_BACKEND(x->device, rr_avg_pool2d_bwd, rr_f32(n->out->grad), rr_f32(gx), n->saved);
}

/* Checks x (B, C, H, W); fills in g's plane geometry from it. */
static int check_x(const char *name, const rr_tensor *x, rr_pool2d_geom *g)
{
    if (rr_check_f32(name, x) || rr_check_ndim(name, x, 4))
        return -1;
    g->planes = x->shape[0] * x->shape[1];
    g->H = x->shape[2];
    g->W = x->shape[3];
    return 0;
}

/* Runs and records the pooling g (Ho, Wo filled in) of x. */
static rr_tensor *pool_run(rr_ctx *c, const char *name, rr_tensor *x, const rr_pool2d_geom *g)
{
    rr_tensor *y = rr_new(c, RR_F32, RR_SHAPE(x->shape[0], x->shape[1], g->Ho, g->Wo));
    if (!y || RR_BACKEND(x->device, rr_avg_pool2d_fwd, rr_f32(x), rr_f32(y), g))
        return NULL;
    int err;
    rr_node *n = rr_tape_record(c, name, pool_backward, y, 1, &x, sizeof *g, &err);
    if (err)
        return NULL;
    if (n)
        *(rr_pool2d_geom *)n->saved = *g;
    return y;
}

static rr_tensor *avg_pool(rr_ctx *c, const char *name, rr_tensor *x, int kernel, int stride, int padding,
                           int count_include_pad)
{
    rr_pool2d_geom g = {
        .kernel = kernel, .stride = stride, .padding = padding, .count_include_pad = count_include_pad != 0};
    if (check_x(name, x, &g))
        return NULL;
    if (kernel < 1 || stride < 1 || padding < 0 || padding > kernel / 2) {
        rr_error(
            "%s: kernel %d, stride %d, padding %d: need kernel, stride >= 1 and 0 <= padding <= kernel/2",
            name, kernel, stride, padding);
        return NULL;
    }
    if (g.H + 2 * padding < kernel || g.W + 2 * padding < kernel) {
        char s[64];
        rr_error("%s: kernel %d is larger than the padded input %s", name, kernel,
                 rr_shape_str(x, s, sizeof s));
        return NULL;
    }
    g.Ho = (g.H + 2 * padding - kernel) / stride + 1;
    g.Wo = (g.W + 2 * padding - kernel) / stride + 1;
    return pool_run(c, name, x, &g);
}

rr_tensor *rr_avg_pool2d(rr_ctx *c, rr_tensor *x, int kernel, int stride, int padding, int count_include_pad)
{
    return avg_pool(c, "avg_pool2d", x, kernel, stride, padding, count_include_pad);
}

rr_tensor *rr_mean_filter3(rr_ctx *c, rr_tensor *x) { return avg_pool(c, "mean_filter3", x, 3, 1, 1, 0); }

rr_tensor *rr_adaptive_avg_pool2d(rr_ctx *c, rr_tensor *x, int64_t out_h, int64_t out_w)
{
    rr_pool2d_geom g = {.adaptive = 1, .Ho = out_h, .Wo = out_w};
    if (check_x("adaptive_avg_pool2d", x, &g))
        return NULL;
    if (out_h < 1 || out_w < 1) {
        rr_error("adaptive_avg_pool2d: output size %lldx%lld must be positive", (long long)out_h,
                 (long long)out_w);
        return NULL;
    }
    return pool_run(c, "adaptive_avg_pool2d", x, &g);
}
