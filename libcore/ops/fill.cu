/* CUDA twin of fill.c. */
#include "../cuda/common.cuh"

extern "C" {
#include "fill.h"
}

__global__ static void fill_kernel(float *x, int64_t n, float v) { RR_GRID_STRIDE(i, n) x[i] = v; }

extern "C" int rr_fill_f32_cuda(float *x, int64_t n, float value)
{
    fill_kernel<<<rr_blocks(n), 256, 0, rr_cuda_stream()>>>(x, n, value);
    RR_LAUNCHED();
    return 0;
}
