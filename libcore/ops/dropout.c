#include "dropout.h"

#include "../tape.h"
#include "check.h"

int rr_dropout_f32_cpu(const float *x, float *y, int64_t n, int64_t group, float p, uint64_t seed,
                       uint64_t offset, int accumulate)
{
#pragma omp parallel for if (n > 32768)
    for (int64_t i = 0; i < n; i++) {
        float v = x[i] * rr_dropout_factor(seed, offset, i, group, p);
        y[i] = accumulate ? y[i] + v : v;
    }
    return 0;
}

typedef struct {
    uint64_t seed, offset;
    int64_t group;
    float p;
} dropout_saved;

static int dropout_backward(rr_ctx *c, rr_node *n)
{
    dropout_saved *s = n->saved;
    rr_tensor *x = n->in[0], *gx = rr_grad_of(c, x);
    if (!gx)
        return -1;
    return RR_BACKEND(x->device, rr_dropout_f32, rr_f32(n->out->grad), rr_f32(gx), x->numel, s->group, s->p,
                      s->seed, s->offset, 1);
}

/* per_sample: one draw per index along dim 0 (drop_path), else one per element. */
static rr_tensor *dropout(rr_ctx *c, const char *name, rr_tensor *x, float p, int per_sample)
{
    if (rr_check_f32(name, x))
        return NULL;
    if (!(p >= 0 && p <= 1)) {
        rr_error("%s: probability %g outside [0, 1]", name, p);
        return NULL;
    }
    if (!c->training || p == 0)
        return x;
    int64_t draws = per_sample && x->ndim ? x->shape[0] : x->numel;
    dropout_saved s = {c->seed, rr_ctx_rng_take(c, (uint64_t)draws), draws ? x->numel / draws : 1, p};
    rr_tensor *y = rr_new_like(c, x);
    if (!y || RR_BACKEND(x->device, rr_dropout_f32, rr_f32(x), rr_f32(y), x->numel, s.group, p, s.seed, s.offset, 0))
        return NULL;
    int err;
    rr_node *n = rr_tape_record(c, name, dropout_backward, y, 1, &x, sizeof s, &err);
    if (err)
        return NULL;
    if (n)
        *(dropout_saved *)n->saved = s;
    return y;
}

rr_tensor *rr_dropout(rr_ctx *c, rr_tensor *x, float p) { return dropout(c, "dropout", x, p, 0); }
rr_tensor *rr_drop_path(rr_ctx *c, rr_tensor *x, float p) { return dropout(c, "drop_path", x, p, 1); }
