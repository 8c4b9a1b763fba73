/* PixelShuffle and PixelUnshuffle (doc/network.md, HFIM): bit-exact against the index
 * rule, exact round trips, and backwards that are each other. */
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static rr_tensor *apply_shuffle(rr_ctx *c, rr_tensor *const *in, const void *arg)
{
    return rr_pixel_shuffle(c, in[0], *(const int64_t *)arg);
}

static rr_tensor *apply_unshuffle(rr_ctx *c, rr_tensor *const *in, const void *arg)
{
    return rr_pixel_unshuffle(c, in[0], *(const int64_t *)arg);
}

/* Offsets of (b, c*r*r + i*r + j, h, w) in the shuffled-channel tensor
 * (B, C*r*r, H, W) and of (b, c, h*r + i, w*r + j) in the spatial one
 * (B, C, H*r, W*r): the same element in both. */
static int64_t chan_index(int64_t C, int64_t H, int64_t W, int64_t r, int64_t b, int64_t c, int64_t i,
                          int64_t j, int64_t h, int64_t w)
{
    return ((b * C * r * r + c * r * r + i * r + j) * H + h) * W + w;
}
static int64_t space_index(int64_t C, int64_t H, int64_t W, int64_t r, int64_t b, int64_t c, int64_t i,
                           int64_t j, int64_t h, int64_t w)
{
    return ((b * C + c) * H * r + h * r + i) * W * r + w * r + j;
}

/* want[space] = in[chan] (shuffle) or want[chan] = in[space] (unshuffle). */
static void naive(int unshuffle, const float *in, double *want, int64_t B, int64_t C, int64_t H, int64_t W,
                  int64_t r)
{
    for (int64_t b = 0; b < B; b++)
        for (int64_t c = 0; c < C; c++)
            for (int64_t i = 0; i < r; i++)
                for (int64_t j = 0; j < r; j++)
                    for (int64_t h = 0; h < H; h++)
                        for (int64_t w = 0; w < W; w++) {
                            int64_t ci = chan_index(C, H, W, r, b, c, i, j, h, w);
                            int64_t si = space_index(C, H, W, r, b, c, i, j, h, w);
                            if (unshuffle)
                                want[ci] = in[si];
                            else
                                want[si] = in[ci];
                        }
}

/* The gradient of x through f for the seed *seed (a new random tensor). */
static rr_tensor *grad_through(rr_ctx *g, rr_tensor *(*f)(rr_ctx *, rr_tensor *const *, const void *),
                               const int64_t *r, rr_tensor *x, rr_tensor **seed)
{
    x->requires_grad = 1;
    x->grad = NULL;
    rr_tensor *y = f(g, &x, r);
    if (!y)
        return NULL;
    *seed = test_randn(g, 77, y->ndim, y->shape);
    return rr_backward_from(g, y, *seed) == 0 ? x->grad : NULL;
}

TEST(pixel_shuffle_and_unshuffle)
{
    rr_ctx *c = test_ctx();
    /* (B, C, H, W) of the small side, and r: HFIM's 1, 2, 4, 8 and an odd 3 */
    struct {
        int64_t B, C, H, W, r;
    } cases[] = {{3, 7, 15, 15, 1}, {3, 7, 15, 15, 2}, {3, 7, 5, 7, 3}, {3, 2, 5, 5, 4}, {3, 1, 3, 5, 8}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        int64_t B = cases[k].B, C = cases[k].C, H = cases[k].H, W = cases[k].W, r = cases[k].r;
        rr_tensor *x = test_randn(c, 1 + k, RR_SHAPE(B, C * r * r, H, W));
        rr_tensor *y = rr_pixel_shuffle(c, x, r);
        CHECK_NOTNULL(y);
        if (!y)
            continue;
        CHECK(y->shape[0] == B && y->shape[1] == C && y->shape[2] == H * r && y->shape[3] == W * r,
              "case %zu: shuffle shape", k);
        double *want = malloc((size_t)x->numel * sizeof *want);
        naive(0, rr_f32(x), want, B, C, H, W, r);
        check_forward("pixel_shuffle", y, want, 0);

        rr_tensor *z = test_randn(c, 30 + k, RR_SHAPE(B, C, H * r, W * r));
        rr_tensor *u = rr_pixel_unshuffle(c, z, r);
        CHECK_NOTNULL(u);
        if (u) {
            naive(1, rr_f32(z), want, B, C, H, W, r);
            check_forward("pixel_unshuffle", u, want, 0);
        }
        free(want);

        /* both round trips are lossless, bit for bit */
        rr_tensor *back = rr_pixel_unshuffle(c, y, r);
        CHECK(back && rr_same_shape(back, x) && memcmp(back->data, x->data, rr_tensor_bytes(x)) == 0,
              "case %zu: shuffle + unshuffle", k);
        rr_tensor *back2 = u ? rr_pixel_shuffle(c, u, r) : NULL;
        CHECK(back2 && rr_same_shape(back2, z) && memcmp(back2->data, z->data, rr_tensor_bytes(z)) == 0,
              "case %zu: unshuffle + shuffle", k);

        x->requires_grad = z->requires_grad = 1;
        check_gradient("pixel_shuffle", apply_shuffle, &r, 1, &x, 1e-2);
        check_gradient("pixel_unshuffle", apply_unshuffle, &r, 1, &z, 1e-2);

        /* Exact backwards: each op's gradient is the other op applied to the seed. */
        rr_ctx g;
        rr_ctx_init(&g, RR_CPU);
        rr_ctx_grad(&g, 1);
        rr_tensor *seed, *dx = grad_through(&g, apply_shuffle, &r, x, &seed);
        rr_ctx_grad(&g, 0);
        rr_tensor *inv = dx ? rr_pixel_unshuffle(&g, seed, r) : NULL;
        CHECK(inv && memcmp(dx->data, inv->data, rr_tensor_bytes(x)) == 0, "case %zu: shuffle backward", k);
        rr_ctx_grad(&g, 1);
        dx = grad_through(&g, apply_unshuffle, &r, z, &seed);
        rr_ctx_grad(&g, 0);
        inv = dx ? rr_pixel_shuffle(&g, seed, r) : NULL;
        CHECK(inv && memcmp(dx->data, inv->data, rr_tensor_bytes(z)) == 0, "case %zu: unshuffle backward", k);
        x->grad = z->grad = NULL;
        x->requires_grad = z->requires_grad = 0;
        rr_ctx_free(&g);
    }
}

TEST(pixel_shuffle_leading_dims)
{
    /* (*, C*r*r, H, W): no batch, and two batch dimensions */
    rr_ctx *c = test_ctx();
    int64_t r = 2;
    rr_tensor *x3 = test_randn(c, 60, RR_SHAPE(28, 5, 3)), *x5 = test_randn(c, 61, RR_SHAPE(2, 3, 8, 5, 3));
    rr_tensor *y3 = rr_pixel_shuffle(c, x3, r), *y5 = rr_pixel_shuffle(c, x5, r);
    CHECK(y3 && y3->ndim == 3 && y3->shape[0] == 7 && y3->shape[1] == 10 && y3->shape[2] == 6, "3-D shape");
    CHECK(y5 && y5->ndim == 5 && y5->shape[0] == 2 && y5->shape[1] == 3 && y5->shape[2] == 2 &&
              y5->shape[3] == 10 && y5->shape[4] == 6,
          "5-D shape");
    double want[2 * 3 * 8 * 5 * 3];
    if (y3) {
        naive(0, rr_f32(x3), want, 1, 7, 5, 3, r);
        check_forward("pixel_shuffle", y3, want, 0);
    }
    if (y5) {
        naive(0, rr_f32(x5), want, 6, 2, 5, 3, r);
        check_forward("pixel_shuffle", y5, want, 0);
        rr_tensor *u5 = rr_pixel_unshuffle(c, y5, r);
        CHECK(u5 && rr_same_shape(u5, x5) && memcmp(u5->data, x5->data, rr_tensor_bytes(x5)) == 0,
              "5-D round trip");
    }
}

TEST(pixel_shuffle_rejects_bad_shapes)
{
    rr_ctx *c = test_ctx();
    rr_tensor *x = rr_zeros(c, RR_F32, RR_SHAPE(3, 7, 15, 15));
    CHECK(rr_pixel_shuffle(c, x, 2) == NULL, "7 channels with r = 2 must fail");
    CHECK(strstr(rr_errmsg(), "pixel_shuffle: 7 channels of 3x7x15x15 are not divisible by r*r = 4") != NULL,
          "message: %s", rr_errmsg());
    CHECK(rr_pixel_unshuffle(c, x, 2) == NULL, "15x15 with r = 2 must fail");
    CHECK(strstr(rr_errmsg(), "pixel_unshuffle: H and W of 3x7x15x15 are not divisible by the factor 2"),
          "message: %s", rr_errmsg());
    CHECK(rr_pixel_shuffle(c, x, 0) == NULL, "r = 0 must fail");
    CHECK(strstr(rr_errmsg(), "pixel_shuffle: the factor must be at least 1, got 0") != NULL, "message: %s",
          rr_errmsg());
    rr_tensor *v = rr_zeros(c, RR_F32, RR_SHAPE(4, 15));
    CHECK(rr_pixel_unshuffle(c, v, 1) == NULL, "2 dimensions must fail");
}
