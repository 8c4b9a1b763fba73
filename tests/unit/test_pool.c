/* avg_pool2d, adaptive_avg_pool2d and the 3x3 mean filter of CSR. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

/* Averages x's plane pl over rows [h0, h1) x columns [w0, w1), divided by div. */
static double window_mean(const rr_tensor *x, int64_t pl, int64_t h0, int64_t h1, int64_t w0, int64_t w1,
                          double div)
{
    int64_t H = x->shape[2], W = x->shape[3];
    double s = 0;
    for (int64_t h = h0; h < h1; h++)
        for (int64_t w = w0; w < w1; w++)
            s += rr_f32(x)[(pl * H + h) * W + w];
    return s / div;
}

/* torch.nn.AvgPool2d written out: the window in padded coordinates, clipped. */
static double *naive_avg_pool(const rr_tensor *x, int k, int s, int p, int cip, int64_t *Ho, int64_t *Wo)
{
    int64_t planes = x->shape[0] * x->shape[1], H = x->shape[2], W = x->shape[3];
    *Ho = (H + 2 * p - k) / s + 1;
    *Wo = (W + 2 * p - k) / s + 1;
    double *y = malloc((size_t)(planes * *Ho * *Wo) * sizeof *y);
    for (int64_t pl = 0; pl < planes; pl++)
        for (int64_t oh = 0; oh < *Ho; oh++)
            for (int64_t ow = 0; ow < *Wo; ow++) {
                int64_t h0 = oh * s - p, w0 = ow * s - p, h1 = h0 + k, w1 = w0 + k, n = 0;
                int64_t ch0 = h0 < 0 ? 0 : h0, cw0 = w0 < 0 ? 0 : w0, ch1 = h1 > H ? H : h1,
                        cw1 = w1 > W ? W : w1;
                for (int64_t h = ch0; h < ch1; h++)
                    n += cw1 - cw0;
                y[(pl * *Ho + oh) * *Wo + ow] = window_mean(x, pl, ch0, ch1, cw0, cw1, cip ? k * k : n);
            }
    return y;
}

typedef struct {
    int k, s, p, cip;
} pool_args;

static rr_tensor *apply_avg_pool(rr_ctx *c, rr_tensor *const *in, const void *arg)
{
    const pool_args *a = arg;
    return rr_avg_pool2d(c, in[0], a->k, a->s, a->p, a->cip);
}

TEST(avg_pool2d_against_direct_loops)
{
    rr_ctx *c = test_ctx();
    static const pool_args args[] = {{3, 2, 1, 1}, {3, 2, 1, 0}, {4, 4, 0, 1}, {2, 1, 1, 0}, {5, 3, 2, 1}};
    static const int64_t sizes[][2] = {{15, 15}, {13, 11}};
    for (size_t i = 0; i < sizeof args / sizeof args[0]; i++)
        for (int j = 0; j < 2; j++) {
            rr_tensor *x = test_randn(c, 10 * i + j, RR_SHAPE(3, 7, sizes[j][0], sizes[j][1]));
            rr_tensor *y = rr_avg_pool2d(c, x, args[i].k, args[i].s, args[i].p, args[i].cip);
            CHECK_NOTNULL(y);
            if (!y)
                continue;
            int64_t Ho, Wo;
            double *want = naive_avg_pool(x, args[i].k, args[i].s, args[i].p, args[i].cip, &Ho, &Wo);
            CHECK(y->shape[2] == Ho && y->shape[3] == Wo, "avg_pool2d output %lldx%lld, want %lldx%lld",
                  (long long)y->shape[2], (long long)y->shape[3], (long long)Ho, (long long)Wo);
            check_forward("avg_pool2d", y, want, 1e-5);
            free(want);
            x->requires_grad = 1;
            check_gradient("avg_pool2d", apply_avg_pool, &args[i], 1, &x, 1e-2);
        }
}

/* Bins [floor(i*H/oh), ceil((i+1)*H/oh)) computed in floating point. */
static double *naive_adaptive(const rr_tensor *x, int64_t oh, int64_t ow)
{
    int64_t planes = x->shape[0] * x->shape[1], H = x->shape[2], W = x->shape[3];
    double *y = malloc((size_t)(planes * oh * ow) * sizeof *y);
    for (int64_t pl = 0; pl < planes; pl++)
        for (int64_t i = 0; i < oh; i++)
            for (int64_t j = 0; j < ow; j++) {
                int64_t h0 = (int64_t)floor((double)i * H / oh), h1 = (int64_t)ceil((double)(i + 1) * H / oh);
                int64_t w0 = (int64_t)floor((double)j * W / ow), w1 = (int64_t)ceil((double)(j + 1) * W / ow);
                y[(pl * oh + i) * ow + j] =
                    window_mean(x, pl, h0, h1, w0, w1, (double)((h1 - h0) * (w1 - w0)));
            }
    return y;
}

static rr_tensor *apply_adaptive(rr_ctx *c, rr_tensor *const *in, const void *arg)
{
    const int64_t *o = arg;
    return rr_adaptive_avg_pool2d(c, in[0], o[0], o[1]);
}

TEST(adaptive_avg_pool2d_against_direct_loops)
{
    rr_ctx *c = test_ctx();
    /* PSR's pyramid 15 -> 8, 4 (doc/network.md, PSR), identity, global, uneven, and upsampling bins. */
    static const int64_t cases[][4] = {{15, 15, 8, 8}, {15, 15, 4, 4}, {15, 15, 15, 15},
                                       {13, 11, 1, 1}, {13, 11, 7, 5}, {5, 4, 7, 9}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rr_tensor *x = test_randn(c, 40 + i, RR_SHAPE(3, 7, cases[i][0], cases[i][1]));
        rr_tensor *y = rr_adaptive_avg_pool2d(c, x, cases[i][2], cases[i][3]);
        CHECK_NOTNULL(y);
        if (!y)
            continue;
        double *want = naive_adaptive(x, cases[i][2], cases[i][3]);
        check_forward("adaptive_avg_pool2d", y, want, 1e-5);
        free(want);
        x->requires_grad = 1;
        check_gradient("adaptive_avg_pool2d", apply_adaptive, &cases[i][2], 1, &x, 1e-2);
    }
    /* 15 -> 8: bin 1 is rows 1..3 (floor(15/8) = 1, ceil(30/8) = 4). */
    rr_tensor *x = rr_zeros(c, RR_F32, RR_SHAPE(1, 1, 15, 1));
    for (int h = 0; h < 15; h++)
        rr_f32(x)[h] = (float)h;
    rr_tensor *y = rr_adaptive_avg_pool2d(c, x, 8, 1);
    CHECK(y && rr_f32(y)[1] == 2.0f && rr_f32(y)[7] == 13.5f, "15 -> 8 bins: %g %g", y ? rr_f32(y)[1] : 0,
          y ? rr_f32(y)[7] : 0);
}

static rr_tensor *apply_mean3(rr_ctx *c, rr_tensor *const *in, const void *arg)
{
    return rr_mean_filter3(c, in[0]);
}

TEST(mean_filter3_is_the_neighbourhood_mean)
{
    rr_ctx *c = test_ctx();
    static const int64_t sizes[][2] = {{15, 15}, {13, 11}};
    for (int j = 0; j < 2; j++) {
        rr_tensor *x = test_randn(c, 60 + j, RR_SHAPE(3, 7, sizes[j][0], sizes[j][1]));
        rr_tensor *y = rr_mean_filter3(c, x);
        CHECK_NOTNULL(y);
        if (!y)
            continue;
        /* CSR's row-normalised 3x3 adjacency with self-loops, applied directly (doc/network.md, CSR). */
        int64_t H = sizes[j][0], W = sizes[j][1];
        double *want = malloc((size_t)x->numel * sizeof *want);
        for (int64_t pl = 0; pl < 21; pl++)
            for (int64_t h = 0; h < H; h++)
                for (int64_t w = 0; w < W; w++) {
                    double s = 0;
                    int n = 0;
                    for (int dh = -1; dh <= 1; dh++)
                        for (int dw = -1; dw <= 1; dw++)
                            if (h + dh >= 0 && h + dh < H && w + dw >= 0 && w + dw < W) {
                                s += rr_f32(x)[(pl * H + h + dh) * W + w + dw];
                                n++;
                            }
                    want[(pl * H + h) * W + w] = s / n;
                }
        check_forward("mean_filter3", y, want, 1e-5);
        free(want);
        x->requires_grad = 1;
        check_gradient("mean_filter3", apply_mean3, NULL, 1, &x, 1e-2);
    }
    /* A unit impulse at a corner: weights 1/4 at the corner, 1/6 on the edge, 1/9 inside. */
    rr_tensor *x = rr_zeros(c, RR_F32, RR_SHAPE(1, 1, 4, 4));
    rr_f32(x)[0] = 1;
    rr_tensor *y = rr_mean_filter3(c, x);
    CHECK(y && fabsf(rr_f32(y)[0] - 0.25f) < 1e-7f && fabsf(rr_f32(y)[1] - 1 / 6.0f) < 1e-7f &&
              fabsf(rr_f32(y)[5] - 1 / 9.0f) < 1e-7f && rr_f32(y)[2] == 0,
          "impulse response %g %g %g %g", y ? rr_f32(y)[0] : 0, y ? rr_f32(y)[1] : 0, y ? rr_f32(y)[5] : 0,
          y ? rr_f32(y)[2] : 0);
}

/* The second backward of mean_filter3(x) + adaptive_avg_pool2d(x) must add
 * to the gradient the first one left. */
static rr_tensor *apply_two_pools(rr_ctx *c, rr_tensor *const *in, const void *arg)
{
    return rr_add(c, rr_mean_filter3(c, in[0]), rr_adaptive_avg_pool2d(c, in[0], 7, 5));
}

TEST(pool_backward_accumulates)
{
    rr_ctx *c = test_ctx();
    rr_tensor *x = test_randn(c, 80, RR_SHAPE(2, 3, 7, 5));
    x->requires_grad = 1;
    check_gradient("mean_filter3", apply_two_pools, NULL, 1, &x, 1e-2);
}

TEST(pool_rejects_bad_arguments)
{
    rr_ctx *c = test_ctx();
    rr_tensor *x = rr_zeros(c, RR_F32, RR_SHAPE(3, 7, 15, 15));
    CHECK(rr_avg_pool2d(c, x, 3, 1, 2, 0) == NULL, "padding 2 > 3/2 must fail");
    CHECK(strstr(rr_errmsg(), "avg_pool2d") && strstr(rr_errmsg(), "padding"), "message: %s", rr_errmsg());
    CHECK(rr_mean_filter3(c, rr_zeros(c, RR_F32, RR_SHAPE(7, 15, 15))) == NULL, "a 3-D input must fail");
    CHECK(strstr(rr_errmsg(), "mean_filter3"), "message: %s", rr_errmsg());
    CHECK(rr_adaptive_avg_pool2d(c, x, 0, 4) == NULL, "an empty output must fail");
    CHECK(strstr(rr_errmsg(), "adaptive_avg_pool2d"), "message: %s", rr_errmsg());
}
