/* Both ops are one permutation of a 6-D view, run by shape.c's strided copy
 * (rr_remap); the CUDA twin is that copy's (shape.cu). */
#include "window.h"

#include "check.h"
#include "shape.h"

rr_tensor *rr_window_partition(rr_ctx *c, rr_tensor *x, int64_t ws)
{
    char s[64];
    if (rr_check_f32("window_partition", x) || rr_check_ndim("window_partition", x, 4))
        return NULL;
    int64_t B = x->shape[0], H = x->shape[1], W = x->shape[2], C = x->shape[3];
    if (ws < 1 || H % ws || W % ws) {
        rr_error("window_partition: H and W of %s (B, H, W, C) must be multiples of the window size %lld "
                 "(pad first)", rr_shape_str(x, s, sizeof s), (long long)ws);
        return NULL;
    }
    int64_t nH = H / ws, nW = W / ws;
    /* Output index (b, i, j, p, q, ch) = window (b, i, j), pixel (p, q), read
     * at x[b, i*ws + p, j*ws + q, ch]. */
    const int64_t idx[6] = {B, nH, nW, ws, ws, C};
    const int64_t src[6] = {H * W * C, ws * W * C, ws * C, W * C, C, 1};
    rr_copy_map m;
    rr_copy_map_gather(&m, 6, idx, src, 0);
    return rr_remap(c, "window_partition", x, 4, (const int64_t[]){B * nH * nW, ws, ws, C}, &m);
}

rr_tensor *rr_window_reverse(rr_ctx *c, rr_tensor *windows, int64_t ws, int64_t H, int64_t W)
{
    char s[64];
    rr_tensor *w = windows;
    if (rr_check_f32("window_reverse", w) || rr_check_ndim("window_reverse", w, 4))
        return NULL;
    if (ws < 1 || H < 1 || W < 1 || H % ws || W % ws) {
        rr_error("window_reverse: H=%lld and W=%lld must be positive multiples of the window size %lld",
                 (long long)H, (long long)W, (long long)ws);
        return NULL;
    }
    int64_t nH = H / ws, nW = W / ws, C = w->shape[3];
    if (w->shape[1] != ws || w->shape[2] != ws || w->shape[0] % (nH * nW)) {
        rr_error("window_reverse: windows %s are not (B*%lld, %lld, %lld, C) for a %lldx%lld grid",
                 rr_shape_str(w, s, sizeof s), (long long)(nH * nW), (long long)ws, (long long)ws,
                 (long long)H, (long long)W);
        return NULL;
    }
    int64_t B = w->shape[0] / (nH * nW), win = ws * ws * C;
    /* Output index (b, i, p, j, q, ch) = out[b, i*ws + p, j*ws + q, ch], read
     * from window (b*nH + i)*nW + j at pixel (p, q). */
    const int64_t idx[6] = {B, nH, ws, nW, ws, C};
    const int64_t src[6] = {nH * nW * win, nW * win, ws * C, win, C, 1};
    rr_copy_map m;
    rr_copy_map_gather(&m, 6, idx, src, 0);
    return rr_remap(c, "window_reverse", w, 4, (const int64_t[]){B, H, W, C}, &m);
}
