/* CUDA twin of matmul.c's GEMM kernel (the ops themselves are device-agnostic).
 *
 * cuBLAS is column-major, and a row-major matrix read as column-major is its
 * transpose.  So the row-major C = op(A) op(B) is computed as the
 * column-major C^T = op(B)^T op(A)^T: the operands swap places, m and n swap,
 * and each keeps its own transpose flag and leading dimension. */
#include <limits.h>

#include "../cuda/common.cuh"

extern "C" {
#include "matmul.h"
}

extern "C" int rr_sgemm_cuda(const rr_gemm *g, const float *a, const float *b, float *c)
{
    if (g->m > INT_MAX || g->n > INT_MAX || g->k > INT_MAX || g->lda > INT_MAX || g->ldb > INT_MAX ||
        g->ldc > INT_MAX || g->batch > INT_MAX)
        return rr_error("sgemm: %lldx%lldx%lld (batch %lld) is too large for cuBLAS", (long long)g->m,
                        (long long)g->n, (long long)g->k, (long long)g->batch);
    cublasHandle_t h;
    if (rr_cublas_handle(&h))
        return -1;
    cublasOperation_t opa = g->trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, opb = g->trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
    if (g->batch == 1)
        RR_CUBLAS(cublasSgemm(h, opb, opa, (int)g->n, (int)g->m, (int)g->k, &g->alpha, b, (int)g->ldb, a,
                              (int)g->lda, &g->beta, c, (int)g->ldc));
    else
        RR_CUBLAS(cublasSgemmStridedBatched(h, opb, opa, (int)g->n, (int)g->m, (int)g->k, &g->alpha, b,
                                            (int)g->ldb, g->stride_b, a, (int)g->lda, g->stride_a, &g->beta, c,
                                            (int)g->ldc, g->stride_c, (int)g->batch));
    return 0;
}
