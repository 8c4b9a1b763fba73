/* CUDA twin of adamw.c's kernel: the same float operations in the same
 * order, element by element (no reduction, so no ordering question). */
#include "../cuda/common.cuh"

extern "C" {
#include "adamw.h"
}

__global__ static void adamw_kernel(float *p, const float *g, float *m, float *v, int64_t n, const rr_adamw_args s)
{
    RR_GRID_STRIDE(i, n)
    {
        /* __fmul_rn/__fadd_rn: no FMA contraction, as on the CPU */
        float gi = s.gscale == 1.0f ? g[i] : __fmul_rn(g[i], s.gscale);
        float pi = __fmul_rn(p[i], s.decay);
        float mi = __fadd_rn(__fmul_rn(m[i], s.beta1), __fmul_rn(s.one_minus_beta1, gi));
        float vi = __fadd_rn(__fmul_rn(v[i], s.beta2), __fmul_rn(__fmul_rn(s.one_minus_beta2, gi), gi));
        float denom = __fadd_rn(__fdiv_rn(__fsqrt_rn(vi), s.bc2_sqrt), s.eps);
        p[i] = __fadd_rn(pi, __fdiv_rn(__fmul_rn(s.neg_step, mi), denom));
        m[i] = mi;
        v[i] = vi;
    }
}

extern "C" int rr_adamw_f32_cuda(float *p, const float *g, float *m, float *v, int64_t n, const rr_adamw_args *a)
{
    if (n == 0)
        return 0;
    adamw_kernel<<<rr_blocks(n), 256, 0, rr_cuda_stream()>>>(p, g, m, v, n, *a);
    RR_LAUNCHED();
    return 0;
}
