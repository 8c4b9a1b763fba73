#include "softmax.h"

#include <math.h>

#include "../tape.h"
#include "binary.h"
#include "check.h"
#include "vmath.h"

/* Columns per task when the softmax axis is not the last (inner > 1): the
 * rows of a block of columns are walked together, contiguous in memory. */
#define COLS 256

/* One row of n contiguous logits (inner = 1).  The sum in double, as the
 * column version's. */
RR_SIMD_CLONES static void softmax_row(const float *z, float *y, int64_t n)
{
    float m = -INFINITY;
#pragma omp simd reduction(max : m)
    for (int64_t j = 0; j < n; j++)
        m = z[j] > m ? z[j] : m;
    double s = 0;
#pragma omp simd reduction(+ : s)
    for (int64_t j = 0; j < n; j++) {
        float e = rr_vexpf(z[j] - m);
        y[j] = e;
        s += e;
    }
    float inv = (float)(1.0 / s);
#pragma omp simd
    for (int64_t j = 0; j < n; j++)
        y[j] *= inv;
}

/* w columns (stride inner between the n rows) of one outer slice. */
RR_SIMD_CLONES static void softmax_cols(const float *z, float *y, int64_t n, int64_t inner, int64_t w)
{
    float m[COLS];
    double s[COLS];
    for (int64_t k = 0; k < w; k++) {
        m[k] = -INFINITY;
        s[k] = 0;
    }
    for (int64_t j = 0; j < n; j++)
#pragma omp simd
        for (int64_t k = 0; k < w; k++)
            m[k] = z[j * inner + k] > m[k] ? z[j * inner + k] : m[k];
    for (int64_t j = 0; j < n; j++)
#pragma omp simd
        for (int64_t k = 0; k < w; k++) {
            float e = rr_vexpf(z[j * inner + k] - m[k]);
            y[j * inner + k] = e;
            s[k] += e;
        }
    for (int64_t k = 0; k < w; k++)
        m[k] = (float)(1.0 / s[k]); /* m now holds 1 / sum */
    for (int64_t j = 0; j < n; j++)
#pragma omp simd
        for (int64_t k = 0; k < w; k++)
            y[j * inner + k] *= m[k];
}

int rr_softmax_fwd_cpu(const float *z, float *y, int64_t outer, int64_t n, int64_t inner)
{
    if (inner == 1) {
#pragma omp parallel for if (outer * n > 16384)
        for (int64_t r = 0; r < outer; r++)
            softmax_row(z + r * n, y + r * n, n);
        return 0;
    }
    int64_t blocks = (inner + COLS - 1) / COLS;
#pragma omp parallel for if (outer * n * inner > 16384)
    for (int64_t t = 0; t < outer * blocks; t++) {
        int64_t o = t / blocks, k0 = t % blocks * COLS, off = o * n * inner + k0;
        softmax_cols(z + off, y + off, n, inner, inner - k0 < COLS ? inner - k0 : COLS);
    }
    return 0;
}

/* dz = y (dy - sum_j dy_j y_j) over one row (inner = 1), or set when not
 * accumulating. */
RR_SIMD_CLONES static void softmax_bwd_row(const float *y, const float *dy, float *dz, int64_t n, int accumulate)
{
    double s = 0;
#pragma omp simd reduction(+ : s)
    for (int64_t j = 0; j < n; j++)
        s += (double)dy[j] * y[j];
    float sf = (float)s;
    if (accumulate) {
#pragma omp simd
        for (int64_t j = 0; j < n; j++)
            dz[j] += y[j] * (dy[j] - sf);
    } else {
#pragma omp simd
        for (int64_t j = 0; j < n; j++)
            dz[j] = y[j] * (dy[j] - sf);
    }
}

int rr_softmax_bwd_cpu(const float *y, const float *dy, float *dz, int64_t outer, int64_t n, int64_t inner,
                       int accumulate)
{
    if (inner == 1) {
#pragma omp parallel for if (outer * n > 16384)
        for (int64_t r = 0; r < outer; r++)
            softmax_bwd_row(y + r * n, dy + r * n, dz + r * n, n, accumulate);
        return 0;
    }
#pragma omp parallel for if (outer * inner > 256)
    for (int64_t r = 0; r < outer * inner; r++) {
        int64_t base = (r / inner) * n * inner + r % inner;
        double s = 0;
        for (int64_t j = 0; j < n; j++)
            s += (double)dy[base + j * inner] * y[base + j * inner];
        for (int64_t j = 0; j < n; j++) {
            int64_t i = base + j * inner;
            float g = y[i] * (dy[i] - (float)s);
            dz[i] = accumulate ? dz[i] + g : g;
        }
    }
    return 0;
}

typedef struct {
    int64_t outer, n, inner;
    rr_bcast bc; /* x + mask */
} softmax_saved;

static int softmax_backward(rr_ctx *c, rr_node *n)
{
    softmax_saved *s = n->saved;
    rr_tensor *x = n->in[0], *mask = n->nin > 1 ? n->in[1] : NULL, *y = n->out;
    rr_tensor *gx = x->requires_grad ? rr_grad_of(c, x) : NULL;
    if (x->requires_grad && !gx)
        return -1;
    if (!mask || !mask->requires_grad)
        return RR_BACKEND(x->device, rr_softmax_bwd, rr_f32(y), rr_f32(y->grad), rr_f32(gx), s->outer, s->n,
                          s->inner, 1);
    /* The mask needs dz summed over its broadcast dimensions: the backward
     * of z = x + mask does exactly that, deterministically. */
    rr_tensor *dz = rr_new_like(c, y), *gm = rr_grad_of(c, mask);
    if (!dz || !gm ||
        RR_BACKEND(x->device, rr_softmax_bwd, rr_f32(y), rr_f32(y->grad), rr_f32(dz), s->outer, s->n, s->inner, 0))
        return -1;
    return RR_BACKEND(x->device, rr_binary_bwd, RR_ADD, rr_f32(x), rr_f32(mask), rr_f32(dz),
                      gx ? rr_f32(gx) : NULL, rr_f32(gm), &s->bc);
}

rr_tensor *rr_softmax(rr_ctx *c, rr_tensor *x, int axis, rr_tensor *mask)
{
    const char *name = mask ? "softmax_masked" : "softmax";
    softmax_saved s = {1, 1, 1, {0}};
    int ax;
    if (rr_check_f32(name, x) || rr_check_axis(name, axis, x->ndim, &ax))
        return NULL;
    if (mask) {
        if (rr_check_f32(name, mask) || rr_check_same_device(name, x, mask))
            return NULL;
        if (rr_bcast_init(&s.bc, x, mask) != 0) {
            rr_error_prefix("%s: mask: ", name);
            return NULL;
        }
        int enlarges = s.bc.ndim != x->ndim;
        for (int d = 0; d < x->ndim && !enlarges; d++)
            enlarges = s.bc.shape[d] != x->shape[d];
        if (enlarges) {
            char s1[64], s2[64];
            rr_error("%s: mask %s does not broadcast to x %s (it would enlarge x)", name,
                     rr_shape_str(mask, s1, sizeof s1), rr_shape_str(x, s2, sizeof s2));
            return NULL;
        }
    }
    for (int d = 0; d < x->ndim; d++)
        *(d < ax ? &s.outer : d > ax ? &s.inner : &s.n) *= x->shape[d];
    rr_tensor *y = rr_new_like(c, x);
    if (!y)
        return NULL;
    /* y = x + mask first (the broadcast add), then the softmax in place. */
    const float *z = rr_f32(x);
    if (mask) {
        if (RR_BACKEND(x->device, rr_binary_fwd, RR_ADD, rr_f32(x), rr_f32(mask), rr_f32(y), &s.bc))
            return NULL;
        z = rr_f32(y);
    }
    if (RR_BACKEND(x->device, rr_softmax_fwd, z, rr_f32(y), s.outer, s.n, s.inner))
        return NULL;
    int err;
    rr_node *n = rr_tape_record(c, name, softmax_backward, y, mask ? 2 : 1, (rr_tensor *[]){x, mask},
                                sizeof s, &err);
    if (err)
        return NULL;
    if (n)
        *(softmax_saved *)n->saved = s;
    return y;
}
