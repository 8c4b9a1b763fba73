/* add, sub, mul, div with broadcasting, and scale. */
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static rr_tensor *(*const binops[])(rr_ctx *, rr_tensor *, rr_tensor *) = {rr_add, rr_sub, rr_mul, rr_div};
static const char *const names[] = {"add", "sub", "mul", "div"};

static rr_tensor *apply_binop(rr_ctx *c, rr_tensor *const *in, const void *arg)
{
    return binops[*(const int *)arg](c, in[0], in[1]);
}

/* The naive broadcast: shapes right-aligned, a dimension of 1 repeats. */
static double naive(int op, const rr_tensor *a, const rr_tensor *b, const int64_t *shape, int nd, int64_t i)
{
    int64_t ia = 0, ib = 0, sa = 1, sb = 1;
    for (int d = nd - 1; d >= 0; d--) {
        int64_t q = i % shape[d];
        i /= shape[d];
        int da = d - (nd - a->ndim), db = d - (nd - b->ndim);
        if (da >= 0) {
            ia += (a->shape[da] == 1 ? 0 : q) * sa;
            sa *= a->shape[da];
        }
        if (db >= 0) {
            ib += (b->shape[db] == 1 ? 0 : q) * sb;
            sb *= b->shape[db];
        }
    }
    double x = rr_f32(a)[ia], y = rr_f32(b)[ib];
    return op == 0 ? x + y : op == 1 ? x - y : op == 2 ? x * y : x / y;
}

TEST(binary_ops_broadcast)
{
    rr_ctx *c = test_ctx();
    /* (3,7,15,15) with (7,1,1), (1,15), itself, and a 5-D pair. */
    struct {
        int na, nb;
        int64_t sa[5], sb[5];
    } cases[] = {
        {4, 3, {3, 7, 15, 15}, {7, 1, 1}},
        {4, 2, {3, 7, 15, 15}, {1, 15}},
        {3, 3, {3, 5, 7}, {3, 5, 7}},
        {5, 5, {2, 1, 3, 1, 5}, {1, 4, 1, 6, 1}},
    };
    for (int op = 0; op < 4; op++)
        for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
            rr_tensor *a = test_randn(c, 1 + k, cases[k].na, cases[k].sa);
            rr_tensor *b = op == 3 ? test_uniform(c, 2 + k, 0.5f, 2.0f, cases[k].nb, cases[k].sb)
                                   : test_randn(c, 2 + k, cases[k].nb, cases[k].sb);
            rr_tensor *out = binops[op](c, a, b);
            CHECK_NOTNULL(out);
            if (!out)
                continue;
            double *want = malloc((size_t)out->numel * sizeof *want);
            for (int64_t i = 0; i < out->numel; i++)
                want[i] = naive(op, a, b, out->shape, out->ndim, i);
            check_forward(names[op], out, want, 1e-6);
            free(want);
            a->requires_grad = b->requires_grad = 1;
            check_gradient(names[op], apply_binop, &op, 2, (rr_tensor *[]){a, b}, 1e-2);
        }
}

TEST(binary_rejects_mismatched_shapes)
{
    rr_ctx *c = test_ctx();
    rr_tensor *a = rr_zeros(c, RR_F32, RR_SHAPE(3, 4)), *b = rr_zeros(c, RR_F32, RR_SHAPE(5));
    CHECK(rr_add(c, a, b) == NULL, "3x4 + 5 must fail");
    CHECK(strstr(rr_errmsg(), "broadcast") != NULL, "message: %s", rr_errmsg());
}

static rr_tensor *apply_scale(rr_ctx *c, rr_tensor *const *in, const void *arg)
{
    return rr_scale(c, in[0], *(const float *)arg);
}

TEST(scale_op)
{
    rr_ctx *c = test_ctx();
    rr_tensor *x = test_randn(c, 5, RR_SHAPE(3, 7, 15));
    float s = -0.37f;
    rr_tensor *y = rr_scale(c, x, s);
    double want[3 * 7 * 15];
    for (int i = 0; i < 3 * 7 * 15; i++)
        want[i] = (double)rr_f32(x)[i] * s;
    check_forward("scale", y, want, 1e-7);
    x->requires_grad = 1;
    check_gradient("scale", apply_scale, &s, 1, &x, 1e-2);
}
