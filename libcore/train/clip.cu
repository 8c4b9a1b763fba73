/* CUDA twins of clip.c's sums.  The sum of squares: a fixed grid of blocks,
 * each a fixed tree over a fixed stride of the array, then one block adds
 * the block sums in a fixed tree; never atomics, so the same bits every
 * run.  The total of the per-parameter sums: one thread, in order, as the
 * CPU adds them. */
#include "../cuda/common.cuh"

extern "C" {
#include "clip.h"
}

enum { PARTS = 128 };

/* The block sums of the last call; calls on the library's one stream run
 * in order, so one buffer serves them all. */
__device__ static double partial[PARTS];

__device__ static double block_sum_double(double v)
{
    __shared__ double sh[RR_BLOCK];
    sh[threadIdx.x] = v;
    __syncthreads();
    for (int s = RR_BLOCK / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s)
            sh[threadIdx.x] += sh[threadIdx.x + s];
        __syncthreads();
    }
    return sh[0];
}

__global__ static void sumsq_parts(const float *x, int64_t n)
{
    double s = 0;
    for (int64_t i = blockIdx.x * (int64_t)RR_BLOCK + threadIdx.x; i < n; i += (int64_t)PARTS * RR_BLOCK)
        s += (double)x[i] * x[i];
    s = block_sum_double(s);
    if (threadIdx.x == 0)
        partial[blockIdx.x] = s;
}

__global__ static void sumsq_total(double *out)
{
    double s = threadIdx.x < PARTS ? partial[threadIdx.x] : 0.0;
    s = block_sum_double(s);
    if (threadIdx.x == 0)
        *out = s;
}

extern "C" int rr_sumsq_f32_cuda(const float *x, int64_t n, double *out)
{
    sumsq_parts<<<PARTS, RR_BLOCK, 0, rr_cuda_stream()>>>(x, n);
    RR_LAUNCHED();
    sumsq_total<<<1, RR_BLOCK, 0, rr_cuda_stream()>>>(out);
    RR_LAUNCHED();
    return 0;
}

__global__ static void sum_in_order(const double *x, int64_t n, double *out)
{
    double s = 0;
    for (int64_t i = 0; i < n; i++)
        s += x[i];
    *out = s;
}

extern "C" int rr_sum_f64_cuda(const double *x, int64_t n, double *out)
{
    sum_in_order<<<1, 1, 0, rr_cuda_stream()>>>(x, n, out);
    RR_LAUNCHED();
    return 0;
}
