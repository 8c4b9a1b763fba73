/* Swin's window partition and reverse (doc/network.md, Swin backbone): bit-exact against the
 * index formula, an exact round trip, and backwards that are each other. */
#include <stdlib.h>
#include <string.h>

#include "harness.h"

typedef struct {
    int64_t ws, H, W;
} win_arg;

static rr_tensor *apply_partition(rr_ctx *c, rr_tensor *const *in, const void *arg)
{
    return rr_window_partition(c, in[0], ((const win_arg *)arg)->ws);
}

static rr_tensor *apply_reverse(rr_ctx *c, rr_tensor *const *in, const void *arg)
{
    const win_arg *a = arg;
    return rr_window_reverse(c, in[0], a->ws, a->H, a->W);
}

/* Element (b, y, x, ch) of the (B, H, W, C) grid sits in window
 * (b*nH + y/ws)*nW + x/ws at pixel (y%ws, x%ws): both ops' offsets. */
static int64_t grid_index(const int64_t *s, int64_t b, int64_t y, int64_t x, int64_t ch)
{
    return ((b * s[1] + y) * s[2] + x) * s[3] + ch;
}
static int64_t window_index(const int64_t *s, int64_t ws, int64_t b, int64_t y, int64_t x, int64_t ch)
{
    int64_t nH = s[1] / ws, nW = s[2] / ws, w = (b * nH + y / ws) * nW + x / ws;
    return ((w * ws + y % ws) * ws + x % ws) * s[3] + ch;
}

/* The seed gradient w, pushed back through f: x's gradient. */
static rr_tensor *grad_through(rr_ctx *g, rr_tensor *(*f)(rr_ctx *, rr_tensor *const *, const void *),
                               const win_arg *a, rr_tensor *x, rr_tensor **seed)
{
    x->requires_grad = 1;
    x->grad = NULL;
    rr_tensor *y = f(g, &x, a);
    if (!y)
        return NULL;
    *seed = test_randn(g, 99, y->ndim, y->shape);
    return rr_backward_from(g, y, *seed) == 0 ? x->grad : NULL;
}

TEST(window_partition_and_reverse)
{
    rr_ctx *c = test_ctx();
    /* 15x15 in windows of 5; a non-square 10x15 grid; ws 1; one window */
    struct {
        int64_t shape[4], ws;
    } cases[] = {{{3, 15, 15, 7}, 5}, {{2, 10, 15, 3}, 5}, {{3, 3, 5, 2}, 1}, {{3, 15, 15, 2}, 15}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const int64_t *s = cases[k].shape, ws = cases[k].ws;
        win_arg a = {ws, s[1], s[2]};
        rr_tensor *x = test_randn(c, 1 + k, 4, s);
        rr_tensor *win = rr_window_partition(c, x, ws);
        CHECK_NOTNULL(win);
        if (!win)
            continue;
        CHECK(win->ndim == 4 && win->shape[0] == s[0] * (s[1] / ws) * (s[2] / ws) && win->shape[1] == ws &&
                  win->shape[2] == ws && win->shape[3] == s[3],
              "case %zu: partition shape", k);
        double *want = malloc((size_t)x->numel * sizeof *want);
        for (int64_t b = 0; b < s[0]; b++)
            for (int64_t y = 0; y < s[1]; y++)
                for (int64_t xx = 0; xx < s[2]; xx++)
                    for (int64_t ch = 0; ch < s[3]; ch++)
                        want[window_index(s, ws, b, y, xx, ch)] = rr_f32(x)[grid_index(s, b, y, xx, ch)];
        check_forward("window_partition", win, want, 0);

        rr_tensor *wr = test_randn(c, 50 + k, 4, win->shape);
        rr_tensor *grid = rr_window_reverse(c, wr, ws, s[1], s[2]);
        CHECK_NOTNULL(grid);
        if (grid) {
            for (int64_t b = 0; b < s[0]; b++)
                for (int64_t y = 0; y < s[1]; y++)
                    for (int64_t xx = 0; xx < s[2]; xx++)
                        for (int64_t ch = 0; ch < s[3]; ch++)
                            want[grid_index(s, b, y, xx, ch)] = rr_f32(wr)[window_index(s, ws, b, y, xx, ch)];
            check_forward("window_reverse", grid, want, 0);
        }
        free(want);

        /* partition then reverse gives x back, bit for bit */
        rr_tensor *back = rr_window_reverse(c, win, ws, s[1], s[2]);
        CHECK(back && rr_same_shape(back, x) && memcmp(back->data, x->data, rr_tensor_bytes(x)) == 0,
              "case %zu: round trip", k);

        x->requires_grad = wr->requires_grad = 1;
        check_gradient("window_partition", apply_partition, &a, 1, &x, 1e-2);
        check_gradient("window_reverse", apply_reverse, &a, 1, &wr, 1e-2);

        /* Exact backwards: each op's gradient is the other op applied to the seed. */
        rr_ctx g;
        rr_ctx_init(&g, RR_CPU);
        rr_ctx_grad(&g, 1);
        rr_tensor *seed, *dx = grad_through(&g, apply_partition, &a, x, &seed);
        rr_ctx_grad(&g, 0);
        rr_tensor *inv = dx ? rr_window_reverse(&g, seed, ws, s[1], s[2]) : NULL;
        CHECK(inv && memcmp(dx->data, inv->data, rr_tensor_bytes(x)) == 0, "case %zu: partition backward", k);
        rr_ctx_grad(&g, 1);
        dx = grad_through(&g, apply_reverse, &a, wr, &seed);
        rr_ctx_grad(&g, 0);
        inv = dx ? rr_window_partition(&g, seed, ws) : NULL;
        CHECK(inv && memcmp(dx->data, inv->data, rr_tensor_bytes(wr)) == 0, "case %zu: reverse backward", k);
        x->grad = wr->grad = NULL;
        x->requires_grad = wr->requires_grad = 0;
        rr_ctx_free(&g);
    }
}

TEST(window_rejects_bad_shapes)
{
    rr_ctx *c = test_ctx();
    rr_tensor *x = rr_zeros(c, RR_F32, RR_SHAPE(3, 15, 15, 7));
    CHECK(rr_window_partition(c, x, 4) == NULL, "15x15 in windows of 4 must fail");
    CHECK(strstr(rr_errmsg(), "window_partition: H and W of 3x15x15x7 (B, H, W, C) must be multiples of the "
                              "window size 4") != NULL,
          "message: %s", rr_errmsg());
    rr_tensor *nchw = rr_zeros(c, RR_F32, RR_SHAPE(3, 7, 15));
    CHECK(rr_window_partition(c, nchw, 5) == NULL, "3 dimensions must fail");
    CHECK(strstr(rr_errmsg(), "window_partition: expected 4 dimensions, got 3x7x15") != NULL, "message: %s",
          rr_errmsg());
    rr_tensor *w = rr_zeros(c, RR_F32, RR_SHAPE(10, 5, 5, 7));
    CHECK(rr_window_reverse(c, w, 5, 15, 15) == NULL, "10 windows for a 15x15 grid (9 each) must fail");
    CHECK(strstr(rr_errmsg(), "window_reverse: windows 10x5x5x7 are not (B*9, 5, 5, C)") != NULL,
          "message: %s", rr_errmsg());
}
