/* Sums and means of an F32 tensor over a set of axes. */
#ifndef RR_OPS_REDUCE_H
#define RR_OPS_REDUCE_H

#include "../ctx.h"
#include "backend.h"

/* x.sum(dim=axes, keepdim=keepdim) and x.mean(...) as in PyTorch: axes may
 * be negative, must be distinct; naxes 0 (axes may be NULL) reduces over all
 * dimensions (a 1-element tensor of 0 dimensions, or of x's rank of 1s with
 * keepdim).  Sums accumulate in double, in a fixed order. */
rr_tensor *rr_sum(rr_ctx *c, rr_tensor *x, int naxes, const int *axes, int keepdim);
rr_tensor *rr_mean(rr_ctx *c, rr_tensor *x, int naxes, const int *axes, int keepdim);

/* A reduction of a contiguous tensor, with runs of neighbouring dimensions of
 * one kind (kept or reduced) merged and dimensions of 1 dropped: each output
 * element sums the input elements at its base offset plus every reduced
 * offset.  Dimensions are listed outermost first. */
typedef struct {
    int nk, nr;
    int64_t kshape[RR_MAXDIM], kstride[RR_MAXDIM]; /* kept: extents, input strides */
    int64_t rshape[RR_MAXDIM], rstride[RR_MAXDIM]; /* reduced: extents, input strides */
    int64_t nout, nred;                            /* elements out; elements summed into each */
} rr_reduce;

/* The reduction of a shape over `reduced` (reduced[d] != 0 for a reduced axis). */
void rr_reduce_init(rr_reduce *r, int ndim, const int64_t *shape, const int *reduced);

/* y = scale * (sum over the reduced elements of x), or y += that with
 * accumulate (linear's bias gradient uses it). */
RR_KERNEL(rr_reduce_sum, (const float *x, float *y, const rr_reduce *r, float scale, int accumulate));
/* x = scale * y broadcast back over the reduced dimensions, or x += that
 * with accumulate: the backward of rr_reduce_sum (linear's bias fill too). */
RR_KERNEL(rr_reduce_expand, (const float *y, float *x, const rr_reduce *r, float scale, int accumulate));

#endif
