#include "shape.h"

#include <stdio.h>
#include <string.h>

#include "../tape.h"
#include "check.h"
#include "merge_dims.h"

/* --- the strided copy ------------------------------------------------------ */

void rr_contiguous_strides(int ndim, const int64_t *shape, int64_t *strides)
{
    int64_t s = 1;
    for (int d = ndim - 1; d >= 0; d--) {
        strides[d] = s;
        s *= shape[d];
    }
}

void rr_copy_map_gather(rr_copy_map *m, int ndim, const int64_t *shape, const int64_t *sstride,
                        int64_t soff)
{
    memset(m, 0, sizeof *m);
    if (ndim == 0) { /* a scalar: one element */
        *m = (rr_copy_map){.ndim = 1, .shape = {1}, .soff = soff, .numel = 1};
        return;
    }
    m->ndim = ndim;
    m->soff = soff;
    memcpy(m->shape, shape, (size_t)ndim * sizeof *shape);
    memcpy(m->sstride, sstride, (size_t)ndim * sizeof *sstride);
    rr_contiguous_strides(ndim, shape, m->dstride);
    m->numel = 1;
    for (int d = 0; d < ndim; d++)
        m->numel *= shape[d];
}

rr_copy_map rr_copy_map_inverse(const rr_copy_map *m)
{
    rr_copy_map r = *m;
    memcpy(r.sstride, m->dstride, sizeof r.sstride);
    memcpy(r.dstride, m->sstride, sizeof r.dstride);
    r.soff = m->doff;
    r.doff = m->soff;
    /* Largest dst stride first (a stable insertion sort): the new dst is then
     * written in memory order, so the backward is a gather as well. */
    for (int i = 1; i < r.ndim; i++)
        for (int j = i; j > 0 && r.dstride[j - 1] < r.dstride[j]; j--) {
            int64_t t;
            t = r.shape[j], r.shape[j] = r.shape[j - 1], r.shape[j - 1] = t;
            t = r.sstride[j], r.sstride[j] = r.sstride[j - 1], r.sstride[j - 1] = t;
            t = r.dstride[j], r.dstride[j] = r.dstride[j - 1], r.dstride[j - 1] = t;
        }
    return r;
}

/* The map with dimensions of 1 dropped and neighbours merged where both src
 * and dst run contiguously across them (fewer, longer loops). */
static void coalesce(const rr_copy_map *m, rr_copy_map *f)
{
    *f = *m;
    f->ndim = rr_merge_dims(m->ndim, m->shape, m->sstride, m->dstride, f->shape, f->sstride, f->dstride);
}

/* Offsets of index q of the dims other than skip0 and skip1 (q in their
 * row-major order). */
static inline void outer_offsets(const rr_copy_map *m, int64_t q, int skip0, int skip1, int64_t *s, int64_t *d)
{
    *s = m->soff;
    *d = m->doff;
    for (int k = m->ndim - 1; k >= 0; k--) {
        if (k == skip0 || k == skip1)
            continue;
        int64_t i = q % m->shape[k];
        q /= m->shape[k];
        *s += i * m->sstride[k];
        *d += i * m->dstride[k];
    }
}

/* Side of the square tiles of a transposing copy; elements per task of the
 * other copies. */
#define TILE 32
#define RUN 8192

int rr_copy_strided_cpu(const float *src, float *dst, const rr_copy_map *map, int accumulate)
{
    if (map->numel == 0)
        return 0;
    rr_copy_map f;
    coalesce(map, &f);
    const rr_copy_map *m = &f;
    int last = m->ndim - 1, p = -1;
    int64_t inner = m->shape[last], rows = m->numel / inner;
    int64_t ss = m->sstride[last], ds = m->dstride[last];
    /* dst contiguous along the last dim, src along another one: a transpose,
     * copied by TILE x TILE tiles so that both sides stay in cache. */
    if (ds == 1 && ss != 1)
        for (int k = 0; k < last; k++)
            if (m->sstride[k] == 1 && m->shape[k] > 1)
                p = k;
    if (p >= 0) {
        int64_t np = m->shape[p], bp = (np + TILE - 1) / TILE, bl = (inner + TILE - 1) / TILE;
        int64_t outer = rows / np, dp = m->dstride[p];
#pragma omp parallel for if (m->numel > 32768)
        for (int64_t t = 0; t < outer * bp * bl; t++) {
            int64_t s0, d0;
            outer_offsets(m, t / (bp * bl), p, last, &s0, &d0);
            int64_t i0 = t / bl % bp * TILE, j0 = t % bl * TILE;
            int64_t i1 = i0 + TILE < np ? i0 + TILE : np, j1 = j0 + TILE < inner ? j0 + TILE : inner;
            for (int64_t i = i0; i < i1; i++) {
                const float *sr = src + s0 + i;
                float *dr = dst + d0 + i * dp;
                if (accumulate)
                    for (int64_t j = j0; j < j1; j++)
                        dr[j] += sr[j * ss];
                else
                    for (int64_t j = j0; j < j1; j++)
                        dr[j] = sr[j * ss];
            }
        }
        return 0;
    }
    /* Runs of up to RUN elements of a row of the last dimension per task;
     * tasks never share a dst element (the map is injective), so they run in
     * parallel. */
    int64_t per_row = (inner + RUN - 1) / RUN;
#pragma omp parallel for if (m->numel > 32768)
    for (int64_t t = 0; t < rows * per_row; t++) {
        int64_t s, d, j0 = t % per_row * RUN, n = inner - j0 < RUN ? inner - j0 : RUN;
        outer_offsets(m, t / per_row, last, last, &s, &d);
        const float *sr = src + s + j0 * ss;
        float *dr = dst + d + j0 * ds;
        if (ss == 1 && ds == 1) {
            if (accumulate)
                for (int64_t j = 0; j < n; j++)
                    dr[j] += sr[j];
            else
                memcpy(dr, sr, (size_t)n * sizeof *dr);
        } else if (accumulate) {
            for (int64_t j = 0; j < n; j++)
                dr[j * ds] += sr[j * ss];
        } else {
            for (int64_t j = 0; j < n; j++)
                dr[j * ds] = sr[j * ss];
        }
    }
    return 0;
}

static int remap_backward(rr_ctx *c, rr_node *n)
{
    rr_tensor *x = n->in[0], *gx = rr_grad_of(c, x);
    if (!gx)
        return -1;
    return RR_BACKEND(x->device, rr_copy_strided, rr_f32(n->out->grad), rr_f32(gx),
                      (const rr_copy_map *)n->saved, 1);
}

rr_tensor *rr_remap(rr_ctx *c, const char *op, rr_tensor *x, int ndim, const int64_t *shape,
                    const rr_copy_map *m)
{
    rr_tensor *out = rr_new(c, RR_F32, ndim, shape);
    if (!out || RR_BACKEND(x->device, rr_copy_strided, rr_f32(x), rr_f32(out), m, 0))
        return NULL;
    int err;
    rr_node *n = rr_tape_record(c, op, remap_backward, out, 1, &x, sizeof(rr_copy_map), &err);
    if (err)
        return NULL;
    if (n)
        *(rr_copy_map *)n->saved = rr_copy_map_inverse(m);
    return out;
}

/* --- reshape ----------------------------------------------------------------- */

/* "[2, -1, 5]" into buf. */
static char *list_str(int n, const int64_t *v, char *buf, size_t size)
{
    size_t k = (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < n && k < size; i++)
        k += (size_t)snprintf(buf + k, size - k, i ? ", %lld" : "%lld", (long long)v[i]);
    if (k < size)
        snprintf(buf + k, size - k, "]");
    return buf;
}

static int reshape_backward(rr_ctx *c, rr_node *n)
{
    rr_tensor *x = n->in[0], *gx = rr_grad_of(c, x);
    if (!gx)
        return -1;
    rr_copy_map m;
    rr_copy_map_gather(&m, 1, &x->numel, (const int64_t[]){1}, 0);
    return RR_BACKEND(x->device, rr_copy_strided, rr_f32(n->out->grad), rr_f32(gx), &m, 1);
}

rr_tensor *rr_reshape(rr_ctx *c, rr_tensor *x, int ndim, const int64_t *shape)
{
    char s1[96], s2[64];
    if (!x) {
        rr_error_prefix("reshape: input missing (an earlier op failed): ");
        return NULL;
    }
    if (ndim < 0 || ndim > RR_MAXDIM) {
        rr_error("reshape: %d dimensions (at most %d)", ndim, RR_MAXDIM);
        return NULL;
    }
    int64_t full[RR_MAXDIM], known = 1;
    int infer = -1;
    for (int i = 0; i < ndim; i++) {
        full[i] = shape[i];
        if (shape[i] == -1 && infer < 0) {
            infer = i;
        } else if (shape[i] == -1) {
            rr_error("reshape: only one dimension can be inferred in %s",
                     list_str(ndim, shape, s1, sizeof s1));
            return NULL;
        } else if (shape[i] < 0) {
            rr_error("reshape: invalid size %lld in %s", (long long)shape[i],
                     list_str(ndim, shape, s1, sizeof s1));
            return NULL;
        } else if (shape[i] > 0 && known > INT64_MAX / shape[i]) {
            rr_error("reshape: shape %s is too large", list_str(ndim, shape, s1, sizeof s1));
            return NULL;
        } else {
            known *= shape[i];
        }
    }
    if (infer >= 0 && known == 0) { /* any size would do: torch refuses too */
        rr_error("reshape: cannot infer the -1 in %s for a tensor of %lld elements",
                 list_str(ndim, shape, s1, sizeof s1), (long long)x->numel);
        return NULL;
    }
    if (infer >= 0 ? x->numel % known != 0 : known != x->numel) {
        rr_error("reshape: shape %s is invalid for an input of shape %s (%lld elements)",
                 list_str(ndim, shape, s1, sizeof s1), rr_shape_str(x, s2, sizeof s2),
                 (long long)x->numel);
        return NULL;
    }
    if (infer >= 0)
        full[infer] = x->numel / known;
    rr_tensor *out = rr_tensor_wrap(&c->meta, x->device, x->dtype, ndim, full, x->data);
    if (!out)
        return NULL;
    int err;
    rr_tape_record(c, "reshape", reshape_backward, out, 1, &x, 0, &err);
    return err ? NULL : out;
}

/* --- permute, transpose ------------------------------------------------------ */

static rr_tensor *permute(rr_ctx *c, const char *op, rr_tensor *x, const int *perm)
{
    int64_t xs[RR_MAXDIM], shape[RR_MAXDIM], ss[RR_MAXDIM];
    int seen[RR_MAXDIM] = {0};
    rr_contiguous_strides(x->ndim, x->shape, xs);
    for (int i = 0; i < x->ndim; i++) {
        int a;
        if (rr_check_axis(op, perm[i], x->ndim, &a))
            return NULL;
        if (seen[a]++) {
            rr_error("%s: axis %d appears twice in the permutation", op, perm[i]);
            return NULL;
        }
        shape[i] = x->shape[a];
        ss[i] = xs[a];
    }
    rr_copy_map m;
    rr_copy_map_gather(&m, x->ndim, shape, ss, 0);
    return rr_remap(c, op, x, x->ndim, shape, &m);
}

rr_tensor *rr_permute(rr_ctx *c, rr_tensor *x, const int *perm)
{
    if (rr_check_f32("permute", x))
        return NULL;
    return permute(c, "permute", x, perm);
}

rr_tensor *rr_transpose(rr_ctx *c, rr_tensor *x, int d0, int d1)
{
    int a, b, perm[RR_MAXDIM];
    if (rr_check_f32("transpose", x) || rr_check_axis("transpose", d0, x->ndim, &a) ||
        rr_check_axis("transpose", d1, x->ndim, &b))
        return NULL;
    for (int i = 0; i < x->ndim; i++)
        perm[i] = i;
    perm[a] = b;
    perm[b] = a;
    return permute(c, "transpose", x, perm);
}

/* --- slice, split ------------------------------------------------------------ */

/* Elements start, start+step, ... (len of them) along axis. */
static rr_tensor *slice(rr_ctx *c, const char *op, rr_tensor *x, int axis, int64_t start, int64_t len,
                        int64_t step)
{
    int64_t xs[RR_MAXDIM], shape[RR_MAXDIM], ss[RR_MAXDIM];
    rr_contiguous_strides(x->ndim, x->shape, xs);
    for (int d = 0; d < x->ndim; d++) {
        shape[d] = d == axis ? len : x->shape[d];
        ss[d] = d == axis ? xs[d] * step : xs[d];
    }
    rr_copy_map m;
    rr_copy_map_gather(&m, x->ndim, shape, ss, start * xs[axis]);
    return rr_remap(c, op, x, x->ndim, shape, &m);
}

/* Python's clamping of a slice bound. */
static int64_t slice_bound(int64_t v, int64_t n)
{
    if (v < 0)
        v = v < -n ? 0 : v + n;
    return v > n ? n : v;
}

rr_tensor *rr_slice(rr_ctx *c, rr_tensor *x, int axis, int64_t start, int64_t end, int64_t step)
{
    int a;
    if (rr_check_f32("slice", x) || rr_check_axis("slice", axis, x->ndim, &a))
        return NULL;
    if (step < 1) {
        rr_error("slice: step must be at least 1, got %lld", (long long)step);
        return NULL;
    }
    int64_t n = x->shape[a], s = slice_bound(start, n), e = slice_bound(end, n);
    int64_t len = e > s ? (e - s + step - 1) / step : 0;
    return slice(c, "slice", x, a, s, len, step);
}

int rr_split(rr_ctx *c, rr_tensor *x, int axis, int n, const int64_t *sizes, rr_tensor **outs)
{
    int a;
    if (rr_check_f32("split", x) || rr_check_axis("split", axis, x->ndim, &a))
        return -1;
    if (n < 1)
        return rr_error("split: at least one size needed, got %d", n);
    int64_t sum = 0;
    for (int k = 0; k < n; k++) {
        if (sizes[k] < 0)
            return rr_error("split: negative size %lld", (long long)sizes[k]);
        sum += sizes[k];
    }
    if (sum != x->shape[a]) {
        char s[64];
        return rr_error("split: sizes sum to %lld, but axis %d of %s has %lld", (long long)sum, axis,
                        rr_shape_str(x, s, sizeof s), (long long)x->shape[a]);
    }
    int64_t start = 0;
    for (int k = 0; k < n; start += sizes[k], k++)
        if (!(outs[k] = slice(c, "split", x, a, start, sizes[k], 1)))
            return -1;
    return 0;
}

/* --- concat ------------------------------------------------------------------ */

/* The map that gathers input k's block of out (concatenated along axis at
 * offset off): index space k's shape, src = out. */
static void block_map(rr_copy_map *m, const rr_tensor *xk, const rr_tensor *out, int axis, int64_t off)
{
    int64_t os[RR_MAXDIM];
    rr_contiguous_strides(out->ndim, out->shape, os);
    rr_copy_map_gather(m, xk->ndim, xk->shape, os, off * os[axis]);
}

static int concat_backward(rr_ctx *c, rr_node *n)
{
    int axis = *(int *)n->saved;
    int64_t off = 0;
    for (int k = 0; k < n->nin; k++) {
        rr_tensor *x = n->in[k];
        if (x->requires_grad) {
            rr_tensor *gx = rr_grad_of(c, x);
            rr_copy_map m;
            if (!gx)
                return -1;
            block_map(&m, x, n->out, axis, off);
            if (RR_BACKEND(x->device, rr_copy_strided, rr_f32(n->out->grad), rr_f32(gx), &m, 1))
                return -1;
        }
        off += x->shape[axis];
    }
    return 0;
}

rr_tensor *rr_concat(rr_ctx *c, int n, rr_tensor *const *xs, int axis)
{
    int a;
    if (n < 1) {
        rr_error("concat: no inputs");
        return NULL;
    }
    if (rr_check_f32("concat", xs[0]) || rr_check_axis("concat", axis, xs[0]->ndim, &a))
        return NULL;
    int64_t shape[RR_MAXDIM];
    memcpy(shape, xs[0]->shape, sizeof shape);
    shape[a] = 0;
    for (int k = 0; k < n; k++) {
        char s1[64], s2[64];
        if (rr_check_f32("concat", xs[k]) || rr_check_same_device("concat", xs[0], xs[k]))
            return NULL;
        int ok = xs[k]->ndim == xs[0]->ndim;
        for (int d = 0; ok && d < xs[0]->ndim; d++)
            ok = d == a || xs[k]->shape[d] == xs[0]->shape[d];
        if (!ok) {
            rr_error("concat: input %d has shape %s, input 0 %s; they must match except along axis %d", k,
                     rr_shape_str(xs[k], s1, sizeof s1), rr_shape_str(xs[0], s2, sizeof s2), axis);
            return NULL;
        }
        shape[a] += xs[k]->shape[a];
    }
    rr_tensor *out = rr_new(c, RR_F32, xs[0]->ndim, shape);
    if (!out)
        return NULL;
    int64_t off = 0;
    for (int k = 0; k < n; k++) {
        rr_copy_map m;
        block_map(&m, xs[k], out, a, off);
        m = rr_copy_map_inverse(&m);
        if (RR_BACKEND(xs[k]->device, rr_copy_strided, rr_f32(xs[k]), rr_f32(out), &m, 0))
            return NULL;
        off += xs[k]->shape[a];
    }
    int err;
    rr_node *node = rr_tape_record(c, "concat", concat_backward, out, n, xs, sizeof(int), &err);
    if (err)
        return NULL;
    if (node)
        *(int *)node->saved = a;
    return out;
}

/* --- pad ----------------------------------------------------------------------- */

/* The backward of pad gathers the interior of dout; the forward writes x
 * into the interior through the inverse of the same map. */
static int pad_backward(rr_ctx *c, rr_node *n)
{
    rr_tensor *x = n->in[0], *gx = rr_grad_of(c, x);
    if (!gx)
        return -1;
    return RR_BACKEND(x->device, rr_copy_strided, rr_f32(n->out->grad), rr_f32(gx),
                      (const rr_copy_map *)n->saved, 1);
}

rr_tensor *rr_pad(rr_ctx *c, rr_tensor *x, const int64_t *pads, int npairs, float value)
{
    if (rr_check_f32("pad", x))
        return NULL;
    if (npairs < 0 || npairs > x->ndim) {
        rr_error("pad: %d (before, after) pairs for %d dimensions", npairs, x->ndim);
        return NULL;
    }
    int64_t shape[RR_MAXDIM], os[RR_MAXDIM], before[RR_MAXDIM] = {0};
    memcpy(shape, x->shape, sizeof shape);
    for (int k = 0; k < npairs; k++) {
        int d = x->ndim - 1 - k; /* pairs start from the last dimension */
        if (pads[2 * k] < 0 || pads[2 * k + 1] < 0) {
            rr_error("pad: negative padding (%lld, %lld) is not supported",
                     (long long)pads[2 * k], (long long)pads[2 * k + 1]);
            return NULL;
        }
        before[d] = pads[2 * k];
        shape[d] += pads[2 * k] + pads[2 * k + 1];
    }
    rr_contiguous_strides(x->ndim, shape, os);
    int64_t off = 0;
    for (int d = 0; d < x->ndim; d++)
        off += before[d] * os[d];
    rr_copy_map m, fwd;
    rr_copy_map_gather(&m, x->ndim, x->shape, os, off);
    fwd = rr_copy_map_inverse(&m);
    rr_tensor *out = rr_new(c, RR_F32, x->ndim, shape);
    if (!out || rr_fill(out, value) ||
        RR_BACKEND(x->device, rr_copy_strided, rr_f32(x), rr_f32(out), &fwd, 0))
        return NULL;
    int err;
    rr_node *n = rr_tape_record(c, "pad", pad_backward, out, 1, &x, sizeof m, &err);
    if (err)
        return NULL;
    if (n)
        *(rr_copy_map *)n->saved = m;
    return out;
}

/* --- roll ---------------------------------------------------------------------- */

/* dst[i] (+)= src[j] for n contiguous elements. */
static void copy_run(const float *src, float *dst, int64_t n, int accumulate)
{
    if (accumulate)
        for (int64_t i = 0; i < n; i++)
            dst[i] += src[i];
    else
        memcpy(dst, src, (size_t)n * sizeof *dst);
}

int rr_roll_f32_cpu(const float *src, float *dst, const rr_roll_map *m, int accumulate)
{
    if (m->numel == 0)
        return 0;
    /* The dims after the last shifted one (L) are copied whole; each row of
     * dim L is two contiguous runs, [0, n - shift) of the source to
     * [shift, n) and the rest to [0, shift). */
    int L = m->ndim - 1;
    while (L > 0 && m->shift[L] == 0)
        L--;
    int64_t inner = 1, n = m->shape[L], sh = m->shift[L];
    for (int d = L + 1; d < m->ndim; d++)
        inner *= m->shape[d];
    int64_t rows = m->numel / (n * inner);
#pragma omp parallel for if (m->numel > 32768)
    for (int64_t r = 0; r < rows; r++) {
        int64_t q = r, s = 0, stride = n * inner;
        for (int d = L - 1; d >= 0; d--) {
            int64_t k = q % m->shape[d] - m->shift[d];
            q /= m->shape[d];
            s += (k < 0 ? k + m->shape[d] : k) * stride;
            stride *= m->shape[d];
        }
        float *dr = dst + r * n * inner;
        copy_run(src + s, dr + sh * inner, (n - sh) * inner, accumulate);
        copy_run(src + s + (n - sh) * inner, dr, sh * inner, accumulate);
    }
    return 0;
}

static int roll_backward(rr_ctx *c, rr_node *n)
{
    rr_tensor *x = n->in[0], *gx = rr_grad_of(c, x);
    if (!gx)
        return -1;
    return RR_BACKEND(x->device, rr_roll_f32, rr_f32(n->out->grad), rr_f32(gx),
                      (const rr_roll_map *)n->saved, 1);
}

rr_tensor *rr_roll(rr_ctx *c, rr_tensor *x, int n, const int64_t *shifts, const int *axes)
{
    if (rr_check_f32("roll", x))
        return NULL;
    if (n < 1) {
        rr_error("roll: at least one (shift, axis) pair needed, got %d", n);
        return NULL;
    }
    rr_roll_map m = {.ndim = x->ndim, .numel = x->numel};
    memcpy(m.shape, x->shape, sizeof m.shape);
    for (int k = 0; k < n; k++) {
        int a;
        if (rr_check_axis("roll", axes[k], x->ndim, &a))
            return NULL;
        if (x->shape[a] > 0)
            m.shift[a] = ((m.shift[a] + shifts[k] % x->shape[a]) % x->shape[a] + x->shape[a]) % x->shape[a];
    }
    rr_tensor *out = rr_new_like(c, x);
    if (!out || RR_BACKEND(x->device, rr_roll_f32, rr_f32(x), rr_f32(out), &m, 0))
        return NULL;
    int err;
    rr_node *node = rr_tape_record(c, "roll", roll_backward, out, 1, &x, sizeof m, &err);
    if (err)
        return NULL;
    if (node) { /* the backward rolls the other way */
        rr_roll_map *b = node->saved;
        *b = m;
        for (int d = 0; d < x->ndim; d++)
            b->shift[d] = m.shift[d] ? m.shape[d] - m.shift[d] : 0;
    }
    return out;
}
