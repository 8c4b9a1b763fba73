/* softmax over any axis, with and without an additive broadcast mask. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

/* softmax(x + mask) along axis, in double; mask broadcast NumPy-style. */
static double *naive(const rr_tensor *x, const rr_tensor *mask, int axis)
{
    int64_t n = x->shape[axis], inner = 1;
    for (int d = axis + 1; d < x->ndim; d++)
        inner *= x->shape[d];
    double *z = malloc((size_t)x->numel * sizeof *z), *y = malloc((size_t)x->numel * sizeof *y);
    for (int64_t i = 0; i < x->numel; i++) {
        z[i] = rr_f32(x)[i];
        if (mask) {
            int64_t rem = i, k = 0, stride = 1;
            for (int d = x->ndim - 1; d >= 0; d--) {
                int64_t q = rem % x->shape[d];
                rem /= x->shape[d];
                int dm = d - (x->ndim - mask->ndim);
                if (dm >= 0) {
                    k += (mask->shape[dm] == 1 ? 0 : q) * stride;
                    stride *= mask->shape[dm];
                }
            }
            z[i] += rr_f32(mask)[k];
        }
    }
    for (int64_t i = 0; i < x->numel; i++) {
        int64_t base = i - ((i / inner) % n) * inner; /* the row's first element */
        double m = -INFINITY, s = 0;
        for (int64_t j = 0; j < n; j++)
            m = fmax(m, z[base + j * inner]);
        for (int64_t j = 0; j < n; j++)
            s += exp(z[base + j * inner] - m);
        y[i] = exp(z[i] - m) / s;
    }
    free(z);
    return y;
}

typedef struct {
    int axis, masked;
} sm_arg;

static rr_tensor *apply_softmax(rr_ctx *c, rr_tensor *const *in, const void *arg)
{
    const sm_arg *a = arg;
    return rr_softmax(c, in[0], a->axis, a->masked ? in[1] : NULL);
}

TEST(softmax_axes)
{
    rr_ctx *c = test_ctx();
    rr_tensor *x = test_randn(c, 11, RR_SHAPE(3, 7, 15, 15));
    for (int axis = 0; axis < 4; axis++) {
        rr_tensor *y = rr_softmax(c, x, axis - 4 * (axis == 3), NULL); /* -1 for the last */
        double *want = naive(x, NULL, axis);
        check_forward("softmax", y, want, 1e-6);
        free(want);
        sm_arg a = {axis, 0};
        x->requires_grad = 1;
        check_gradient("softmax", apply_softmax, &a, 1, &x, 1e-2);
        x->requires_grad = 0;
    }
}

TEST(softmax_masked_broadcast)
{
    rr_ctx *c = test_ctx();
    /* Swin-like: (batch·windows, heads, N, N) + a per-head bias (heads, N, N)
     * that learns, and a constant 0/-100 window mask (windows, 1, N, N) of a
     * 5-D view; BERT-like: a key mask (B, 1, 1, N) of 0/-10000. */
    struct {
        int nx, nm, axis;
        int64_t sx[5], sm[5];
        float masked_value;
    } cases[] = {
        {4, 3, -1, {3, 7, 9, 9}, {7, 9, 9}, 0},
        {5, 4, 4, {3, 2, 3, 9, 9}, {2, 1, 9, 9}, -100},
        {4, 4, 3, {3, 7, 5, 15}, {3, 1, 1, 15}, -10000},
        {4, 3, 1, {3, 7, 5, 9}, {7, 1, 9}, 0}, /* over channels (inner > 1) */
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        rr_tensor *x = test_randn(c, 21 + k, cases[k].nx, cases[k].sx);
        rr_tensor *m = test_randn(c, 31 + k, cases[k].nm, cases[k].sm);
        if (cases[k].masked_value != 0)
            for (int64_t i = 0; i < m->numel; i++) /* about a third masked, never a whole row */
                rr_f32(m)[i] = rr_f32(m)[i] > 0.5f && i % cases[k].sm[cases[k].nm - 1] ? cases[k].masked_value : 0;
        rr_tensor *y = rr_softmax(c, x, cases[k].axis, m);
        int axis = cases[k].axis < 0 ? cases[k].axis + cases[k].nx : cases[k].axis;
        double *want = naive(x, m, axis);
        check_forward("softmax_masked", y, want, 1e-6);
        free(want);
        sm_arg a = {cases[k].axis, 1};
        x->requires_grad = 1;
        m->requires_grad = cases[k].masked_value == 0; /* a bias learns; a 0/-100 mask does not */
        check_gradient("softmax_masked", apply_softmax, &a, 2, (rr_tensor *[]){x, m}, 1e-2);
        /* Only the mask requires a gradient. */
        x->requires_grad = 0;
        if (m->requires_grad)
            check_gradient("softmax_masked", apply_softmax, &a, 2, (rr_tensor *[]){x, m}, 1e-2);
    }
}

TEST(softmax_large_values_stable)
{
    rr_ctx *c = test_ctx();
    float v[] = {1000, 999, -1000, 88, 89, 90};
    rr_tensor *x = rr_from_host(c, RR_F32, RR_SHAPE(2, 3), v);
    rr_tensor *y = rr_softmax(c, x, 1, NULL);
    double want[6];
    double e1 = exp(-1.0), e2 = exp(-2.0);
    want[0] = 1 / (1 + e1), want[1] = e1 / (1 + e1), want[2] = 0;
    want[3] = e2 / (1 + e1 + e2), want[4] = e1 / (1 + e1 + e2), want[5] = 1 / (1 + e1 + e2);
    check_forward("softmax", y, want, 1e-6);
}

TEST(softmax_rejects_bad_mask_and_axis)
{
    rr_ctx *c = test_ctx();
    rr_tensor *x = rr_zeros(c, RR_F32, RR_SHAPE(3, 5)), *m = rr_zeros(c, RR_F32, RR_SHAPE(2, 3, 5));
    CHECK(rr_softmax(c, x, -1, m) == NULL, "a mask that enlarges x must fail");
    CHECK(strstr(rr_errmsg(), "softmax_masked: mask 2x3x5 does not broadcast to x 3x5") != NULL, "message: %s",
          rr_errmsg());
    rr_tensor *m2 = rr_zeros(c, RR_F32, RR_SHAPE(4));
    CHECK(rr_softmax(c, x, -1, m2) == NULL, "a 4 mask on 3x5 must fail");
    CHECK(strstr(rr_errmsg(), "softmax_masked: mask: shapes 3x5 and 4 do not broadcast") != NULL, "message: %s",
          rr_errmsg());
    CHECK(rr_softmax(c, x, 2, NULL) == NULL, "axis 2 of a 2-D tensor must fail");
    CHECK(strstr(rr_errmsg(), "softmax: axis 2 out of range") != NULL, "message: %s", rr_errmsg());
}
