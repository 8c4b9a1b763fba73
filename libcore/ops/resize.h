/* Bilinear resizing of x (B, C, H, W) to (B, C, out_h, out_w). */
#ifndef RR_OPS_RESIZE_H
#define RR_OPS_RESIZE_H

#include <stdint.h>

#include "../ctx.h"
#include "backend.h"

/* F.interpolate(x, size=(out_h, out_w), mode='bilinear', align_corners),
 * up or down by any ratio, with PyTorch's source indices (computed in f32,
 * as PyTorch does for f32 tensors; doc/network.md, Decoder):
 *   align_corners: src = dst * (in-1)/(out-1), and src = 0 when out == 1;
 *   otherwise:     src = max((dst + 0.5) * in/out - 0.5, 0).
 * The output mixes input rows floor(src) and floor(src)+1 (the last row
 * stays itself), columns likewise.  No antialiasing when shrinking. */
rr_tensor *rr_resize_bilinear(rr_ctx *c, rr_tensor *x, int64_t out_h, int64_t out_w, int align_corners);

/* One resize of `planes` = B*C planes from H x W to Ho x Wo. */
typedef struct {
    int64_t planes, H, W, Ho, Wo;
    int align_corners;
} rr_resize_geom;

RR_KERNEL(rr_resize_bilinear_fwd, (const float *x, float *y, const rr_resize_geom *g));
/* Accumulates dx from dy. */
RR_KERNEL(rr_resize_bilinear_bwd, (const float *dy, float *dx, const rr_resize_geom *g));

#endif
