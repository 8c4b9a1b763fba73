/* arc_weight: the per-sample rotated kernels of adaptive rotated convolution. */
#include <math.h>
#include <stdlib.h>

#include "harness.h"
#include "ops/arc.h"

/* The two tables of doc/network.md, ARC as data, one row of R per line: row r, tap j,
 * and which expression of x = cos θ, y = sin θ (a = x - y, bb = x·y,
 * c = x + y) sits there. */
enum { A_, ONE_MINUS_A, X_MINUS_BB, BB, ONE_MINUS_C_PLUS_BB, Y_MINUS_BB, ONE, C_, ONE_MINUS_C, NEG_BB, X_PLUS_BB,
       BB_MINUS_Y, ONE_MINUS_A_MINUS_BB };
static const int pos_table[25][3] = {
    {0, 0, A_}, {0, 1, ONE_MINUS_A},
    {1, 1, X_MINUS_BB}, {1, 2, BB}, {1, 4, ONE_MINUS_C_PLUS_BB}, {1, 5, Y_MINUS_BB},
    {2, 2, A_}, {2, 5, ONE_MINUS_A},
    {3, 0, BB}, {3, 1, Y_MINUS_BB}, {3, 3, X_MINUS_BB}, {3, 4, ONE_MINUS_C_PLUS_BB},
    {4, 4, ONE},
    {5, 4, ONE_MINUS_C_PLUS_BB}, {5, 5, X_MINUS_BB}, {5, 7, Y_MINUS_BB}, {5, 8, BB},
    {6, 3, ONE_MINUS_A}, {6, 6, A_},
    {7, 3, Y_MINUS_BB}, {7, 4, ONE_MINUS_C_PLUS_BB}, {7, 6, BB}, {7, 7, X_MINUS_BB},
    {8, 7, ONE_MINUS_A}, {8, 8, A_},
};
static const int neg_table[25][3] = {
    {0, 0, C_}, {0, 3, ONE_MINUS_C},
    {1, 0, NEG_BB}, {1, 1, X_PLUS_BB}, {1, 3, BB_MINUS_Y}, {1, 4, ONE_MINUS_A_MINUS_BB},
    {2, 1, ONE_MINUS_C}, {2, 2, C_},
    {3, 3, X_PLUS_BB}, {3, 4, ONE_MINUS_A_MINUS_BB}, {3, 6, NEG_BB}, {3, 7, BB_MINUS_Y},
    {4, 4, ONE},
    {5, 1, BB_MINUS_Y}, {5, 2, NEG_BB}, {5, 4, ONE_MINUS_A_MINUS_BB}, {5, 5, X_PLUS_BB},
    {6, 6, C_}, {6, 7, ONE_MINUS_C},
    {7, 4, ONE_MINUS_A_MINUS_BB}, {7, 5, BB_MINUS_Y}, {7, 7, X_PLUS_BB}, {7, 8, NEG_BB},
    {8, 5, ONE_MINUS_C}, {8, 8, C_},
};

static void naive_rotation(double t, double R[81])
{
    double x = cos(t), y = sin(t), a = x - y, bb = x * y, c = x + y;
    double v[] = {a, 1 - a, x - bb, bb, 1 - c + bb, y - bb, 1, c, 1 - c, -bb, x + bb, bb - y, 1 - a - bb};
    for (int i = 0; i < 81; i++)
        R[i] = 0;
    const int(*tab)[3] = t >= 0 ? pos_table : neg_table;
    for (int e = 0; e < 25; e++)
        R[tab[e][0] * 9 + tab[e][1]] = v[tab[e][2]];
}

static rr_tensor *apply_arc(rr_ctx *c, rr_tensor *const *in, const void *arg)
{
    return rr_arc_weight(c, in[0], in[1], in[2]);
}

TEST(arc_weight_op)
{
    rr_ctx *c = test_ctx();
    const int64_t B = 3, cout = 2, cin = 3;
    for (int64_t nk = 1; nk <= 2; nk++) {
        rr_tensor *w = test_randn(c, 10 + nk, RR_SHAPE(nk, cout, cin, 3, 3));
        rr_tensor *alpha = test_uniform(c, 20 + nk, 0.2f, 0.9f, RR_SHAPE(B, nk));
        rr_tensor *theta = test_uniform(c, 30 + nk, 0.1f, 0.6f, RR_SHAPE(B, nk));
        for (int64_t i = 0; i < B * nk; i += 2) /* both tables, every angle >= 0.1 away from the switch */
            rr_f32(theta)[i] = -rr_f32(theta)[i];
        rr_tensor *out = rr_arc_weight(c, w, alpha, theta);
        CHECK_NOTNULL(out);
        if (!out)
            continue;
        CHECK(out->ndim == 4 && out->shape[0] == B * cout && out->shape[1] == cin && out->shape[2] == 3 &&
                  out->shape[3] == 3,
              "shape");
        double *want = calloc((size_t)out->numel, sizeof *want), R[81];
        for (int64_t b = 0; b < B; b++)
            for (int64_t k = 0; k < nk; k++) {
                naive_rotation(rr_f32(theta)[b * nk + k], R);
                double al = rr_f32(alpha)[b * nk + k];
                for (int64_t q = 0; q < cout * cin; q++)
                    for (int r = 0; r < 9; r++)
                        for (int j = 0; j < 9; j++)
                            want[(b * cout * cin + q) * 9 + r] +=
                                al * R[r * 9 + j] * rr_f32(w)[(k * cout * cin + q) * 9 + j];
            }
        check_forward("arc_weight", out, want, 1e-6);
        free(want);
        w->requires_grad = alpha->requires_grad = theta->requires_grad = 1;
        check_gradient("arc_weight", apply_arc, NULL, 3, (rr_tensor *[]){w, alpha, theta}, 1e-2);
    }
}

/* θ = 0 takes the θ >= 0 table, which is then the identity: W_b = α_b·W. */
TEST(arc_weight_zero_angle_is_identity)
{
    rr_ctx *c = test_ctx();
    rr_tensor *w = test_randn(c, 3, RR_SHAPE(1, 2, 2, 3, 3));
    rr_tensor *alpha = rr_from_host(c, RR_F32, RR_SHAPE(2, 1), (float[]){0.5f, 2.0f});
    rr_tensor *theta = rr_zeros(c, RR_F32, RR_SHAPE(2, 1));
    rr_tensor *out = rr_arc_weight(c, w, alpha, theta);
    CHECK_NOTNULL(out);
    if (!out)
        return;
    for (int64_t i = 0; i < out->numel; i++) {
        float want = rr_f32(w)[i % w->numel] * (i < w->numel ? 0.5f : 2.0f);
        CHECK(rr_f32(out)[i] == want, "element %lld: %g, want %g", (long long)i, rr_f32(out)[i], want);
    }
}

TEST(arc_weight_rejects_bad_shapes)
{
    rr_ctx *c = test_ctx();
    rr_tensor *w = rr_zeros(c, RR_F32, RR_SHAPE(2, 2, 2, 3, 3));
    rr_tensor *a = rr_zeros(c, RR_F32, RR_SHAPE(3, 1));
    CHECK(rr_arc_weight(c, w, a, a) == NULL, "2 kernels, alpha with 1 must fail");
    rr_tensor *w5 = rr_zeros(c, RR_F32, RR_SHAPE(1, 2, 2, 5, 5));
    CHECK(rr_arc_weight(c, w5, a, a) == NULL, "a 5x5 kernel must fail");
}
