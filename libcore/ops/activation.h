/* Elementwise activations of F32 tensors, any shape:
 *   rr_gelu      x·Φ(x), the exact erf form (torch.nn.functional.gelu, approximate='none');
 *                Swin MLP, BERT, PWAM (doc/network.md: Swin configuration, CMA, BERT)
 *   rr_relu      max(x, 0); the gradient at 0 is 0, as in torch
 *   rr_sigmoid   1 / (1 + e^-x)
 *   rr_tanh      tanh(x)
 *   rr_softsign  x / (1 + |x|) (torch.nn.functional.softsign; ARC's θ, doc/network.md, ARC)
 *   rr_relu6     min(max(x, 0), 6) (torch.nn.ReLU6; RMSIN's CIM feed-forward)
 *   rr_hsigmoid  relu6(x + 3) / 6 (RMSIN's h_sigmoid, the CIM's scale-aware gate)
 *   rr_hswish    x · relu6(x + 3) / 6 (torch.nn.Hardswish; the CIM's attention)
 * The three piecewise-linear ones take torch's gradients at their kinks:
 * relu6 and hsigmoid pass none at the ends of their slopes (0 and 6 of
 * relu6's argument), hswish is 0 below -3, x/3 + 1/2 up to 3 included, 1 above. */
#ifndef RR_OPS_ACTIVATION_H
#define RR_OPS_ACTIVATION_H

#include <math.h>

#include "../ctx.h"
#include "../rng.h" /* RR_HD */
#include "backend.h"

typedef enum { RR_GELU, RR_RELU, RR_SIGMOID, RR_TANH, RR_SOFTSIGN, RR_RELU6, RR_HSIGMOID, RR_HSWISH } rr_act;

/* f(x): shared by the CPU and CUDA kernels. */
static inline RR_HD float rr_act_value(rr_act op, float x)
{
    switch (op) {
    case RR_GELU: return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
    case RR_RELU: return x > 0 ? x : 0.0f;
    case RR_SIGMOID: return 1.0f / (1.0f + expf(-x));
    case RR_TANH: return tanhf(x);
    case RR_RELU6: return fminf(fmaxf(x, 0.0f), 6.0f);
    case RR_HSIGMOID: return fminf(fmaxf(x + 3.0f, 0.0f), 6.0f) / 6.0f;
    case RR_HSWISH: return x * fminf(fmaxf(x + 3.0f, 0.0f), 6.0f) / 6.0f;
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
    case RR_RELU6: return x > 0.0f && x < 6.0f ? 1.0f : 0.0f;
    case RR_HSIGMOID: {
        float t = x + 3.0f;
        return t > 0.0f && t < 6.0f ? 1.0f / 6.0f : 0.0f;
    }
    case RR_HSWISH: return x < -3.0f ? 0.0f : x <= 3.0f ? x / 3.0f + 0.5f : 1.0f;
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
rr_tensor *rr_relu6(rr_ctx *c, rr_tensor *x);
rr_tensor *rr_hsigmoid(rr_ctx *c, rr_tensor *x);
rr_tensor *rr_hswish(rr_ctx *c, rr_tensor *x);

RR_KERNEL(rr_act_fwd, (rr_act op, const float *x, float *y, int64_t n));
/* dx += dy · f'(x); y = f(x) is the forward's output (sigmoid and tanh use it). */
RR_KERNEL(rr_act_bwd, (rr_act op, const float *x, const float *y, const float *dy, float *dx, int64_t n));

#endif
