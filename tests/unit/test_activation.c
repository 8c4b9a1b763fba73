/* gelu, relu, sigmoid, tanh, softsign, relu6, hsigmoid, hswish. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static rr_tensor *(*const acts[])(rr_ctx *, rr_tensor *) = {rr_gelu,     rr_relu,  rr_sigmoid,  rr_tanh,
                                                          rr_softsign, rr_relu6, rr_hsigmoid, rr_hswish};
static const char *const names[] = {"gelu", "relu", "sigmoid", "tanh", "softsign", "relu6", "hsigmoid", "hswish"};
#define NACTS 8

static double relu6(double x) { return fmin(fmax(x, 0), 6); }

static double naive(int op, double x)
{
    switch (op) {
    case 0: return 0.5 * x * (1 + erf(x / sqrt(2.0)));
    case 1: return x > 0 ? x : 0;
    case 2: return 1 / (1 + exp(-x));
    case 3: return tanh(x);
    case 4: return x / (1 + fabs(x));
    case 5: return relu6(x);
    case 6: return relu6(x + 3) / 6;
    default: return x * relu6(x + 3) / 6;
    }
}

static rr_tensor *apply_act(rr_ctx *c, rr_tensor *const *in, const void *arg)
{
    return acts[*(const int *)arg](c, in[0]);
}

TEST(activations)
{
    rr_ctx *c = test_ctx();
    /* Values in [-5, 8), at least 0.1 away from the kinks at -3, 0, 3 and 6
     * (the finite differences step is 1e-2), wide enough to reach the tails
     * and every piece of the hard ones. */
    static const float kinks[] = {-3, 0, 3, 6};
    rr_tensor *x = test_uniform(c, 3, -5, 8, RR_SHAPE(3, 7, 15, 15));
    for (int64_t i = 0; i < x->numel; i++) {
        float *v = &rr_f32(x)[i];
        for (int k = 0; k < 4; k++)
            if (fabsf(*v - kinks[k]) < 0.1f)
                *v = kinks[k] + (*v < kinks[k] ? -0.1f : 0.1f);
    }
    double *want = malloc((size_t)x->numel * sizeof *want);
    for (int op = 0; op < NACTS; op++) {
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
    for (int op = 0; op < NACTS; op++) {
        rr_tensor *y = acts[op](c, x);
        CHECK_NOTNULL(y);
        for (int i = 0; y && i < 4; i++)
            CHECK(isfinite(rr_f32(y)[i]) && fabs(rr_f32(y)[i] - naive(op, v[i])) < 1e-5 * fmax(1, fabs(v[i])),
                  "%s(%g) = %g", names[op], v[i], rr_f32(y)[i]);
    }
}

/* torch's one-sided choices where the hard activations bend: relu6 and
 * hsigmoid (ReLU6 of x + 3) pass no gradient at either end of their slope,
 * hswish takes its middle piece at 3 and its flat one just below -3. */
TEST(hard_activations_take_torchs_gradient_at_kinks)
{
    rr_ctx *c = test_ctx();
    float v[] = {0, 6, -3, 3, -3.0001f};
    static const float want[3][5] = {{0, 0, 0, 1, 0}, {1.0f / 6, 0, 0, 0, 0}, {0.5f, 1, -0.5f, 1.5f, 0}};
    for (int k = 0; k < 3; k++) {
        rr_ctx_grad(c, 1);
        rr_tensor *x = rr_from_host(c, RR_F32, RR_SHAPE(5), v);
        x->requires_grad = 1;
        rr_tensor *y = acts[5 + k](c, x);
        CHECK_NOTNULL(y);
        int axes[] = {0};
        if (!y || rr_backward(c, rr_sum(c, y, 1, axes, 0)) || !x->grad) {
            CHECK(0, "%s: backward: %s", names[5 + k], rr_errmsg());
            continue;
        }
        for (int i = 0; i < 5; i++)
            CHECK(fabsf(rr_f32(x->grad)[i] - want[k][i]) < 1e-6f, "%s'(%g) = %g, torch's is %g", names[5 + k],
                  v[i], rr_f32(x->grad)[i], want[k][i]);
    }
}

TEST(activation_rejects_int)
{
    rr_ctx *c = test_ctx();
    rr_tensor *x = rr_zeros(c, RR_I32, RR_SHAPE(3, 5));
    CHECK(rr_gelu(c, x) == NULL, "gelu of I32 must fail");
    CHECK(strstr(rr_errmsg(), "gelu: expected F32") != NULL, "message: %s", rr_errmsg());
}
