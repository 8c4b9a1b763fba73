/* CUDA twins of reduce.c.  Sums are deterministic: each output is summed by
 * one thread in order, or by one block in a fixed tree, never with atomics. */
#include "../cuda/common.cuh"

extern "C" {
#include "reduce.h"
}

/* Input offset of output o's first element (kept dims, innermost last). */
__device__ static inline int64_t kept_offset(const rr_reduce &r, int64_t o)
{
    int64_t off = 0;
    for (int d = r.nk - 1; d >= 0; d--) {
        off += o % r.kshape[d] * r.kstride[d];
        o /= r.kshape[d];
    }
    return off;
}

/* Offset of the i-th reduced element from its output's first element. */
__device__ static inline int64_t reduced_offset(const rr_reduce &r, int64_t i)
{
    int64_t off = 0;
    for (int d = r.nr - 1; d >= 0; d--) {
        off += i % r.rshape[d] * r.rstride[d];
        i /= r.rshape[d];
    }
    return off;
}

/* Many outputs: one thread each, summing in order. */
__global__ static void sum_per_thread(const float *x, float *y, const rr_reduce r, float scale, int accumulate)
{
    RR_GRID_STRIDE(o, r.nout)
    {
        const float *p = x + kept_offset(r, o);
        double acc = 0;
        for (int64_t i = 0; i < r.nred; i++)
            acc += p[reduced_offset(r, i)];
        y[o] = (float)(acc * scale) + (accumulate ? y[o] : 0.0f);
    }
}

enum { THREADS = 256 };

/* Few outputs with many elements each: one block per output, each thread
 * summing a fixed stride of elements, then a tree in shared memory. */
__global__ static void sum_per_block(const float *x, float *y, const rr_reduce r, float scale, int accumulate)
{
    __shared__ double part[THREADS];
    for (int64_t o = blockIdx.x; o < r.nout; o += gridDim.x) {
        const float *p = x + kept_offset(r, o);
        double acc = 0;
        for (int64_t i = threadIdx.x; i < r.nred; i += THREADS)
            acc += p[reduced_offset(r, i)];
        part[threadIdx.x] = acc;
        __syncthreads();
        for (int s = THREADS / 2; s > 0; s >>= 1) {
            if (threadIdx.x < s)
                part[threadIdx.x] += part[threadIdx.x + s];
            __syncthreads();
        }
        if (threadIdx.x == 0)
            y[o] = (float)(part[0] * scale) + (accumulate ? y[o] : 0.0f);
        __syncthreads(); /* part is reused by the next output */
    }
}

extern "C" int rr_reduce_sum_cuda(const float *x, float *y, const rr_reduce *r, float scale, int accumulate)
{
    if (r->nout == 0)
        return 0;
    if (r->nout >= 4096 || r->nred <= 512)
        sum_per_thread<<<rr_blocks(r->nout), 256, 0, rr_cuda_stream()>>>(x, y, *r, scale, accumulate);
    else
        sum_per_block<<<(unsigned)(r->nout < 65535 ? r->nout : 65535), THREADS, 0, rr_cuda_stream()>>>(
            x, y, *r, scale, accumulate);
    RR_LAUNCHED();
    return 0;
}

/* One thread per input element: its output index from its kept coordinates. */
__global__ static void expand(const float *y, float *x, const rr_reduce r, float scale, int accumulate)
{
    RR_GRID_STRIDE(i, r.nout * r.nred)
    {
        int64_t o = 0;
        for (int d = 0; d < r.nk; d++)
            o = o * r.kshape[d] + i / r.kstride[d] % r.kshape[d];
        x[i] = y[o] * scale + (accumulate ? x[i] : 0.0f);
    }
}

extern "C" int rr_reduce_expand_cuda(const float *y, float *x, const rr_reduce *r, float scale, int accumulate)
{
    int64_t n = r->nout * r->nred;
    if (n == 0)
        return 0;
    expand<<<rr_blocks(n), 256, 0, rr_cuda_stream()>>>(y, x, *r, scale, accumulate);
    RR_LAUNCHED();
    return 0;
}
