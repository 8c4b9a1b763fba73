#include "activation.h"

#include "../tape.h"
#include "check.h"
#include "vmath.h"

/* Elements per task of the parallel loops. */
#define CHUNK 16384

/* y = f(x) on one chunk: a vectorised loop per activation (tanh keeps libm's
 * tanhf: 1 - 2 / (e^2x + 1) loses the relative precision near 0). */
RR_SIMD_CLONES static void act_fwd_chunk(rr_act op, const float *x, float *y, int64_t n)
{
    switch (op) {
    case RR_GELU:
#pragma omp simd
        for (int64_t i = 0; i < n; i++)
            y[i] = 0.5f * x[i] * (1.0f + rr_verff(x[i] * 0.70710678118654752f));
        break;
    case RR_RELU:
#pragma omp simd
        for (int64_t i = 0; i < n; i++)
            y[i] = x[i] > 0 ? x[i] : 0.0f;
        break;
    case RR_SIGMOID:
#pragma omp simd
        for (int64_t i = 0; i < n; i++)
            y[i] = 1.0f / (1.0f + rr_vexpf(-x[i]));
        break;
    default:
        for (int64_t i = 0; i < n; i++)
            y[i] = rr_act_value(op, x[i]);
    }
}

/* dx += dy f'(x) on one chunk. */
RR_SIMD_CLONES static void act_bwd_chunk(rr_act op, const float *x, const float *y, const float *dy, float *dx,
                                         int64_t n)
{
    switch (op) {
    case RR_GELU: /* Φ(x) + x·φ(x) */
#pragma omp simd
        for (int64_t i = 0; i < n; i++)
            dx[i] += dy[i] * (0.5f * (1.0f + rr_verff(x[i] * 0.70710678118654752f)) +
                              x[i] * rr_vexpf(-0.5f * x[i] * x[i]) * 0.39894228040143268f);
        break;
    case RR_RELU:
#pragma omp simd
        for (int64_t i = 0; i < n; i++)
            dx[i] += x[i] > 0 ? dy[i] : 0.0f;
        break;
    case RR_SIGMOID:
#pragma omp simd
        for (int64_t i = 0; i < n; i++)
            dx[i] += dy[i] * y[i] * (1.0f - y[i]);
        break;
    default:
        for (int64_t i = 0; i < n; i++)
            dx[i] += dy[i] * rr_act_grad(op, x[i], y[i]);
    }
}

int rr_act_fwd_cpu(rr_act op, const float *x, float *y, int64_t n)
{
#pragma omp parallel for if (n > 32768)
    for (int64_t i = 0; i < n; i += CHUNK)
        act_fwd_chunk(op, x + i, y + i, n - i < CHUNK ? n - i : CHUNK);
    return 0;
}

int rr_act_bwd_cpu(rr_act op, const float *x, const float *y, const float *dy, float *dx, int64_t n)
{
#pragma omp parallel for if (n > 32768)
    for (int64_t i = 0; i < n; i += CHUNK)
        act_bwd_chunk(op, x + i, y + i, dy + i, dx + i, n - i < CHUNK ? n - i : CHUNK);
    return 0;
}

static int act_backward(rr_ctx *c, rr_node *n)
{
    rr_tensor *x = n->in[0], *gx = rr_grad_of(c, x);
    if (!gx)
        return -1;
    return RR_BACKEND(x->device, rr_act_bwd, *(rr_act *)n->saved, rr_f32(x), rr_f32(n->out),
                      rr_f32(n->out->grad), rr_f32(gx), x->numel);
}

static const char *const act_names[] = {"gelu", "relu", "sigmoid", "tanh", "softsign", "relu6", "hsigmoid", "hswish"};

static rr_tensor *activation(rr_ctx *c, rr_act op, rr_tensor *x)
{
    const char *name = act_names[op];
    if (rr_check_f32(name, x))
        return NULL;
    rr_tensor *y = rr_new_like(c, x);
    if (!y || RR_BACKEND(x->device, rr_act_fwd, op, rr_f32(x), rr_f32(y), x->numel))
        return NULL;
    int err;
    rr_node *n = rr_tape_record(c, name, act_backward, y, 1, &x, sizeof(rr_act), &err);
    if (err)
        return NULL;
    if (n)
        *(rr_act *)n->saved = op;
    return y;
}

rr_tensor *rr_gelu(rr_ctx *c, rr_tensor *x) { return activation(c, RR_GELU, x); }
rr_tensor *rr_relu(rr_ctx *c, rr_tensor *x) { return activation(c, RR_RELU, x); }
rr_tensor *rr_sigmoid(rr_ctx *c, rr_tensor *x) { return activation(c, RR_SIGMOID, x); }
rr_tensor *rr_tanh(rr_ctx *c, rr_tensor *x) { return activation(c, RR_TANH, x); }
rr_tensor *rr_softsign(rr_ctx *c, rr_tensor *x) { return activation(c, RR_SOFTSIGN, x); }
rr_tensor *rr_relu6(rr_ctx *c, rr_tensor *x) { return activation(c, RR_RELU6, x); }
rr_tensor *rr_hsigmoid(rr_ctx *c, rr_tensor *x) { return activation(c, RR_HSIGMOID, x); }
rr_tensor *rr_hswish(rr_ctx *c, rr_tensor *x) { return activation(c, RR_HSWISH, x); }
