/* A module's scope (ctx.h, Scopes) that also keeps what the trace recorded
 * in it: the golden comparisons read those tensors after the forward.  A
 * module of the network wraps each step whose intermediates later steps do
 * not read (a Swin block, an IFIM branch, a decoder level, ...):
 *
 *     rr_scope s = rr_scope_begin(c, tr);
 *     ... y = ...;
 *     return rr_scope_keep(&s, y);
 *
 * In a context with grad on, nothing is released (ctx.h). */
#ifndef RR_NN_SCOPE_H
#define RR_NN_SCOPE_H

#include "../ctx.h"
#include "trace.h"

typedef struct rr_scope {
    rr_ctx *c;
    rr_ctx_mark mark;
    rr_trace *tr; /* may be NULL */
    int ntraced;  /* its count at the beginning */
} rr_scope;

rr_scope rr_scope_begin(rr_ctx *c, rr_trace *tr);
/* Ends the scope keeping keep[0..n) and the tensors traced since it began:
 * 0, or -1 with a message (a NULL among keep: an op failed, and its message
 * stands). */
int rr_scope_end(const rr_scope *s, int n, rr_tensor *const *keep);
/* The same for one tensor: y, or NULL. */
rr_tensor *rr_scope_keep(const rr_scope *s, rr_tensor *y);

#endif
