/* 2-D convolution (with stride, padding, dilation and groups) and the
 * kernel-size-1 1-D convolution of the PWAM/IFIM projections.
 *
 * Layouts are PyTorch's: x (B, Cin, H, W), w (Cout, Cin/groups, kH, kW),
 * bias (Cout) or NULL; y (B, Cout, Ho, Wo) with
 * Ho = (H + 2*pad_h - dil_h*(kH-1) - 1) / stride_h + 1 (floor), Wo likewise. */
#ifndef RR_OPS_CONV_H
#define RR_OPS_CONV_H

#include <stdint.h>

#include "../ctx.h"
#include "backend.h"

/* torch.nn.functional.conv2d's arguments.  A 0 in stride, dilation or groups
 * means 1 (PyTorch's default), so `&(rr_conv2d_params){.padding = {1, 1}}`
 * is a 3x3 "same" convolution.  Pairs are (h, w). */
typedef struct {
    int stride[2];
    int padding[2];
    int dilation[2];
    int groups;
} rr_conv2d_params;

/* F.conv2d(x, w, bias, stride, padding, dilation, groups). */
rr_tensor *rr_conv2d(rr_ctx *c, rr_tensor *x, rr_tensor *w, rr_tensor *bias, const rr_conv2d_params *p);

/* F.conv1d(x, w, bias) with kernel size 1: x (B, Cin, L), w (Cout, Cin, 1),
 * bias (Cout) or NULL; y (B, Cout, L). */
rr_tensor *rr_conv1d(rr_ctx *c, rr_tensor *x, rr_tensor *w, rr_tensor *bias);

/* Everything a kernel needs to know about one convolution. */
typedef struct {
    int64_t B, Cin, H, W, Cout, Ho, Wo;
    int kh, kw, sh, sw, ph, pw, dh, dw, groups;
    /* Output positions per column block: the im2col columns of one sample
     * are built and multiplied `chunk` positions at a time, which bounds the
     * workspace (rr_conv2d_workspace) to Cin*kh*kw*chunk floats. */
    int64_t chunk;
} rr_conv2d_geom;

/* One input channel per group (depthwise, with any channel multiplier):
 * there is no GEMM worth building columns for, so a direct loop runs. */
static inline int rr_conv2d_is_direct(const rr_conv2d_geom *g) { return g->Cin == g->groups; }

/* 1x1, stride 1, unpadded: the columns are x itself. */
static inline int rr_conv2d_is_pointwise(const rr_conv2d_geom *g)
{
    return g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 && g->ph == 0 && g->pw == 0;
}

/* Floats of workspace the kernels need for g: 0 when no columns are built
 * (Cin/groups == 1 runs a direct loop; a 1x1, stride 1, unpadded
 * convolution multiplies x itself). */
int64_t rr_conv2d_workspace(const rr_conv2d_geom *g);

/* y = conv(x, w) + bias (bias may be NULL); cols: rr_conv2d_workspace floats. */
RR_KERNEL(rr_conv2d_fwd, (const float *x, const float *w, const float *bias, float *y, float *cols,
                          const rr_conv2d_geom *g));
/* Accumulates dx, dw and dbias (each may be NULL) from dy. */
RR_KERNEL(rr_conv2d_bwd, (const float *x, const float *w, const float *dy, float *dx, float *dw, float *dbias,
                          float *cols, const rr_conv2d_geom *g));

#endif
