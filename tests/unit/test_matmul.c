/* matmul (batched, broadcast, transposed) and linear. */
#include <stdlib.h>
#include <string.h>

#include "harness.h"

typedef struct {
    int ta, tb;
} mm_arg;

static rr_tensor *apply_matmul(rr_ctx *c, rr_tensor *const *in, const void *arg)
{
    const mm_arg *t = arg;
    return rr_matmul_t(c, in[0], in[1], t->ta, t->tb);
}

/* Element [r][col] of op(x), x's last two dims being its matrix. */
static double at(const rr_tensor *x, int64_t off, int trans, int64_t r, int64_t col)
{
    int64_t ld = x->shape[x->ndim - 1];
    return trans ? rr_f32(x)[off + col * ld + r] : rr_f32(x)[off + r * ld + col];
}

/* The naive product: the output batch index maps to each operand's batch by
 * right-aligned coordinates (a dimension of 1 repeats). */
static double *naive_matmul(const rr_tensor *a, const rr_tensor *b, const rr_tensor *out, int ta, int tb)
{
    int nb = out->ndim - 2;
    int64_t m = out->shape[nb], n = out->shape[nb + 1];
    int64_t k = a->shape[a->ndim - (ta ? 2 : 1)], nbatch = out->numel / (m * n);
    double *want = malloc((size_t)out->numel * sizeof *want);
    for (int64_t i = 0; i < nbatch; i++) {
        int64_t ia = 0, ib = 0, sa = 1, sb = 1, rem = i;
        for (int d = nb - 1; d >= 0; d--) {
            int64_t q = rem % out->shape[d];
            rem /= out->shape[d];
            int da = d - (nb - (a->ndim - 2)), db = d - (nb - (b->ndim - 2));
            if (da >= 0) {
                ia += (a->shape[da] == 1 ? 0 : q) * sa;
                sa *= a->shape[da];
            }
            if (db >= 0) {
                ib += (b->shape[db] == 1 ? 0 : q) * sb;
                sb *= b->shape[db];
            }
        }
        for (int64_t r = 0; r < m; r++)
            for (int64_t col = 0; col < n; col++) {
                double s = 0;
                for (int64_t j = 0; j < k; j++)
                    s += at(a, ia * m * k, ta, r, j) * at(b, ib * k * n, tb, j, col);
                want[(i * m + r) * n + col] = s;
            }
    }
    return want;
}

typedef struct {
    int na, nb;
    int64_t sa[RR_MAXDIM], sb[RR_MAXDIM]; /* untransposed: (..., M, K) and (..., K, N) */
} mm_case;

static void run_cases(const char *name, const mm_case *cases, size_t ncases)
{
    rr_ctx *c = test_ctx();
    for (size_t k = 0; k < ncases; k++)
        for (int t = 0; t < 4; t++) {
            mm_arg arg = {t & 1, t >> 1};
            int64_t sa[RR_MAXDIM], sb[RR_MAXDIM];
            int na = cases[k].na, nb = cases[k].nb;
            memcpy(sa, cases[k].sa, sizeof sa);
            memcpy(sb, cases[k].sb, sizeof sb);
            if (arg.ta) { /* store the transpose */
                sa[na - 2] = cases[k].sa[na - 1];
                sa[na - 1] = cases[k].sa[na - 2];
            }
            if (arg.tb) {
                sb[nb - 2] = cases[k].sb[nb - 1];
                sb[nb - 1] = cases[k].sb[nb - 2];
            }
            rr_tensor *a = test_randn(c, 3 + k, na, sa), *b = test_randn(c, 40 + k, nb, sb);
            rr_tensor *out = rr_matmul_t(c, a, b, arg.ta, arg.tb);
            CHECK_NOTNULL(out);
            if (!out)
                continue;
            double *want = naive_matmul(a, b, out, arg.ta, arg.tb);
            check_forward(name, out, want, 1e-5);
            free(want);
            a->requires_grad = b->requires_grad = 1;
            check_gradient(name, apply_matmul, &arg, 2, (rr_tensor *[]){a, b}, 1e-2);
        }
}

TEST(matmul_plain_and_batched)
{
    static const mm_case cases[] = {
        {2, 2, {7, 5}, {5, 9}},
        {3, 3, {3, 7, 5}, {3, 5, 9}},
        {4, 4, {2, 3, 4, 5}, {2, 3, 5, 6}},
        {5, 5, {2, 1, 3, 4, 5}, {2, 1, 3, 5, 3}},
    };
    run_cases("matmul", cases, sizeof cases / sizeof cases[0]);
}

TEST(matmul_broadcast_batches)
{
    static const mm_case cases[] = {
        {3, 2, {3, 7, 5}, {5, 9}},              /* a shared weight: one tall GEMM */
        {4, 2, {2, 3, 7, 5}, {5, 9}},
        {2, 3, {7, 5}, {3, 5, 9}},              /* a shared left operand */
        {4, 3, {2, 1, 4, 5}, {3, 5, 6}},        /* both broadcast */
        {5, 5, {2, 1, 3, 4, 5}, {1, 4, 1, 5, 3}},
        {4, 4, {3, 1, 7, 5}, {3, 1, 5, 9}},     /* dims of 1 on both sides */
    };
    run_cases("matmul_batched", cases, sizeof cases / sizeof cases[0]);
}

TEST(matmul_rejects_bad_shapes)
{
    rr_ctx *c = test_ctx();
    rr_tensor *a = rr_zeros(c, RR_F32, RR_SHAPE(3, 4, 5)), *b = rr_zeros(c, RR_F32, RR_SHAPE(3, 6, 2));
    CHECK(rr_matmul(c, a, b) == NULL, "3x4x5 @ 3x6x2 must fail");
    CHECK(strstr(rr_errmsg(), "matmul: inner dimensions differ") != NULL, "message: %s", rr_errmsg());
    rr_tensor *d = rr_zeros(c, RR_F32, RR_SHAPE(2, 5, 2));
    CHECK(rr_matmul(c, a, d) == NULL, "batch 3 with batch 2 must fail");
    CHECK(strstr(rr_errmsg(), "matmul: batch dimensions: shapes 3 and 2 do not broadcast") != NULL,
          "message: %s", rr_errmsg());
    rr_tensor *v = rr_zeros(c, RR_F32, RR_SHAPE(5));
    CHECK(rr_matmul(c, a, v) == NULL, "a 1-D operand must fail");
    CHECK(strstr(rr_errmsg(), "at least 2 dimensions") != NULL, "message: %s", rr_errmsg());
}

typedef struct {
    int bias;
} linear_arg;

static rr_tensor *apply_linear(rr_ctx *c, rr_tensor *const *in, const void *arg)
{
    return rr_linear(c, in[0], in[1], ((const linear_arg *)arg)->bias ? in[2] : NULL);
}

TEST(linear_op)
{
    rr_ctx *c = test_ctx();
    struct {
        int nx;
        int64_t sx[RR_MAXDIM];
        int64_t out;
    } cases[] = {{3, {3, 7, 15}, 9}, {1, {15}, 4}, {4, {2, 3, 5, 7}, 300}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
        for (int with_bias = 0; with_bias < 2; with_bias++) {
            int64_t in = cases[k].sx[cases[k].nx - 1], out = cases[k].out;
            rr_tensor *x = test_randn(c, 7 + k, cases[k].nx, cases[k].sx);
            rr_tensor *w = test_randn(c, 8 + k, RR_SHAPE(out, in)), *bias = test_randn(c, 9 + k, RR_SHAPE(out));
            linear_arg arg = {with_bias};
            rr_tensor *y = apply_linear(c, (rr_tensor *[]){x, w, bias}, &arg);
            CHECK_NOTNULL(y);
            if (!y)
                continue;
            CHECK(y->ndim == x->ndim && y->shape[y->ndim - 1] == out, "output rank/shape");
            int64_t rows = x->numel / in;
            double *want = malloc((size_t)(rows * out) * sizeof *want);
            for (int64_t r = 0; r < rows; r++)
                for (int64_t o = 0; o < out; o++) {
                    double s = with_bias ? rr_f32(bias)[o] : 0;
                    for (int64_t j = 0; j < in; j++)
                        s += (double)rr_f32(x)[r * in + j] * rr_f32(w)[o * in + j];
                    want[r * out + o] = s;
                }
            check_forward("linear", y, want, 1e-5);
            free(want);
            x->requires_grad = w->requires_grad = bias->requires_grad = 1;
            check_gradient("linear", apply_linear, &arg, with_bias ? 3 : 2, (rr_tensor *[]){x, w, bias}, 1e-2);
        }
}

TEST(linear_rejects_bad_shapes)
{
    rr_ctx *c = test_ctx();
    rr_tensor *x = rr_zeros(c, RR_F32, RR_SHAPE(3, 5)), *w = rr_zeros(c, RR_F32, RR_SHAPE(4, 6));
    CHECK(rr_linear(c, x, w, NULL) == NULL, "3x5 through a 4x6 weight must fail");
    CHECK(strstr(rr_errmsg(), "linear: input 3x5 does not end in the weight's 6 inputs") != NULL, "message: %s",
          rr_errmsg());
    rr_tensor *w2 = rr_zeros(c, RR_F32, RR_SHAPE(4, 5)), *b = rr_zeros(c, RR_F32, RR_SHAPE(5));
    CHECK(rr_linear(c, x, w2, b) == NULL, "a bias of 5 for 4 outputs must fail");
    CHECK(strstr(rr_errmsg(), "linear: bias 5 does not match weight 4x5") != NULL, "message: %s", rr_errmsg());
}
