/* The context of a computation: where op outputs go, whether ops record
 * themselves on the tape for a backward pass, the device, and the random
 * stream of dropout.
 *
 * Inference: a context without grad; reset it between batches.
 * Training: rr_ctx_grad(c, 1); forward; rr_backward(c, loss); read the
 * parameters' gradients; rr_ctx_reset(c).  Parameters live elsewhere (in a
 * context of their own that is never reset), so they survive the reset. */
#ifndef RR_CTX_H
#define RR_CTX_H

#include <stdint.h>

#include "arena.h"
#include "tensor.h"

typedef struct rr_node rr_node;
typedef struct rr_const_entry rr_const_entry;

typedef struct rr_ctx {
    rr_device device;
    rr_arena meta;   /* host: tensor headers, tape nodes, saved op state */
    rr_arena data;   /* device: tensor data */
    int grad;        /* 1: ops record themselves on the tape */
    int training;    /* 1: dropout and DropPath active, BatchNorm uses batch statistics */
    rr_node *last;   /* the tape: the most recent node; nodes link backwards */
    long nnodes;
    uint64_t seed;       /* dropout stream */
    uint64_t rng_offset; /* elements of the stream used so far */
    rr_const_entry *consts; /* rr_const's uploads; kept across resets */
} rr_ctx;

void rr_ctx_init(rr_ctx *c, rr_device d);
void rr_ctx_free(rr_ctx *c);
/* Drops every tensor and the tape; keeps the memory for the next step. */
void rr_ctx_reset(rr_ctx *c);
static inline void rr_ctx_grad(rr_ctx *c, int on) { c->grad = on; }

/* A new tensor on the context's device; data uninitialised / zeroed. */
rr_tensor *rr_new(rr_ctx *c, rr_dtype t, int ndim, const int64_t *shape);
rr_tensor *rr_zeros(rr_ctx *c, rr_dtype t, int ndim, const int64_t *shape);
/* A new tensor of src's dtype and shape. */
rr_tensor *rr_new_like(rr_ctx *c, const rr_tensor *src);
rr_tensor *rr_zeros_like(rr_ctx *c, const rr_tensor *src);
/* Copies a host array into a new tensor on the context's device. */
rr_tensor *rr_from_host(rr_ctx *c, rr_dtype t, int ndim, const int64_t *shape, const void *src);
/* A constant made on the host (a mask, an index table, a scalar): the
 * context keeps it on its device across resets.  The first call with this
 * dtype, shape and contents uploads it; later calls find that upload and copy
 * nothing, so a training step's forward makes no host-to-device copy for its
 * constants (doc/architecture.md, Devices).  Ops never write to it; rr_ctx_free frees it. */
rr_tensor *rr_const(rr_ctx *c, rr_dtype t, int ndim, const int64_t *shape, const void *src);
/* Copies a tensor's data to host memory (n bytes at most). */
int rr_to_host(void *dst, const rr_tensor *t);
/* A copy of t in context c (possibly another device). */
rr_tensor *rr_copy(rr_ctx *c, const rr_tensor *t);
int rr_fill(rr_tensor *t, float value);

/* Scopes: memory given back as an inference forward goes.  A module marks
 * the context (rr_ctx_scope_begin), computes, and ends the scope with the
 * tensors later layers read (rr_ctx_scope_end: its outputs): the data of
 * everything else allocated since the mark is released, and the kept
 * tensors' data moves down to the mark (their headers stay where they are;
 * every kept header that shares another's data follows it).  Headers and
 * constants are never released or moved: a header is about a hundred bytes
 * per op, and rr_const's uploads live outside the arenas.  A tensor made in the
 * scope and not kept must not be used after it.  Scopes nest.
 *
 * Only a context without grad and without a tape releases: with grad on, the
 * backward reads what the forward made, and a scope does nothing (training
 * keeps every tensor until the reset, as without scopes). */
typedef struct rr_ctx_mark {
    rr_arena_mark data;
    int active; /* the context released when the scope began */
} rr_ctx_mark;

/* 1 when scopes release in c (no grad, no tape): a module may then also
 * split a big intermediate into pieces, each released before the next. */
int rr_ctx_releases(const rr_ctx *c);
rr_ctx_mark rr_ctx_scope_begin(const rr_ctx *c);
/* Keeps keep[0..n); 0, or -1 with a message.  A NULL among them (an op
 * that failed, with its message) returns -1 and releases nothing. */
int rr_ctx_scope_end(rr_ctx *c, rr_ctx_mark m, int n, rr_tensor *const *keep);

/* Reserves n elements of the dropout stream; returns the offset of the first. */
uint64_t rr_ctx_rng_take(rr_ctx *c, uint64_t n);

#endif
