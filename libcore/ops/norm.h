/* Normalisation layers: LayerNorm, BatchNorm, InstanceNorm1d.  Variances are
 * biased (divided by the count) when normalising, as in torch; eps is added
 * to the variance: y = (x − mean) / sqrt(var + eps) · weight + bias.
 * weight and bias are optional (NULL: 1 and 0). */
#ifndef RR_OPS_NORM_H
#define RR_OPS_NORM_H

#include "../ctx.h"
#include "backend.h"

/* torch.nn.functional.layer_norm(x, (D,), weight, bias, eps) over the last
 * dimension D of x (any number of leading dimensions); weight and bias are
 * (D).  eps 1e-5 for Swin, its out-norms and ARC's channel LN
 * (permute NCHW to NHWC first), 1e-12 for BERT (doc/network.md: Swin
 * configuration, Stage wiring, ARC, BERT).
 * Op name "layer_norm". */
rr_tensor *rr_layer_norm(rr_ctx *c, rr_tensor *x, rr_tensor *weight, rr_tensor *bias, float eps);

/* torch.nn.functional.batch_norm(x, running_mean, running_var, weight, bias,
 * training = c->training, momentum, eps) for x of shape (N, C, ...) (NCHW,
 * NCL or NC); every tensor argument but x is (C).
 * - Training (op name "batch_norm_train"): normalises with the batch's mean
 *   and biased variance over every dimension but C, and, when running_mean
 *   and running_var are given, updates them in place like torch:
 *   r ← (1 − momentum)·r + momentum·batch, with the UNBIASED variance.
 *   Pass NULL for both to leave them alone (a forward that is replayed, such
 *   as a gradient check or recomputation, must not update them twice).
 *   Needs more than one value per channel.
 * - Eval (op name "batch_norm_eval"): normalises with the running statistics,
 *   which are then required.
 * The running statistics are buffers: they never get a gradient.
 * The decoder, CIM and HFIM use eps 1e-5 and momentum 0.1 (doc/network.md: Decoder, CIM, HFIM). */
rr_tensor *rr_batch_norm(rr_ctx *c, rr_tensor *x, rr_tensor *weight, rr_tensor *bias, rr_tensor *running_mean,
                         rr_tensor *running_var, float momentum, float eps);

/* torch.nn.InstanceNorm1d(C, eps, affine, track_running_stats=False) on x of
 * shape (B, C, L): each (b, c) row is normalised over its L positions, in
 * training and eval alike; weight and bias are (C) when affine.  PWAM and
 * CMA use affine=False, eps 1e-5 (doc/network.md: CMA, IFIM).  Op name "instance_norm1d". */
rr_tensor *rr_instance_norm1d(rr_ctx *c, rr_tensor *x, rr_tensor *weight, rr_tensor *bias, float eps);

/* Kernels.  The row norms (layer and instance) normalise `rows` contiguous
 * rows of d elements and save each row's mean and 1/sqrt(var + eps).  With
 * channels == 0, w and b have d entries and scale the columns (layer norm);
 * with channels > 0, row r uses w[r % channels] and b[r % channels]
 * (instance norm of (B, C, L): rows = B·C, d = L).  w, b may be NULL. */
RR_KERNEL(rr_row_norm_fwd, (const float *x, const float *w, const float *b, float *y, float *mean, float *rstd,
                            int64_t rows, int64_t d, int64_t channels, float eps));
/* Accumulates into dx, dw and db, each of which may be NULL. */
RR_KERNEL(rr_row_norm_bwd, (const float *x, const float *w, const float *mean, const float *rstd, const float *dy,
                            float *dx, float *dw, float *db, int64_t rows, int64_t d, int64_t channels));

/* Batch norm of x as (n, ch, inner).  Training: computes the batch mean and
 * rstd into mean/rstd and updates running_mean/running_var when not NULL.
 * Eval: mean/rstd are taken from the running statistics.  Then writes y. */
RR_KERNEL(rr_batch_norm_fwd, (const float *x, const float *w, const float *b, float *y, float *mean, float *rstd,
                              float *running_mean, float *running_var, int64_t n, int64_t ch, int64_t inner,
                              int training, float momentum, float eps));
/* Accumulates into dx, dw and db, each of which may be NULL; in training the
 * statistics depend on x, in eval they are constants. */
RR_KERNEL(rr_batch_norm_bwd, (const float *x, const float *w, const float *mean, const float *rstd,
                              const float *dy, float *dx, float *dw, float *db, int64_t n, int64_t ch,
                              int64_t inner, int training));

#endif
