#include "reduce.h"

#include "../tape.h"
#include "check.h"

void rr_reduce_init(rr_reduce *r, int ndim, const int64_t *shape, const int *reduced)
{
    int64_t stride[RR_MAXDIM], s = 1;
    for (int d = ndim - 1; d >= 0; d--) {
        stride[d] = s;
        s *= shape[d];
    }
    *r = (rr_reduce){.nout = 1, .nred = 1};
    int last = -1; /* kind of the previous dimension kept: 0 kept, 1 reduced */
    for (int d = 0; d < ndim; d++) {
        int red = reduced[d] != 0;
        if (red)
            r->nred *= shape[d];
        else
            r->nout *= shape[d];
        if (shape[d] == 1)
            continue;
        int64_t *ext = red ? r->rshape : r->kshape, *str = red ? r->rstride : r->kstride;
        int *n = red ? &r->nr : &r->nk;
        if (last == red) { /* the same kind as its outer neighbour: merge */
            ext[*n - 1] *= shape[d];
            str[*n - 1] = stride[d];
        } else {
            ext[*n] = shape[d];
            str[*n] = stride[d];
            (*n)++;
        }
        last = red;
    }
}

/* The work is split into tasks: an output "row" (every kept index but the
 * innermost, when that one is contiguous) times a chunk of up to CHUNK
 * contiguous outputs.  Each task owns its outputs (and, for expand, the
 * inputs that feed them), so tasks run in parallel without races. */
enum { CHUNK = 256 };

typedef struct {
    int64_t inner;  /* contiguous outputs per row (1 when the innermost dim is reduced) */
    int nrowdims;   /* kept dims that index rows */
    int64_t nchunk; /* chunks per row */
    int64_t ntask;
} tasks;

static tasks make_tasks(const rr_reduce *r)
{
    tasks t = {.inner = 1, .nrowdims = r->nk};
    if (r->nk > 0 && r->kstride[r->nk - 1] == 1) {
        t.inner = r->kshape[r->nk - 1];
        t.nrowdims = r->nk - 1;
    }
    t.nchunk = (t.inner + CHUNK - 1) / CHUNK;
    t.ntask = r->nout == 0 ? 0 : r->nout / t.inner * t.nchunk;
    return t;
}

/* Input offset of the first element of task k's outputs; sets *out (the
 * output index of that element) and *len (outputs in the task). */
static int64_t task_base(const rr_reduce *r, const tasks *t, int64_t k, int64_t *out, int64_t *len)
{
    int64_t row = k / t->nchunk, j0 = k % t->nchunk * CHUNK, base = j0, q = row;
    for (int d = t->nrowdims - 1; d >= 0; d--) {
        base += q % r->kshape[d] * r->kstride[d];
        q /= r->kshape[d];
    }
    *out = row * t->inner + j0;
    *len = t->inner - j0 < CHUNK ? t->inner - j0 : CHUNK;
    return base;
}

/* Steps the reduced multi-index idx (odometer order) and returns the input
 * offset of the next reduced element. */
static inline int64_t next_reduced(const rr_reduce *r, int64_t *idx, int64_t off)
{
    for (int d = r->nr - 1; d >= 0; d--) {
        off += r->rstride[d];
        if (++idx[d] < r->rshape[d])
            return off;
        off -= idx[d] * r->rstride[d];
        idx[d] = 0;
    }
    return off;
}

int rr_reduce_sum_cpu(const float *x, float *y, const rr_reduce *r, float scale, int accumulate)
{
    tasks t = make_tasks(r);
#pragma omp parallel for if (r->nout * r->nred > 32768)
    for (int64_t k = 0; k < t.ntask; k++) {
        int64_t o, len, base = task_base(r, &t, k, &o, &len), idx[RR_MAXDIM] = {0}, off = 0;
        double acc[CHUNK];
        for (int64_t j = 0; j < len; j++)
            acc[j] = 0;
        for (int64_t i = 0; i < r->nred; i++) {
            for (int64_t j = 0; j < len; j++)
                acc[j] += x[base + off + j];
            off = next_reduced(r, idx, off);
        }
        for (int64_t j = 0; j < len; j++)
            y[o + j] = (float)(acc[j] * scale) + (accumulate ? y[o + j] : 0.0f);
    }
    return 0;
}

int rr_reduce_expand_cpu(const float *y, float *x, const rr_reduce *r, float scale, int accumulate)
{
    tasks t = make_tasks(r);
#pragma omp parallel for if (r->nout * r->nred > 32768)
    for (int64_t k = 0; k < t.ntask; k++) {
        int64_t o, len, base = task_base(r, &t, k, &o, &len), idx[RR_MAXDIM] = {0}, off = 0;
        for (int64_t i = 0; i < r->nred; i++) {
            float *px = x + base + off;
            for (int64_t j = 0; j < len; j++)
                px[j] = y[o + j] * scale + (accumulate ? px[j] : 0.0f);
            off = next_reduced(r, idx, off);
        }
    }
    return 0;
}

typedef struct {
    rr_reduce r;
    float scale;
} reduce_saved;

static int reduce_backward(rr_ctx *c, rr_node *n)
{
    reduce_saved *s = n->saved;
    rr_tensor *x = n->in[0], *gx = rr_grad_of(c, x);
    if (!gx)
        return -1;
    return RR_BACKEND(x->device, rr_reduce_expand, rr_f32(n->out->grad), rr_f32(gx), &s->r, s->scale, 1);
}

static rr_tensor *reduce(rr_ctx *c, const char *name, rr_tensor *x, int naxes, const int *axes, int keepdim,
                         int mean)
{
    if (rr_check_f32(name, x))
        return NULL;
    if (naxes < 0 || naxes > x->ndim) {
        rr_error("%s: %d axes for %d dimensions", name, naxes, x->ndim);
        return NULL;
    }
    int reduced[RR_MAXDIM] = {0};
    for (int i = 0; i < naxes; i++) {
        int a;
        if (rr_check_axis(name, axes[i], x->ndim, &a))
            return NULL;
        if (reduced[a]) {
            rr_error("%s: axis %d given twice", name, axes[i]);
            return NULL;
        }
        reduced[a] = 1;
    }
    int ndim = 0;
    int64_t shape[RR_MAXDIM];
    for (int d = 0; d < x->ndim; d++) {
        if (naxes == 0)
            reduced[d] = 1;
        if (!reduced[d] || keepdim)
            shape[ndim++] = reduced[d] ? 1 : x->shape[d];
    }
    reduce_saved s;
    rr_reduce_init(&s.r, x->ndim, x->shape, reduced);
    s.scale = mean ? 1.0f / (float)s.r.nred : 1.0f; /* a mean over nothing is NaN, as in PyTorch */
    rr_tensor *out = rr_new(c, RR_F32, ndim, shape);
    if (!out || RR_BACKEND(x->device, rr_reduce_sum, rr_f32(x), rr_f32(out), &s.r, s.scale, 0))
        return NULL;
    int err;
    rr_node *n = rr_tape_record(c, name, reduce_backward, out, 1, &x, sizeof s, &err);
    if (err)
        return NULL;
    if (n)
        *(reduce_saved *)n->saved = s;
    return out;
}

rr_tensor *rr_sum(rr_ctx *c, rr_tensor *x, int naxes, const int *axes, int keepdim)
{
    return reduce(c, "sum", x, naxes, axes, keepdim, 0);
}

rr_tensor *rr_mean(rr_ctx *c, rr_tensor *x, int naxes, const int *axes, int keepdim)
{
    return reduce(c, "mean", x, naxes, axes, keepdim, 1);
}
