#include "matmul.h"

#include <cblas.h>
#include <limits.h>

#include "../tape.h"
#include "binary.h"
#include "check.h"
#include "reduce.h"

static void sgemm_one(const rr_gemm *g, const float *a, const float *b, float *c)
{
    cblas_sgemm(CblasRowMajor, g->trans_a ? CblasTrans : CblasNoTrans, g->trans_b ? CblasTrans : CblasNoTrans,
                (int)g->m, (int)g->n, (int)g->k, g->alpha, a, (int)g->lda, b, (int)g->ldb, g->beta, c, (int)g->ldc);
}

int rr_sgemm_cpu(const rr_gemm *g, const float *a, const float *b, float *c)
{
    /* OpenBLAS takes int sizes. */
    if (g->m > INT_MAX || g->n > INT_MAX || g->k > INT_MAX || g->lda > INT_MAX || g->ldb > INT_MAX ||
        g->ldc > INT_MAX)
        return rr_error("sgemm: %lldx%lldx%lld is too large for OpenBLAS", (long long)g->m,
                        (long long)g->n, (long long)g->k);
    /* The small products of a batch (window attention's: a 144 x 144 x 32
     * product per window and head) run one per thread, each single-threaded
     * (OpenBLAS's OpenMP build sees the parallel region); big ones run one
     * after the other, each threaded by OpenBLAS.  Only with disjoint
     * outputs: a batch may also accumulate into one matrix.  No parallel
     * region at all otherwise: OpenBLAS called inside an inactive one (an
     * `if` clause that is false) ran 20 times slower here while the OpenMP
     * threads spun (the default wait policy). */
    int disjoint = g->stride_c >= (g->m - 1) * g->ldc + g->n;
    if (g->batch > 1 && disjoint && g->m * g->n * g->k < ((int64_t)1 << 22)) {
#pragma omp parallel for
        for (int64_t i = 0; i < g->batch; i++)
            sgemm_one(g, a + i * g->stride_a, b + i * g->stride_b, c + i * g->stride_c);
    } else {
        for (int64_t i = 0; i < g->batch; i++)
            sgemm_one(g, a + i * g->stride_a, b + i * g->stride_b, c + i * g->stride_c);
    }
    return 0;
}

/* One product of contiguous row-major matrices: C (m x n) = op(A) op(B) + beta C. */
static rr_gemm gemm(int ta, int tb, int64_t m, int64_t n, int64_t k, int64_t lda, int64_t ldb, float beta)
{
    return (rr_gemm){.trans_a = ta, .trans_b = tb, .m = m, .n = n, .k = k, .lda = lda, .ldb = ldb,
                     .ldc = n, .batch = 1, .alpha = 1, .beta = beta};
}

/* The batch dimensions of a matmul: rr_bcast of the two batch shapes (its
 * strides count matrices) and the output's own strides, 0 along dims of 1
 * as rr_bcast writes them. */
typedef struct {
    int ta, tb;
    int64_t m, n, k;
    rr_bcast bc;
    int64_t cstride[RR_MAXDIM];
} mm_geom;

/* An operand of one GEMM over the batches: its data, its strides over the
 * batch dims (in matrices), and the elements of one matrix. */
typedef struct {
    const float *p;
    const int64_t *stride;
    int64_t size;
} operand;

/* 1: one matrix per output batch; 0: one matrix shared by all; -1: partly
 * broadcast. */
static int batch_kind(const mm_geom *s, const int64_t *stride)
{
    int per_batch = 1, shared = 1;
    for (int d = 0; d < s->bc.ndim; d++) {
        per_batch &= stride[d] == s->cstride[d];
        shared &= stride[d] == 0;
    }
    return per_batch ? 1 : shared ? 0 : -1;
}

static int64_t batch_offset(const mm_geom *s, const int64_t *stride, int64_t i)
{
    int64_t off = 0;
    for (int d = s->bc.ndim - 1; d >= 0; d--) {
        off += i % s->bc.shape[d] * stride[d];
        i /= s->bc.shape[d];
    }
    return off;
}

/* Runs g (z = op(x) op(y) + beta z) over the output batches of s, as few
 * sgemm calls as the layout allows:
 * - x per batch and untransposed, y shared, z per batch: the batches stack
 *   into one tall GEMM (x @ W for a shared W, and its dx);
 * - x per batch transposed, y per batch untransposed, z shared: one GEMM
 *   whose inner dimension runs over all batches (dW of a shared W);
 * - z per batch, x and y each per batch or shared: one strided batched call;
 * - otherwise one call per output batch, in batch order, so that an input
 *   broadcast over several batches accumulates in a fixed order. */
static int gemm_batches(rr_device dev, rr_gemm g, const mm_geom *s, operand x, operand y, float *z,
                        operand zo)
{
    int kx = batch_kind(s, x.stride), ky = batch_kind(s, y.stride), kz = batch_kind(s, zo.stride);
    int64_t nb = s->bc.numel;
    if (kz == 1 && kx == 1 && ky == 0 && !g.trans_a)
        g.m *= nb;
    else if (kz == 0 && kx == 1 && ky == 1 && g.trans_a && !g.trans_b)
        g.k *= nb;
    else if (kz == 1 && kx >= 0 && ky >= 0) {
        g.batch = nb;
        g.stride_a = kx ? x.size : 0;
        g.stride_b = ky ? y.size : 0;
        g.stride_c = zo.size;
    } else {
        for (int64_t i = 0; i < nb; i++)
            if (RR_BACKEND(dev, rr_sgemm, &g, x.p + batch_offset(s, x.stride, i) * x.size,
                           y.p + batch_offset(s, y.stride, i) * y.size,
                           z + batch_offset(s, zo.stride, i) * zo.size))
                return -1;
        return 0;
    }
    return RR_BACKEND(dev, rr_sgemm, &g, x.p, y.p, z);
}

static int matmul_backward(rr_ctx *c, rr_node *n)
{
    const mm_geom *s = n->saved;
    rr_tensor *a = n->in[0], *b = n->in[1];
    int64_t m = s->m, nn = s->n, k = s->k, lda = s->ta ? m : k, ldb = s->tb ? k : nn;
    operand dc = {rr_f32(n->out->grad), s->cstride, m * nn};
    operand oa = {rr_f32(a), s->bc.astride, m * k}, ob = {rr_f32(b), s->bc.bstride, k * nn};
    if (a->requires_grad) {
        rr_tensor *ga = rr_grad_of(c, a);
        if (!ga)
            return -1;
        operand za = {rr_f32(ga), s->bc.astride, m * k};
        int err = s->ta
                      /* dA^T (k x m) += op(B) dC^T */
                      ? gemm_batches(a->device, gemm(s->tb, 1, k, m, nn, ldb, nn, 1), s, ob, dc, rr_f32(ga), za)
                      /* dA (m x k) += dC op(B)^T */
                      : gemm_batches(a->device, gemm(0, !s->tb, m, k, nn, nn, ldb, 1), s, dc, ob, rr_f32(ga), za);
        if (err)
            return -1;
    }
    if (b->requires_grad) {
        rr_tensor *gb = rr_grad_of(c, b);
        if (!gb)
            return -1;
        operand zb = {rr_f32(gb), s->bc.bstride, k * nn};
        return s->tb
                   /* dB^T (n x k) += dC^T op(A) */
                   ? gemm_batches(b->device, gemm(1, s->ta, nn, k, m, nn, lda, 1), s, dc, oa, rr_f32(gb), zb)
                   /* dB (k x n) += op(A)^T dC */
                   : gemm_batches(b->device, gemm(!s->ta, 0, k, nn, m, lda, nn, 1), s, oa, dc, rr_f32(gb), zb);
    }
    return 0;
}

static int check_nonempty(const char *op, const rr_tensor *t)
{
    char s[64];
    if (t->numel == 0)
        return rr_error("%s: empty operand %s", op, rr_shape_str(t, s, sizeof s));
    return 0;
}

rr_tensor *rr_matmul_t(rr_ctx *c, rr_tensor *a, rr_tensor *b, int trans_a, int trans_b)
{
    const char *name = "matmul";
    char s1[64], s2[64];
    if (rr_check_f32(name, a) || rr_check_f32(name, b) || rr_check_same_device(name, a, b) ||
        check_nonempty(name, a) || check_nonempty(name, b))
        return NULL;
    if (a->ndim < 2 || b->ndim < 2) {
        rr_error("%s: operands need at least 2 dimensions, got %s and %s", name,
                 rr_shape_str(a, s1, sizeof s1), rr_shape_str(b, s2, sizeof s2));
        return NULL;
    }
    mm_geom s = {.ta = trans_a != 0, .tb = trans_b != 0};
    const int64_t *sa = a->shape + a->ndim - 2, *sb = b->shape + b->ndim - 2;
    s.m = sa[s.ta];
    s.k = sa[!s.ta];
    s.n = sb[!s.tb];
    if (sb[s.tb] != s.k) {
        rr_error("%s: inner dimensions differ: %s%s and %s%s", name, rr_shape_str(a, s1, sizeof s1),
                 s.ta ? " (transposed)" : "", rr_shape_str(b, s2, sizeof s2), s.tb ? " (transposed)" : "");
        return NULL;
    }
    /* The batch dims as headers of their own, so that rr_bcast can pair them. */
    rr_tensor ba = {.ndim = a->ndim - 2}, bb = {.ndim = b->ndim - 2};
    for (int d = 0; d < ba.ndim; d++)
        ba.shape[d] = a->shape[d];
    for (int d = 0; d < bb.ndim; d++)
        bb.shape[d] = b->shape[d];
    if (rr_bcast_init(&s.bc, &ba, &bb) != 0) {
        rr_error_prefix("%s: batch dimensions: ", name);
        return NULL;
    }
    int64_t shape[RR_MAXDIM], st = 1;
    for (int d = s.bc.ndim - 1; d >= 0; d--) {
        shape[d] = s.bc.shape[d];
        s.cstride[d] = shape[d] == 1 ? 0 : st;
        st *= shape[d];
    }
    shape[s.bc.ndim] = s.m;
    shape[s.bc.ndim + 1] = s.n;
    rr_tensor *out = rr_new(c, RR_F32, s.bc.ndim + 2, shape);
    if (!out)
        return NULL;
    operand oa = {rr_f32(a), s.bc.astride, s.m * s.k}, ob = {rr_f32(b), s.bc.bstride, s.k * s.n};
    operand oc = {rr_f32(out), s.cstride, s.m * s.n};
    rr_gemm g = gemm(s.ta, s.tb, s.m, s.n, s.k, s.ta ? s.m : s.k, s.tb ? s.k : s.n, 0);
    if (gemm_batches(a->device, g, &s, oa, ob, rr_f32(out), oc))
        return NULL;
    int err;
    rr_node *n = rr_tape_record(c, name, matmul_backward, out, 2, (rr_tensor *[]){a, b}, sizeof s, &err);
    if (err)
        return NULL;
    if (n)
        *(mm_geom *)n->saved = s;
    return out;
}

rr_tensor *rr_matmul(rr_ctx *c, rr_tensor *a, rr_tensor *b) { return rr_matmul_t(c, a, b, 0, 0); }

/* linear: y (rows x out) = x (rows x in) W^T + bias. */
typedef struct {
    int64_t rows, in, out;
    rr_reduce bias; /* (rows, out) summed over rows */
} linear_saved;

static int linear_backward(rr_ctx *c, rr_node *n)
{
    const linear_saved *s = n->saved;
    rr_tensor *x = n->in[0], *w = n->in[1], *bias = n->nin > 2 ? n->in[2] : NULL;
    const float *dy = rr_f32(n->out->grad);
    if (x->requires_grad) { /* dx += dy W */
        rr_tensor *gx = rr_grad_of(c, x);
        rr_gemm g = gemm(0, 0, s->rows, s->in, s->out, s->out, s->in, 1);
        if (!gx || RR_BACKEND(x->device, rr_sgemm, &g, dy, rr_f32(w), rr_f32(gx)))
            return -1;
    }
    if (w->requires_grad) { /* dW += dy^T x */
        rr_tensor *gw = rr_grad_of(c, w);
        rr_gemm g = gemm(1, 0, s->out, s->in, s->rows, s->out, s->in, 1);
        if (!gw || RR_BACKEND(x->device, rr_sgemm, &g, dy, rr_f32(x), rr_f32(gw)))
            return -1;
    }
    if (bias && bias->requires_grad) { /* dbias += column sums of dy */
        rr_tensor *gb = rr_grad_of(c, bias);
        if (!gb || RR_BACKEND(x->device, rr_reduce_sum, dy, rr_f32(gb), &s->bias, 1.0f, 1))
            return -1;
    }
    return 0;
}

rr_tensor *rr_linear(rr_ctx *c, rr_tensor *x, rr_tensor *w, rr_tensor *bias)
{
    const char *name = "linear";
    char s1[64], s2[64], s3[64];
    if (rr_check_f32(name, x) || rr_check_f32(name, w) || rr_check_same_device(name, x, w) ||
        rr_check_ndim(name, w, 2) || check_nonempty(name, x) || check_nonempty(name, w))
        return NULL;
    if (bias && (rr_check_f32(name, bias) || rr_check_same_device(name, x, bias)))
        return NULL;
    if (x->ndim < 1 || x->shape[x->ndim - 1] != w->shape[1]) {
        rr_error("%s: input %s does not end in the weight's %lld inputs (weight %s)", name,
                 rr_shape_str(x, s1, sizeof s1), (long long)w->shape[1], rr_shape_str(w, s2, sizeof s2));
        return NULL;
    }
    if (bias && (bias->ndim != 1 || bias->shape[0] != w->shape[0])) {
        rr_error("%s: bias %s does not match weight %s", name, rr_shape_str(bias, s3, sizeof s3),
                 rr_shape_str(w, s2, sizeof s2));
        return NULL;
    }
    linear_saved s = {.in = w->shape[1], .out = w->shape[0]};
    s.rows = x->numel / s.in;
    rr_reduce_init(&s.bias, 2, (int64_t[]){s.rows, s.out}, (int[]){1, 0});
    int64_t shape[RR_MAXDIM];
    for (int d = 0; d < x->ndim; d++)
        shape[d] = x->shape[d];
    shape[x->ndim - 1] = s.out;
    rr_tensor *y = rr_new(c, RR_F32, x->ndim, shape);
    if (!y)
        return NULL;
    /* The bias fills every row, then the GEMM adds x W^T onto it. */
    rr_gemm g = gemm(0, 1, s.rows, s.out, s.in, s.in, s.in, bias ? 1 : 0);
    if ((bias && RR_BACKEND(x->device, rr_reduce_expand, rr_f32(bias), rr_f32(y), &s.bias, 1.0f, 0)) ||
        RR_BACKEND(x->device, rr_sgemm, &g, rr_f32(x), rr_f32(w), rr_f32(y)))
        return NULL;
    int err;
    rr_node *n = rr_tape_record(c, name, linear_backward, y, bias ? 3 : 2, (rr_tensor *[]){x, w, bias},
                                sizeof s, &err);
    if (err)
        return NULL;
    if (n)
        *(linear_saved *)n->saved = s;
    return y;
}
