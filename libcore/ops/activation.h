/* Elementwise activations of F32 tensors, any shape:
 *   rr_gelu      x·Φ(x), the exact erf form (torch.nn.functional.gelu, approximate='none');
 *                Swin MLP, BERT, PWAM (doc/network.md: Swin configuration, CMA, BERT)
 *   rr_relu      max(x, 0); the gradient at 0 is 0, as in torch
 *   rr_sigmoid   1 / (1 + e^-x)
 *   rr_tanh      tanh(x)
 *   rr_softsign  x / (1 + |x|) (torch.nn.functional.softsign; ARC's θ, doc/network.md, ARC) */
#ifndef RR_OPS_ACTIVATION_H
#define RR_OPS_ACTIVATION_H

#include <math.h>

#include "../ctx.h"
#include "../rng.h" /* RR_HD */
#include "backend.h"

typedef enum { RR_GELU, RR_RELU, RR_SIGMOID, RR_TANH, RR_SOFTSIGN } rr_act;

/* f(x): shared by the CPU and CUDA kernels. */
static inline RR_HD float rr_act_value(rr_act op, float x)
{
    switch (op) {
    case RR_GELU: return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
    case RR_RELU: return x > 0 ? x : 0.0f;
    case RR_SIGMOID: return 1.0f / (1.0f + expf(-x));
    case RR_TANH: return tanhf(x);
    default: return x / (1.0f + fabsf(x));
    }
}

/* f'(x), from x or from y = f(x). */
static inline RR_HD float rr_act_grad(rr_act op, float x, float y)
{
    switch (op) {
    case RR_GELU: /* Φ(x) + x·φ(x) */
        return 0.5f * (1.0f + erff(x * 0.70710678118654752f)) +
               x * expf(-0.5f * x * x) * 0.39894228040143268f;
    case RR_RELU: return x > 0 ? 1.0f : 0.0f;
    case RR_SIGMOID: return y * (1.0f - y);
    case RR_TANH: return 1.0f - y * y;
    default: {
        float d = 1.0f + fabsf(x);
        return 1.0f / (d * d);
    }
    }
}

rr_tensor *rr_gelu(rr_ctx *c, rr_tensor *x);
rr_tensor *rr_relu(rr_ctx *c, rr_tensor *x);
rr_tensor *rr_sigmoid(rr_ctx *c, rr_tensor *x);
rr_tensor *rr_tanh(rr_ctx *c, rr_tensor *x);
rr_tensor *rr_softsign(rr_ctx *c, rr_tensor *x);

RR_KERNEL(rr_act_fwd, (rr_act op, const float *x, float *y, int64_t n));
/* dx += dy · f'(x); y = f(x) is the forward's output (sigmoid and tanh use it). */
RR_KERNEL(rr_act_bwd, (rr_act op, const float *x, const float *y, const float *dy, float *dx, int64_t n));

#endif
