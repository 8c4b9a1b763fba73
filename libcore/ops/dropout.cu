/* CUDA twin of dropout.c: the mask comes from rr_dropout_factor (dropout.h),
 * so it is the CPU's mask element for element. */
#include "../cuda/common.cuh"

extern "C" {
#include "dropout.h"
}

__global__ static void dropout_kernel(const float *x, float *y, int64_t n, int64_t group, float p, uint64_t seed,
                                      uint64_t offset, int accumulate)
{
    RR_GRID_STRIDE(i, n)
    {
        float v = x[i] * rr_dropout_factor(seed, offset, i, group, p);
        y[i] = accumulate ? y[i] + v : v;
    }
}

extern "C" int rr_dropout_f32_cuda(const float *x, float *y, int64_t n, int64_t group, float p, uint64_t seed,
                                   uint64_t offset, int accumulate)
{
    dropout_kernel<<<rr_blocks(n), 256, 0, rr_cuda_stream()>>>(x, y, n, group, p, seed, offset, accumulate);
    RR_LAUNCHED();
    return 0;
}
