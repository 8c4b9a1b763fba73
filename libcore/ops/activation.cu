/* CUDA twins of activation.c (the formulas are shared through activation.h). */
#include "../cuda/common.cuh"

extern "C" {
#include "activation.h"
}

__global__ static void act_fwd(rr_act op, const float *x, float *y, int64_t n)
{
    RR_GRID_STRIDE(i, n) y[i] = rr_act_value(op, x[i]);
}

extern "C" int rr_act_fwd_cuda(rr_act op, const float *x, float *y, int64_t n)
{
    act_fwd<<<rr_blocks(n), 256, 0, rr_cuda_stream()>>>(op, x, y, n);
    RR_LAUNCHED();
    return 0;
}

__global__ static void act_bwd(rr_act op, const float *x, const float *y, const float *dy, float *dx, int64_t n)
{
    RR_GRID_STRIDE(i, n) dx[i] += dy[i] * rr_act_grad(op, x[i], y[i]);
}

extern "C" int rr_act_bwd_cuda(rr_act op, const float *x, const float *y, const float *dy, float *dx, int64_t n)
{
    act_bwd<<<rr_blocks(n), 256, 0, rr_cuda_stream()>>>(op, x, y, dy, dx, n);
    RR_LAUNCHED();
    return 0;
}
