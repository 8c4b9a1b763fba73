/* Both ops are one permutation of a 6-D view, run by shape.c's strided copy
 * (rr_remap); the CUDA twin is that copy's (shape.cu). */
#include "pixel_shuffle.h"

#include <string.h>

#include "check.h"
#include "shape.h"

/* Checks x (3 to 5 dimensions, r >= 1) and folds its leading dimensions
 * into one batch: x is (B, C, H, W). */
static int dims(const char *op, const rr_tensor *x, int64_t r, int64_t *B, int64_t *C, int64_t *H,
                int64_t *W)
{
    char s[64];
    if (rr_check_f32(op, x))
        return -1;
    if (x->ndim < 3)
        return rr_error("%s: expected (*, C, H, W) with at least 3 dimensions, got %s", op,
                        rr_shape_str(x, s, sizeof s));
    if (r < 1)
        return rr_error("%s: the factor must be at least 1, got %lld", op, (long long)r);
    int n = x->ndim;
    *B = 1;
    for (int d = 0; d < n - 3; d++)
        *B *= x->shape[d];
    *C = x->shape[n - 3], *H = x->shape[n - 2], *W = x->shape[n - 1];
    return 0;
}

rr_tensor *rr_pixel_shuffle(rr_ctx *c, rr_tensor *x, int64_t r)
{
    int64_t B, Cin, H, W;
    char s[64];
    if (dims("pixel_shuffle", x, r, &B, &Cin, &H, &W))
        return NULL;
    if (Cin % (r * r)) {
        rr_error("pixel_shuffle: %lld channels of %s are not divisible by r*r = %lld", (long long)Cin,
                 rr_shape_str(x, s, sizeof s), (long long)(r * r));
        return NULL;
    }
    int64_t C = Cin / (r * r), shape[RR_MAXDIM];
    memcpy(shape, x->shape, sizeof shape);
    shape[x->ndim - 3] = C, shape[x->ndim - 2] = H * r, shape[x->ndim - 1] = W * r;
    /* Output index (b, c, h, i, w, j) = out[b, c, h*r + i, w*r + j], read at
     * in[b, c*r*r + i*r + j, h, w]. */
    const int64_t idx[6] = {B, C, H, r, W, r};
    const int64_t src[6] = {Cin * H * W, r * r * H * W, W, r * H * W, 1, H * W};
    rr_copy_map m;
    rr_copy_map_gather(&m, 6, idx, src, 0);
    return rr_remap(c, "pixel_shuffle", x, x->ndim, shape, &m);
}

rr_tensor *rr_pixel_unshuffle(rr_ctx *c, rr_tensor *x, int64_t r)
{
    int64_t B, C, Hin, Win;
    char s[64];
    if (dims("pixel_unshuffle", x, r, &B, &C, &Hin, &Win))
        return NULL;
    if (Hin % r || Win % r) {
        rr_error("pixel_unshuffle: H and W of %s are not divisible by the factor %lld",
                 rr_shape_str(x, s, sizeof s), (long long)r);
        return NULL;
    }
    int64_t H = Hin / r, W = Win / r, shape[RR_MAXDIM];
    memcpy(shape, x->shape, sizeof shape);
    shape[x->ndim - 3] = C * r * r, shape[x->ndim - 2] = H, shape[x->ndim - 1] = W;
    /* Output index (b, c, i, j, h, w) = out[b, c*r*r + i*r + j, h, w], read at
     * in[b, c, h*r + i, w*r + j]. */
    const int64_t idx[6] = {B, C, r, r, H, W};
    const int64_t src[6] = {C * Hin * Win, Hin * Win, Win, 1, r * Win, r};
    rr_copy_map m;
    rr_copy_map_gather(&m, 6, idx, src, 0);
    return rr_remap(c, "pixel_unshuffle", x, x->ndim, shape, &m);
}
