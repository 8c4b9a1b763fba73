/* PixelShuffle and PixelUnshuffle (doc/network.md, HFIM, HFIM alignment and division). */
#ifndef RR_OPS_PIXEL_SHUFFLE_H
#define RR_OPS_PIXEL_SHUFFLE_H

#include "../ctx.h"
#include "backend.h"

/* torch.nn.PixelShuffle(r): (*, C*r*r, H, W) -> (*, C, H*r, W*r) with
 * out[c, h*r + i, w*r + j] = in[c*r*r + i*r + j, h, w]; 3 to 5 dimensions. */
rr_tensor *rr_pixel_shuffle(rr_ctx *c, rr_tensor *x, int64_t r);
/* torch.nn.PixelUnshuffle(r), the exact inverse: (*, C, H*r, W*r) ->
 * (*, C*r*r, H, W). */
rr_tensor *rr_pixel_unshuffle(rr_ctx *c, rr_tensor *x, int64_t r);

#endif
