/* CUDA twins of softmax.c.  Softmax along the last axis (inner == 1, the
 * attention case) runs one warp per row; along another axis one thread per
 * row, so that neighbouring threads read neighbouring elements.  Warp
 * reductions use a fixed butterfly, so results are deterministic. */
#include <math.h>

#include "../cuda/common.cuh"

extern "C" {
#include "softmax.h"
}

__global__ static void softmax_fwd_last(const float *z, float *y, int64_t rows, int64_t n)
{
    int lane = threadIdx.x & 31;
    RR_WARP_ROWS(r, rows)
    {
        const float *zr = z + r * n;
        float *yr = y + r * n;
        float m = -INFINITY, s = 0;
        for (int64_t j = lane; j < n; j += 32)
            m = fmaxf(m, zr[j]);
        m = rr_warp_max(m);
        for (int64_t j = lane; j < n; j += 32) {
            float e = expf(zr[j] - m);
            yr[j] = e;
            s += e;
        }
        float inv = 1.0f / rr_warp_sum(s);
        for (int64_t j = lane; j < n; j += 32)
            yr[j] *= inv;
    }
}

__global__ static void softmax_fwd_strided(const float *z, float *y, int64_t outer, int64_t n, int64_t inner)
{
    RR_GRID_STRIDE(r, outer * inner)
    {
        int64_t base = (r / inner) * n * inner + r % inner;
        float m = -INFINITY, s = 0;
        for (int64_t j = 0; j < n; j++)
            m = fmaxf(m, z[base + j * inner]);
        for (int64_t j = 0; j < n; j++) {
            float e = expf(z[base + j * inner] - m);
            y[base + j * inner] = e;
            s += e;
        }
        float inv = 1.0f / s;
        for (int64_t j = 0; j < n; j++)
            y[base + j * inner] *= inv;
    }
}

extern "C" int rr_softmax_fwd_cuda(const float *z, float *y, int64_t outer, int64_t n, int64_t inner)
{
    if (inner == 1)
        softmax_fwd_last<<<rr_blocks(outer * 32), 256, 0, rr_cuda_stream()>>>(z, y, outer, n);
    else
        softmax_fwd_strided<<<rr_blocks(outer * inner), 256, 0, rr_cuda_stream()>>>(z, y, outer, n, inner);
    RR_LAUNCHED();
    return 0;
}

__global__ static void softmax_bwd_last(const float *y, const float *dy, float *dz, int64_t rows, int64_t n,
                                        int accumulate)
{
    int lane = threadIdx.x & 31;
    RR_WARP_ROWS(r, rows)
    {
        const float *yr = y + r * n, *dyr = dy + r * n;
        float *dzr = dz + r * n, s = 0;
        for (int64_t j = lane; j < n; j += 32)
            s += dyr[j] * yr[j];
        s = rr_warp_sum(s);
        for (int64_t j = lane; j < n; j += 32) {
            float g = yr[j] * (dyr[j] - s);
            dzr[j] = accumulate ? dzr[j] + g : g;
        }
    }
}

__global__ static void softmax_bwd_strided(const float *y, const float *dy, float *dz, int64_t outer, int64_t n,
                                           int64_t inner, int accumulate)
{
    RR_GRID_STRIDE(r, outer * inner)
    {
        int64_t base = (r / inner) * n * inner + r % inner;
        float s = 0;
        for (int64_t j = 0; j < n; j++)
            s += dy[base + j * inner] * y[base + j * inner];
        for (int64_t j = 0; j < n; j++) {
            int64_t i = base + j * inner;
            float g = y[i] * (dy[i] - s);
            dz[i] = accumulate ? dz[i] + g : g;
        }
    }
}

extern "C" int rr_softmax_bwd_cuda(const float *y, const float *dy, float *dz, int64_t outer, int64_t n,
                                   int64_t inner, int accumulate)
{
    if (inner == 1)
        softmax_bwd_last<<<rr_blocks(outer * 32), 256, 0, rr_cuda_stream()>>>(y, dy, dz, outer, n, accumulate);
    else
        softmax_bwd_strided<<<rr_blocks(outer * inner), 256, 0, rr_cuda_stream()>>>(y, dy, dz, outer, n, inner,
                                                                                      accumulate);
    RR_LAUNCHED();
    return 0;
}
