/* CUDA twins of resize.c.  The backward is a gather: each input element
 * sums the outputs that read it (deterministic, no atomics). */
#include "../cuda/common.cuh"

extern "C" {
#include "resize.h"
}

/* Output index o reads *i0 and *i1 with weights 1-*l1 and *l1 (as in resize.c). */
__device__ static inline void source(int64_t o, int64_t in, int64_t out, int align_corners, int64_t *i0,
                                     int64_t *i1, float *l1)
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

/* The first output index whose first source index is >= target (out when
 * none): the source index never decreases with the output index. */
__device__ static inline int64_t first_reading(int64_t target, int64_t in, int64_t out, int align_corners)
{
    int64_t lo = 0, hi = out;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2, i0, i1;
        float l1;
        source(mid, in, out, align_corners, &i0, &i1, &l1);
        if (i0 < target)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The weight with which output o reads input i along one axis (0 if it does not). */
__device__ static inline float weight(int64_t o, int64_t i, int64_t in, int64_t out, int align_corners)
{
    int64_t i0, i1;
    float l1;
    source(o, in, out, align_corners, &i0, &i1, &l1);
    return (i0 == i ? 1 - l1 : 0.0f) + (i1 == i ? l1 : 0.0f);
}

__global__ static void resize_fwd(const float *x, float *y, const rr_resize_geom g)
{
    RR_GRID_STRIDE(e, g.planes * g.Ho * g.Wo)
    {
        int64_t ow = e % g.Wo, oh = e / g.Wo % g.Ho, pl = e / (g.Ho * g.Wo);
        int64_t h0, h1, w0, w1;
        float lh, lw;
        source(oh, g.H, g.Ho, g.align_corners, &h0, &h1, &lh);
        source(ow, g.W, g.Wo, g.align_corners, &w0, &w1, &lw);
        const float *xp = x + pl * g.H * g.W;
        y[e] = (1 - lh) * ((1 - lw) * xp[h0 * g.W + w0] + lw * xp[h0 * g.W + w1]) +
               lh * ((1 - lw) * xp[h1 * g.W + w0] + lw * xp[h1 * g.W + w1]);
    }
}

__global__ static void resize_bwd(const float *dy, float *dx, const rr_resize_geom g)
{
    RR_GRID_STRIDE(e, g.planes * g.H * g.W)
    {
        int64_t w = e % g.W, h = e / g.W % g.H, pl = e / (g.H * g.W);
        /* Outputs read input row h only as their first row h or as the
         * row after their first row h-1.  One more output on each side
         * costs nothing (its weight is 0) and keeps the range safe should
         * the compiler round two inlined copies of source() differently. */
        int64_t oh0 = max(first_reading(h - 1, g.H, g.Ho, g.align_corners) - 1, (int64_t)0);
        int64_t oh1 = min(first_reading(h + 1, g.H, g.Ho, g.align_corners) + 1, g.Ho);
        int64_t ow0 = max(first_reading(w - 1, g.W, g.Wo, g.align_corners) - 1, (int64_t)0);
        int64_t ow1 = min(first_reading(w + 1, g.W, g.Wo, g.align_corners) + 1, g.Wo);
        const float *dyp = dy + pl * g.Ho * g.Wo;
        float s = 0;
        for (int64_t oh = oh0; oh < oh1; oh++) {
            float wh = weight(oh, h, g.H, g.Ho, g.align_corners);
            if (wh == 0)
                continue;
            for (int64_t ow = ow0; ow < ow1; ow++)
                s += wh * weight(ow, w, g.W, g.Wo, g.align_corners) * dyp[oh * g.Wo + ow];
        }
        dx[e] += s;
    }
}

extern "C" int rr_resize_bilinear_fwd_cuda(const float *x, float *y, const rr_resize_geom *g)
{
    resize_fwd<<<rr_blocks(g->planes * g->Ho * g->Wo), 256, 0, rr_cuda_stream()>>>(x, y, *g);
    RR_LAUNCHED();
    return 0;
}

extern "C" int rr_resize_bilinear_bwd_cuda(const float *dy, float *dx, const rr_resize_geom *g)
{
    resize_bwd<<<rr_blocks(g->planes * g->H * g->W), 256, 0, rr_cuda_stream()>>>(dy, dx, *g);
    RR_LAUNCHED();
    return 0;
}
