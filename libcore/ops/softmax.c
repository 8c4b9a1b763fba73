#include "softmax.h"

#include <math.h>

#include "../tape.h"
#include "binary.h"
#include "check.h"

int rr_softmax_fwd_cpu(const float *z, float *y, int64_t outer, int64_t n, int64_t inner)
{
#pragma omp parallel for if (outer * inner > 256)
    for (int64_t r = 0; r < outer * inner; r++) {
        const float *zr = z + (r / inner) * n * inner + r % inner;
        float *yr = y + (r / inner) * n * inner + r % inner;
        float m = -INFINITY;
        for (int64_t j = 0; j < n; j++)
            m = fmaxf(m, zr[j * inner]);
        double s = 0;
        for (int64_t j = 0; j < n; j++) {
            float e = expf(zr[j * inner] - m);
            yr[j * inner] = e;
            s += e;
        }
        float inv = (float)(1.0 / s);
        for (int64_t j = 0; j < n; j++)
            yr[j * inner] *= inv;
    }
    return 0;
}

int rr_softmax_bwd_cpu(const float *y, const float *dy, float *dz, int64_t outer, int64_t n, int64_t inner,
                       int accumulate)
{
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
