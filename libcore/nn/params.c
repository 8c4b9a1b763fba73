#include "params.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "../error.h"

int rr_params_init(rr_params *p, rr_device d, uint64_t seed, int with_grads)
{
    memset(p, 0, sizeof *p);
    rr_ctx_init(&p->store, d);
    p->rng = (rr_rng){seed, 0};
    p->with_grads = with_grads;
    return 0;
}

void rr_params_free(rr_params *p)
{
    for (int i = 0; i < p->n; i++)
        free(p->items[i].name);
    free(p->items);
    free(p->bn_stats);
    rr_ctx_free(&p->store);
    if (p->map)
        munmap(p->map, p->map_len);
    memset(p, 0, sizeof *p);
}

int rr_params_add_bn_stats(rr_params *p, rr_tensor *mean, rr_tensor *var, float momentum)
{
    if (p->nbn_stats == p->cap_bn_stats) {
        int cap = p->cap_bn_stats ? 2 * p->cap_bn_stats : 16;
        rr_bn_stats *b = realloc(p->bn_stats, (size_t)cap * sizeof *b);
        if (!b)
            return rr_error("out of memory");
        p->bn_stats = b;
        p->cap_bn_stats = cap;
    }
    p->bn_stats[p->nbn_stats++] = (rr_bn_stats){mean, var, momentum};
    return 0;
}

rr_param *rr_params_find(const rr_params *p, const char *name)
{
    for (int i = 0; i < p->n; i++)
        if (strcmp(p->items[i].name, name) == 0)
            return &p->items[i];
    return NULL;
}

/* PyTorch's _calculate_fan_in_and_fan_out. */
static void fans(const int64_t *shape, int ndim, double *fan_in, double *fan_out)
{
    double rf = 1;
    for (int i = 2; i < ndim; i++)
        rf *= (double)shape[i];
    *fan_in = ndim > 1 ? (double)shape[1] * rf : (double)shape[0];
    *fan_out = (double)shape[0] * rf;
}

static float draw(rr_rng *r, rr_init init, float a, double fan_in, double fan_out)
{
    switch (init) {
    case RR_INIT_ZEROS: return 0;
    case RR_INIT_ONES: return 1;
    case RR_INIT_CONST: return a;
    case RR_INIT_TRUNC_NORMAL: {
        float v;
        do
            v = a * rr_rng_normal(r);
        while (v < -2 || v > 2);
        return v;
    }
    case RR_INIT_KAIMING_UNIFORM: {
        double bound = 1 / sqrt(fan_in);
        return (float)((2 * rr_rng_uniform(r) - 1) * bound);
    }
    case RR_INIT_FAN_IN_UNIFORM: return (float)((2 * rr_rng_uniform(r) - 1) / sqrt(a));
    case RR_INIT_KAIMING_NORMAL_FAN_OUT: return (float)(sqrt(2 / fan_out) * rr_rng_normal(r));
    }
    return 0;
}

rr_tensor *rr_param_add(rr_params *p, int kind, rr_init init, float a, int ndim, const int64_t *shape,
                        const char *fmt, ...)
{
    char name[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    if (rr_params_find(p, name)) {
        rr_error("parameter '%s' defined twice", name);
        return NULL;
    }
    if (p->n == p->cap) {
        int cap = p->cap ? 2 * p->cap : 256;
        rr_param *items = realloc(p->items, (size_t)cap * sizeof *items);
        if (!items) {
            rr_error("out of memory");
            return NULL;
        }
        p->items = items;
        p->cap = cap;
    }
    rr_tensor *t = rr_new(&p->store, RR_F32, ndim, shape);
    if (!t)
        return NULL;
    if (!p->uninitialised) {
        double fan_in, fan_out;
        fans(shape, ndim, &fan_in, &fan_out);
        float *host = malloc((size_t)t->numel * sizeof *host + 1);
        if (!host) {
            rr_error("out of memory");
            return NULL;
        }
        for (int64_t i = 0; i < t->numel; i++)
            host[i] = draw(&p->rng, init, a, fan_in, fan_out);
        int rc = rr_dev_memcpy(t->device, t->data, RR_CPU, host, rr_tensor_bytes(t));
        free(host);
        if (rc)
            return NULL;
    }
    if (!(kind & RR_PARAM_BUFFER) && p->with_grads) {
        t->grad = rr_zeros(&p->store, RR_F32, ndim, shape);
        if (!t->grad)
            return NULL;
        t->requires_grad = 1;
    }
    char *owned = strdup(name);
    if (!owned) {
        rr_error("out of memory");
        return NULL;
    }
    t->name = owned;
    p->items[p->n++] = (rr_param){owned, t, kind, t->data};
    return t;
}

int64_t rr_params_count(const rr_params *p, const char *prefix)
{
    int64_t n = 0;
    size_t k = prefix ? strlen(prefix) : 0;
    for (int i = 0; i < p->n; i++)
        if (!(p->items[i].kind & RR_PARAM_BUFFER) && (!k || strncmp(p->items[i].name, prefix, k) == 0))
            n += p->items[i].t->numel;
    return n;
}

void rr_params_zero_grad(rr_params *p)
{
    for (int i = 0; i < p->n; i++)
        if (p->items[i].t->grad)
            rr_fill(p->items[i].t->grad, 0.0f);
}

static int is_float(rr_dtype t) { return t == RR_F32 || t == RR_F16 || t == RR_BF16 || t == RR_F64; }

/* Whether parameter t can use entry e's bytes where they lie: inference
 * only (a registry with gradients is trained, and the mapping is read-only),
 * on the CPU, F32, and aligned for a float.  The CPU kernels need no more
 * alignment than that (OpenBLAS packs its operands).  Files written by this
 * library or by the safetensors writers store tensors largest dtype first
 * after a header padded to 8 bytes, so each F32 tensor is aligned; the
 * format allows no gaps between tensors, so a stronger alignment could not
 * be had without padding tensors that other readers would list. */
static int usable_in_place(const rr_params *p, const rr_tensor *t, const rr_entry *e)
{
    return !p->with_grads && t->device == RR_CPU && e->dtype == RR_F32 &&
           (uintptr_t)e->data % _Alignof(float) == 0;
}

/* Entry e into parameter pa (same shape), every value finite.  In place:
 * the tensor points at the entry's data; else the data is converted to F32
 * (on the CPU straight into the parameter's own memory). */
static int load_entry(rr_param *pa, const rr_entry *e, int in_place)
{
    rr_tensor *t = pa->t;
    if (!is_float(e->dtype))
        return rr_error("is %s in the weights; parameters are F32, F16, BF16 or F64", rr_dtype_name(e->dtype));
    t->data = in_place ? e->data : pa->own; /* an earlier load may have left it in a mapping */
    int on_host = t->device == RR_CPU;
    float *host = on_host ? t->data : malloc(rr_tensor_bytes(t) + 1);
    if (!host)
        return rr_error("out of memory");
    int rc = 0;
    if (in_place) {
        /* nothing to copy: the finiteness scan reads the file's pages */
    } else if (e->dtype == RR_F32) {
        memcpy(host, e->data, e->nbytes); /* entry data may be unaligned */
    } else if ((uintptr_t)e->data % rr_dtype_size(e->dtype) == 0) {
        rc = rr_convert_to_f32(host, e->data, e->dtype, t->numel); /* straight from the file's pages */
    } else {
        void *raw = malloc(e->nbytes + 1); /* rr_convert_to_f32 wants aligned data */
        rc = raw ? 0 : rr_error("out of memory");
        if (!rc)
            rc = rr_convert_to_f32(host, memcpy(raw, e->data, e->nbytes), e->dtype, t->numel);
        free(raw);
    }
    uint64_t bits;
    int64_t bad = rc ? -1 : rr_first_nonfinite(host, RR_F32, t->numel, &bits);
    if (bad >= 0)
        rc = rr_error("holds %s at element %lld: the weights are damaged", isnan(host[bad]) ? "NaN" : "an infinity",
                      (long long)bad);
    if (!rc && !on_host)
        rc = rr_dev_memcpy(t->device, t->data, RR_CPU, host, rr_tensor_bytes(t));
    if (!on_host)
        free(host);
    return rc;
}

void rr_param_make_writable(rr_param *pa)
{
    if (pa->t->data != pa->own) /* in place: on the CPU */
        pa->t->data = memcpy(pa->own, pa->t->data, rr_tensor_bytes(pa->t));
}

/* rr_params_load and rr_params_load_mapped: `mapped` is the record whose
 * mapping the registry may take (NULL: copy everything). */
static int load(rr_params *p, const rr_record *rec, rr_record *mapped, int partial, FILE *missing, int *unused)
{
    /* one mapping per registry: a second load copies */
    int may_map = mapped && mapped->map && !p->map;
    int matched = 0;
    for (int i = 0; i < p->n; i++) {
        rr_tensor *t = p->items[i].t;
        const rr_entry *e = NULL;
        for (int j = 0; j < rec->nentries && !e; j++)
            if (strcmp(rec->entries[j].name, p->items[i].name) == 0)
                e = &rec->entries[j];
        if (!e) {
            if (!partial)
                return rr_error("tensor '%s' is missing from the weights (--partial allows it)",
                                p->items[i].name);
            if (missing)
                fprintf(missing, "%s\n", p->items[i].name);
            continue;
        }
        int same = e->ndim == t->ndim;
        for (int d = 0; same && d < t->ndim; d++)
            same = e->shape[d] == t->shape[d];
        if (!same) {
            char want[64], got[64];
            return rr_error("tensor '%s' has shape %s in the model but %s in the weights", p->items[i].name,
                            rr_shape_str(t, want, sizeof want), rr_dims_str(e->ndim, e->shape, got, sizeof got));
        }
        int in_place = may_map && usable_in_place(p, t, e);
        if (in_place && !p->map) {
            /* the registry owns the mapping from its first tensor in it on,
             * failure or not: rr_params_free unmaps it */
            p->map = mapped->map;
            p->map_len = mapped->map_len;
            mapped->map = NULL;
            mapped->map_len = 0;
        }
        if (load_entry(&p->items[i], e, in_place))
            return rr_error_prefix("tensor '%s': ", p->items[i].name);
        matched++;
    }
    if (unused)
        *unused = rec->nentries - matched;
    return 0;
}

int rr_params_load(rr_params *p, const rr_record *rec, int partial, FILE *missing, int *unused)
{
    return load(p, rec, NULL, partial, missing, unused);
}

int rr_params_load_mapped(rr_params *p, rr_record *rec, int partial, FILE *missing, int *unused)
{
    return load(p, rec, rec, partial, missing, unused);
}

int rr_params_to_record(const rr_params *p, rr_record *rec, rr_dtype dtype)
{
    for (int i = 0; i < p->n; i++) {
        const rr_tensor *t = p->items[i].t;
        float *host = malloc(rr_tensor_bytes(t) + 1);
        void *conv = malloc((size_t)t->numel * rr_dtype_size(dtype) + 1);
        int rc = host && conv ? 0 : rr_error("out of memory");
        if (!rc)
            rc = rr_to_host(host, t);
        if (!rc)
            rc = rr_convert_from_f32(conv, dtype, host, t->numel);
        if (!rc)
            rc = rr_record_add(rec, p->items[i].name, dtype, t->ndim, t->shape, conv);
        free(host);
        free(conv);
        if (rc)
            return -1;
    }
    return 0;
}
