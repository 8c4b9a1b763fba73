/* Swin's window partition and its reverse (doc/network.md, Swin backbone), as PyTorch's
 * window_partition / window_reverse in the Swin reference code. */
#ifndef RR_OPS_WINDOW_H
#define RR_OPS_WINDOW_H

#include "../ctx.h"
#include "backend.h"

/* x (B, H, W, C), H and W multiples of ws -> (B*nH*nW, ws, ws, C), windows in
 * raster order per image: x.view(B, H/ws, ws, W/ws, ws, C)
 * .permute(0, 1, 3, 2, 4, 5).reshape(-1, ws, ws, C). */
rr_tensor *rr_window_partition(rr_ctx *c, rr_tensor *x, int64_t ws);
/* The inverse: windows (B*nH*nW, ws, ws, C) -> (B, H, W, C). */
rr_tensor *rr_window_reverse(rr_ctx *c, rr_tensor *windows, int64_t ws, int64_t H, int64_t W);

#endif
