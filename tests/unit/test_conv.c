/* conv2d (plain, strided/dilated, grouped, depthwise) and conv1d (k=1). */
#include <stdlib.h>
#include <string.h>

#include "harness.h"

typedef struct {
    const char *op;
    int64_t B, Cin, H, W, Cout;
    int kh, kw;
    rr_conv2d_params p;
    int bias;
} conv_case;

/* The direct 7-loop convolution, in double. */
static double *naive_conv2d(const rr_tensor *x, const rr_tensor *w, const rr_tensor *b,
                            const rr_conv2d_params *p, int64_t Ho, int64_t Wo)
{
    int64_t B = x->shape[0], Cin = x->shape[1], H = x->shape[2], W = x->shape[3];
    int64_t Cout = w->shape[0], kh = w->shape[2], kw = w->shape[3];
    int s0 = p->stride[0] ? p->stride[0] : 1, s1 = p->stride[1] ? p->stride[1] : 1;
    int d0 = p->dilation[0] ? p->dilation[0] : 1, d1 = p->dilation[1] ? p->dilation[1] : 1;
    int groups = p->groups ? p->groups : 1;
    int64_t cin_g = Cin / groups, cout_g = Cout / groups;
    double *y = malloc((size_t)(B * Cout * Ho * Wo) * sizeof *y);
    for (int64_t n = 0; n < B; n++)
        for (int64_t co = 0; co < Cout; co++)
            for (int64_t oh = 0; oh < Ho; oh++)
                for (int64_t ow = 0; ow < Wo; ow++) {
                    double s = b ? rr_f32(b)[co] : 0;
                    int64_t gi = co / cout_g;
                    for (int64_t k = 0; k < cin_g; k++)
                        for (int64_t i = 0; i < kh; i++)
                            for (int64_t j = 0; j < kw; j++) {
                                int64_t ih = oh * s0 - p->padding[0] + i * d0,
                                        iw = ow * s1 - p->padding[1] + j * d1;
                                if (ih < 0 || ih >= H || iw < 0 || iw >= W)
                                    continue;
                                s += (double)rr_f32(w)[((co * cin_g + k) * kh + i) * kw + j] *
                                     rr_f32(x)[((n * Cin + gi * cin_g + k) * H + ih) * W + iw];
                            }
                    y[((n * Cout + co) * Ho + oh) * Wo + ow] = s;
                }
    return y;
}

static rr_tensor *apply_conv2d(rr_ctx *c, rr_tensor *const *in, const void *arg)
{
    const conv_case *k = arg;
    return rr_conv2d(c, in[0], in[1], k->bias ? in[2] : NULL, &k->p);
}

static void run_case(rr_ctx *c, const conv_case *k, uint64_t seed)
{
    rr_tensor *x = test_randn(c, seed, RR_SHAPE(k->B, k->Cin, k->H, k->W));
    int groups = k->p.groups ? k->p.groups : 1;
    rr_tensor *w = test_randn(c, seed + 1, RR_SHAPE(k->Cout, k->Cin / groups, k->kh, k->kw));
    rr_tensor *b = k->bias ? test_randn(c, seed + 2, RR_SHAPE(k->Cout)) : NULL;
    rr_tensor *y = rr_conv2d(c, x, w, b, &k->p);
    CHECK(y != NULL, "%s: %s", k->op, rr_errmsg());
    if (!y)
        return;
    double *want = naive_conv2d(x, w, b, &k->p, y->shape[2], y->shape[3]);
    check_forward(k->op, y, want, 1e-5);
    free(want);
    x->requires_grad = w->requires_grad = 1;
    if (b)
        b->requires_grad = 1;
    check_gradient(k->op, apply_conv2d, k, k->bias ? 3 : 2, (rr_tensor *[]){x, w, b}, 1e-2);
}

TEST(conv2d_against_direct_loops)
{
    rr_ctx *c = test_ctx();
    /* op, B, Cin, H, W, Cout, kh, kw, {stride, padding, dilation, groups}, bias */
    static const conv_case cases[] = {
        {"conv2d", 3, 7, 15, 15, 5, 3, 3, {{1, 1}, {1, 1}, {1, 1}, 1}, 1},
        {"conv2d", 3, 7, 13, 11, 4, 3, 3, {{1, 1}, {0, 0}, {1, 1}, 1}, 0},
        /* Swin's patch embedding (doc/network.md, Patch embedding): 4x4, stride 4; 15 is not a multiple of 4. */
        {"conv2d", 3, 3, 15, 15, 8, 4, 4, {{4, 4}, {0, 0}, {1, 1}, 1}, 1},
        {"conv2d", 3, 7, 13, 11, 5, 4, 4, {{4, 4}, {0, 0}, {1, 1}, 1}, 0},
        /* 1x1: the columns are x itself. */
        {"conv2d", 3, 7, 15, 15, 6, 1, 1, {{1, 1}, {0, 0}, {1, 1}, 1}, 1},
        {"conv2d", 3, 7, 13, 11, 5, 2, 3, {{2, 1}, {1, 0}, {1, 1}, 1}, 1},
        /* 0 stands for PyTorch's default of 1 */
        {"conv2d", 3, 7, 13, 11, 5, 3, 3, {{0, 0}, {1, 1}, {0, 0}, 0}, 0},
        {"conv2d_strided", 3, 7, 15, 15, 5, 3, 3, {{2, 2}, {1, 1}, {2, 2}, 1}, 1},
        {"conv2d_strided", 3, 7, 13, 11, 4, 3, 3, {{2, 2}, {1, 1}, {2, 2}, 1}, 0},
        {"conv2d_grouped", 3, 6, 15, 15, 9, 3, 3, {{1, 1}, {1, 1}, {1, 1}, 3}, 1},
        {"conv2d_grouped", 3, 6, 13, 11, 4, 3, 3, {{2, 2}, {0, 0}, {1, 1}, 2}, 0},
        {"conv2d_grouped", 3, 6, 13, 11, 9, 1, 1, {{1, 1}, {0, 0}, {1, 1}, 3}, 1},
        {"conv2d_depthwise", 3, 7, 15, 15, 7, 3, 3, {{1, 1}, {1, 1}, {1, 1}, 7}, 1},
        /* CIM's depthwise convs (doc/network.md, RMSIN's modules): 3x3 s2 p1 and 5x5 s3 p2; then a multiplier of 2. */
        {"conv2d_depthwise", 3, 7, 15, 15, 7, 3, 3, {{2, 2}, {1, 1}, {1, 1}, 7}, 0},
        {"conv2d_depthwise", 3, 7, 15, 15, 7, 5, 5, {{3, 3}, {2, 2}, {1, 1}, 7}, 1},
        {"conv2d_depthwise", 3, 7, 13, 11, 14, 3, 3, {{1, 1}, {2, 2}, {2, 2}, 7}, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run_case(c, &cases[i], 10 * i + 1);
}

/* conv(x, w) + conv(x, w): the second backward must add to the gradients
 * the first one left (im2col, 1x1 and direct paths). */
static rr_tensor *apply_conv2d_twice(rr_ctx *c, rr_tensor *const *in, const void *arg)
{
    return rr_add(c, apply_conv2d(c, in, arg), apply_conv2d(c, in, arg));
}

TEST(conv2d_backward_accumulates)
{
    rr_ctx *c = test_ctx();
    static const conv_case cases[] = {
        {"conv2d", 2, 6, 7, 5, 4, 3, 3, {{1, 1}, {1, 1}, {1, 1}, 2}, 1},
        {"conv2d", 2, 6, 7, 5, 4, 1, 1, {{1, 1}, {0, 0}, {1, 1}, 2}, 1},
        {"conv2d_depthwise", 2, 6, 7, 5, 6, 3, 3, {{1, 1}, {1, 1}, {1, 1}, 6}, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const conv_case *k = &cases[i];
        rr_tensor *x = test_randn(c, 90 + i, RR_SHAPE(k->B, k->Cin, k->H, k->W));
        rr_tensor *w = test_randn(c, 95 + i, RR_SHAPE(k->Cout, k->Cin / k->p.groups, k->kh, k->kw));
        rr_tensor *b = test_randn(c, 99, RR_SHAPE(k->Cout));
        x->requires_grad = w->requires_grad = b->requires_grad = 1;
        check_gradient(k->op, apply_conv2d_twice, k, 3, (rr_tensor *[]){x, w, b}, 1e-2);
    }
}

TEST(conv2d_hand_values)
{
    /* A 3x3 all-ones kernel over a 4x4 image of ones, padding 1: the number
     * of in-image neighbours (4 at corners, 6 on edges, 9 inside), + 0.5. */
    rr_ctx *c = test_ctx();
    rr_tensor *x = rr_new(c, RR_F32, RR_SHAPE(1, 1, 4, 4)), *w = rr_new(c, RR_F32, RR_SHAPE(1, 1, 3, 3));
    rr_tensor *b = rr_new(c, RR_F32, RR_SHAPE(1));
    rr_fill(x, 1);
    rr_fill(w, 1);
    rr_fill(b, 0.5f);
    rr_tensor *y = rr_conv2d(c, x, w, b, &(rr_conv2d_params){.padding = {1, 1}});
    CHECK_NOTNULL(y);
    static const float want[16] = {4, 6, 6, 4, 6, 9, 9, 6, 6, 9, 9, 6, 4, 6, 6, 4};
    for (int i = 0; y && i < 16; i++)
        CHECK(rr_f32(y)[i] == want[i] + 0.5f, "y[%d] = %g, want %g", i, rr_f32(y)[i], want[i] + 0.5f);
}

/* The kernels with small column blocks give what one block gives, and a
 * backward run twice gives the same bits. */
TEST(conv2d_column_blocks)
{
    rr_ctx *c = test_ctx();
    rr_tensor *x = test_randn(c, 7, RR_SHAPE(3, 6, 13, 11)), *w = test_randn(c, 8, RR_SHAPE(4, 3, 3, 3));
    rr_tensor *b = test_randn(c, 9, RR_SHAPE(4));
    /* B, Cin, H, W, Cout, Ho, Wo, kh, kw, sh, sw, ph, pw, dh, dw, groups, chunk */
    rr_conv2d_geom g = {3, 6, 13, 11, 4, 13, 11, 3, 3, 1, 1, 1, 1, 1, 1, 2, 143};
    rr_conv2d_geom small = g;
    small.chunk = 10; /* 143 positions: 14 full blocks and a partial one */
    int64_t ny = 3 * 4 * 143, nx = x->numel, nw = w->numel;
    float *cols = malloc((size_t)rr_conv2d_workspace(&g) * sizeof *cols);
    float *y[2], *dx[3], *dw[3], *db[3];
    rr_tensor *dy = test_randn(c, 10, RR_SHAPE(3, 4, 13, 11));
    for (int k = 0; k < 3; k++) {
        const rr_conv2d_geom *gk = k == 1 ? &small : &g;
        dx[k] = calloc((size_t)nx, sizeof(float));
        dw[k] = calloc((size_t)nw, sizeof(float));
        db[k] = calloc(4, sizeof(float));
        if (k < 2) {
            y[k] = malloc((size_t)ny * sizeof(float));
            CHECK_OK(rr_conv2d_fwd_cpu(rr_f32(x), rr_f32(w), rr_f32(b), y[k], cols, gk));
        }
        CHECK_OK(rr_conv2d_bwd_cpu(rr_f32(x), rr_f32(w), rr_f32(dy), dx[k], dw[k], db[k], cols, gk));
    }
    double e;
    CHECK((e = rel_error_f(y[1], y[0], ny)) < 1e-6, "forward by blocks: relative error %g", e);
    CHECK((e = rel_error_f(dx[1], dx[0], nx)) < 1e-6, "dx by blocks: relative error %g", e);
    CHECK((e = rel_error_f(dw[1], dw[0], nw)) < 1e-6, "dw by blocks: relative error %g", e);
    CHECK(memcmp(dx[0], dx[2], (size_t)nx * sizeof(float)) == 0 &&
              memcmp(dw[0], dw[2], (size_t)nw * sizeof(float)) == 0 &&
              memcmp(db[0], db[2], 4 * sizeof(float)) == 0,
          "two backward runs differ");
    for (int k = 0; k < 3; k++) {
        if (k < 2)
            free(y[k]);
        free(dx[k]);
        free(dw[k]);
        free(db[k]);
    }
    free(cols);
}

TEST(conv2d_rejects_bad_shapes)
{
    rr_ctx *c = test_ctx();
    rr_tensor *x = rr_zeros(c, RR_F32, RR_SHAPE(3, 7, 15, 15));
    rr_tensor *w = rr_zeros(c, RR_F32, RR_SHAPE(4, 3, 3, 3)), *b = rr_zeros(c, RR_F32, RR_SHAPE(5));
    CHECK(rr_conv2d(c, x, w, NULL, &(rr_conv2d_params){.groups = 2}) == NULL,
          "7 channels in 2 groups must fail");
    CHECK(strstr(rr_errmsg(), "conv2d") && strstr(rr_errmsg(), "groups"), "message: %s", rr_errmsg());
    rr_tensor *w7 = rr_zeros(c, RR_F32, RR_SHAPE(4, 7, 3, 3));
    CHECK(rr_conv2d(c, x, w7, b, NULL) == NULL, "a bias of 5 for 4 channels must fail");
    CHECK(strstr(rr_errmsg(), "bias"), "message: %s", rr_errmsg());
    CHECK(rr_conv2d(c, x, rr_zeros(c, RR_F32, RR_SHAPE(4, 7, 17, 3)), NULL, NULL) == NULL,
          "a kernel taller than the image must fail");
    CHECK(strstr(rr_errmsg(), "larger"), "message: %s", rr_errmsg());
    rr_tensor *x3 = rr_zeros(c, RR_F32, RR_SHAPE(3, 7, 15));
    CHECK(rr_conv1d(c, x3, rr_zeros(c, RR_F32, RR_SHAPE(5, 7, 3)), NULL) == NULL,
          "conv1d with k=3 must fail");
    CHECK(strstr(rr_errmsg(), "conv1d"), "message: %s", rr_errmsg());
}

static rr_tensor *apply_conv1d(rr_ctx *c, rr_tensor *const *in, const void *arg)
{
    return rr_conv1d(c, in[0], in[1], *(const int *)arg ? in[2] : NULL);
}

TEST(conv1d_kernel_size_1)
{
    rr_ctx *c = test_ctx();
    for (int bias = 0; bias < 2; bias++) {
        rr_tensor *x = test_randn(c, 20 + bias, RR_SHAPE(3, 7, 15)),
                  *w = test_randn(c, 22, RR_SHAPE(5, 7, 1));
        rr_tensor *b = bias ? test_randn(c, 23, RR_SHAPE(5)) : NULL;
        rr_tensor *y = rr_conv1d(c, x, w, b);
        CHECK_NOTNULL(y);
        if (!y)
            continue;
        CHECK(y->ndim == 3 && y->shape[0] == 3 && y->shape[1] == 5 && y->shape[2] == 15, "conv1d shape");
        double want[3 * 5 * 15];
        for (int n = 0; n < 3; n++)
            for (int co = 0; co < 5; co++)
                for (int l = 0; l < 15; l++) {
                    double s = b ? rr_f32(b)[co] : 0;
                    for (int ci = 0; ci < 7; ci++)
                        s += (double)rr_f32(w)[co * 7 + ci] * rr_f32(x)[(n * 7 + ci) * 15 + l];
                    want[(n * 5 + co) * 15 + l] = s;
                }
        check_forward("conv1d", y, want, 1e-5);
        x->requires_grad = w->requires_grad = 1;
        if (b)
            b->requires_grad = 1;
        check_gradient("conv1d", apply_conv1d, &bias, bias ? 3 : 2, (rr_tensor *[]){x, w, b}, 1e-2);
    }
}
