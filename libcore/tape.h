/* The tape: reverse-mode automatic differentiation over primitive ops.
 *
 * An op that runs in a context with grad on, and has an input that requires
 * a gradient, appends a node: its inputs, its output, what it saved for the
 * backward pass, and its backward function.  rr_backward walks the nodes in
 * reverse order; each backward function reads n->out->grad and *accumulates*
 * into the gradients of the inputs that require one (rr_grad_of).  Modules
 * never write a backward: they are compositions of ops. */
#ifndef RR_TAPE_H
#define RR_TAPE_H

#include <stddef.h>

#include "ctx.h"

typedef int (*rr_backward_fn)(rr_ctx *c, rr_node *n);

struct rr_node {
    const char *op;
    rr_backward_fn backward;
    rr_tensor *out;
    int nin;
    rr_tensor **in;
    void *saved; /* op-specific state; saved_bytes of zeroed host memory */
    rr_node *prev;
};

/* 1 when an op with these inputs must record itself. */
int rr_tape_wants(const rr_ctx *c, int nin, rr_tensor *const *in);

/* Appends a node when rr_tape_wants(); marks out as requiring a gradient.
 * Returns the node, or NULL when nothing is recorded.  *err is set to -1 on
 * an allocation failure (with a message), 0 otherwise. */
rr_node *rr_tape_record(rr_ctx *c, const char *op, rr_backward_fn bw, rr_tensor *out, int nin,
                        rr_tensor *const *in, size_t saved_bytes, int *err);

/* The gradient of t, allocated zeroed in c when t has none yet.  Parameters
 * own theirs (allocated with the parameter), so they outlive a reset. */
rr_tensor *rr_grad_of(rr_ctx *c, rr_tensor *t);

/* Seeds d(loss)/d(loss) = 1 (loss must have one element) and walks the tape. */
int rr_backward(rr_ctx *c, rr_tensor *loss);
/* Seeds out's gradient with a copy of dout (same shape) and walks the tape. */
int rr_backward_from(rr_ctx *c, rr_tensor *out, const rr_tensor *dout);

#endif
