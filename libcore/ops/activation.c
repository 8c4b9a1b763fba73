#include "activation.h"

#include "../tape.h"
#include "check.h"

int rr_act_fwd_cpu(rr_act op, const float *x, float *y, int64_t n)
{
#pragma omp parallel for if (n > 32768)
    for (int64_t i = 0; i < n; i++)
        y[i] = rr_act_value(op, x[i]);
    return 0;
}

int rr_act_bwd_cpu(rr_act op, const float *x, const float *y, const float *dy, float *dx, int64_t n)
{
#pragma omp parallel for if (n > 32768)
    for (int64_t i = 0; i < n; i++)
        dx[i] += dy[i] * rr_act_grad(op, x[i], y[i]);
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

static const char *const act_names[] = {"gelu", "relu", "sigmoid", "tanh", "softsign"};

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
