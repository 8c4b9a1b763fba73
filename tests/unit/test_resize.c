/* Bilinear resize in both align_corners modes. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

/* PyTorch's source coordinate of output index o, in double. */
static double src_coord(int64_t o, int64_t in, int64_t out, int ac)
{
    if (ac)
        return out > 1 ? (double)o * (in - 1) / (out - 1) : 0;
    double s = (o + 0.5) * in / out - 0.5;
    return s < 0 ? 0 : s;
}

static double *naive_bilinear(const rr_tensor *x, int64_t Ho, int64_t Wo, int ac)
{
    int64_t planes = x->shape[0] * x->shape[1], H = x->shape[2], W = x->shape[3];
    double *y = malloc((size_t)(planes * Ho * Wo) * sizeof *y);
    for (int64_t pl = 0; pl < planes; pl++)
        for (int64_t oh = 0; oh < Ho; oh++)
            for (int64_t ow = 0; ow < Wo; ow++) {
                double sh = src_coord(oh, H, Ho, ac), sw = src_coord(ow, W, Wo, ac);
                int64_t h0 = (int64_t)sh, w0 = (int64_t)sw;
                int64_t h1 = h0 + 1 < H ? h0 + 1 : H - 1, w1 = w0 + 1 < W ? w0 + 1 : W - 1;
                double a = sh - h0, b = sw - w0;
                const float *p = rr_f32(x) + pl * H * W;
                y[(pl * Ho + oh) * Wo + ow] = (1 - a) * (1 - b) * p[h0 * W + w0] +
                                              (1 - a) * b * p[h0 * W + w1] + a * (1 - b) * p[h1 * W + w0] +
                                              a * b * p[h1 * W + w1];
            }
    return y;
}

typedef struct {
    int64_t oh, ow;
    int ac;
} resize_args;

static rr_tensor *apply_resize(rr_ctx *c, rr_tensor *const *in, const void *arg)
{
    const resize_args *a = arg;
    return rr_resize_bilinear(c, in[0], a->oh, a->ow, a->ac);
}

TEST(resize_bilinear_against_formula)
{
    rr_ctx *c = test_ctx();
    /* in H, W -> out H, W: up2 (doc/network.md, Decoder), non-integer ratios both ways,
     * shrinking, and the size-1 cases. */
    static const int64_t cases[][4] = {{15, 15, 30, 30}, {13, 11, 29, 7}, {13, 11, 20, 30},
                                       {15, 15, 8, 4},   {15, 15, 1, 1},  {1, 1, 5, 3}};
    for (int ac = 0; ac < 2; ac++)
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            const char *op = ac ? "resize_bilinear_ac" : "resize_bilinear";
            resize_args a = {cases[i][2], cases[i][3], ac};
            rr_tensor *x = test_randn(c, 70 + i, RR_SHAPE(3, 7, cases[i][0], cases[i][1]));
            rr_tensor *y = rr_resize_bilinear(c, x, a.oh, a.ow, ac);
            CHECK_NOTNULL(y);
            if (!y)
                continue;
            double *want = naive_bilinear(x, a.oh, a.ow, ac);
            check_forward(op, y, want, 1e-5);
            free(want);
            x->requires_grad = 1;
            check_gradient(op, apply_resize, &a, 1, &x, 1e-2);
        }
}

TEST(resize_bilinear_hand_values)
{
    rr_ctx *c = test_ctx();
    /* align_corners: 2x2 -> 3x3 keeps the corners and fills in midpoints. */
    rr_tensor *x = rr_from_host(c, RR_F32, RR_SHAPE(1, 1, 2, 2), (float[]){0, 2, 4, 8});
    rr_tensor *y = rr_resize_bilinear(c, x, 3, 3, 1);
    static const float want_ac[9] = {0, 1, 2, 2, 3.5f, 5, 4, 6, 8};
    for (int i = 0; y && i < 9; i++)
        CHECK(rr_f32(y)[i] == want_ac[i], "align_corners y[%d] = %g, want %g", i, rr_f32(y)[i], want_ac[i]);
    /* half-pixel centres: [a, b] -> 4 gives a, .75a+.25b, .25a+.75b, b (the ends clamp). */
    rr_tensor *r = rr_from_host(c, RR_F32, RR_SHAPE(1, 1, 1, 2), (float[]){4, 8});
    rr_tensor *z = rr_resize_bilinear(c, r, 1, 4, 0);
    static const float want[4] = {4, 5, 7, 8};
    for (int i = 0; z && i < 4; i++)
        CHECK(rr_f32(z)[i] == want[i], "half-pixel z[%d] = %g, want %g", i, rr_f32(z)[i], want[i]);
    CHECK(y && z, "%s", rr_errmsg());
}

/* The second backward of the sum of both modes must add to the gradient
 * the first one left. */
static rr_tensor *apply_both_modes(rr_ctx *c, rr_tensor *const *in, const void *arg)
{
    return rr_add(c, rr_resize_bilinear(c, in[0], 9, 8, 0), rr_resize_bilinear(c, in[0], 9, 8, 1));
}

TEST(resize_bilinear_backward_accumulates)
{
    rr_ctx *c = test_ctx();
    rr_tensor *x = test_randn(c, 81, RR_SHAPE(2, 3, 5, 6));
    x->requires_grad = 1;
    check_gradient("resize_bilinear", apply_both_modes, NULL, 1, &x, 1e-2);
}

TEST(resize_bilinear_rejects_bad_input)
{
    rr_ctx *c = test_ctx();
    CHECK(rr_resize_bilinear(c, rr_zeros(c, RR_F32, RR_SHAPE(7, 15, 15)), 30, 30, 1) == NULL,
          "a 3-D input must fail");
    CHECK(strstr(rr_errmsg(), "resize_bilinear_ac"), "message: %s", rr_errmsg());
    CHECK(rr_resize_bilinear(c, rr_zeros(c, RR_F32, RR_SHAPE(1, 1, 4, 4)), 0, 3, 0) == NULL,
          "size 0 must fail");
    CHECK(strstr(rr_errmsg(), "resize_bilinear"), "message: %s", rr_errmsg());
}
