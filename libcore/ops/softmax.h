/* Softmax over one axis, with an optional additive mask
 * (torch.softmax(x + mask, dim=axis)).
 *
 * x is F32 of any shape; axis may be negative.  mask, when not NULL, is an
 * F32 tensor that broadcasts to x's shape (NumPy rules, rr_bcast) and is
 * added before the softmax.  The network's masks: Swin's relative position
 * bias and shifted-window mask of 0/-100 (doc/network.md, Swin backbone), BERT's
 * (1 - mask)·-10000 (doc/network.md, BERT), PWAM's 1e4·m - 1e4 (doc/network.md, CMA).  The mask gets a
 * gradient when it requires one (the learnable position bias does), summed
 * over its broadcast dimensions.  Numerically stable: the row maximum is
 * subtracted before exponentiating.  Op names "softmax" and "softmax_masked". */
#ifndef RR_OPS_SOFTMAX_H
#define RR_OPS_SOFTMAX_H

#include "../ctx.h"
#include "backend.h"

rr_tensor *rr_softmax(rr_ctx *c, rr_tensor *x, int axis, rr_tensor *mask);

/* The layout: outer × n × inner, softmax along n (element stride inner).
 * y = softmax(z); z == y (in place) is allowed. */
RR_KERNEL(rr_softmax_fwd, (const float *z, float *y, int64_t outer, int64_t n, int64_t inner));
/* dz = y ⊙ (dy − Σ_n dy⊙y); accumulate = 1 adds into dz instead of writing it. */
RR_KERNEL(rr_softmax_bwd, (const float *y, const float *dy, float *dz, int64_t outer, int64_t n, int64_t inner,
                           int accumulate));

#endif
