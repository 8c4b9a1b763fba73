/* The per-sample kernels of adaptive rotated convolution (RMSIN's ARC, the
 * decoder's conv2_k; doc/network.md, ARC).
 *
 * rr_arc_weight(c, weight, alpha, theta): weight (n, cout, cin, 3, 3), alpha
 * and theta (B, n) -> (B*cout, cin, 3, 3) with
 *   out[b*cout + o, i, r] = sum_k alpha[b,k] sum_j R(theta[b,k])[r,j] weight[k, o, i, j],
 * r and j the nine taps in raster order: the weight of the grouped
 * convolution (groups = B) that applies each sample's rotated kernel, as the
 * reference's AdaptiveRotatedConv2d builds it.  Gradients reach all three
 * inputs; theta's goes through dR/dθ of the table that was taken.
 * Op name "arc_weight". */
#ifndef RR_OPS_ARC_H
#define RR_OPS_ARC_H

#include <math.h>

#include "../ctx.h"
#include "../rng.h" /* RR_HD */
#include "backend.h"

rr_tensor *rr_arc_weight(rr_ctx *c, rr_tensor *weight, rr_tensor *alpha, rr_tensor *theta);

/* R(θ) (9 x 9, row-major [r][j]) of the reference's rotation_matrix: the
 * θ >= 0 table or the θ < 0 table of doc/network.md, ARC, with x = cos θ, y = sin θ,
 * a = x - y, bb = x·y, c = x + y; and dR/dθ of the same table
 * (x' = -y, y' = x, so a' = -c, bb' = x² - y², c' = a). */
static inline RR_HD void rr_arc_rotation(float theta, float *R, float *dR)
{
    float x = cosf(theta), y = sinf(theta), a = x - y, bb = x * y, c = x + y, dbb = x * x - y * y;
    for (int i = 0; i < 81; i++)
        R[i] = dR[i] = 0;
#define RR_ARC_SET(r, j, v, dv) (R[(r) * 9 + (j)] = (v), dR[(r) * 9 + (j)] = (dv))
    RR_ARC_SET(4, 4, 1, 0);
    if (theta >= 0) {
        RR_ARC_SET(0, 0, a, -c), RR_ARC_SET(0, 1, 1 - a, c);
        RR_ARC_SET(1, 1, x - bb, -y - dbb), RR_ARC_SET(1, 2, bb, dbb);
        RR_ARC_SET(1, 4, 1 - c + bb, -a + dbb), RR_ARC_SET(1, 5, y - bb, x - dbb);
        RR_ARC_SET(2, 2, a, -c), RR_ARC_SET(2, 5, 1 - a, c);
        RR_ARC_SET(3, 0, bb, dbb), RR_ARC_SET(3, 1, y - bb, x - dbb);
        RR_ARC_SET(3, 3, x - bb, -y - dbb), RR_ARC_SET(3, 4, 1 - c + bb, -a + dbb);
        RR_ARC_SET(5, 4, 1 - c + bb, -a + dbb), RR_ARC_SET(5, 5, x - bb, -y - dbb);
        RR_ARC_SET(5, 7, y - bb, x - dbb), RR_ARC_SET(5, 8, bb, dbb);
        RR_ARC_SET(6, 3, 1 - a, c), RR_ARC_SET(6, 6, a, -c);
        RR_ARC_SET(7, 3, y - bb, x - dbb), RR_ARC_SET(7, 4, 1 - c + bb, -a + dbb);
        RR_ARC_SET(7, 6, bb, dbb), RR_ARC_SET(7, 7, x - bb, -y - dbb);
        RR_ARC_SET(8, 7, 1 - a, c), RR_ARC_SET(8, 8, a, -c);
    } else {
        RR_ARC_SET(0, 0, c, a), RR_ARC_SET(0, 3, 1 - c, -a);
        RR_ARC_SET(1, 0, -bb, -dbb), RR_ARC_SET(1, 1, x + bb, -y + dbb);
        RR_ARC_SET(1, 3, bb - y, dbb - x), RR_ARC_SET(1, 4, 1 - a - bb, c - dbb);
        RR_ARC_SET(2, 1, 1 - c, -a), RR_ARC_SET(2, 2, c, a);
        RR_ARC_SET(3, 3, x + bb, -y + dbb), RR_ARC_SET(3, 4, 1 - a - bb, c - dbb);
        RR_ARC_SET(3, 6, -bb, -dbb), RR_ARC_SET(3, 7, bb - y, dbb - x);
        RR_ARC_SET(5, 1, bb - y, dbb - x), RR_ARC_SET(5, 2, -bb, -dbb);
        RR_ARC_SET(5, 4, 1 - a - bb, c - dbb), RR_ARC_SET(5, 5, x + bb, -y + dbb);
        RR_ARC_SET(6, 6, c, a), RR_ARC_SET(6, 7, 1 - c, -a);
        RR_ARC_SET(7, 4, 1 - a - bb, c - dbb), RR_ARC_SET(7, 5, bb - y, dbb - x);
        RR_ARC_SET(7, 7, x + bb, -y + dbb), RR_ARC_SET(7, 8, -bb, -dbb);
        RR_ARC_SET(8, 5, 1 - c, -a), RR_ARC_SET(8, 8, c, a);
    }
#undef RR_ARC_SET
}

/* For each of m = B·n (sample, kernel) pairs: R and dR/dθ of theta[i]
 * (rr_arc_rotation), and A = alpha[i]·R, each m x 81 floats. */
RR_KERNEL(rr_arc_rotation_fwd, (const float *theta, const float *alpha, float *R, float *dR, float *A, int64_t m));
/* From M[i] = sum_q dout[b,q,:]ᵀ weight[k,q,:] (9 x 9 per pair i = (b, k)):
 * dalpha[i] += <R[i], M[i]> and dtheta[i] += alpha[i]·<dR[i], M[i]>; either
 * output may be NULL. */
RR_KERNEL(rr_arc_rotation_bwd, (const float *M, const float *R, const float *dR, const float *alpha, float *dalpha,
                                float *dtheta, int64_t m));

#endif
