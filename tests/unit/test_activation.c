/* gelu, relu, sigmoid, tanh, softsign. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static rr_tensor *(*const acts[])(rr_ctx *, rr_tensor *) = {rr_gelu, rr_relu, rr_sigmoid, rr_tanh,
                                                          rr_softsign};
static const char *const names[] = {"gelu", "relu", "sigmoid", "tanh", "softsign"};

static double naive(int op, double x)
{
    switch (op) {
    case 0: return 0.5 * x * (1 + erf(x / sqrt(2.0)));
    case 1: return x > 0 ? x : 0;
    case 2: return 1 / (1 + exp(-x));
    case 3: return tanh(x);
    default: return x / (1 + fabs(x));
    }
}

static rr_tensor *apply_act(rr_ctx *c, rr_tensor *const *in, const void *arg)
{
    return acts[*(const int *)arg](c, in[0]);
}

TEST(activations)
{
    rr_ctx *c = test_ctx();
    /* Values in ±[0.1, 3.1): away from relu's kink at 0 (the finite
     * differences step is 1e-2), and wide enough to reach the tails. */
    rr_tensor *x = test_uniform(c, 3, -3, 3, RR_SHAPE(3, 7, 15, 15));
    for (int64_t i = 0; i < x->numel; i++) {
        float v = rr_f32(x)[i];
        rr_f32(x)[i] = v + (v < 0 ? -0.1f : 0.1f);
    }
    double *want = malloc((size_t)x->numel * sizeof *want);
    for (int op = 0; op < 5; op++) {
        rr_tensor *y = acts[op](c, x);
        for (int64_t i = 0; i < x->numel; i++)
            want[i] = naive(op, rr_f32(x)[i]);
        check_forward(names[op], y, want, 1e-6);
        x->requires_grad = 1;
        check_gradient(names[op], apply_act, &op, 1, &x, 1e-2);
        x->requires_grad = 0;
    }
    free(want);
}

TEST(activations_extreme_inputs_stay_finite)
{
    rr_ctx *c = test_ctx();
    float v[] = {-200, -30, 30, 200};
    rr_tensor *x = rr_from_host(c, RR_F32, RR_SHAPE(4), v);
    for (int op = 0; op < 5; op++) {
        rr_tensor *y = acts[op](c, x);
        CHECK_NOTNULL(y);
        for (int i = 0; y && i < 4; i++)
            CHECK(isfinite(rr_f32(y)[i]) && fabs(rr_f32(y)[i] - naive(op, v[i])) < 1e-5 * fmax(1, fabs(v[i])),
                  "%s(%g) = %g", names[op], v[i], rr_f32(y)[i]);
    }
}

TEST(activation_rejects_int)
{
    rr_ctx *c = test_ctx();
    rr_tensor *x = rr_zeros(c, RR_I32, RR_SHAPE(3, 5));
    CHECK(rr_gelu(c, x) == NULL, "gelu of I32 must fail");
    CHECK(strstr(rr_errmsg(), "gelu: expected F32") != NULL, "message: %s", rr_errmsg());
}
