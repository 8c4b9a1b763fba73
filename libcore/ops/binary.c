#include "binary.h"

#include "../tape.h"
#include "check.h"

int rr_bcast_init(rr_bcast *bc, const rr_tensor *a, const rr_tensor *b)
{
    int nd = a->ndim > b->ndim ? a->ndim : b->ndim;
    bc->ndim = nd;
    bc->numel = 1;
    int64_t sa = 1, sb = 1;
    for (int i = nd - 1; i >= 0; i--) {
        int ia = i - (nd - a->ndim), ib = i - (nd - b->ndim);
        int64_t da = ia >= 0 ? a->shape[ia] : 1, db = ib >= 0 ? b->shape[ib] : 1;
        if (da != db && da != 1 && db != 1) {
            char s1[64], s2[64];
            return rr_error("shapes %s and %s do not broadcast", rr_shape_str(a, s1, sizeof s1),
                            rr_shape_str(b, s2, sizeof s2));
        }
        bc->shape[i] = da > db ? da : db;
        bc->astride[i] = da == 1 ? 0 : sa;
        bc->bstride[i] = db == 1 ? 0 : sb;
        sa *= da;
        sb *= db;
        bc->numel *= bc->shape[i];
    }
    return 0;
}

/* Offsets of output element i in a and b. */
static inline void offsets(const rr_bcast *bc, int64_t i, int64_t *oa, int64_t *ob)
{
    int64_t ka = 0, kb = 0;
    for (int d = bc->ndim - 1; d >= 0; d--) {
        int64_t q = i % bc->shape[d];
        i /= bc->shape[d];
        ka += q * bc->astride[d];
        kb += q * bc->bstride[d];
    }
    *oa = ka;
    *ob = kb;
}

static inline float apply(rr_binop op, float x, float y)
{
    switch (op) {
    case RR_ADD: return x + y;
    case RR_SUB: return x - y;
    case RR_MUL: return x * y;
    default: return x / y;
    }
}

int rr_binary_fwd_cpu(rr_binop op, const float *a, const float *b, float *out, const rr_bcast *bc)
{
#pragma omp parallel for if (bc->numel > 32768)
    for (int64_t i = 0; i < bc->numel; i++) {
        int64_t oa, ob;
        offsets(bc, i, &oa, &ob);
        out[i] = apply(op, a[oa], b[ob]);
    }
    return 0;
}

/* d(out)/da and d(out)/db at one element. */
static inline void partials(rr_binop op, float x, float y, float *pa, float *pb)
{
    switch (op) {
    case RR_ADD: *pa = 1, *pb = 1; break;
    case RR_SUB: *pa = 1, *pb = -1; break;
    case RR_MUL: *pa = y, *pb = x; break;
    default: *pa = 1 / y, *pb = -x / (y * y); break;
    }
}

int rr_binary_bwd_cpu(rr_binop op, const float *a, const float *b, const float *dout, float *da,
                      float *db, const rr_bcast *bc)
{
    /* Serial in output order: a broadcast input sums over several output
     * elements, and a fixed order keeps the result deterministic. */
    for (int64_t i = 0; i < bc->numel; i++) {
        int64_t oa, ob;
        float pa, pb;
        offsets(bc, i, &oa, &ob);
        partials(op, a[oa], b[ob], &pa, &pb);
        if (da)
            da[oa] += dout[i] * pa;
        if (db)
            db[ob] += dout[i] * pb;
    }
    return 0;
}

int rr_scale_f32_cpu(const float *x, float *y, int64_t n, float s, int accumulate)
{
#pragma omp parallel for if (n > 65536)
    for (int64_t i = 0; i < n; i++)
        y[i] = accumulate ? y[i] + x[i] * s : x[i] * s;
    return 0;
}

typedef struct {
    rr_binop op;
    rr_bcast bc;
} binary_saved;

static int binary_backward(rr_ctx *c, rr_node *n)
{
    binary_saved *s = n->saved;
    rr_tensor *a = n->in[0], *b = n->in[1];
    rr_tensor *ga = a->requires_grad ? rr_grad_of(c, a) : NULL;
    rr_tensor *gb = b->requires_grad ? rr_grad_of(c, b) : NULL;
    if ((a->requires_grad && !ga) || (b->requires_grad && !gb))
        return -1;
    return RR_BACKEND(a->device, rr_binary_bwd, s->op, rr_f32(a), rr_f32(b), rr_f32(n->out->grad),
                      ga ? rr_f32(ga) : NULL, gb ? rr_f32(gb) : NULL, &s->bc);
}

static const char *const binop_names[] = {"add", "sub", "mul", "div"};

static rr_tensor *binary(rr_ctx *c, rr_binop op, rr_tensor *a, rr_tensor *b)
{
    const char *name = binop_names[op];
    rr_bcast bc;
    if (rr_check_f32(name, a) || rr_check_f32(name, b) || rr_check_same_device(name, a, b))
        return NULL;
    if (rr_bcast_init(&bc, a, b) != 0) {
        rr_error_prefix("%s: ", name);
        return NULL;
    }
    rr_tensor *out = rr_new(c, RR_F32, bc.ndim, bc.shape);
    if (!out || RR_BACKEND(a->device, rr_binary_fwd, op, rr_f32(a), rr_f32(b), rr_f32(out), &bc))
        return NULL;
    int err;
    rr_node *n = rr_tape_record(c, name, binary_backward, out, 2, (rr_tensor *[]){a, b},
                                sizeof(binary_saved), &err);
    if (err)
        return NULL;
    if (n)
        *(binary_saved *)n->saved = (binary_saved){op, bc};
    return out;
}

rr_tensor *rr_add(rr_ctx *c, rr_tensor *a, rr_tensor *b) { return binary(c, RR_ADD, a, b); }
rr_tensor *rr_sub(rr_ctx *c, rr_tensor *a, rr_tensor *b) { return binary(c, RR_SUB, a, b); }
rr_tensor *rr_mul(rr_ctx *c, rr_tensor *a, rr_tensor *b) { return binary(c, RR_MUL, a, b); }
rr_tensor *rr_div(rr_ctx *c, rr_tensor *a, rr_tensor *b) { return binary(c, RR_DIV, a, b); }

static int scale_backward(rr_ctx *c, rr_node *n)
{
    rr_tensor *x = n->in[0], *gx = rr_grad_of(c, x);
    if (!gx)
        return -1;
    float s = *(float *)n->saved;
    return RR_BACKEND(x->device, rr_scale_f32, rr_f32(n->out->grad), rr_f32(gx), x->numel, s, 1);
}

rr_tensor *rr_scale(rr_ctx *c, rr_tensor *x, float s)
{
    if (rr_check_f32("scale", x))
        return NULL;
    rr_tensor *out = rr_new_like(c, x);
    if (!out || RR_BACKEND(x->device, rr_scale_f32, rr_f32(x), rr_f32(out), x->numel, s, 0))
        return NULL;
    int err;
    rr_node *n = rr_tape_record(c, "scale", scale_backward, out, 1, &x, sizeof(float), &err);
    if (err)
        return NULL;
    if (n)
        *(float *)n->saved = s;
    return out;
}
