/* layer_norm, batch_norm (train and eval, running statistics), instance_norm1d. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

/* Normalises `rows` groups of `cnt` elements; element k of group r is at
 * x[idx(r, k)].  Writes (x − mean)/sqrt(var + eps) in double, biased var. */
typedef int64_t (*index_fn)(int64_t r, int64_t k, const int64_t *dims);

static void naive_norm(const float *x, double *y, int64_t rows, int64_t cnt, double eps, index_fn idx,
                       const int64_t *dims, double *means, double *vars)
{
    for (int64_t r = 0; r < rows; r++) {
        double s = 0, v = 0;
        for (int64_t k = 0; k < cnt; k++)
            s += x[idx(r, k, dims)];
        double mu = s / cnt;
        for (int64_t k = 0; k < cnt; k++)
            v += (x[idx(r, k, dims)] - mu) * (x[idx(r, k, dims)] - mu);
        v /= cnt;
        for (int64_t k = 0; k < cnt; k++)
            y[idx(r, k, dims)] = (x[idx(r, k, dims)] - mu) / sqrt(v + eps);
        if (means)
            means[r] = mu, vars[r] = v;
    }
}

/* Contiguous rows of dims[0] elements. */
static int64_t row_index(int64_t r, int64_t k, const int64_t *dims) { return r * dims[0] + k; }
/* Channel r of (n, ch, inner) = dims[0..2]: k runs over n·inner. */
static int64_t channel_index(int64_t r, int64_t k, const int64_t *dims)
{
    return ((k / dims[2]) * dims[1] + r) * dims[2] + k % dims[2];
}

/* The gradient check's inputs are x, then weight (affine >= 1), then bias
 * (affine == 1), then the running mean and variance (batch norm in eval). */
typedef struct {
    float eps, momentum;
    int affine; /* 0 none, 1 weight and bias, 2 weight only */
    int eval;
} norm_arg;

/* The inputs array for check_gradient and its length. */
static int norm_inputs(rr_tensor **in, rr_tensor *x, rr_tensor *w, rr_tensor *b, rr_tensor *rm, rr_tensor *rv)
{
    int n = 0;
    rr_tensor *all[5] = {x, w, b, rm, rv};
    for (int i = 0; i < 5; i++)
        if (all[i])
            in[n++] = all[i];
    return n;
}

static rr_tensor *param(rr_tensor *const *in, const norm_arg *a, int which)
{
    int nw = a->affine == 1 ? 2 : a->affine == 2 ? 1 : 0;
    switch (which) {
    case 0: return a->affine ? in[1] : NULL;
    case 1: return a->affine == 1 ? in[2] : NULL;
    default: return a->eval ? in[1 + nw + which - 2] : NULL;
    }
}

static rr_tensor *apply_layer_norm(rr_ctx *c, rr_tensor *const *in, const void *arg)
{
    const norm_arg *a = arg;
    return rr_layer_norm(c, in[0], param(in, a, 0), param(in, a, 1), a->eps);
}

static rr_tensor *apply_instance_norm(rr_ctx *c, rr_tensor *const *in, const void *arg)
{
    const norm_arg *a = arg;
    return rr_instance_norm1d(c, in[0], param(in, a, 0), param(in, a, 1), a->eps);
}

/* The gradient check runs in training mode; eval sets it off for this op. */
static rr_tensor *apply_batch_norm(rr_ctx *c, rr_tensor *const *in, const void *arg)
{
    const norm_arg *a = arg;
    c->training = !a->eval;
    return rr_batch_norm(c, in[0], param(in, a, 0), param(in, a, 1), param(in, a, 2), param(in, a, 3),
                         a->momentum, a->eps);
}

TEST(layer_norm_op)
{
    rr_ctx *c = test_ctx();
    struct {
        int nd;
        int64_t shape[4];
        int affine;
        float eps;
    } cases[] = {
        {3, {3, 5, 7}, 1, 1e-5f},
        {4, {3, 7, 15, 15}, 1, 1e-5f},
        {2, {21, 15}, 0, 1e-5f},
        {3, {3, 5, 7}, 2, 1e-12f}, /* BERT's eps */
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        int64_t d = cases[k].shape[cases[k].nd - 1];
        rr_tensor *x = test_randn(c, 51 + k, cases[k].nd, cases[k].shape);
        for (int64_t i = 0; i < x->numel; i++) /* an offset, as real activations have */
            rr_f32(x)[i] = 3 + 2 * rr_f32(x)[i];
        rr_tensor *w = cases[k].affine ? test_randn(c, 61 + k, RR_SHAPE(d)) : NULL;
        rr_tensor *b = cases[k].affine == 1 ? test_randn(c, 71 + k, RR_SHAPE(d)) : NULL;
        rr_tensor *y = rr_layer_norm(c, x, w, b, cases[k].eps);
        double *want = malloc((size_t)x->numel * sizeof *want);
        naive_norm(rr_f32(x), want, x->numel / d, d, cases[k].eps, row_index, &d, NULL, NULL);
        for (int64_t i = 0; i < x->numel; i++)
            want[i] = want[i] * (w ? rr_f32(w)[i % d] : 1) + (b ? rr_f32(b)[i % d] : 0);
        check_forward("layer_norm", y, want, 1e-5);
        free(want);
        norm_arg a = {cases[k].eps, 0, cases[k].affine, 0};
        x->requires_grad = 1;
        if (w)
            w->requires_grad = 1;
        if (b)
            b->requires_grad = 1;
        rr_tensor *in[5];
        check_gradient("layer_norm", apply_layer_norm, &a, norm_inputs(in, x, w, b, NULL, NULL), in, 1e-2);
    }
}

TEST(instance_norm1d_op)
{
    rr_ctx *c = test_ctx();
    for (int affine = 0; affine < 2; affine++) {
        rr_tensor *x = test_randn(c, 81 + affine, RR_SHAPE(3, 7, 15));
        rr_tensor *w = affine ? test_randn(c, 83, RR_SHAPE(7)) : NULL;
        rr_tensor *b = affine ? test_randn(c, 85, RR_SHAPE(7)) : NULL;
        rr_tensor *y = rr_instance_norm1d(c, x, w, b, 1e-5f);
        double want[3 * 7 * 15];
        int64_t d = 15;
        naive_norm(rr_f32(x), want, 21, 15, 1e-5, row_index, &d, NULL, NULL);
        for (int64_t i = 0; i < x->numel; i++)
            want[i] = want[i] * (w ? rr_f32(w)[(i / 15) % 7] : 1) + (b ? rr_f32(b)[(i / 15) % 7] : 0);
        check_forward("instance_norm1d", y, want, 1e-5);
        norm_arg a = {1e-5f, 0, affine, 0};
        x->requires_grad = 1;
        if (affine)
            w->requires_grad = b->requires_grad = 1;
        rr_tensor *in[5];
        check_gradient("instance_norm1d", apply_instance_norm, &a, norm_inputs(in, x, w, b, NULL, NULL), in, 1e-2);
    }
}

/* Batch norm of x as (n, ch, inner) against the naive loops; with running
 * statistics, checks their update (train) or their use (eval). */
static void batch_norm_case(rr_ctx *c, int nd, const int64_t *shape, int eval, int affine, uint64_t seed)
{
    int64_t dims[3] = {shape[0], shape[1], 1};
    for (int i = 2; i < nd; i++)
        dims[2] *= shape[i];
    int64_t ch = dims[1], m = dims[0] * dims[2];
    rr_tensor *x = test_randn(c, seed, nd, shape);
    for (int64_t i = 0; i < x->numel; i++)
        rr_f32(x)[i] = 1 + 3 * rr_f32(x)[i];
    rr_tensor *w = affine ? test_randn(c, seed + 1, RR_SHAPE(ch)) : NULL;
    rr_tensor *b = affine ? test_randn(c, seed + 2, RR_SHAPE(ch)) : NULL;
    rr_tensor *rm = test_randn(c, seed + 3, RR_SHAPE(ch)), *rv = test_uniform(c, seed + 4, 0.5f, 2, RR_SHAPE(ch));
    float rm0[16], rv0[16];
    memcpy(rm0, rr_f32(rm), (size_t)ch * sizeof(float));
    memcpy(rv0, rr_f32(rv), (size_t)ch * sizeof(float));
    const float eps = 1e-5f, momentum = 0.1f;

    c->training = !eval;
    rr_tensor *y = rr_batch_norm(c, x, w, b, rm, rv, momentum, eps);
    double *want = malloc((size_t)x->numel * sizeof *want), means[16], vars[16];
    if (eval) {
        for (int64_t i = 0; i < x->numel; i++) {
            int64_t k = (i / dims[2]) % ch;
            want[i] = (rr_f32(x)[i] - (double)rm0[k]) / sqrt((double)rv0[k] + eps);
        }
    } else {
        naive_norm(rr_f32(x), want, ch, m, eps, channel_index, dims, means, vars);
    }
    for (int64_t i = 0; i < x->numel; i++) {
        int64_t k = (i / dims[2]) % ch;
        want[i] = want[i] * (w ? rr_f32(w)[k] : 1) + (b ? rr_f32(b)[k] : 0);
    }
    const char *name = eval ? "batch_norm_eval" : "batch_norm_train";
    check_forward(name, y, want, 1e-5);
    free(want);
    for (int64_t k = 0; k < ch; k++) {
        double em = eval ? rm0[k] : 0.9 * rm0[k] + 0.1 * means[k];
        double ev = eval ? rv0[k] : 0.9 * rv0[k] + 0.1 * vars[k] * m / (m - 1); /* unbiased */
        CHECK(fabs(rr_f32(rm)[k] - em) < 1e-5 * fmax(1, fabs(em)) &&
                  fabs(rr_f32(rv)[k] - ev) < 1e-5 * fmax(1, fabs(ev)),
              "%s: running stats of channel %lld: %g %g, expected %g %g", name, (long long)k, rr_f32(rm)[k],
              rr_f32(rv)[k], em, ev);
    }

    /* Gradients: in training without running statistics, so that the
     * repeated evaluations leave nothing behind; in eval with them. */
    norm_arg a = {eps, momentum, affine, eval};
    x->requires_grad = 1;
    if (affine)
        w->requires_grad = b->requires_grad = 1;
    rr_tensor *in[5];
    check_gradient(name, apply_batch_norm, &a, norm_inputs(in, x, w, b, eval ? rm : NULL, eval ? rv : NULL), in,
                   1e-2);
    c->training = 0;
}

TEST(batch_norm_train_op)
{
    rr_ctx *c = test_ctx();
    batch_norm_case(c, RR_SHAPE(3, 7, 15, 15), 0, 1, 91);
    batch_norm_case(c, RR_SHAPE(15, 7), 0, 1, 101); /* BatchNorm1d on (N, C) */
    batch_norm_case(c, RR_SHAPE(3, 7, 15), 0, 0, 111);
}

TEST(batch_norm_eval_op)
{
    rr_ctx *c = test_ctx();
    batch_norm_case(c, RR_SHAPE(3, 7, 15, 15), 1, 1, 121);
    batch_norm_case(c, RR_SHAPE(15, 7), 1, 0, 131);
}

TEST(batch_norm_train_without_running_stats)
{
    rr_ctx *c = test_ctx();
    c->training = 1;
    rr_tensor *x = test_randn(c, 141, RR_SHAPE(3, 7, 5, 5));
    rr_tensor *y = rr_batch_norm(c, x, NULL, NULL, NULL, NULL, 0.1f, 1e-5f);
    CHECK_NOTNULL(y);
    /* Each channel of the output has mean 0 and biased variance ~1. */
    for (int k = 0; y && k < 7; k++) {
        double s = 0, v = 0;
        for (int q = 0; q < 3; q++)
            for (int j = 0; j < 25; j++)
                s += rr_f32(y)[(q * 7 + k) * 25 + j];
        for (int q = 0; q < 3; q++)
            for (int j = 0; j < 25; j++)
                v += pow(rr_f32(y)[(q * 7 + k) * 25 + j] - s / 75, 2);
        CHECK(fabs(s / 75) < 1e-5 && fabs(v / 75 - 1) < 1e-3, "channel %d: mean %g var %g", k, s / 75, v / 75);
    }
}

TEST(norm_rejects_bad_inputs)
{
    rr_ctx *c = test_ctx();
    rr_tensor *x = rr_zeros(c, RR_F32, RR_SHAPE(3, 7, 15)), *w5 = rr_zeros(c, RR_F32, RR_SHAPE(5));
    CHECK(rr_layer_norm(c, x, w5, NULL, 1e-5f) == NULL, "layer_norm with a weight of 5 on 3x7x15 must fail");
    CHECK(strstr(rr_errmsg(), "layer_norm: weight has shape 5, expected 15 for x 3x7x15") != NULL, "message: %s",
          rr_errmsg());
    CHECK(rr_instance_norm1d(c, w5, NULL, NULL, 1e-5f) == NULL, "instance_norm1d of a 1-D tensor must fail");
    CHECK(strstr(rr_errmsg(), "instance_norm1d: expected 3 dimensions") != NULL, "message: %s", rr_errmsg());
    c->training = 0;
    CHECK(rr_batch_norm(c, x, NULL, NULL, NULL, NULL, 0.1f, 1e-5f) == NULL, "eval batch_norm without stats");
    CHECK(strstr(rr_errmsg(), "batch_norm_eval: eval mode needs the running statistics") != NULL, "message: %s",
          rr_errmsg());
    c->training = 1;
    CHECK(rr_batch_norm(c, x, w5, NULL, NULL, NULL, 0.1f, 1e-5f) == NULL, "batch_norm weight of 5 for 7 channels");
    CHECK(strstr(rr_errmsg(), "batch_norm_train: weight has shape 5, expected 7") != NULL, "message: %s",
          rr_errmsg());
    rr_tensor *one = rr_zeros(c, RR_F32, RR_SHAPE(1, 7));
    CHECK(rr_batch_norm(c, one, NULL, NULL, NULL, NULL, 0.1f, 1e-5f) == NULL, "training on one value per channel");
    CHECK(strstr(rr_errmsg(), "expected more than 1 value per channel when training") != NULL, "message: %s",
          rr_errmsg());
}
