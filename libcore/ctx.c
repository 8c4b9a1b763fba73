#include "ctx.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "ops/fill.h"

void rr_ctx_init(rr_ctx *c, rr_device d)
{
    memset(c, 0, sizeof *c);
    c->device = d;
    rr_arena_init(&c->meta, RR_CPU, 0);
    rr_arena_init(&c->data, d, 0);
}

struct rr_const_entry {
    rr_const_entry *next;
    rr_dtype dtype;
    int ndim;
    int64_t shape[RR_MAXDIM];
    size_t bytes;
    void *host; /* the contents it was uploaded from */
    void *data; /* on the context's device */
};

void rr_ctx_free(rr_ctx *c)
{
    for (rr_const_entry *e = c->consts, *next; e; e = next) {
        next = e->next;
        rr_dev_free(c->device, e->data);
        free(e->host);
        free(e);
    }
    c->consts = NULL;
    rr_arena_free(&c->meta);
    rr_arena_free(&c->data);
    c->last = NULL;
    c->nnodes = 0;
}

void rr_ctx_reset(rr_ctx *c)
{
    rr_arena_reset(&c->meta);
    rr_arena_reset(&c->data);
    c->last = NULL;
    c->nnodes = 0;
}

rr_tensor *rr_new(rr_ctx *c, rr_dtype t, int ndim, const int64_t *shape)
{
    return rr_tensor_alloc(&c->meta, &c->data, t, ndim, shape);
}

rr_tensor *rr_zeros(rr_ctx *c, rr_dtype t, int ndim, const int64_t *shape)
{
    rr_tensor *x = rr_new(c, t, ndim, shape);
    if (x && rr_dev_memset0(x->device, x->data, rr_tensor_bytes(x)) != 0)
        return NULL;
    return x;
}

rr_tensor *rr_new_like(rr_ctx *c, const rr_tensor *src) { return rr_new(c, src->dtype, src->ndim, src->shape); }

rr_tensor *rr_zeros_like(rr_ctx *c, const rr_tensor *src) { return rr_zeros(c, src->dtype, src->ndim, src->shape); }

rr_tensor *rr_from_host(rr_ctx *c, rr_dtype t, int ndim, const int64_t *shape, const void *src)
{
    rr_tensor *x = rr_new(c, t, ndim, shape);
    if (x && rr_dev_memcpy(x->device, x->data, RR_CPU, src, rr_tensor_bytes(x)) != 0)
        return NULL;
    return x;
}

rr_tensor *rr_const(rr_ctx *c, rr_dtype t, int ndim, const int64_t *shape, const void *src)
{
    rr_tensor *x = rr_tensor_wrap(&c->meta, c->device, t, ndim, shape, NULL);
    if (!x)
        return NULL;
    /* A context holds a handful of constants: compared directly (memcmp
     * stops at the first differing byte; a match reads the whole anyway). */
    size_t bytes = rr_tensor_bytes(x);
    rr_const_entry *e;
    for (e = c->consts; e; e = e->next)
        if (e->dtype == t && e->ndim == ndim && e->bytes == bytes &&
            !memcmp(e->shape, shape, (size_t)ndim * sizeof *shape) && !memcmp(e->host, src, bytes))
            break;
    if (!e) {
        e = calloc(1, sizeof *e);
        if (!e || !(e->host = malloc(bytes ? bytes : 1))) {
            free(e);
            rr_error("out of memory");
            return NULL;
        }
        if (!(e->data = rr_dev_malloc(c->device, bytes ? bytes : 1)) ||
            rr_dev_memcpy(c->device, e->data, RR_CPU, src, bytes)) {
            if (e->data)
                rr_dev_free(c->device, e->data);
            free(e->host);
            free(e);
            return NULL;
        }
        memcpy(e->host, src, bytes);
        e->dtype = t;
        e->ndim = ndim;
        memcpy(e->shape, shape, (size_t)ndim * sizeof *shape);
        e->bytes = bytes;
        e->next = c->consts;
        c->consts = e;
    }
    x->data = e->data;
    return x;
}

int rr_to_host(void *dst, const rr_tensor *t)
{
    return rr_dev_memcpy(RR_CPU, dst, t->device, t->data, rr_tensor_bytes(t));
}

rr_tensor *rr_copy(rr_ctx *c, const rr_tensor *t)
{
    rr_tensor *x = rr_new(c, t->dtype, t->ndim, t->shape);
    if (x && rr_dev_memcpy(x->device, x->data, t->device, t->data, rr_tensor_bytes(t)) != 0)
        return NULL;
    return x;
}

int rr_fill(rr_tensor *t, float value)
{
    if (t->dtype != RR_F32)
        return rr_error("rr_fill: F32 tensors only, got %s", rr_dtype_name(t->dtype));
    return RR_BACKEND(t->device, rr_fill_f32, rr_f32(t), t->numel, value);
}

/* A context releases in scopes when nothing may read the released tensors
 * later: no grad, no tape. */
int rr_ctx_releases(const rr_ctx *c) { return !c->grad && !c->last; }

rr_ctx_mark rr_ctx_scope_begin(const rr_ctx *c) { return (rr_ctx_mark){rr_arena_tell(&c->data), rr_ctx_releases(c)}; }

int rr_ctx_scope_end(rr_ctx *c, rr_ctx_mark m, int n, rr_tensor *const *keep)
{
    for (int i = 0; i < n; i++)
        if (!keep[i])
            return -1;
    if (!m.active || !rr_ctx_releases(c))
        return 0;
    /* One region per distinct data pointer (a reshape shares its input's,
     * and a header may be named twice), as long as the longest header that
     * names it; region[i]: keep[i]'s.  The headers are updated only after the
     * move: a region's new place may be another's old one. */
    size_t cap = (size_t)(n ? n : 1);
    void **ptr = malloc(cap * sizeof *ptr);
    size_t *bytes = malloc(cap * sizeof *bytes);
    int *region = malloc(cap * sizeof *region);
    int u = 0, rc = ptr && bytes && region ? 0 : rr_error("out of memory");
    for (int i = 0; i < n && !rc; i++) {
        int j = 0;
        while (j < u && ptr[j] != keep[i]->data)
            j++;
        size_t b = rr_tensor_bytes(keep[i]);
        if (j == u) {
            ptr[u] = keep[i]->data;
            bytes[u++] = b;
        } else if (b > bytes[j]) {
            bytes[j] = b;
        }
        region[i] = j;
    }
    if (!rc)
        rc = rr_arena_release(&c->data, m.data, u, ptr, bytes);
    for (int i = 0; i < n && !rc; i++)
        keep[i]->data = ptr[region[i]];
    free(ptr);
    free(bytes);
    free(region);
    return rc;
}

uint64_t rr_ctx_rng_take(rr_ctx *c, uint64_t n)
{
    uint64_t off = c->rng_offset;
    c->rng_offset += n;
    return off;
}
