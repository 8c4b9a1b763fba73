/* Dropout and DropPath (stochastic depth), active only in training mode.
 *
 *   rr_dropout(c, x, p)    torch.nn.functional.dropout(x, p, training): each
 *                          element is zeroed with probability p and the kept
 *                          ones are scaled by 1/(1-p).  BERT (0.1), PWAM, ARC's
 *                          routing (0.2); doc/network.md: CMA, BERT, ARC.
 *   rr_drop_path(c, x, p)  timm's DropPath: each sample (index along dim 0) is
 *                          zeroed with probability p, the kept ones scaled by
 *                          1/(1-p); Swin's residual branches (doc/network.md: Swin configuration, Swin block).
 *
 * Both return x itself (no copy, nothing on the tape) when !c->training or
 * p == 0, as torch does; p must lie in [0, 1], and p == 1 gives zeros.
 * Random numbers come from the counter-based stream of rng.h: each call
 * takes one range of c's stream (rr_ctx_rng_take), and draw k of the call is
 * rr_uniform(c->seed, offset + k), kept when >= p; draw k belongs to element
 * k (dropout) or sample k (drop_path).  The CPU and the GPU therefore draw
 * identical masks, and a forward replayed from the same rng_offset draws the
 * same mask again.  Backward regenerates the mask from the saved offset. */
#ifndef RR_OPS_DROPOUT_H
#define RR_OPS_DROPOUT_H

#include "../ctx.h"
#include "../rng.h"
#include "backend.h"

rr_tensor *rr_dropout(rr_ctx *c, rr_tensor *x, float p);
rr_tensor *rr_drop_path(rr_ctx *c, rr_tensor *x, float p);

/* The factor element i is multiplied by: 0 when dropped, 1/(1-p) when kept;
 * `group` consecutive elements share a draw (1 for dropout, a sample's size
 * for drop_path). */
static inline RR_HD float rr_dropout_factor(uint64_t seed, uint64_t offset, int64_t i, int64_t group, float p)
{
    return rr_uniform(seed, offset + (uint64_t)(i / group)) >= p ? 1.0f / (1.0f - p) : 0.0f;
}

/* y = x ⊙ factor; with accumulate = 1 the same kernel serves dx += dy ⊙ factor. */
RR_KERNEL(rr_dropout_f32, (const float *x, float *y, int64_t n, int64_t group, float p, uint64_t seed,
                           uint64_t offset, int accumulate));

#endif
