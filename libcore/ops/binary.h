/* Elementwise add, sub, mul and div of two F32 tensors with NumPy
 * broadcasting, and scaling by a constant. */
#ifndef RR_OPS_BINARY_H
#define RR_OPS_BINARY_H

#include "../ctx.h"
#include "backend.h"

typedef enum { RR_ADD, RR_SUB, RR_MUL, RR_DIV } rr_binop;

/* The broadcast of two shapes: the output's shape, and each input's element
 * stride along every output dimension (0 where the input is broadcast). */
typedef struct {
    int ndim;
    int64_t shape[RR_MAXDIM];
    int64_t astride[RR_MAXDIM], bstride[RR_MAXDIM];
    int64_t numel;
} rr_bcast;

int rr_bcast_init(rr_bcast *bc, const rr_tensor *a, const rr_tensor *b);

rr_tensor *rr_add(rr_ctx *c, rr_tensor *a, rr_tensor *b);
rr_tensor *rr_sub(rr_ctx *c, rr_tensor *a, rr_tensor *b);
rr_tensor *rr_mul(rr_ctx *c, rr_tensor *a, rr_tensor *b);
rr_tensor *rr_div(rr_ctx *c, rr_tensor *a, rr_tensor *b);
/* x * s */
rr_tensor *rr_scale(rr_ctx *c, rr_tensor *x, float s);

RR_KERNEL(rr_binary_fwd, (rr_binop op, const float *a, const float *b, float *out, const rr_bcast *bc));
/* Accumulates into da and db (either may be NULL). */
RR_KERNEL(rr_binary_bwd, (rr_binop op, const float *a, const float *b, const float *dout, float *da,
                          float *db, const rr_bcast *bc));
/* y = x * s, and the same kernel serves dx += dy * s with accumulate = 1. */
RR_KERNEL(rr_scale_f32, (const float *x, float *y, int64_t n, float s, int accumulate));

#endif
