/* reshape, permute, transpose, concat, split, slice, pad and roll.  Pure data
 * movement: forwards must match the naive index arithmetic bit for bit. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

/* Linear index <-> coordinates of a row-major shape. */
static void coords(int nd, const int64_t *shape, int64_t i, int64_t *q)
{
    for (int d = nd - 1; d >= 0; d--) {
        q[d] = i % shape[d];
        i /= shape[d];
    }
}

static int64_t linear(int nd, const int64_t *shape, const int64_t *q)
{
    int64_t i = 0;
    for (int d = 0; d < nd; d++)
        i = i * shape[d] + q[d];
    return i;
}

static double *alloc_want(const rr_tensor *t)
{
    return malloc((size_t)(t->numel ? t->numel : 1) * sizeof(double));
}

/* The exact backward of a data-movement op f of one input: run f on
 * x = 0, 1, 2, ... to learn which input element each output element copies
 * (padding values must be negative), then dx[j] must be the sum, in output
 * order, of the seed over the outputs that copy j: bit for bit. */
static void check_adjoint(const char *op, grad_fn f, const void *arg, rr_tensor *x)
{
    rr_ctx g;
    rr_ctx_init(&g, RR_CPU);
    rr_tensor *xi = rr_new(&g, RR_F32, x->ndim, x->shape);
    for (int64_t j = 0; j < x->numel; j++)
        rr_f32(xi)[j] = (float)j;
    rr_tensor *src = f(&g, &xi, arg);
    rr_ctx_grad(&g, 1);
    x->requires_grad = 1;
    x->grad = NULL;
    rr_tensor *out = f(&g, &x, arg);
    CHECK(src && out, "%s: %s", op, rr_errmsg());
    if (src && out) {
        rr_tensor *w = test_randn(&g, 4242, out->ndim, out->shape);
        CHECK_OK(rr_backward_from(&g, out, w));
        CHECK(x->grad != NULL, "%s: no gradient", op);
        float *want = calloc((size_t)x->numel + 1, sizeof *want);
        for (int64_t i = 0; i < out->numel; i++)
            if (rr_f32(src)[i] >= 0)
                want[(int64_t)rr_f32(src)[i]] += rr_f32(w)[i];
        for (int64_t j = 0; x->grad && j < x->numel; j++)
            if (rr_f32(x->grad)[j] != want[j]) {
                CHECK(0, "%s backward: dx[%lld] = %.9g, want %.9g", op, (long long)j,
                      rr_f32(x->grad)[j], want[j]);
                break;
            }
        free(want);
    }
    x->grad = NULL;
    rr_ctx_free(&g);
}

/* --- reshape ----------------------------------------------------------------- */

static rr_tensor *apply_reshape(rr_ctx *c, rr_tensor *const *in, const void *arg)
{
    return rr_reshape(c, in[0], RR_SHAPE(7, -1, 5));
}

TEST(reshape_op)
{
    rr_ctx *c = test_ctx();
    rr_tensor *x = test_randn(c, 1, RR_SHAPE(3, 7, 15, 15));
    rr_tensor *y = rr_reshape(c, x, RR_SHAPE(7, -1, 5));
    CHECK_NOTNULL(y);
    if (!y)
        return;
    CHECK(y->ndim == 3 && y->shape[0] == 7 && y->shape[1] == 135 && y->shape[2] == 5, "shape %lldx%lldx%lld",
          (long long)y->shape[0], (long long)y->shape[1], (long long)y->shape[2]);
    CHECK(y->data == x->data, "reshape must share the data");
    double *want = alloc_want(x);
    for (int64_t i = 0; i < x->numel; i++)
        want[i] = rr_f32(x)[i];
    check_forward("reshape", y, want, 0);
    free(want);
    /* Any dtype, no -1 */
    rr_tensor *m = rr_zeros(c, RR_I32, RR_SHAPE(4, 6));
    rr_tensor *m2 = rr_reshape(c, m, RR_SHAPE(2, 3, 4));
    CHECK(m2 && m2->dtype == RR_I32 && m2->numel == 24, "I32 reshape: %s", rr_errmsg());
    x->requires_grad = 1;
    check_gradient("reshape", apply_reshape, NULL, 1, &x, 1e-2);
    check_adjoint("reshape", apply_reshape, NULL, x);
}

TEST(reshape_rejects_bad_shapes)
{
    rr_ctx *c = test_ctx();
    rr_tensor *x = rr_zeros(c, RR_F32, RR_SHAPE(3, 7));
    CHECK(rr_reshape(c, x, RR_SHAPE(4, 5)) == NULL, "21 elements into 4x5 must fail");
    CHECK(strstr(rr_errmsg(), "reshape: shape [4, 5] is invalid") != NULL, "message: %s", rr_errmsg());
    CHECK(rr_reshape(c, x, RR_SHAPE(-1, 2)) == NULL, "21 into (-1, 2) must fail");
    CHECK(rr_reshape(c, x, RR_SHAPE(-1, -1)) == NULL, "two -1 must fail");
    CHECK(strstr(rr_errmsg(), "only one dimension") != NULL, "message: %s", rr_errmsg());
    CHECK(rr_reshape(c, x, RR_SHAPE(-3, -7)) == NULL, "negative sizes must fail");
    rr_error("earlier");
    CHECK(rr_reshape(c, NULL, RR_SHAPE(21)) == NULL, "a missing input must fail");
    CHECK(strcmp(rr_errmsg(), "reshape: input missing (an earlier op failed): earlier") == 0, "message: %s",
          rr_errmsg());
}

/* --- permute, transpose ---------------------------------------------------------- */

/* out[o] = x[i] with i[perm[d]] = o[d]. */
static void naive_permute(const rr_tensor *x, const int *perm, const rr_tensor *out, double *want)
{
    int nd = x->ndim;
    for (int64_t i = 0; i < out->numel; i++) {
        int64_t o[RR_MAXDIM], q[RR_MAXDIM];
        coords(nd, out->shape, i, o);
        for (int d = 0; d < nd; d++)
            q[(perm[d] + nd) % nd] = o[d];
        want[i] = rr_f32(x)[linear(nd, x->shape, q)];
    }
}

static rr_tensor *apply_permute(rr_ctx *c, rr_tensor *const *in, const void *arg)
{
    return rr_permute(c, in[0], arg);
}

TEST(permute_op)
{
    rr_ctx *c = test_ctx();
    static const int p4[] = {2, 0, 3, 1}, p5[] = {4, -2, 0, 1, 2}, p3[] = {0, 1, 2};
    struct {
        int nd;
        int64_t shape[5];
        const int *perm;
    } cases[] = {{4, {3, 7, 15, 15}, p4}, {5, {3, 2, 5, 4, 7}, p5}, {3, {3, 7, 5}, p3}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        rr_tensor *x = test_randn(c, 10 + k, cases[k].nd, cases[k].shape);
        rr_tensor *y = rr_permute(c, x, cases[k].perm);
        CHECK_NOTNULL(y);
        if (!y)
            continue;
        for (int d = 0; d < x->ndim; d++)
            CHECK(y->shape[d] == x->shape[(cases[k].perm[d] + x->ndim) % x->ndim], "case %zu dim %d", k, d);
        double *want = alloc_want(y);
        naive_permute(x, cases[k].perm, y, want);
        check_forward("permute", y, want, 0);
        free(want);
        x->requires_grad = 1;
        check_gradient("permute", apply_permute, cases[k].perm, 1, &x, 1e-2);
        check_adjoint("permute", apply_permute, cases[k].perm, x);
    }
}

TEST(permute_rejects_bad_perms)
{
    rr_ctx *c = test_ctx();
    rr_tensor *x = rr_zeros(c, RR_F32, RR_SHAPE(3, 7, 5));
    CHECK(rr_permute(c, x, (const int[]){0, 1, 1}) == NULL, "repeated axis must fail");
    CHECK(strstr(rr_errmsg(), "permute: axis 1 appears twice") != NULL, "message: %s", rr_errmsg());
    CHECK(rr_permute(c, x, (const int[]){0, 3, 1}) == NULL, "axis 3 of 3 dims must fail");
    CHECK(strstr(rr_errmsg(), "permute: axis 3 out of range") != NULL, "message: %s", rr_errmsg());
}

static rr_tensor *apply_transpose(rr_ctx *c, rr_tensor *const *in, const void *arg)
{
    const int *d = arg;
    return rr_transpose(c, in[0], d[0], d[1]);
}

TEST(transpose_op)
{
    rr_ctx *c = test_ctx();
    rr_tensor *x = test_randn(c, 20, RR_SHAPE(3, 7, 15));
    static const int dd[2] = {-1, 0};
    rr_tensor *y = rr_transpose(c, x, dd[0], dd[1]);
    CHECK_NOTNULL(y);
    if (!y)
        return;
    CHECK(y->shape[0] == 15 && y->shape[1] == 7 && y->shape[2] == 3, "shape");
    double *want = alloc_want(y);
    for (int64_t a = 0; a < 15; a++)
        for (int64_t b = 0; b < 7; b++)
            for (int64_t k = 0; k < 3; k++)
                want[(a * 7 + b) * 3 + k] = rr_f32(x)[(k * 7 + b) * 15 + a];
    check_forward("transpose", y, want, 0);
    free(want);
    x->requires_grad = 1;
    check_gradient("transpose", apply_transpose, dd, 1, &x, 1e-2);
    check_adjoint("transpose", apply_transpose, dd, x);
    CHECK(rr_transpose(c, x, 0, 3) == NULL, "axis 3 of 3 dims must fail");
    CHECK(strstr(rr_errmsg(), "transpose: axis 3 out of range for 3 dimensions") != NULL, "message: %s",
          rr_errmsg());
}

/* --- concat, split, slice ------------------------------------------------------------ */

typedef struct {
    int n, axis;
} concat_arg;

static rr_tensor *apply_concat(rr_ctx *c, rr_tensor *const *in, const void *arg)
{
    const concat_arg *a = arg;
    return rr_concat(c, a->n, in, a->axis);
}

/* The same input three times along axis 1: the gradient sums three blocks. */
static rr_tensor *apply_concat_self(rr_ctx *c, rr_tensor *const *in, const void *arg)
{
    return rr_concat(c, 3, (rr_tensor *[]){in[0], in[0], in[0]}, 1);
}

/* Inputs differing only along `axis`; out of the naive concatenation. */
static void naive_concat(int n, rr_tensor *const *xs, int axis, const rr_tensor *out, double *want)
{
    int nd = out->ndim;
    for (int64_t i = 0; i < out->numel; i++) {
        int64_t q[RR_MAXDIM] = {0};
        coords(nd, out->shape, i, q);
        int k = 0;
        while (q[axis] >= xs[k]->shape[axis])
            q[axis] -= xs[k++]->shape[axis];
        want[i] = rr_f32(xs[k])[linear(nd, xs[k]->shape, q)];
    }
}

TEST(concat_op)
{
    rr_ctx *c = test_ctx();
    /* Channels 2 + 4 + 1 = 7 of 3x?x15x15, and along the last axis. */
    rr_tensor *a = test_randn(c, 30, RR_SHAPE(3, 2, 15, 15)), *b = test_randn(c, 31, RR_SHAPE(3, 4, 15, 15)),
              *d = test_randn(c, 32, RR_SHAPE(3, 1, 15, 15));
    rr_tensor *xs[] = {a, b, d};
    rr_tensor *y = rr_concat(c, 3, xs, 1);
    CHECK_NOTNULL(y);
    if (y) {
        CHECK(y->shape[1] == 7, "7 channels");
        double *want = alloc_want(y);
        naive_concat(3, xs, 1, y, want);
        check_forward("concat", y, want, 0);
        free(want);
    }
    rr_tensor *e = test_randn(c, 33, RR_SHAPE(3, 7, 4)), *f = test_randn(c, 34, RR_SHAPE(3, 7, 11));
    rr_tensor *ef[] = {e, f};
    rr_tensor *z = rr_concat(c, 2, ef, -1);
    CHECK_NOTNULL(z);
    if (z) {
        double *want = alloc_want(z);
        naive_concat(2, ef, 2, z, want);
        check_forward("concat", z, want, 0);
        free(want);
    }
    a->requires_grad = b->requires_grad = 1; /* d stays a constant */
    check_gradient("concat", apply_concat, &(concat_arg){3, 1}, 3, xs, 1e-2);
    CHECK(d->grad == NULL, "no gradient for an input that needs none");
    e->requires_grad = f->requires_grad = 1;
    check_gradient("concat", apply_concat, &(concat_arg){2, -1}, 2, ef, 1e-2);
    check_adjoint("concat", apply_concat_self, NULL, b);
}

TEST(concat_rejects_mismatched_shapes)
{
    rr_ctx *c = test_ctx();
    rr_tensor *a = rr_zeros(c, RR_F32, RR_SHAPE(3, 2, 5)), *b = rr_zeros(c, RR_F32, RR_SHAPE(3, 2, 6));
    CHECK(rr_concat(c, 2, (rr_tensor *[]){a, b}, 1) == NULL, "3x2x5 and 3x2x6 along axis 1 must fail");
    CHECK(strstr(rr_errmsg(), "concat: input 1 has shape 3x2x6") != NULL, "message: %s", rr_errmsg());
    CHECK(rr_concat(c, 2, (rr_tensor *[]){a, b}, 2) != NULL, "along axis 2 they fit: %s", rr_errmsg());
    rr_tensor *i = rr_zeros(c, RR_I32, RR_SHAPE(3, 2, 5));
    CHECK(rr_concat(c, 2, (rr_tensor *[]){a, i}, 0) == NULL, "I32 must fail");
    CHECK(strstr(rr_errmsg(), "concat: expected F32, got I32") != NULL, "message: %s", rr_errmsg());
}

static const int64_t split_sizes[] = {2, 0, 5};

static rr_tensor *apply_split(rr_ctx *c, rr_tensor *const *in, const void *arg)
{
    rr_tensor *outs[3];
    return rr_split(c, in[0], 1, 3, split_sizes, outs) == 0 ? outs[*(const int *)arg] : NULL;
}

TEST(split_op)
{
    rr_ctx *c = test_ctx();
    rr_tensor *x = test_randn(c, 40, RR_SHAPE(3, 7, 15, 15)), *outs[3];
    CHECK_OK(rr_split(c, x, 1, 3, split_sizes, outs));
    int64_t first = 0;
    for (int k = 0; k < 3; k++) {
        rr_tensor *o = outs[k];
        CHECK(o && o->shape[0] == 3 && o->shape[1] == split_sizes[k] && o->shape[3] == 15, "piece %d", k);
        double *want = alloc_want(o);
        for (int64_t i = 0; i < o->numel; i++) {
            int64_t q[4];
            coords(4, o->shape, i, q);
            q[1] += first;
            want[i] = rr_f32(x)[linear(4, x->shape, q)];
        }
        check_forward("split", o, want, 0);
        free(want);
        first += split_sizes[k];
    }
    /* split then concat gives x back, bit for bit */
    rr_tensor *back = rr_concat(c, 3, outs, 1);
    CHECK(back && memcmp(back->data, x->data, rr_tensor_bytes(x)) == 0, "split + concat round trip");
    x->requires_grad = 1;
    for (int k = 0; k < 3; k += 2) {
        check_gradient("split", apply_split, &k, 1, &x, 1e-2);
        check_adjoint("split", apply_split, &k, x);
    }
    CHECK(rr_split(c, x, 1, 2, (const int64_t[]){3, 3}, outs) == -1, "3 + 3 != 7 must fail");
    CHECK(strstr(rr_errmsg(), "split: sizes sum to 6, but axis 1 of 3x7x15x15 has 7") != NULL, "message: %s",
          rr_errmsg());
}

typedef struct {
    int axis;
    int64_t start, end, step;
} slice_arg;

static rr_tensor *apply_slice(rr_ctx *c, rr_tensor *const *in, const void *arg)
{
    const slice_arg *s = arg;
    return rr_slice(c, in[0], s->axis, s->start, s->end, s->step);
}

TEST(slice_op)
{
    rr_ctx *c = test_ctx();
    rr_tensor *x = test_randn(c, 50, RR_SHAPE(3, 7, 15, 15));
    /* Python's x[..., start:end:step] on axis 2 (15) or 1 (7), with the first
     * index and the length worked out by hand. */
    struct {
        slice_arg s;
        int64_t first, len;
    } cases[] = {
        {{2, 0, INT64_MAX, 2}, 0, 8},  /* x[:, :, 0::2]  PatchMerging */
        {{2, 1, INT64_MAX, 2}, 1, 7},  /* x[:, :, 1::2] */
        {{-1, 3, 11, 3}, 3, 3},        /* 3, 6, 9 */
        {{1, -5, -1, 1}, 2, 4},        /* channels 2..5 */
        {{1, -100, 100, 4}, 0, 2},     /* clamped: 0, 4 */
        {{2, 9, 4, 1}, 9, 0},          /* empty */
        {{0, 1, 2, 1}, 1, 1},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        slice_arg s = cases[k].s;
        int axis = s.axis < 0 ? s.axis + 4 : s.axis;
        rr_tensor *y = apply_slice(c, &x, &s);
        CHECK_NOTNULL(y);
        if (!y)
            continue;
        CHECK(y->shape[axis] == cases[k].len, "case %zu: length %lld, want %lld", k,
              (long long)y->shape[axis], (long long)cases[k].len);
        double *want = alloc_want(y);
        for (int64_t i = 0; i < y->numel; i++) {
            int64_t q[4];
            coords(4, y->shape, i, q);
            q[axis] = cases[k].first + q[axis] * s.step;
            want[i] = rr_f32(x)[linear(4, x->shape, q)];
        }
        check_forward("slice", y, want, 0);
        free(want);
        x->requires_grad = 1;
        if (y->numel)
            check_gradient("slice", apply_slice, &s, 1, &x, 1e-2);
        check_adjoint("slice", apply_slice, &s, x);
        x->requires_grad = 0;
    }
    CHECK(rr_slice(c, x, 1, 0, 7, 0) == NULL, "step 0 must fail");
    CHECK(strstr(rr_errmsg(), "slice: step must be at least 1, got 0") != NULL, "message: %s", rr_errmsg());
}

/* --- pad, roll -------------------------------------------------------------------- */

typedef struct {
    int npairs;
    int64_t pads[8];
    float value;
} pad_arg;

static rr_tensor *apply_pad(rr_ctx *c, rr_tensor *const *in, const void *arg)
{
    const pad_arg *p = arg;
    return rr_pad(c, in[0], p->pads, p->npairs, p->value);
}

TEST(pad_op)
{
    rr_ctx *c = test_ctx();
    struct {
        int nd;
        int64_t shape[4];
        pad_arg p;
    } cases[] = {
        /* Swin stage 4: (B, 15, 15, C) padded right/bottom to 24 (doc/network.md, Swin block):
         * F.pad(x, (0, 0, 0, 9, 0, 9)) */
        {4, {3, 15, 15, 7}, {3, {0, 0, 0, 9, 0, 9}, 0.0f}},
        /* left 1, right 2, top 3, bottom 0 of NCHW, value -1.5 */
        {4, {3, 7, 15, 15}, {2, {1, 2, 3, 0}, -1.5f}},
        {3, {3, 7, 5}, {3, {1, 1, 0, 2, 2, 0}, -2.0f}},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        int nd = cases[k].nd;
        const pad_arg *p = &cases[k].p;
        rr_tensor *x = test_randn(c, 60 + k, nd, cases[k].shape);
        rr_tensor *y = apply_pad(c, &x, p);
        CHECK_NOTNULL(y);
        if (!y)
            continue;
        int64_t before[4] = {0};
        for (int j = 0; j < p->npairs; j++) {
            before[nd - 1 - j] = p->pads[2 * j];
            CHECK(y->shape[nd - 1 - j] == x->shape[nd - 1 - j] + p->pads[2 * j] + p->pads[2 * j + 1],
                  "case %zu: padded size of dim %d", k, nd - 1 - j);
        }
        double *want = alloc_want(y);
        for (int64_t i = 0; i < y->numel; i++) {
            int64_t q[4];
            int inside = 1;
            coords(nd, y->shape, i, q);
            for (int d = 0; d < nd; d++) {
                q[d] -= before[d];
                inside &= q[d] >= 0 && q[d] < x->shape[d];
            }
            want[i] = inside ? rr_f32(x)[linear(nd, x->shape, q)] : p->value;
        }
        check_forward("pad", y, want, 0);
        free(want);
        x->requires_grad = 1;
        check_gradient("pad", apply_pad, p, 1, &x, 1e-2);
        if (p->value < 0)
            check_adjoint("pad", apply_pad, p, x);
    }
    rr_tensor *x = rr_zeros(c, RR_F32, RR_SHAPE(3, 7));
    CHECK(rr_pad(c, x, (const int64_t[]){1, -1}, 1, 0) == NULL, "negative pad must fail");
    CHECK(strstr(rr_errmsg(), "pad: negative padding (1, -1) is not supported") != NULL, "message: %s",
          rr_errmsg());
    CHECK(rr_pad(c, x, (const int64_t[]){1, 1, 1, 1, 1, 1}, 3, 0) == NULL, "3 pairs for 2 dims must fail");
}

typedef struct {
    int n;
    int64_t shifts[3];
    int axes[3];
} roll_arg;

static rr_tensor *apply_roll(rr_ctx *c, rr_tensor *const *in, const void *arg)
{
    const roll_arg *r = arg;
    return rr_roll(c, in[0], r->n, r->shifts, r->axes);
}

TEST(roll_op)
{
    rr_ctx *c = test_ctx();
    rr_tensor *x = test_randn(c, 70, RR_SHAPE(3, 15, 15, 7));
    const roll_arg cases[] = {
        {2, {-6, -6}, {1, 2}},       /* Swin's cyclic shift of (B, H, W, C) */
        {2, {37, -100}, {1, -1}},    /* beyond the sizes */
        {3, {4, 5, 1}, {2, 2, 0}},   /* a repeated axis adds up: 9 along axis 2 */
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const roll_arg *r = &cases[k];
        rr_tensor *y = apply_roll(c, &x, r);
        CHECK_NOTNULL(y);
        if (!y)
            continue;
        int64_t shift[4] = {0};
        for (int j = 0; j < r->n; j++)
            shift[(r->axes[j] + 4) % 4] += r->shifts[j];
        double *want = alloc_want(y);
        for (int64_t i = 0; i < y->numel; i++) {
            int64_t q[4];
            coords(4, y->shape, i, q);
            for (int d = 0; d < 4; d++) { /* out[q] = x[q - shift] */
                q[d] = (q[d] - shift[d]) % x->shape[d];
                if (q[d] < 0)
                    q[d] += x->shape[d];
            }
            want[i] = rr_f32(x)[linear(4, x->shape, q)];
        }
        check_forward("roll", y, want, 0);
        free(want);
        x->requires_grad = 1;
        check_gradient("roll", apply_roll, r, 1, &x, 1e-2);
        check_adjoint("roll", apply_roll, r, x);
        x->requires_grad = 0;
    }
    /* rolling back by (+6, +6) restores x exactly (doc/network.md, Swin block, step 6) */
    rr_tensor *y = apply_roll(c, &x, &cases[0]);
    rr_tensor *back = rr_roll(c, y, 2, (const int64_t[]){6, 6}, (const int[]){1, 2});
    CHECK(back && memcmp(back->data, x->data, rr_tensor_bytes(x)) == 0, "roll round trip");
    CHECK(rr_roll(c, x, 1, (const int64_t[]){1}, (const int[]){4}) == NULL, "axis 4 of 4 dims must fail");
    CHECK(strstr(rr_errmsg(), "roll: axis 4 out of range") != NULL, "message: %s", rr_errmsg());
}
