/* sum and mean over sets of axes. */
#include <stdlib.h>
#include <string.h>

#include "harness.h"

typedef struct {
    int naxes, axes[RR_MAXDIM], keepdim, mean;
} reduce_arg;

static rr_tensor *apply_reduce(rr_ctx *c, rr_tensor *const *in, const void *arg)
{
    const reduce_arg *r = arg;
    return (r->mean ? rr_mean : rr_sum)(c, in[0], r->naxes, r->axes, r->keepdim);
}

/* The naive reduction: every input element adds into the output element
 * whose coordinates are its kept coordinates. */
static double *naive_reduce(const rr_tensor *x, const reduce_arg *r, int64_t *nout)
{
    int red[RR_MAXDIM] = {0};
    for (int i = 0; i < r->naxes; i++)
        red[(r->axes[i] + x->ndim) % x->ndim] = 1;
    int64_t n = 1, count = 1;
    for (int d = 0; d < x->ndim; d++) {
        if (r->naxes == 0)
            red[d] = 1;
        if (red[d])
            count *= x->shape[d];
        else
            n *= x->shape[d];
    }
    double *want = calloc((size_t)n, sizeof *want);
    for (int64_t i = 0; i < x->numel; i++) {
        int64_t rem = i, o = 0, mul = 1;
        for (int d = x->ndim - 1; d >= 0; d--) {
            int64_t q = rem % x->shape[d];
            rem /= x->shape[d];
            if (!red[d]) {
                o += q * mul;
                mul *= x->shape[d];
            }
        }
        want[o] += rr_f32(x)[i];
    }
    for (int64_t o = 0; r->mean && o < n; o++)
        want[o] /= (double)count;
    *nout = n;
    return want;
}

TEST(reduce_sum_mean_over_axes)
{
    rr_ctx *c = test_ctx();
    struct {
        int ndim;
        int64_t shape[RR_MAXDIM];
        int naxes, axes[RR_MAXDIM];
    } cases[] = {
        {4, {3, 7, 15, 15}, 0, {0}},        {4, {3, 7, 15, 15}, 1, {0}},
        {4, {3, 7, 15, 15}, 1, {1}},        {4, {3, 7, 15, 15}, 1, {-1}},
        {4, {3, 7, 15, 15}, 2, {0, 2}},     {4, {3, 7, 15, 15}, 2, {-1, 1}},
        {4, {3, 7, 15, 15}, 2, {2, 3}},     {4, {3, 7, 15, 15}, 4, {3, 0, 1, 2}},
        {3, {3, 1, 5}, 1, {1}},             {2, {3, 300}, 1, {0}}, /* 300 outputs: two chunks */
        {3, {2, 5, 301}, 1, {1}},           {5, {2, 3, 1, 4, 5}, 3, {0, 2, 4}},
        {1, {7}, 1, {0}},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
        for (int mean = 0; mean < 2; mean++)
            for (int keepdim = 0; keepdim < 2; keepdim++) {
                reduce_arg r = {cases[k].naxes, {0}, keepdim, mean};
                memcpy(r.axes, cases[k].axes, sizeof r.axes);
                rr_tensor *x = test_randn(c, 10 + k, cases[k].ndim, cases[k].shape);
                rr_tensor *y = apply_reduce(c, &x, &r);
                int64_t nout;
                double *want = naive_reduce(x, &r, &nout);
                const char *name = mean ? "mean" : "sum";
                CHECK(y && y->numel == nout, "case %zu: %lld outputs, want %lld", k,
                      y ? (long long)y->numel : -1LL, (long long)nout);
                if (y && y->numel == nout) {
                    int want_ndim = keepdim ? x->ndim : x->ndim - (r.naxes ? r.naxes : x->ndim);
                    CHECK(y->ndim == want_ndim, "case %zu: %d dims, want %d", k, y->ndim, want_ndim);
                    check_forward(name, y, want, 1e-6);
                }
                free(want);
                if (keepdim) /* the same computation as without */
                    continue;
                x->requires_grad = 1;
                check_gradient(name, apply_reduce, &r, 1, &x, 1e-2);
            }
}

TEST(reduce_rejects_bad_axes)
{
    rr_ctx *c = test_ctx();
    rr_tensor *x = rr_zeros(c, RR_F32, RR_SHAPE(3, 4));
    CHECK(rr_sum(c, x, 1, (int[]){2}, 0) == NULL, "axis 2 of a 2-D tensor must fail");
    CHECK(strstr(rr_errmsg(), "sum: axis 2 out of range") != NULL, "message: %s", rr_errmsg());
    CHECK(rr_mean(c, x, 2, (int[]){1, -1}, 0) == NULL, "a repeated axis must fail");
    CHECK(strstr(rr_errmsg(), "mean: axis -1 given twice") != NULL, "message: %s", rr_errmsg());
}
