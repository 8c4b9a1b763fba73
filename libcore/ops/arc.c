#include "arc.h"

#include "../tape.h"
#include "check.h"
#include "matmul.h"

int rr_arc_rotation_fwd_cpu(const float *theta, const float *alpha, float *R, float *dR, float *A, int64_t m)
{
    for (int64_t i = 0; i < m; i++) {
        rr_arc_rotation(theta[i], R + i * 81, dR + i * 81);
        for (int t = 0; t < 81; t++)
            A[i * 81 + t] = alpha[i] * R[i * 81 + t];
    }
    return 0;
}

int rr_arc_rotation_bwd_cpu(const float *M, const float *R, const float *dR, const float *alpha, float *dalpha,
                            float *dtheta, int64_t m)
{
    for (int64_t i = 0; i < m; i++) {
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
    return 0;
}

/* The GEMMs of one (B, n, p = cout·cin) problem.  Row-major views: weight
 * (n, p, 9), out (B, p, 9) and A, R, dR, M (B, n, 9, 9) [r][j]. */
typedef struct {
    int64_t B, n, p;
    rr_tensor *R, *dR, *A; /* saved for the backward */
} arc_saved;

static rr_gemm arc_gemm(int ta, int tb, int64_t m, int64_t k, float beta, int64_t batch, int64_t sa, int64_t sb,
                        int64_t sc)
{
    return (rr_gemm){.trans_a = ta, .trans_b = tb, .m = m, .n = 9, .k = k, .lda = 9, .ldb = 9, .ldc = 9,
                     .stride_a = sa, .stride_b = sb, .stride_c = sc, .batch = batch, .alpha = 1, .beta = beta};
}

static int arc_backward(rr_ctx *c, rr_node *n)
{
    arc_saved *s = n->saved;
    rr_tensor *w = n->in[0], *alpha = n->in[1], *g[3] = {NULL, NULL, NULL};
    for (int i = 0; i < 3; i++)
        if (n->in[i]->requires_grad && !(g[i] = rr_grad_of(c, n->in[i])))
            return -1;
    const float *dout = rr_f32(n->out->grad), *wp = rr_f32(w);
    int64_t B = s->B, nk = s->n, p = s->p;
    rr_device d = w->device;
    if (g[0]) /* dW[k] (p x 9) += sum_b dout[b] (p x 9) · A[b,k] (9 x 9), a batch over k per b */
        for (int64_t b = 0; b < B; b++) {
            rr_gemm gm = arc_gemm(0, 0, p, 9, 1, nk, 0, 81, p * 9);
            if (RR_BACKEND(d, rr_sgemm, &gm, dout + b * p * 9, rr_f32(s->A) + b * nk * 81, rr_f32(g[0])))
                return -1;
        }
    if (!g[1] && !g[2])
        return 0;
    /* M[b,k] = dout[b]ᵀ (9 x p) · W[k] (p x 9), a batch over b per k. */
    rr_tensor *M = rr_new(c, RR_F32, RR_SHAPE(B, nk, 81));
    if (!M)
        return -1;
    for (int64_t k = 0; k < nk; k++) {
        rr_gemm gm = arc_gemm(1, 0, 9, p, 0, B, p * 9, 0, nk * 81);
        if (RR_BACKEND(d, rr_sgemm, &gm, dout, wp + k * p * 9, rr_f32(M) + k * 81))
            return -1;
    }
    return RR_BACKEND(d, rr_arc_rotation_bwd, rr_f32(M), rr_f32(s->R), rr_f32(s->dR), rr_f32(alpha),
                      g[1] ? rr_f32(g[1]) : NULL, g[2] ? rr_f32(g[2]) : NULL, B * nk);
}

rr_tensor *rr_arc_weight(rr_ctx *c, rr_tensor *weight, rr_tensor *alpha, rr_tensor *theta)
{
    const char *op = "arc_weight";
    if (rr_check_f32(op, weight) || rr_check_f32(op, alpha) || rr_check_f32(op, theta) ||
        rr_check_same_device(op, weight, alpha) || rr_check_same_device(op, weight, theta) ||
        rr_check_ndim(op, weight, 5) || rr_check_ndim(op, alpha, 2) || rr_check_same_shape(op, alpha, theta))
        return NULL;
    int64_t nk = weight->shape[0], cout = weight->shape[1], cin = weight->shape[2], B = alpha->shape[0];
    if (weight->shape[3] != 3 || weight->shape[4] != 3 || alpha->shape[1] != nk) {
        char s1[64], s2[64];
        rr_error("%s: weight %s must be (n, cout, cin, 3, 3) and alpha, theta %s (B, n)", op,
                 rr_shape_str(weight, s1, sizeof s1), rr_shape_str(alpha, s2, sizeof s2));
        return NULL;
    }
    arc_saved s = {B, nk, cout * cin, rr_new(c, RR_F32, RR_SHAPE(B, nk, 81)), rr_new(c, RR_F32, RR_SHAPE(B, nk, 81)),
                   rr_new(c, RR_F32, RR_SHAPE(B, nk, 81))};
    rr_tensor *out = rr_new(c, RR_F32, RR_SHAPE(B * cout, cin, 3, 3));
    if (!out || !s.R || !s.dR || !s.A ||
        RR_BACKEND(weight->device, rr_arc_rotation_fwd, rr_f32(theta), rr_f32(alpha), rr_f32(s.R), rr_f32(s.dR),
                   rr_f32(s.A), B * nk))
        return NULL;
    /* out[b] (p x 9) = sum_k W[k] (p x 9) · A[b,k]ᵀ, a batch over b per k. */
    for (int64_t k = 0; k < nk; k++) {
        rr_gemm gm = arc_gemm(0, 1, s.p, 9, k ? 1 : 0, B, 0, nk * 81, s.p * 9);
        if (RR_BACKEND(weight->device, rr_sgemm, &gm, rr_f32(weight) + k * s.p * 9, rr_f32(s.A) + k * 81,
                       rr_f32(out)))
            return NULL;
    }
    int err;
    rr_node *n = rr_tape_record(c, op, arc_backward, out, 3, (rr_tensor *[]){weight, alpha, theta}, sizeof s, &err);
    if (err)
        return NULL;
    if (n)
        *(arc_saved *)n->saved = s;
    return out;
}
