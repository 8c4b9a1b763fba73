/* dropout and drop_path: masks from the counter-based stream, statistics,
 * determinism, eval mode, gradients. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

/* The mask rule of dropout.h written out: draw k = rr_uniform(seed, offset + k),
 * kept when >= p, one draw per element or per sample. */
static double *naive(const rr_tensor *x, float p, uint64_t seed, uint64_t offset, int per_sample)
{
    int64_t group = per_sample ? x->numel / x->shape[0] : 1;
    double *y = malloc((size_t)x->numel * sizeof *y);
    for (int64_t i = 0; i < x->numel; i++)
        y[i] = rr_uniform(seed, offset + (uint64_t)(i / group)) >= p ? rr_f32(x)[i] / (1.0 - p) : 0.0;
    return y;
}

static rr_tensor *apply_dropout(rr_ctx *c, rr_tensor *const *in, const void *arg)
{
    return rr_dropout(c, in[0], *(const float *)arg);
}

static rr_tensor *apply_drop_path(rr_ctx *c, rr_tensor *const *in, const void *arg)
{
    return rr_drop_path(c, in[0], *(const float *)arg);
}

TEST(dropout_forward_and_gradient)
{
    rr_ctx *c = test_ctx();
    c->training = 1;
    c->seed = 1234;
    c->rng_offset = 77;
    float p = 0.3f;
    rr_tensor *x = test_randn(c, 41, RR_SHAPE(3, 7, 15, 15));
    rr_tensor *y = rr_dropout(c, x, p);
    double *want = naive(x, p, 1234, 77, 0);
    check_forward("dropout", y, want, 1e-6);
    free(want);
    CHECK(c->rng_offset == 77 + 3 * 7 * 15 * 15, "rng_offset %llu after one call", (unsigned long long)c->rng_offset);
    /* The gradient check replays the forward from rng_offset 0. */
    x->requires_grad = 1;
    check_gradient("dropout", apply_dropout, &p, 1, &x, 1e-2);
}

TEST(drop_path_forward_and_gradient)
{
    rr_ctx *c = test_ctx();
    c->training = 1;
    c->seed = 99;
    float p = 0.5f;
    rr_tensor *x = test_randn(c, 43, RR_SHAPE(3, 7, 15, 15));
    rr_tensor *y = rr_drop_path(c, x, p);
    double *want = naive(x, p, 99, 0, 1);
    check_forward("drop_path", y, want, 1e-6);
    free(want);
    CHECK(c->rng_offset == 3, "drop_path takes one draw per sample, rng_offset is %llu",
          (unsigned long long)c->rng_offset);
    /* With seed 0 (the gradient check's contexts) and p = 0.5, samples 0 and
     * 2 are dropped and sample 1 kept: both paths are exercised. */
    x->requires_grad = 1;
    check_gradient("drop_path", apply_drop_path, &p, 1, &x, 1e-2);
}

TEST(dropout_statistics)
{
    rr_ctx *c = test_ctx();
    c->training = 1;
    c->seed = 7;
    float p = 0.3f;
    rr_tensor *x = rr_new(c, RR_F32, RR_SHAPE(100, 1000));
    rr_fill(x, 1.0f);
    rr_tensor *y = rr_dropout(c, x, p);
    int64_t zeros = 0, bad = 0;
    double sum = 0;
    for (int64_t i = 0; i < y->numel; i++) {
        float v = rr_f32(y)[i];
        zeros += v == 0;
        bad += v != 0 && fabsf(v - 1 / (1 - p)) > 1e-6f;
        sum += v;
    }
    double frac = (double)zeros / y->numel, mean = sum / y->numel;
    /* The standard deviation of frac is sqrt(p(1-p)/n) = 0.0014. */
    CHECK(fabs(frac - p) < 0.01, "fraction dropped %.4f, expected %.2f", frac, p);
    CHECK(fabs(mean - 1) < 0.02, "mean %.4f, expected 1", mean);
    CHECK(bad == 0, "%lld kept values not scaled by 1/(1-p)", (long long)bad);

    /* drop_path: whole samples, about p of them. */
    rr_tensor *xs = rr_new(c, RR_F32, RR_SHAPE(2000, 3, 5));
    rr_fill(xs, 1.0f);
    rr_tensor *ys = rr_drop_path(c, xs, p);
    int64_t dropped = 0, mixed = 0;
    for (int64_t b = 0; b < 2000; b++) {
        const float *s = rr_f32(ys) + b * 15;
        int nz = 0;
        for (int k = 0; k < 15; k++)
            nz += s[k] == 0;
        dropped += nz == 15;
        mixed += nz != 0 && nz != 15;
    }
    CHECK(mixed == 0, "%lld samples partly dropped", (long long)mixed);
    CHECK(fabs(dropped / 2000.0 - p) < 0.05, "fraction of samples dropped %.4f, expected %.2f", dropped / 2000.0, p);
}

TEST(dropout_deterministic)
{
    rr_ctx *c = test_ctx();
    c->training = 1;
    c->seed = 5;
    rr_tensor *x = test_randn(c, 45, RR_SHAPE(3, 7, 15));
    rr_tensor *a = rr_dropout(c, x, 0.5f), *b = rr_dropout(c, x, 0.5f);
    CHECK(memcmp(a->data, b->data, rr_tensor_bytes(a)) != 0, "two calls drew the same mask");
    c->rng_offset = 0;
    rr_tensor *a2 = rr_dropout(c, x, 0.5f);
    CHECK(memcmp(a->data, a2->data, rr_tensor_bytes(a)) == 0, "the same seed and offset drew another mask");
    c->rng_offset = 0;
    c->seed = 6;
    rr_tensor *a3 = rr_dropout(c, x, 0.5f);
    CHECK(memcmp(a->data, a3->data, rr_tensor_bytes(a)) != 0, "another seed drew the same mask");
}

TEST(dropout_eval_mode_and_edge_probabilities)
{
    rr_ctx *c = test_ctx();
    rr_tensor *x = test_randn(c, 47, RR_SHAPE(3, 7));
    c->training = 0;
    CHECK(rr_dropout(c, x, 0.5f) == x && rr_drop_path(c, x, 0.5f) == x, "eval mode must be the identity");
    CHECK(c->rng_offset == 0, "eval mode used random numbers");
    c->training = 1;
    CHECK(rr_dropout(c, x, 0) == x && rr_drop_path(c, x, 0) == x, "p = 0 must be the identity");
    rr_tensor *z = rr_dropout(c, x, 1), *zp = rr_drop_path(c, x, 1);
    CHECK_NOTNULL(z);
    CHECK_NOTNULL(zp);
    for (int i = 0; z && zp && i < 21; i++)
        CHECK(rr_f32(z)[i] == 0 && rr_f32(zp)[i] == 0, "p = 1 must give zeros, element %d is %g, %g", i,
              rr_f32(z)[i], rr_f32(zp)[i]);
}

TEST(dropout_rejects_bad_probability)
{
    rr_ctx *c = test_ctx();
    c->training = 1;
    rr_tensor *x = rr_zeros(c, RR_F32, RR_SHAPE(3, 5));
    CHECK(rr_dropout(c, x, 1.5f) == NULL, "p = 1.5 must fail");
    CHECK(strstr(rr_errmsg(), "dropout: probability 1.5 outside [0, 1]") != NULL, "message: %s", rr_errmsg());
    CHECK(rr_drop_path(c, x, -0.1f) == NULL, "p = -0.1 must fail");
    CHECK(strstr(rr_errmsg(), "drop_path: probability") != NULL, "message: %s", rr_errmsg());
}
