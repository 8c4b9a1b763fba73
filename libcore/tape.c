#include "tape.h"

#include <string.h>

#include "error.h"

int rr_tape_wants(const rr_ctx *c, int nin, rr_tensor *const *in)
{
    if (!c->grad)
        return 0;
    for (int i = 0; i < nin; i++)
        if (in[i] && in[i]->requires_grad)
            return 1;
    return 0;
}

rr_node *rr_tape_record(rr_ctx *c, const char *op, rr_backward_fn bw, rr_tensor *out, int nin,
                        rr_tensor *const *in, size_t saved_bytes, int *err)
{
    *err = 0;
    if (!rr_tape_wants(c, nin, in))
        return NULL;
    rr_node *n = rr_arena_alloc(&c->meta, sizeof *n);
    rr_tensor **ins = n ? rr_arena_alloc(&c->meta, (size_t)nin * sizeof *ins) : NULL;
    void *saved = ins ? rr_arena_calloc(&c->meta, saved_bytes) : NULL;
    if (!saved) {
        *err = -1;
        return NULL;
    }
    memcpy(ins, in, (size_t)nin * sizeof *ins);
    *n = (rr_node){.op = op, .backward = bw, .out = out, .nin = nin, .in = ins, .saved = saved,
                   .prev = c->last};
    c->last = n;
    c->nnodes++;
    out->requires_grad = 1;
    return n;
}

rr_tensor *rr_grad_of(rr_ctx *c, rr_tensor *t)
{
    if (!t->grad) {
        t->grad = rr_zeros(c, RR_F32, t->ndim, t->shape);
        if (!t->grad)
            return NULL;
    }
    return t->grad;
}

static int walk(rr_ctx *c)
{
    for (rr_node *n = c->last; n; n = n->prev) {
        if (!n->out->grad)
            continue; /* nothing downstream of this node reached the loss */
        if (n->backward(c, n) != 0)
            return rr_error_prefix("backward of %s: ", n->op);
    }
    return 0;
}

int rr_backward(rr_ctx *c, rr_tensor *loss)
{
    if (loss->numel != 1)
        return rr_error("rr_backward: the loss must have one element, it has %lld",
                        (long long)loss->numel);
    rr_tensor *g = rr_grad_of(c, loss);
    if (!g || rr_fill(g, 1.0f) != 0)
        return -1;
    return walk(c);
}

int rr_backward_from(rr_ctx *c, rr_tensor *out, const rr_tensor *dout)
{
    if (!rr_same_shape(out, dout) || dout->dtype != RR_F32)
        return rr_error("rr_backward_from: the seed gradient must be F32 of the output's shape");
    rr_tensor *g = rr_grad_of(c, out);
    if (!g || rr_dev_memcpy(g->device, g->data, dout->device, dout->data, rr_tensor_bytes(g)) != 0)
        return -1;
    return walk(c);
}
