/* Average pooling over the last two dimensions of x (B, C, H, W):
 * fixed windows (AvgPool2d), adaptive bins (AdaptiveAvgPool2d), and the
 * 3x3 neighbourhood mean of CSR (doc/network.md, CSR). */
#ifndef RR_OPS_POOL_H
#define RR_OPS_POOL_H

#include <stdint.h>

#include "../ctx.h"
#include "backend.h"

/* F.avg_pool2d(x, kernel, stride, padding, ceil_mode=False,
 * count_include_pad): square windows; y (B, C, Ho, Wo) with
 * Ho = (H + 2*padding - kernel) / stride + 1.  padding <= kernel/2, as in
 * PyTorch.  With count_include_pad = 0 a window divides by the number of its
 * elements inside x, otherwise by kernel*kernel. */
rr_tensor *rr_avg_pool2d(rr_ctx *c, rr_tensor *x, int kernel, int stride, int padding, int count_include_pad);

/* F.adaptive_avg_pool2d(x, (out_h, out_w)): output row i averages input
 * rows floor(i*H/out_h) .. ceil((i+1)*H/out_h)-1 (bins may overlap), columns
 * likewise.  Used by PSR's pyramid (doc/network.md, PSR) and CIM (doc/network.md, CIM). */
rr_tensor *rr_adaptive_avg_pool2d(rr_ctx *c, rr_tensor *x, int64_t out_h, int64_t out_w);

/* The mean of each pixel's 3x3 neighbourhood, itself included, over the
 * neighbours inside the image (1/9, 1/6 or 1/4 weights): CSR's Â·X,
 * = F.avg_pool2d(x, 3, 1, 1, count_include_pad=False) (doc/network.md, CSR). */
rr_tensor *rr_mean_filter3(rr_ctx *c, rr_tensor *x);

/* One pooling over `planes` = B*C planes of H x W.  adaptive: bins as in
 * rr_adaptive_avg_pool2d (kernel, stride, padding unused); otherwise fixed
 * windows as in rr_avg_pool2d. */
typedef struct {
    int64_t planes, H, W, Ho, Wo;
    int adaptive;
    int kernel, stride, padding, count_include_pad;
} rr_pool2d_geom;

RR_KERNEL(rr_avg_pool2d_fwd, (const float *x, float *y, const rr_pool2d_geom *g));
/* Accumulates dx from dy. */
RR_KERNEL(rr_avg_pool2d_bwd, (const float *dy, float *dx, const rr_pool2d_geom *g));

#endif
