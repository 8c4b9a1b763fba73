#include "conv.h"

#include <cblas.h>
#include <string.h>

#include "../tape.h"
#include "check.h"
#include "vmath.h"

/* The column workspace of one call is at most this many floats (64 MiB):
 * a 3x3 convolution of 640 channels at 120x120 (the decoder, doc/network.md, Decoder)
 * would otherwise need 330 MB of columns per sample. */
#define COLS_MAX ((int64_t)1 << 24)

int64_t rr_conv2d_workspace(const rr_conv2d_geom *g)
{
    if (rr_conv2d_is_direct(g) || rr_conv2d_is_pointwise(g))
        return 0;
    return g->Cin * g->kh * g->kw * g->chunk;
}

/* Input row/column of output position o and tap t, or -1 in the padding. */
static inline int64_t tap(int64_t o, int t, int stride, int pad, int dil, int64_t size)
{
    int64_t i = o * stride - pad + (int64_t)t * dil;
    return i >= 0 && i < size ? i : -1;
}

/* The output positions o in [0, n) whose input o*stride + off lies in
 * [0, size): [*lo, *hi). */
static void valid_range(int64_t off, int stride, int64_t size, int64_t n, int64_t *lo, int64_t *hi)
{
    int64_t a = off >= 0 ? 0 : (-off + stride - 1) / stride;
    int64_t b = size - 1 - off < 0 ? 0 : (size - 1 - off) / stride + 1;
    *lo = a < n ? a : n;
    *hi = b < n ? b : n;
    if (*hi < *lo)
        *hi = *lo;
}

/* Columns of one sample xb for output positions p0 .. p0+n-1:
 * cols[(ci*kh*kw + i*kw + j)*n + q] = xb[ci, oh*sh-ph+i*dh, ow*sw-pw+j*dw]
 * (0 in the padding), where p0+q = oh*Wo + ow.  Each column row is built a
 * run of output positions at a time (one output row): zeros, a copy of the
 * input row (strided by sw), zeros. */
static void im2col(const float *xb, float *cols, const rr_conv2d_geom *g, int64_t p0, int64_t n)
{
    int kk = g->kh * g->kw;
    int64_t rows = g->Cin * kk;
#pragma omp parallel for if (rows * n > 32768)
    for (int64_t r = 0; r < rows; r++) {
        int64_t ci = r / kk;
        int i = (int)(r % kk) / g->kw, j = (int)(r % kk) % g->kw;
        const float *xc = xb + ci * g->H * g->W;
        float *col = cols + r * n;
        int64_t lo, hi, off = (int64_t)j * g->dw - g->pw;
        valid_range(off, g->sw, g->W, g->Wo, &lo, &hi);
        for (int64_t q = 0; q < n;) {
            int64_t oh = (p0 + q) / g->Wo, ow0 = (p0 + q) % g->Wo;
            int64_t len = g->Wo - ow0 < n - q ? g->Wo - ow0 : n - q, ow1 = ow0 + len;
            int64_t ih = tap(oh, i, g->sh, g->ph, g->dh, g->H);
            float *dst = col + q - ow0; /* indexed by ow */
            int64_t a = ih < 0 ? ow1 : lo > ow0 ? (lo < ow1 ? lo : ow1) : ow0;
            int64_t b = ih < 0 ? ow1 : hi < ow1 ? (hi > a ? hi : a) : ow1;
            for (int64_t ow = ow0; ow < a; ow++)
                dst[ow] = 0.0f;
            if (b > a) {
                const float *src = xc + ih * g->W + off;
                if (g->sw == 1)
                    memcpy(dst + a, src + a, (size_t)(b - a) * sizeof *dst);
                else
                    for (int64_t ow = a; ow < b; ow++)
                        dst[ow] = src[ow * g->sw];
            }
            for (int64_t ow = b; ow < ow1; ow++)
                dst[ow] = 0.0f;
            q += len;
        }
    }
}

/* The adjoint of im2col, accumulated into dxb.  One thread per input
 * channel, taps and positions in a fixed order: deterministic. */
static void col2im_add(const float *cols, float *dxb, const rr_conv2d_geom *g, int64_t p0, int64_t n)
{
    int kk = g->kh * g->kw;
#pragma omp parallel for if (g->Cin * kk * n > 32768)
    for (int64_t ci = 0; ci < g->Cin; ci++) {
        float *dxc = dxb + ci * g->H * g->W;
        for (int t = 0; t < kk; t++) {
            int i = t / g->kw, j = t % g->kw;
            const float *col = cols + (ci * kk + t) * n;
            int64_t lo, hi, off = (int64_t)j * g->dw - g->pw;
            valid_range(off, g->sw, g->W, g->Wo, &lo, &hi);
            for (int64_t q = 0; q < n;) {
                int64_t oh = (p0 + q) / g->Wo, ow0 = (p0 + q) % g->Wo;
                int64_t len = g->Wo - ow0 < n - q ? g->Wo - ow0 : n - q, ow1 = ow0 + len;
                int64_t ih = tap(oh, i, g->sh, g->ph, g->dh, g->H);
                int64_t a = lo > ow0 ? lo : ow0, b = hi < ow1 ? hi : ow1;
                if (ih >= 0 && b > a) {
                    const float *src = col + q - ow0; /* indexed by ow */
                    float *dst = dxc + ih * g->W + off;
                    if (g->sw == 1)
                        for (int64_t ow = a; ow < b; ow++)
                            dst[ow] += src[ow];
                    else
                        for (int64_t ow = a; ow < b; ow++)
                            dst[ow * g->sw] += src[ow];
                }
                q += len;
            }
        }
    }
}

/* One output plane of a direct (one input channel per group) convolution:
 * yc = bias + the taps in (i, j) order, each added over a run of the row
 * that needs no bounds checks (y never aliases x: the rows vectorise). */
RR_SIMD_CLONES static void direct_plane(const float *xc, const float *wc, float b, float *yc, const rr_conv2d_geom *g)
{
    for (int64_t oh = 0; oh < g->Ho; oh++) {
        float *yr = yc + oh * g->Wo;
        for (int64_t ow = 0; ow < g->Wo; ow++)
            yr[ow] = b;
        for (int i = 0; i < g->kh; i++) {
            int64_t ih = tap(oh, i, g->sh, g->ph, g->dh, g->H);
            if (ih < 0)
                continue;
            for (int j = 0; j < g->kw; j++) {
                int64_t lo, hi, off = (int64_t)j * g->dw - g->pw;
                valid_range(off, g->sw, g->W, g->Wo, &lo, &hi);
                const float *xr = xc + ih * g->W + off;
                float wv = wc[i * g->kw + j];
                if (g->sw == 1)
#pragma omp simd
                    for (int64_t ow = lo; ow < hi; ow++)
                        yr[ow] += wv * xr[ow];
                else
                    for (int64_t ow = lo; ow < hi; ow++)
                        yr[ow] += wv * xr[ow * g->sw];
            }
        }
    }
}

static void direct_fwd(const float *x, const float *w, const float *bias, float *y, const rr_conv2d_geom *g)
{
    int64_t mult = g->Cout / g->groups, HW = g->H * g->W, P = g->Ho * g->Wo;
#pragma omp parallel for collapse(2) if (g->B * g->Cout * P > 16384)
    for (int64_t b = 0; b < g->B; b++)
        for (int64_t co = 0; co < g->Cout; co++)
            direct_plane(x + (b * g->Cin + co / mult) * HW, w + co * g->kh * g->kw, bias ? bias[co] : 0.0f,
                         y + (b * g->Cout + co) * P, g);
}

/* sum over ow in [lo, hi) of dy[ow] x[ow * stride], in double. */
RR_SIMD_CLONES static double row_dot(const float *dyr, const float *xr, int64_t lo, int64_t hi, int stride)
{
    double s = 0;
    if (stride == 1) {
#pragma omp simd reduction(+ : s)
        for (int64_t ow = lo; ow < hi; ow++)
            s += (double)dyr[ow] * xr[ow];
    } else {
        for (int64_t ow = lo; ow < hi; ow++)
            s += (double)dyr[ow] * xr[ow * stride];
    }
    return s;
}

/* dx[ow * stride] += w dy[ow] over ow in [lo, hi) (dx never aliases dy). */
RR_SIMD_CLONES static void row_axpy(float *dxr, const float *dyr, float wv, int64_t lo, int64_t hi, int stride)
{
    if (stride == 1) {
#pragma omp simd
        for (int64_t ow = lo; ow < hi; ow++)
            dxr[ow] += wv * dyr[ow];
    } else {
        for (int64_t ow = lo; ow < hi; ow++)
            dxr[ow * stride] += wv * dyr[ow];
    }
}

static void direct_bwd(const float *x, const float *w, const float *dy, float *dx, float *dw,
                       const rr_conv2d_geom *g)
{
    int64_t mult = g->Cout / g->groups, HW = g->H * g->W, P = g->Ho * g->Wo;
    int kk = g->kh * g->kw;
    if (dw) {
        /* One thread per output channel sums its taps over the batch. */
#pragma omp parallel for if (g->B * g->Cout * P * kk > 65536)
        for (int64_t co = 0; co < g->Cout; co++)
            for (int t = 0; t < kk; t++) {
                int i = t / g->kw, j = t % g->kw;
                int64_t lo, hi, off = (int64_t)j * g->dw - g->pw;
                valid_range(off, g->sw, g->W, g->Wo, &lo, &hi);
                double s = 0;
                for (int64_t b = 0; b < g->B; b++) {
                    const float *xc = x + (b * g->Cin + co / mult) * HW, *dyc = dy + (b * g->Cout + co) * P;
                    for (int64_t oh = 0; oh < g->Ho; oh++) {
                        int64_t ih = tap(oh, i, g->sh, g->ph, g->dh, g->H);
                        if (ih < 0)
                            continue;
                        s += row_dot(dyc + oh * g->Wo, xc + ih * g->W + off, lo, hi, g->sw);
                    }
                }
                dw[co * kk + t] += (float)s;
            }
    }
    if (dx) {
        /* One thread per input plane scatters the output channels it feeds. */
#pragma omp parallel for collapse(2) if (g->B * g->Cout * P * kk > 65536)
        for (int64_t b = 0; b < g->B; b++)
            for (int64_t ci = 0; ci < g->Cin; ci++) {
                float *dxc = dx + (b * g->Cin + ci) * HW;
                for (int64_t co = ci * mult; co < (ci + 1) * mult; co++) {
                    const float *wc = w + co * kk, *dyc = dy + (b * g->Cout + co) * P;
                    for (int64_t oh = 0; oh < g->Ho; oh++)
                        for (int i = 0; i < g->kh; i++) {
                            int64_t ih = tap(oh, i, g->sh, g->ph, g->dh, g->H);
                            if (ih < 0)
                                continue;
                            for (int j = 0; j < g->kw; j++) {
                                int64_t lo, hi, off = (int64_t)j * g->dw - g->pw;
                                valid_range(off, g->sw, g->W, g->Wo, &lo, &hi);
                                row_axpy(dxc + ih * g->W + off, dyc + oh * g->Wo, wc[i * g->kw + j], lo, hi, g->sw);
                            }
                        }
                }
            }
    }
}

int rr_conv2d_fwd_cpu(const float *x, const float *w, const float *bias, float *y, float *cols,
                      const rr_conv2d_geom *g)
{
    if (rr_conv2d_is_direct(g)) {
        direct_fwd(x, w, bias, y, g);
        return 0;
    }
    int pointwise = rr_conv2d_is_pointwise(g);
    int64_t HW = g->H * g->W, P = g->Ho * g->Wo, chunk = pointwise ? P : g->chunk;
    int64_t cin_g = g->Cin / g->groups, cout_g = g->Cout / g->groups, K = cin_g * g->kh * g->kw;
    /* Per sample, per block of output positions, per group:
     * y_g[cout_g, n] = w_g[cout_g, K] * cols_g[K, n]. */
    for (int64_t b = 0; b < g->B; b++) {
        const float *xb = x + b * g->Cin * HW;
        float *yb = y + b * g->Cout * P;
        for (int64_t p0 = 0; p0 < P; p0 += chunk) {
            int64_t n = P - p0 < chunk ? P - p0 : chunk, ld = pointwise ? HW : n;
            const float *colb = pointwise ? xb + p0 : cols;
            if (!pointwise)
                im2col(xb, cols, g, p0, n);
            for (int gi = 0; gi < g->groups; gi++)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)cout_g, (int)n, (int)K, 1.0f,
                            w + gi * cout_g * K, (int)K, colb + gi * K * ld, (int)ld, 0.0f,
                            yb + gi * cout_g * P + p0, (int)P);
        }
    }
    if (bias) {
#pragma omp parallel for collapse(2) if (g->B * g->Cout * P > 65536)
        for (int64_t b = 0; b < g->B; b++)
            for (int64_t co = 0; co < g->Cout; co++) {
                float *yc = y + (b * g->Cout + co) * P;
                for (int64_t p = 0; p < P; p++)
                    yc[p] += bias[co];
            }
    }
    return 0;
}

int rr_conv2d_bwd_cpu(const float *x, const float *w, const float *dy, float *dx, float *dw, float *dbias,
                      float *cols, const rr_conv2d_geom *g)
{
    int64_t HW = g->H * g->W, P = g->Ho * g->Wo;
    if (dbias) {
#pragma omp parallel for if (g->B * g->Cout * P > 65536)
        for (int64_t co = 0; co < g->Cout; co++) {
            double s = 0;
            for (int64_t b = 0; b < g->B; b++)
                for (int64_t p = 0; p < P; p++)
                    s += dy[(b * g->Cout + co) * P + p];
            dbias[co] += (float)s;
        }
    }
    if (rr_conv2d_is_direct(g)) {
        direct_bwd(x, w, dy, dx, dw, g);
        return 0;
    }
    int pointwise = rr_conv2d_is_pointwise(g);
    int64_t chunk = pointwise ? P : g->chunk;
    int64_t cin_g = g->Cin / g->groups, cout_g = g->Cout / g->groups, K = cin_g * g->kh * g->kw;
    /* Per block: dw_g += dy_g * cols_g^T (summed over samples and blocks in
     * order), then the same buffer takes dcols_g = w_g^T * dy_g, which
     * col2im adds into dx (a 1x1 convolution adds it straight into dx). */
    for (int64_t b = 0; b < g->B; b++) {
        const float *xb = x + b * g->Cin * HW, *dyb = dy + b * g->Cout * P;
        float *dxb = dx ? dx + b * g->Cin * HW : NULL;
        for (int64_t p0 = 0; p0 < P; p0 += chunk) {
            int64_t n = P - p0 < chunk ? P - p0 : chunk, ld = pointwise ? HW : n;
            if (dw) {
                const float *colb = pointwise ? xb + p0 : cols;
                if (!pointwise)
                    im2col(xb, cols, g, p0, n);
                for (int gi = 0; gi < g->groups; gi++)
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)cout_g, (int)K, (int)n, 1.0f,
                                dyb + gi * cout_g * P + p0, (int)P, colb + gi * K * ld, (int)ld, 1.0f,
                                dw + gi * cout_g * K, (int)K);
            }
            if (dx) {
                float *dcol = pointwise ? dxb + p0 : cols;
                for (int gi = 0; gi < g->groups; gi++)
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)K, (int)n, (int)cout_g, 1.0f,
                                w + gi * cout_g * K, (int)K, dyb + gi * cout_g * P + p0, (int)P,
                                pointwise ? 1.0f : 0.0f, dcol + gi * K * ld, (int)ld);
                if (!pointwise)
                    col2im_add(cols, dxb, g, p0, n);
            }
        }
    }
    return 0;
}

static int conv_backward(rr_ctx *c, rr_node *n)
{
    const rr_conv2d_geom *g = n->saved;
    rr_tensor *x = n->in[0], *w = n->in[1], *b = n->nin > 2 ? n->in[2] : NULL;
    rr_tensor *gx = x->requires_grad ? rr_grad_of(c, x) : NULL;
    rr_tensor *gw = w->requires_grad ? rr_grad_of(c, w) : NULL;
    rr_tensor *gb = b && b->requires_grad ? rr_grad_of(c, b) : NULL;
    if ((x->requires_grad && !gx) || (w->requires_grad && !gw) || (b && b->requires_grad && !gb))
        return -1;
    int64_t ws = gx || gw ? rr_conv2d_workspace(g) : 0;
    float *cols = ws ? rr_arena_alloc(&c->data, (size_t)ws * sizeof(float)) : NULL;
    if (ws && !cols)
        return -1;
    return RR_BACKEND(x->device, rr_conv2d_bwd, rr_f32(x), rr_f32(w), rr_f32(n->out->grad),
                      gx ? rr_f32(gx) : NULL, gw ? rr_f32(gw) : NULL, gb ? rr_f32(gb) : NULL, cols, g);
}

/* Checks the tensors, then runs and records the convolution described by g
 * (its chunk is filled in here); the output has shape (ndim, shape). */
static rr_tensor *conv_run(rr_ctx *c, const char *name, rr_tensor *x, rr_tensor *w, rr_tensor *bias,
                           rr_conv2d_geom g, int ndim, const int64_t *shape)
{
    int64_t rows = g.Cin * g.kh * g.kw, P = g.Ho * g.Wo;
    g.chunk = rows * P <= COLS_MAX ? P : COLS_MAX / rows > 0 ? COLS_MAX / rows : 1;
    rr_tensor *y = rr_new(c, RR_F32, ndim, shape);
    if (!y)
        return NULL;
    int64_t ws = rr_conv2d_workspace(&g);
    float *cols = ws ? rr_arena_alloc(&c->data, (size_t)ws * sizeof(float)) : NULL;
    if ((ws && !cols) || RR_BACKEND(x->device, rr_conv2d_fwd, rr_f32(x), rr_f32(w),
                                    bias ? rr_f32(bias) : NULL, rr_f32(y), cols, &g))
        return NULL;
    int err;
    rr_node *n =
        rr_tape_record(c, name, conv_backward, y, bias ? 3 : 2, (rr_tensor *[]){x, w, bias}, sizeof g, &err);
    if (err)
        return NULL;
    if (n)
        *(rr_conv2d_geom *)n->saved = g;
    return y;
}

/* dtype, ndim and device of x and w, and bias (Cout) when given. */
static int check_args(const char *name, const rr_tensor *x, const rr_tensor *w, const rr_tensor *bias,
                      int ndim)
{
    if (rr_check_f32(name, x) || rr_check_f32(name, w) || rr_check_ndim(name, x, ndim) ||
        rr_check_ndim(name, w, ndim) || rr_check_same_device(name, x, w))
        return -1;
    if (bias) {
        if (rr_check_f32(name, bias) || rr_check_ndim(name, bias, 1) || rr_check_same_device(name, x, bias))
            return -1;
        if (bias->shape[0] != w->shape[0])
            return rr_error("%s: bias has %lld elements, the weight %lld output channels", name,
                            (long long)bias->shape[0], (long long)w->shape[0]);
    }
    return 0;
}

rr_tensor *rr_conv2d(rr_ctx *c, rr_tensor *x, rr_tensor *w, rr_tensor *bias, const rr_conv2d_params *p)
{
    static const rr_conv2d_params defaults;
    if (!p)
        p = &defaults;
    if (check_args("conv2d", x, w, bias, 4))
        return NULL;
    rr_conv2d_geom g = {
        .B = x->shape[0],
        .Cin = x->shape[1],
        .H = x->shape[2],
        .W = x->shape[3],
        .Cout = w->shape[0],
        .kh = (int)w->shape[2],
        .kw = (int)w->shape[3],
        .sh = p->stride[0] ? p->stride[0] : 1,
        .sw = p->stride[1] ? p->stride[1] : 1,
        .ph = p->padding[0],
        .pw = p->padding[1],
        .dh = p->dilation[0] ? p->dilation[0] : 1,
        .dw = p->dilation[1] ? p->dilation[1] : 1,
        .groups = p->groups ? p->groups : 1,
    };
    char xs[64], wsh[64];
    if (g.sh < 0 || g.sw < 0 || g.ph < 0 || g.pw < 0 || g.dh < 0 || g.dw < 0 || g.groups < 0) {
        rr_error("conv2d: negative stride, padding, dilation or groups");
        return NULL;
    }
    if (g.Cin % g.groups || g.Cout % g.groups || w->shape[1] * g.groups != g.Cin) {
        rr_error("conv2d: x %s and weight %s do not fit groups=%d (weight dim 1 must be Cin/groups)",
                 rr_shape_str(x, xs, sizeof xs), rr_shape_str(w, wsh, sizeof wsh), g.groups);
        return NULL;
    }
    int64_t eh = (int64_t)g.dh * (g.kh - 1) + 1, ew = (int64_t)g.dw * (g.kw - 1) + 1;
    if (g.H + 2 * g.ph < eh || g.W + 2 * g.pw < ew) {
        rr_error("conv2d: kernel %lldx%lld (dilated) is larger than the padded input %s", (long long)eh,
                 (long long)ew, rr_shape_str(x, xs, sizeof xs));
        return NULL;
    }
    g.Ho = (g.H + 2 * g.ph - eh) / g.sh + 1;
    g.Wo = (g.W + 2 * g.pw - ew) / g.sw + 1;
    return conv_run(c, "conv2d", x, w, bias, g, 4, (int64_t[]){g.B, g.Cout, g.Ho, g.Wo});
}

rr_tensor *rr_conv1d(rr_ctx *c, rr_tensor *x, rr_tensor *w, rr_tensor *bias)
{
    if (check_args("conv1d", x, w, bias, 3))
        return NULL;
    if (w->shape[2] != 1 || w->shape[1] != x->shape[1]) {
        char xs[64], wsh[64];
        rr_error("conv1d: x %s needs a weight Cout x %lld x 1, got %s", rr_shape_str(x, xs, sizeof xs),
                 (long long)x->shape[1], rr_shape_str(w, wsh, sizeof wsh));
        return NULL;
    }
    /* A 1x1 convolution over a 1 x L image. */
    rr_conv2d_geom g = {
        .B = x->shape[0],
        .Cin = x->shape[1],
        .H = 1,
        .W = x->shape[2],
        .Cout = w->shape[0],
        .Ho = 1,
        .Wo = x->shape[2],
        .kh = 1,
        .kw = 1,
        .sh = 1,
        .sw = 1,
        .dh = 1,
        .dw = 1,
        .groups = 1,
    };
    return conv_run(c, "conv1d", x, w, bias, g, 3, (int64_t[]){g.B, g.Cout, g.W});
}
