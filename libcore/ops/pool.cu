/* CUDA twins of pool.c.  The backward is a gather: each input element sums
 * the outputs whose windows contain it (deterministic, no atomics). */
#include "../cuda/common.cuh"

extern "C" {
#include "pool.h"
}

/* The input range [*lo, *hi) and divisor length of output o (as in pool.c). */
__device__ static inline void window(const rr_pool2d_geom &g, int64_t o, int64_t size, int64_t out,
                                     int64_t *lo, int64_t *hi, int64_t *len)
{
    if (g.adaptive) {
        *lo = o * size / out;
        *hi = ((o + 1) * size + out - 1) / out;
        *len = *hi - *lo;
        return;
    }
    int64_t s = o * g.stride - g.padding, e = s + g.kernel;
    if (e > size + g.padding)
        e = size + g.padding;
    *lo = s < 0 ? 0 : s;
    *hi = e > size ? size : e;
    *len = g.count_include_pad ? e - s : *hi - *lo;
}

/* The outputs [*first, *last] whose windows contain input index i. */
__device__ static inline void readers(const rr_pool2d_geom &g, int64_t i, int64_t size, int64_t out,
                                      int64_t *first, int64_t *last)
{
    if (g.adaptive) {
        /* floor(o*size/out) <= i < ceil((o+1)*size/out) */
        *first = i * out / size;
        *last = ((i + 1) * out - 1) / size;
        return;
    }
    /* o*stride - padding <= i < o*stride - padding + kernel */
    int64_t a = i + g.padding - g.kernel + 1, b = (i + g.padding) / g.stride;
    *first = a <= 0 ? 0 : (a + g.stride - 1) / g.stride;
    *last = b < out - 1 ? b : out - 1;
}

__global__ static void pool_fwd(const float *x, float *y, const rr_pool2d_geom g)
{
    RR_GRID_STRIDE(e, g.planes * g.Ho * g.Wo)
    {
        int64_t ow = e % g.Wo, oh = e / g.Wo % g.Ho, pl = e / (g.Ho * g.Wo);
        int64_t h0, h1, lh, w0, w1, lw;
        window(g, oh, g.H, g.Ho, &h0, &h1, &lh);
        window(g, ow, g.W, g.Wo, &w0, &w1, &lw);
        const float *xp = x + pl * g.H * g.W;
        float s = 0;
        for (int64_t h = h0; h < h1; h++)
            for (int64_t w = w0; w < w1; w++)
                s += xp[h * g.W + w];
        y[e] = s / (float)(lh * lw);
    }
}

__global__ static void pool_bwd(const float *dy, float *dx, const rr_pool2d_geom g)
{
    RR_GRID_STRIDE(e, g.planes * g.H * g.W)
    {
        int64_t w = e % g.W, h = e / g.W % g.H, pl = e / (g.H * g.W);
        int64_t oh0, oh1, ow0, ow1;
        readers(g, h, g.H, g.Ho, &oh0, &oh1);
        readers(g, w, g.W, g.Wo, &ow0, &ow1);
        const float *dyp = dy + pl * g.Ho * g.Wo;
        float s = 0;
        for (int64_t oh = oh0; oh <= oh1; oh++)
            for (int64_t ow = ow0; ow <= ow1; ow++) {
                int64_t lo, hi, lh, lw; /* only the divisor lengths matter here */
                window(g, oh, g.H, g.Ho, &lo, &hi, &lh);
                window(g, ow, g.W, g.Wo, &lo, &hi, &lw);
                s += dyp[oh * g.Wo + ow] / (float)(lh * lw);
            }
        dx[e] += s;
    }
}

extern "C" int rr_avg_pool2d_fwd_cuda(const float *x, float *y, const rr_pool2d_geom *g)
{
    pool_fwd<<<rr_blocks(g->planes * g->Ho * g->Wo), 256, 0, rr_cuda_stream()>>>(x, y, *g);
    RR_LAUNCHED();
    return 0;
}

extern "C" int rr_avg_pool2d_bwd_cuda(const float *dy, float *dx, const rr_pool2d_geom *g)
{
    pool_bwd<<<rr_blocks(g->planes * g->H * g->W), 256, 0, rr_cuda_stream()>>>(dy, dx, *g);
    RR_LAUNCHED();
    return 0;
}
