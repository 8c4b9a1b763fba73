/* Shape ops: reshape, permute/transpose, concat/split/slice, constant pad and
 * roll, with PyTorch's semantics.  All but reshape copy (tensors are
 * contiguous), through one strided-copy kernel that window.c and
 * pixel_shuffle.c share, so every backward is the same copy run the other
 * way (deterministic: each thread writes its own element). */
#ifndef RR_OPS_SHAPE_H
#define RR_OPS_SHAPE_H

#include "../ctx.h"
#include "backend.h"

/* x.reshape(shape): one entry may be -1 (inferred).  Any dtype.  The result
 * is a new header on x's data (no copy): writing one writes the other. */
rr_tensor *rr_reshape(rr_ctx *c, rr_tensor *x, int ndim, const int64_t *shape);
/* x.permute(perm).contiguous(): out.shape[i] = x.shape[perm[i]]; perm has
 * x->ndim entries, negative ones count from the end. */
rr_tensor *rr_permute(rr_ctx *c, rr_tensor *x, const int *perm);
/* x.transpose(d0, d1).contiguous(). */
rr_tensor *rr_transpose(rr_ctx *c, rr_tensor *x, int d0, int d1);

/* torch.cat(xs[0..n), axis): same ndim, equal sizes except along axis. */
rr_tensor *rr_concat(rr_ctx *c, int n, rr_tensor *const *xs, int axis);
/* torch.split(x, [sizes[0], ..., sizes[n-1]], axis): the sizes (>= 0) sum to
 * x.shape[axis]; outs[k] receives piece k.  Returns 0, or -1 with a message. */
int rr_split(rr_ctx *c, rr_tensor *x, int axis, int n, const int64_t *sizes, rr_tensor **outs);
/* x[..., start:end:step, ...] along axis, with Python's rules: negative
 * start/end count from the end, both are clamped to [0, size] (INT64_MAX for
 * "to the end"), step >= 1; an empty result is allowed. */
rr_tensor *rr_slice(rr_ctx *c, rr_tensor *x, int axis, int64_t start, int64_t end, int64_t step);

/* torch.nn.functional.pad(x, pads, value=value) in constant mode: pads holds
 * npairs (before, after) pairs, the first for the LAST dimension, the next
 * for the one before it, ... (left, right, top, bottom, ...).  Pads >= 0. */
rr_tensor *rr_pad(rr_ctx *c, rr_tensor *x, const int64_t *pads, int npairs, float value);
/* torch.roll(x, shifts[0..n), axes[0..n)): element i moves to i + shift
 * (mod size) along each axis; any sign, any size; a repeated axis adds up. */
rr_tensor *rr_roll(rr_ctx *c, rr_tensor *x, int n, const int64_t *shifts, const int *axes);

/* A strided copy: for every index q of an index space of `ndim` dimensions,
 *   dst[doff + sum q[d]*dstride[d]] (+)= src[soff + sum q[d]*sstride[d]].
 * The map must never hit one dst element twice (then threads never share an
 * element and the result is deterministic).  Views of up to 8 dimensions
 * express Swin's window partition and PixelShuffle as one permutation. */
#define RR_COPY_MAXDIM 8
typedef struct {
    int ndim;
    int64_t shape[RR_COPY_MAXDIM];
    int64_t sstride[RR_COPY_MAXDIM], dstride[RR_COPY_MAXDIM];
    int64_t soff, doff;
    int64_t numel;
} rr_copy_map;

/* A gather into a contiguous dst of the given shape (ndim <= RR_COPY_MAXDIM;
 * 0 is one element): src offsets soff + sum q[d]*sstride[d]. */
void rr_copy_map_gather(rr_copy_map *m, int ndim, const int64_t *shape, const int64_t *sstride,
                        int64_t soff);
/* The same map run from dst back to src (the backward of a gather), with
 * its dimensions reordered so that the new dst is walked in memory order. */
rr_copy_map rr_copy_map_inverse(const rr_copy_map *m);
/* Row-major element strides of a shape. */
void rr_contiguous_strides(int ndim, const int64_t *shape, int64_t *strides);

/* The op out = gather(x, m) of shape (ndim, shape), recorded on the tape as
 * `op` with the backward dx += inverse gather of dout.  For ops that are
 * pure data movement and write every output element (the caller checks x). */
rr_tensor *rr_remap(rr_ctx *c, const char *op, rr_tensor *x, int ndim, const int64_t *shape,
                    const rr_copy_map *m);

/* roll's map: dst[q] (+)= src[(q - shift) mod shape] per dimension, with
 * shifts already in [0, shape). */
typedef struct {
    int ndim;
    int64_t shape[RR_MAXDIM], shift[RR_MAXDIM];
    int64_t numel;
} rr_roll_map;

RR_KERNEL(rr_copy_strided, (const float *src, float *dst, const rr_copy_map *m, int accumulate));
RR_KERNEL(rr_roll_f32, (const float *src, float *dst, const rr_roll_map *m, int accumulate));

#endif
