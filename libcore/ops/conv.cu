/* CUDA twins of conv.c: im2col + cublasSgemmStridedBatched over the groups,
 * a direct kernel when each group has one input channel.  Every gradient
 * is a gather or a fixed-order block reduction: deterministic, no atomics. */
#include "../cuda/common.cuh"

extern "C" {
#include "conv.h"
}

/* Input row/column of output position o and tap t, or -1 in the padding. */
__device__ static inline int64_t tap(int64_t o, int t, int stride, int pad, int dil, int64_t size)
{
    int64_t i = o * stride - pad + (int64_t)t * dil;
    return i >= 0 && i < size ? i : -1;
}

/* The output position whose tap t reads input row/column i, or -1. */
__device__ static inline int64_t reader(int64_t i, int t, int stride, int pad, int dil, int64_t out)
{
    int64_t o = i + pad - (int64_t)t * dil;
    if (o < 0 || o % stride)
        return -1;
    o /= stride;
    return o < out ? o : -1;
}

/* Columns of one sample for output positions p0 .. p0+n-1 (layout as in conv.c). */
__global__ static void im2col(const float *xb, float *cols, const rr_conv2d_geom g, int64_t p0, int64_t n)
{
    int kk = g.kh * g.kw;
    RR_GRID_STRIDE(e, g.Cin * kk * n)
    {
        int64_t r = e / n, q = e % n, ci = r / kk;
        int t = (int)(r % kk);
        int64_t ih = tap((p0 + q) / g.Wo, t / g.kw, g.sh, g.ph, g.dh, g.H);
        int64_t iw = tap((p0 + q) % g.Wo, t % g.kw, g.sw, g.pw, g.dw, g.W);
        cols[e] = ih >= 0 && iw >= 0 ? xb[(ci * g.H + ih) * g.W + iw] : 0.0f;
    }
}

/* dxb += col2im(cols): each input element gathers the column entries that
 * were copied from it. */
__global__ static void col2im_add(const float *cols, float *dxb, const rr_conv2d_geom g, int64_t p0,
                                  int64_t n)
{
    int kk = g.kh * g.kw;
    RR_GRID_STRIDE(e, g.Cin * g.H * g.W)
    {
        int64_t iw = e % g.W, ih = e / g.W % g.H, ci = e / (g.H * g.W);
        float s = 0;
        for (int i = 0; i < g.kh; i++) {
            int64_t oh = reader(ih, i, g.sh, g.ph, g.dh, g.Ho);
            if (oh < 0)
                continue;
            for (int j = 0; j < g.kw; j++) {
                int64_t ow = reader(iw, j, g.sw, g.pw, g.dw, g.Wo), q = oh * g.Wo + ow - p0;
                if (ow >= 0 && q >= 0 && q < n)
                    s += cols[(ci * kk + i * g.kw + j) * n + q];
            }
        }
        dxb[e] += s;
    }
}

__global__ static void add_bias(float *y, const float *bias, int64_t Cout, int64_t P, int64_t total)
{
    RR_GRID_STRIDE(e, total) y[e] += bias[e / P % Cout];
}

__global__ static void direct_fwd(const float *x, const float *w, const float *bias, float *y,
                                  const rr_conv2d_geom g)
{
    int64_t mult = g.Cout / g.groups;
    RR_GRID_STRIDE(e, g.B * g.Cout * g.Ho * g.Wo)
    {
        int64_t ow = e % g.Wo, oh = e / g.Wo % g.Ho, co = e / (g.Ho * g.Wo) % g.Cout,
                b = e / (g.Ho * g.Wo * g.Cout);
        const float *xc = x + (b * g.Cin + co / mult) * g.H * g.W, *wc = w + co * g.kh * g.kw;
        float s = bias ? bias[co] : 0.0f;
        for (int i = 0; i < g.kh; i++) {
            int64_t ih = tap(oh, i, g.sh, g.ph, g.dh, g.H);
            if (ih < 0)
                continue;
            for (int j = 0; j < g.kw; j++) {
                int64_t iw = tap(ow, j, g.sw, g.pw, g.dw, g.W);
                if (iw >= 0)
                    s += wc[i * g.kw + j] * xc[ih * g.W + iw];
            }
        }
        y[e] = s;
    }
}

/* dx of the direct convolution: each input element gathers the outputs of
 * the channels it feeds. */
__global__ static void direct_dx(const float *w, const float *dy, float *dx, const rr_conv2d_geom g)
{
    int64_t mult = g.Cout / g.groups;
    RR_GRID_STRIDE(e, g.B * g.Cin * g.H * g.W)
    {
        int64_t iw = e % g.W, ih = e / g.W % g.H, ci = e / (g.H * g.W) % g.Cin, b = e / (g.H * g.W * g.Cin);
        float s = 0;
        for (int64_t co = ci * mult; co < (ci + 1) * mult; co++) {
            const float *wc = w + co * g.kh * g.kw, *dyc = dy + (b * g.Cout + co) * g.Ho * g.Wo;
            for (int i = 0; i < g.kh; i++) {
                int64_t oh = reader(ih, i, g.sh, g.ph, g.dh, g.Ho);
                if (oh < 0)
                    continue;
                for (int j = 0; j < g.kw; j++) {
                    int64_t ow = reader(iw, j, g.sw, g.pw, g.dw, g.Wo);
                    if (ow >= 0)
                        s += wc[i * g.kw + j] * dyc[oh * g.Wo + ow];
                }
            }
        }
        dx[e] += s;
    }
}

/* dw of the direct convolution: one block per weight element. */
__global__ static void direct_dw(const float *x, const float *dy, float *dw, const rr_conv2d_geom g)
{
    int kk = g.kh * g.kw;
    int64_t co = blockIdx.x / kk, mult = g.Cout / g.groups, P = g.Ho * g.Wo;
    int t = (int)(blockIdx.x % kk), i = t / g.kw, j = t % g.kw;
    float s = 0;
    for (int64_t e = threadIdx.x; e < g.B * P; e += RR_BLOCK) {
        int64_t b = e / P, oh = e % P / g.Wo, ow = e % g.Wo;
        int64_t ih = tap(oh, i, g.sh, g.ph, g.dh, g.H), iw = tap(ow, j, g.sw, g.pw, g.dw, g.W);
        if (ih >= 0 && iw >= 0)
            s += dy[(b * g.Cout + co) * P + e % P] * x[((b * g.Cin + co / mult) * g.H + ih) * g.W + iw];
    }
    s = rr_block_sum(s);
    if (threadIdx.x == 0)
        dw[blockIdx.x] += s;
}

/* dbias[co] += the sum of dy over the batch and positions: one block per channel. */
__global__ static void bias_grad(const float *dy, float *dbias, int64_t B, int64_t Cout, int64_t P)
{
    int64_t co = blockIdx.x;
    float s = 0;
    for (int64_t e = threadIdx.x; e < B * P; e += RR_BLOCK)
        s += dy[(e / P * Cout + co) * P + e % P];
    s = rr_block_sum(s);
    if (threadIdx.x == 0)
        dbias[co] += s;
}

extern "C" int rr_conv2d_fwd_cuda(const float *x, const float *w, const float *bias, float *y, float *cols,
                                  const rr_conv2d_geom *g)
{
    cudaStream_t st = rr_cuda_stream();
    int64_t HW = g->H * g->W, P = g->Ho * g->Wo;
    if (rr_conv2d_is_direct(g)) {
        direct_fwd<<<rr_blocks(g->B * g->Cout * P), 256, 0, st>>>(x, w, bias, y, *g);
        RR_LAUNCHED();
        return 0;
    }
    cublasHandle_t h;
    if (rr_cublas_handle(&h))
        return -1;
    int pointwise = rr_conv2d_is_pointwise(g);
    int64_t chunk = pointwise ? P : g->chunk;
    int64_t cout_g = g->Cout / g->groups, K = g->Cin / g->groups * g->kh * g->kw;
    const float one = 1.0f, zero = 0.0f;
    /* Row-major y_g[cout_g, n] = w_g[cout_g, K] * cols_g[K, n] is the
     * column-major y_g^T = cols_g^T * w_g^T: cuBLAS takes the operands swapped. */
    for (int64_t b = 0; b < g->B; b++) {
        const float *xb = x + b * g->Cin * HW;
        float *yb = y + b * g->Cout * P;
        for (int64_t p0 = 0; p0 < P; p0 += chunk) {
            int64_t n = P - p0 < chunk ? P - p0 : chunk, ld = pointwise ? HW : n;
            if (!pointwise) {
                im2col<<<rr_blocks(g->Cin * g->kh * g->kw * n), 256, 0, st>>>(xb, cols, *g, p0, n);
                RR_LAUNCHED();
            }
            RR_CUBLAS(cublasSgemmStridedBatched(h, CUBLAS_OP_N, CUBLAS_OP_N, (int)n, (int)cout_g, (int)K,
                                                &one, pointwise ? xb + p0 : cols, (int)ld, K * ld, w, (int)K,
                                                cout_g * K, &zero, yb + p0, (int)P, cout_g * P, g->groups));
        }
    }
    if (bias) {
        add_bias<<<rr_blocks(g->B * g->Cout * P), 256, 0, st>>>(y, bias, g->Cout, P, g->B * g->Cout * P);
        RR_LAUNCHED();
    }
    return 0;
}

extern "C" int rr_conv2d_bwd_cuda(const float *x, const float *w, const float *dy, float *dx, float *dw,
                                  float *dbias, float *cols, const rr_conv2d_geom *g)
{
    cudaStream_t st = rr_cuda_stream();
    int64_t HW = g->H * g->W, P = g->Ho * g->Wo;
    if (dbias) {
        bias_grad<<<(unsigned)g->Cout, RR_BLOCK, 0, st>>>(dy, dbias, g->B, g->Cout, P);
        RR_LAUNCHED();
    }
    if (rr_conv2d_is_direct(g)) {
        if (dw) {
            direct_dw<<<(unsigned)(g->Cout * g->kh * g->kw), RR_BLOCK, 0, st>>>(x, dy, dw, *g);
            RR_LAUNCHED();
        }
        if (dx) {
            direct_dx<<<rr_blocks(g->B * g->Cin * HW), 256, 0, st>>>(w, dy, dx, *g);
            RR_LAUNCHED();
        }
        return 0;
    }
    cublasHandle_t h;
    if (rr_cublas_handle(&h))
        return -1;
    int pointwise = rr_conv2d_is_pointwise(g);
    int64_t chunk = pointwise ? P : g->chunk;
    int64_t cout_g = g->Cout / g->groups, K = g->Cin / g->groups * g->kh * g->kw;
    const float one = 1.0f, zero = 0.0f;
    /* As in conv.c, with the operands swapped for column-major cuBLAS:
     * dw_g += dy_g * cols_g^T, then dcols_g = w_g^T * dy_g. */
    for (int64_t b = 0; b < g->B; b++) {
        const float *xb = x + b * g->Cin * HW, *dyb = dy + b * g->Cout * P;
        float *dxb = dx ? dx + b * g->Cin * HW : NULL;
        for (int64_t p0 = 0; p0 < P; p0 += chunk) {
            int64_t n = P - p0 < chunk ? P - p0 : chunk, ld = pointwise ? HW : n;
            if (dw) {
                if (!pointwise) {
                    im2col<<<rr_blocks(g->Cin * g->kh * g->kw * n), 256, 0, st>>>(xb, cols, *g, p0, n);
                    RR_LAUNCHED();
                }
                RR_CUBLAS(cublasSgemmStridedBatched(h, CUBLAS_OP_T, CUBLAS_OP_N, (int)K, (int)cout_g, (int)n,
                                                    &one, pointwise ? xb + p0 : cols, (int)ld, K * ld,
                                                    dyb + p0, (int)P, cout_g * P, &one, dw, (int)K,
                                                    cout_g * K, g->groups));
            }
            if (dx) {
                RR_CUBLAS(cublasSgemmStridedBatched(h, CUBLAS_OP_N, CUBLAS_OP_T, (int)n, (int)K, (int)cout_g,
                                                    &one, dyb + p0, (int)P, cout_g * P, w, (int)K, cout_g * K,
                                                    pointwise ? &one : &zero, pointwise ? dxb + p0 : cols,
                                                    (int)ld, K * ld, g->groups));
                if (!pointwise) {
                    col2im_add<<<rr_blocks(g->Cin * HW), 256, 0, st>>>(cols, dxb, *g, p0, n);
                    RR_LAUNCHED();
                }
            }
        }
    }
    return 0;
}
