/* CUDA twins of shape.c: the strided copy (which also serves window.c and
 * pixel_shuffle.c) and roll.  One thread per element of the index space;
 * the maps never write one element twice, so accumulation is race-free and
 * deterministic without atomics. */
#include "../cuda/common.cuh"

extern "C" {
#include "shape.h"
}

__global__ static void copy_strided(const float *src, float *dst, const rr_copy_map m, int accumulate)
{
    RR_GRID_STRIDE(i, m.numel)
    {
        int64_t q = i, s = m.soff, d = m.doff;
        for (int k = m.ndim - 1; k >= 0; k--) {
            int64_t c = q % m.shape[k];
            q /= m.shape[k];
            s += c * m.sstride[k];
            d += c * m.dstride[k];
        }
        dst[d] = accumulate ? dst[d] + src[s] : src[s];
    }
}

extern "C" int rr_copy_strided_cuda(const float *src, float *dst, const rr_copy_map *m, int accumulate)
{
    if (m->numel == 0)
        return 0;
    copy_strided<<<rr_blocks(m->numel), 256, 0, rr_cuda_stream()>>>(src, dst, *m, accumulate);
    RR_LAUNCHED();
    return 0;
}

__global__ static void roll_kernel(const float *src, float *dst, const rr_roll_map m, int accumulate)
{
    RR_GRID_STRIDE(i, m.numel)
    {
        int64_t q = i, s = 0, stride = 1;
        for (int d = m.ndim - 1; d >= 0; d--) {
            int64_t k = q % m.shape[d] - m.shift[d];
            q /= m.shape[d];
            s += (k < 0 ? k + m.shape[d] : k) * stride;
            stride *= m.shape[d];
        }
        dst[i] = accumulate ? dst[i] + src[s] : src[s];
    }
}

extern "C" int rr_roll_f32_cuda(const float *src, float *dst, const rr_roll_map *m, int accumulate)
{
    if (m->numel == 0)
        return 0;
    roll_kernel<<<rr_blocks(m->numel), 256, 0, rr_cuda_stream()>>>(src, dst, *m, accumulate);
    RR_LAUNCHED();
    return 0;
}
