/* CUDA twins of arc.c: the rotation tables and their reduction against M
 * (the GEMMs run through rr_sgemm). One thread per (sample, kernel) pair. */
#include "../cuda/common.cuh"

extern "C" {
#include "arc.h"
}

__global__ static void arc_rotation_fwd(const float *theta, const float *alpha, float *R, float *dR, float *A,
                                        int64_t m)
{
    RR_GRID_STRIDE(i, m)
    {
        rr_arc_rotation(theta[i], R + i * 81, dR + i * 81);
        for (int t = 0; t < 81; t++)
            A[i * 81 + t] = alpha[i] * R[i * 81 + t];
    }
}

extern "C" int rr_arc_rotation_fwd_cuda(const float *theta, const float *alpha, float *R, float *dR, float *A,
                                        int64_t m)
{
    arc_rotation_fwd<<<rr_blocks(m), 256, 0, rr_cuda_stream()>>>(theta, alpha, R, dR, A, m);
    RR_LAUNCHED();
    return 0;
}

__global__ static void arc_rotation_bwd(const float *M, const float *R, const float *dR, const float *alpha,
                                        float *dalpha, float *dtheta, int64_t m)
{
    RR_GRID_STRIDE(i, m)
    {
        double sa = 0, st = 0;
        for (int t = 0; t < 81; t++) {
            sa += (double)R[i * 81 + t] * M[i * 81 + t];
            st += (double)dR[i * 81 + t] * M[i * 81 + t];
        }
        if (dalpha)
            dalpha[i] += (float)sa;
        if (dtheta)
            dtheta[i] += alpha[i] * (float)st;
    }
}

extern "C" int rr_arc_rotation_bwd_cuda(const float *M, const float *R, const float *dR, const float *alpha,
                                        float *dalpha, float *dtheta, int64_t m)
{
    arc_rotation_bwd<<<rr_blocks(m), 256, 0, rr_cuda_stream()>>>(M, R, dR, alpha, dalpha, dtheta, m);
    RR_LAUNCHED();
    return 0;
}
