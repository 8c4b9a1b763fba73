/* Matrix products of F32 tensors through sgemm (OpenBLAS on the CPU, cuBLAS
 * on the GPU), forward and backward, never copying an operand to transpose it. */
#ifndef RR_OPS_MATMUL_H
#define RR_OPS_MATMUL_H

#include "../ctx.h"
#include "backend.h"

/* torch.matmul(a, b) for a (..., M, K) and b (..., K, N), both at least 2-D:
 * the batch dimensions (all but the last two, up to 3) broadcast as in
 * PyTorch, giving (batch..., M, N).  A 2-D b shared by every batch of a
 * (a linear layer's weight, Swin's qkv) is one GEMM over all rows.  Empty
 * dimensions are rejected. */
rr_tensor *rr_matmul(rr_ctx *c, rr_tensor *a, rr_tensor *b);

/* op(a) @ op(b), op transposing the last two dimensions where the flag is
 * set: rr_matmul_t(c, q, k, 0, 1) is q @ k.transpose(-2, -1) without a copy. */
rr_tensor *rr_matmul_t(rr_ctx *c, rr_tensor *a, rr_tensor *b, int trans_a, int trans_b);

/* F.linear(x, w, bias): x (..., in), w (out, in) as PyTorch stores it, bias
 * (out) or NULL; gives (..., out) = x @ w^T + bias. */
rr_tensor *rr_linear(rr_ctx *c, rr_tensor *x, rr_tensor *w, rr_tensor *bias);

/* A row-major GEMM over `batch` matrix triples:
 *   C_i = alpha * op(A_i) @ op(B_i) + beta * C_i,  X_i = X + i * stride_x,
 * op(X) = X^T when trans_x; op(A_i) is m x k, op(B_i) k x n, C_i m x n, with
 * leading dimensions lda, ldb, ldc.  A stride of 0 shares an input across the
 * batch; the C_i must not overlap. */
typedef struct {
    int trans_a, trans_b;
    int64_t m, n, k;
    int64_t lda, ldb, ldc;
    int64_t stride_a, stride_b, stride_c;
    int64_t batch;
    float alpha, beta;
} rr_gemm;

RR_KERNEL(rr_sgemm, (const rr_gemm *g, const float *a, const float *b, float *c));

#endif
