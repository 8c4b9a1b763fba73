#include "binary.h"

#include "../tape.h"
#include "check.h"
#include "merge_dims.h"

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

/* The broadcast with its dimensions merged where both operands allow it
 * (each operand contiguous across the pair, or broadcast along both) and
 * dimensions of 1 dropped: the innermost merged dimension, of n elements,
 * has strides 0 or 1 in a and b, and the others index whole rows. */
typedef struct {
    int nd;
    int64_t shape[RR_MAXDIM], sa[RR_MAXDIM], sb[RR_MAXDIM];
    int64_t n, rows; /* innermost extent, numel / n */
} flat_bcast;

static void flatten(const rr_bcast *bc, flat_bcast *f)
{
    f->nd = rr_merge_dims(bc->ndim, bc->shape, bc->astride, bc->bstride, f->shape, f->sa, f->sb);
    f->n = f->shape[f->nd - 1];
    f->rows = bc->numel / f->n;
}

/* Offsets in a and b of the first element of row r (the outer dims). */
static inline void row_offsets(const flat_bcast *f, int64_t r, int64_t *oa, int64_t *ob)
{
    int64_t ka = 0, kb = 0;
    for (int d = f->nd - 2; d >= 0; d--) {
        int64_t q = r % f->shape[d];
        r /= f->shape[d];
        ka += q * f->sa[d];
        kb += q * f->sb[d];
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

/* Elements per task of the parallel loops: a row is cut into tiles so that a
 * few long rows still spread over the threads. */
#define TILE 4096

/* out[j] = a[j*sa] op b[j*sb] for j < n, sa and sb 0 or 1: one loop per case
 * and op, so that each vectorises. */
#define ROW_LOOP(EXPR)                                      \
    do {                                                    \
        if (sa && sb)                                       \
            for (int64_t j = 0; j < n; j++)                 \
                o[j] = EXPR(x[j], y[j]);                    \
        else if (sa) {                                      \
            float yv = y[0];                                \
            for (int64_t j = 0; j < n; j++)                 \
                o[j] = EXPR(x[j], yv);                      \
        } else if (sb) {                                    \
            float xv = x[0];                                \
            for (int64_t j = 0; j < n; j++)                 \
                o[j] = EXPR(xv, y[j]);                      \
        } else {                                            \
            float v = EXPR(x[0], y[0]);                     \
            for (int64_t j = 0; j < n; j++)                 \
                o[j] = v;                                   \
        }                                                   \
    } while (0)
#define OP_ADD(u, v) ((u) + (v))
#define OP_SUB(u, v) ((u) - (v))
#define OP_MUL(u, v) ((u) * (v))
#define OP_DIV(u, v) ((u) / (v))

static void row_fwd(rr_binop op, const float *x, const float *y, float *o, int64_t n, int sa, int sb)
{
    switch (op) {
    case RR_ADD: ROW_LOOP(OP_ADD); break;
    case RR_SUB: ROW_LOOP(OP_SUB); break;
    case RR_MUL: ROW_LOOP(OP_MUL); break;
    default: ROW_LOOP(OP_DIV); break;
    }
}

int rr_binary_fwd_cpu(rr_binop op, const float *a, const float *b, float *out, const rr_bcast *bc)
{
    if (bc->numel == 0)
        return 0;
    flat_bcast f;
    flatten(bc, &f);
    int64_t n = f.n, per_row = (n + TILE - 1) / TILE;
    int sa = f.sa[f.nd - 1] != 0, sb = f.sb[f.nd - 1] != 0;
#pragma omp parallel for if (bc->numel > 32768)
    for (int64_t t = 0; t < f.rows * per_row; t++) {
        int64_t r = t / per_row, j0 = t % per_row * TILE, len = n - j0 < TILE ? n - j0 : TILE, oa, ob;
        row_offsets(&f, r, &oa, &ob);
        row_fwd(op, a + oa + (sa ? j0 : 0), b + ob + (sb ? j0 : 0), out + r * n + j0, len, sa, sb);
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

/* The partial derivative of out with respect to operand `which` (0: a, 1: b)
 * at the pair (x, y). */
static inline float partial(rr_binop op, int which, float x, float y)
{
    float pa, pb;
    partials(op, x, y, &pa, &pb);
    return which ? pb : pa;
}

/* g[j] += dy[j] * d(out)/d(operand `which`) for j in [j0, j0 + len), x and y
 * the operands' rows (strides sa, sb of 0 or 1).  The partial is 1, -1 or the
 * other operand for add, sub and mul: loops that vectorise. */
static void accum_row(rr_binop op, int which, const float *x, const float *y, const float *dy, float *g,
                      int64_t j0, int64_t len, int sa, int sb)
{
    int64_t j1 = j0 + len;
    if (op == RR_ADD || (op == RR_SUB && !which)) {
        for (int64_t j = j0; j < j1; j++)
            g[j] += dy[j];
    } else if (op == RR_SUB) {
        for (int64_t j = j0; j < j1; j++)
            g[j] -= dy[j];
    } else if (op == RR_MUL && (which ? sa : sb)) {
        const float *o = which ? x : y;
        for (int64_t j = j0; j < j1; j++)
            g[j] += dy[j] * o[j];
    } else if (op == RR_MUL) {
        float v = which ? x[0] : y[0];
        for (int64_t j = j0; j < j1; j++)
            g[j] += dy[j] * v;
    } else {
        for (int64_t j = j0; j < j1; j++)
            g[j] += dy[j] * partial(op, which, x[sa ? j : 0], y[sb ? j : 0]);
    }
}

/* acc + the terms dy[j] * partial for j < n, added one by one in order. */
static float accum_sum(rr_binop op, int which, const float *x, const float *y, const float *dy, int64_t n,
                       int sa, int sb, float acc)
{
    for (int64_t j = 0; j < n; j++)
        acc += dy[j] * partial(op, which, x[sa ? j : 0], y[sb ? j : 0]);
    return acc;
}

/* Accumulates dout * d(out)/d(operand `which`) into its gradient g.  Every
 * gradient element sums its terms one by one in the order of the output
 * elements, as a serial loop over the output would (deterministic, whatever
 * the thread count); only different elements go to different threads.  The
 * output rows that reach the same row of the operand (over its broadcast
 * outer dims: `members`) are walked in order inside one task; the tasks are
 * the operand's distinct rows (`groups`), times tiles of the innermost dim
 * when the operand has that dim. */
static void grad_into(rr_binop op, int which, const float *a, const float *b, const float *dout, float *g,
                      const flat_bcast *f)
{
    const int64_t *sg = which ? f->sb : f->sa;
    int kept[RR_MAXDIM], bcast[RR_MAXDIM], nk = 0, nbc = 0;
    int64_t groups = 1, members = 1;
    for (int d = 0; d < f->nd - 1; d++) {
        if (sg[d]) {
            kept[nk++] = d;
            groups *= f->shape[d];
        } else {
            bcast[nbc++] = d;
            members *= f->shape[d];
        }
    }
    int64_t n = f->n;
    int inner = sg[f->nd - 1] != 0, sa = f->sa[f->nd - 1] != 0, sb = f->sb[f->nd - 1] != 0;
    /* Narrow tiles when rows are summed, so that there are tasks to share. */
    int64_t tile = !inner ? n : members > 1 ? 64 : TILE, per_group = (n + tile - 1) / tile;
#pragma omp parallel for if (f->rows * n > 32768)
    for (int64_t t = 0; t < groups * per_group; t++) {
        int64_t gi = t / per_group, j0 = t % per_group * tile, len = n - j0 < tile ? n - j0 : tile;
        int64_t idx[RR_MAXDIM] = {0}; /* outer indices of the current output row */
        for (int k = nk - 1; k >= 0; k--) {
            idx[kept[k]] = gi % f->shape[kept[k]];
            gi /= f->shape[kept[k]];
        }
        float acc = 0, *gr = NULL;
        for (int64_t m = 0; m < members; m++) {
            int64_t r = 0, oa = 0, ob = 0;
            for (int d = 0; d < f->nd - 1; d++) {
                r = r * f->shape[d] + idx[d];
                oa += idx[d] * f->sa[d];
                ob += idx[d] * f->sb[d];
            }
            if (!gr) { /* the same operand row for every member */
                gr = g + (which ? ob : oa);
                acc = gr[0];
            }
            if (inner)
                accum_row(op, which, a + oa, b + ob, dout + r * n, gr, j0, len, sa, sb);
            else
                acc = accum_sum(op, which, a + oa, b + ob, dout + r * n, n, sa, sb, acc);
            for (int k = nbc - 1; k >= 0; k--) { /* the next member: an odometer */
                if (++idx[bcast[k]] < f->shape[bcast[k]])
                    break;
                idx[bcast[k]] = 0;
            }
        }
        if (!inner)
            gr[0] = acc;
    }
}

int rr_binary_bwd_cpu(rr_binop op, const float *a, const float *b, const float *dout, float *da,
                      float *db, const rr_bcast *bc)
{
    if (bc->numel == 0)
        return 0;
    flat_bcast f;
    flatten(bc, &f);
    if (da)
        grad_into(op, 0, a, b, dout, da, &f);
    if (db)
        grad_into(op, 1, a, b, dout, db, &f);
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
