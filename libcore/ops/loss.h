/* The terms of the MRSNet loss (doc/training.md, Loss) on 2-class logits.
 *
 * logits: F32 (B, 2, H, W); target: U8 or I32 (B, H, W) holding 0 or 1 (any
 * other value is an error that names it).  Each returns a 0-dimensional
 * (1-element) F32 tensor, differentiable in the logits.  The RMSIN loss is
 *   0.9 * rr_cross_entropy2(logits, t, {0.9, 1.1}) + 0.1 * rr_dice(logits, t, 0). */
#ifndef RR_OPS_LOSS_H
#define RR_OPS_LOSS_H

#include <stdint.h>

#include "../ctx.h"
#include "backend.h"

/* F.cross_entropy(logits, target, weight=weight): the weighted mean over
 * every pixel, sum(w[t] * -log softmax(logits)[t]) / sum(w[t]). */
rr_tensor *rr_cross_entropy2(rr_ctx *c, rr_tensor *logits, rr_tensor *target, const float weight[2]);

/* RMSIN's Dice term, sum over samples b and classes c of (1 - Dice[b,c]),
 *   Dice[b,c] = (2 sum(p_c t_c) + 1e-6) / (sum(p_c + t_c) + 1e-6),
 * the sums over the pixels of sample b, p = softmax of the 2 logits, t the
 * one-hot target ("sum" reduction; a batch mean is this divided by B).
 * fg_only_nonempty (ours, doc/training.md, Empty and multi-target samples): instead the mean of (1 - Dice[b,1])
 * over the samples whose target has a foreground pixel, 0 when none has. */
rr_tensor *rr_dice(rr_ctx *c, rr_tensor *logits, rr_tensor *target, int fg_only_nonempty);

/* Ours (doc/training.md, Empty and multi-target samples; a research knob like ReLA's no-target head, with no
 * parameters): whether a sample has a target, learnt on the mask logits
 * themselves.  Per sample b, s_b = the largest margin logit_1 - logit_0 over
 * its pixels (the first such pixel on ties), y_b = 1 when its target has a
 * foreground pixel; the term is the batch mean of BCE-with-logits(s_b, y_b).
 * s_b < 0 exactly when the decoded mask is empty ("no target", doc/training.md, Empty and multi-target samples),
 * so the term trains the decision rrsis-decode makes: a no-target sentence
 * pays for its most confident foreground pixel, however small the region.
 * The gradient reaches each sample's arg-max pixel only.  H*W at most 2^24
 * (the pixel index is kept in the F32 stats). */
rr_tensor *rr_presence2(rr_ctx *c, rr_tensor *logits, rr_tensor *target);

/* The kernels.  n = H*W pixels per sample; target_i32 tells the target's
 * dtype (I32, else U8).
 *
 * Cross-entropy: stats (B, 2) receives per sample {sum w[t]*nll, sum w[t]},
 * *loss (one float on the device) their ratio of totals; the backward adds
 * dloss[0] * w[t] * (p - onehot(t)) / sum w[t] into dlogits. */
RR_KERNEL(rr_ce2_fwd, (const float *logits, const void *target, int target_i32, int64_t B, int64_t n,
                       float w0, float w1, float *stats, float *loss));
RR_KERNEL(rr_ce2_bwd, (const float *logits, const void *target, int target_i32, int64_t B, int64_t n,
                       float w0, float w1, const float *stats, const float *dloss, float *dlogits));
/* Dice: stats (B, 2, 5) receives per sample and class {sum p_c t_c, sum p_c,
 * sum t_c} and then, from rr_dice_combine (loss_combine.h), {gt, g1} with dL/dp_c = gt*t_c + g1
 * at each pixel; the backward chains that through the softmax. */
RR_KERNEL(rr_dice_fwd, (const float *logits, const void *target, int target_i32, int64_t B, int64_t n,
                        int fg_only_nonempty, float *stats, float *loss));
RR_KERNEL(rr_dice_bwd, (const float *logits, const void *target, int target_i32, int64_t B, int64_t n,
                        const float *stats, const float *dloss, float *dlogits));
/* Presence: stats (B, 4) receives per sample {s_b, the index of its pixel,
 * y_b} and, from rr_presence_combine (loss_combine.h), dL/ds_b; the backward
 * adds dloss[0] * dL/ds_b to that pixel's class-1 logit and subtracts it from
 * its class-0 one. */
RR_KERNEL(rr_presence_fwd, (const float *logits, const void *target, int target_i32, int64_t B, int64_t n,
                            float *stats, float *loss));
RR_KERNEL(rr_presence_bwd, (int64_t B, int64_t n, const float *stats, const float *dloss, float *dlogits));

#endif
