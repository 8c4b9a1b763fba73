/* CUDA twins of binary.c: broadcasting add/sub/mul/div and scale. */
#include "../cuda/common.cuh"

extern "C" {
#include "binary.h"
}

__device__ static inline void offsets(const rr_bcast bc, int64_t i, int64_t *oa, int64_t *ob)
{
    int64_t ka = 0, kb = 0;
    for (int d = bc.ndim - 1; d >= 0; d--) {
        int64_t q = i % bc.shape[d];
        i /= bc.shape[d];
        ka += q * bc.astride[d];
        kb += q * bc.bstride[d];
    }
    *oa = ka;
    *ob = kb;
}

__global__ static void binary_fwd(rr_binop op, const float *a, const float *b, float *out, const rr_bcast bc)
{
    RR_GRID_STRIDE(i, bc.numel)
    {
        int64_t oa, ob;
        offsets(bc, i, &oa, &ob);
        float x = a[oa], y = b[ob];
        out[i] = op == RR_ADD ? x + y : op == RR_SUB ? x - y : op == RR_MUL ? x * y : x / y;
    }
}

extern "C" int rr_binary_fwd_cuda(rr_binop op, const float *a, const float *b, float *out, const rr_bcast *bc)
{
    binary_fwd<<<rr_blocks(bc->numel), 256, 0, rr_cuda_stream()>>>(op, a, b, out, *bc);
    RR_LAUNCHED();
    return 0;
}

/* The gradient of one input: one thread per input element sums, in a fixed
 * order, the output elements it was broadcast to (deterministic, no atomics). */
__global__ static void binary_bwd_input(rr_binop op, const float *a, const float *b, const float *dout,
                                        float *dx, int which, const rr_bcast bc, int64_t nx)
{
    const int64_t *stride = which == 0 ? bc.astride : bc.bstride;
    RR_GRID_STRIDE(j, nx)
    {
        /* Output coordinates of element j along the non-broadcast dims;
         * iterate over all combinations of the broadcast dims. */
        int64_t fixed[RR_MAXDIM], nbroad = 1, rem = j;
        for (int d = 0; d < bc.ndim; d++)
            fixed[d] = 0;
        for (int d = 0; d < bc.ndim; d++)
            if (stride[d]) {
                fixed[d] = rem / stride[d];
                rem %= stride[d];
            } else {
                nbroad *= bc.shape[d];
            }
        float acc = 0;
        for (int64_t k = 0; k < nbroad; k++) {
            int64_t r = k, i = 0, mul = 1;
            for (int d = bc.ndim - 1; d >= 0; d--) {
                int64_t q = fixed[d];
                if (!stride[d]) {
                    q = r % bc.shape[d];
                    r /= bc.shape[d];
                }
                i += q * mul;
                mul *= bc.shape[d];
            }
            int64_t oa, ob;
            offsets(bc, i, &oa, &ob);
            float x = a[oa], y = b[ob], p;
            if (which == 0)
                p = op == RR_MUL ? y : op == RR_DIV ? 1 / y : 1;
            else
                p = op == RR_ADD ? 1 : op == RR_SUB ? -1 : op == RR_MUL ? x : -x / (y * y);
            acc += dout[i] * p;
        }
        dx[j] += acc;
    }
}

static int64_t input_numel(const rr_bcast *bc, const int64_t *stride)
{
    int64_t n = 1;
    for (int d = 0; d < bc->ndim; d++)
        if (stride[d])
            n *= bc->shape[d];
    return n;
}

extern "C" int rr_binary_bwd_cuda(rr_binop op, const float *a, const float *b, const float *dout, float *da,
                                  float *db, const rr_bcast *bc)
{
    if (da) {
        int64_t n = input_numel(bc, bc->astride);
        binary_bwd_input<<<rr_blocks(n), 256, 0, rr_cuda_stream()>>>(op, a, b, dout, da, 0, *bc, n);
        RR_LAUNCHED();
    }
    if (db) {
        int64_t n = input_numel(bc, bc->bstride);
        binary_bwd_input<<<rr_blocks(n), 256, 0, rr_cuda_stream()>>>(op, a, b, dout, db, 1, *bc, n);
        RR_LAUNCHED();
    }
    return 0;
}

__global__ static void scale_kernel(const float *x, float *y, int64_t n, float s, int accumulate)
{
    RR_GRID_STRIDE(i, n) y[i] = accumulate ? y[i] + x[i] * s : x[i] * s;
}

extern "C" int rr_scale_f32_cuda(const float *x, float *y, int64_t n, float s, int accumulate)
{
    scale_kernel<<<rr_blocks(n), 256, 0, rr_cuda_stream()>>>(x, y, n, s, accumulate);
    RR_LAUNCHED();
    return 0;
}
