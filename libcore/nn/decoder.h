/* The decoder: LAVT's SimpleDecoding and RMSIN's, which rotates its second
 * convolutions (doc/network.md: Decoder, LAVT's decoder; the reference's
 * SimpleDecoding, AdaptiveRotatedConv2d, RountingFunction and LayerNormProxy,
 * parameters under "classifier." with LAVT's and RMSIN's names).
 * cfg->decoder.kind chooses: "rmsin" (MRSNet's) or "lavt".
 *
 * For k = 4, 3, 2 the running map x (x_c4 first) is upsampled (bilinear,
 * align_corners) to the skip's size when smaller, concatenated with the
 * skip (x_c3, x_c2, x_c1), and passed through conv1_k 3x3 (no bias), bn1_k,
 * ReLU, conv2_k (RMSIN: an ARC; LAVT: a plain 3x3 convolution, padding 1,
 * no bias), bn2_k, ReLU; conv1_1 (1x1, bias) then gives the two class
 * logits at the stride-4 grid. */
#ifndef RR_NN_DECODER_H
#define RR_NN_DECODER_H

#include "config.h"
#include "layers.h"
#include "trace.h"

/* AdaptiveRotatedConv2d(c -> c, 3x3, padding 1, no bias) with n kernels:
 * routing α = sigmoid(fc_alpha(drop(g))), θ = softsign(fc_theta(drop(g)))·max_deg/180·π
 * from g = GAP(ReLU(LN_channels(DW3x3(x)))), then per sample the kernel
 * α·R(θ)·weight (rr_arc_weight) as one grouped convolution (groups = B). */
typedef struct {
    rr_tensor *weight;    /* n x c x c x 3 x 3, kaiming_normal fan_out ReLU */
    rr_conv2d_m dwc;      /* rounting_func.dwc: depthwise, no bias, trunc_normal(.02) */
    rr_layer_norm_m norm; /* rounting_func.norm.norm: over channels at each pixel */
    rr_linear_m fc_alpha; /* c -> n, bias; weight trunc_normal(.02), bias PyTorch's default */
    rr_linear_m fc_theta; /* c -> n, no bias, trunc_normal(.02) */
    float dropout, proportion; /* proportion = max_deg / 180 · π */
} rr_arc_conv;

int rr_arc_conv_init(rr_params *p, rr_arc_conv *m, int64_t ch, const rr_decoder_config *cfg, const char *prefix);
/* x: B x c x H x W -> B x c x H x W.  Traces tag + "alpha" and tag + "theta" (B x n). */
rr_tensor *rr_arc_conv_fwd(rr_ctx *c, const rr_arc_conv *m, rr_tensor *x, rr_trace *tr, const char *tag);

/* Index i of each array is level k = 4 - i. */
typedef struct rr_decoder {
    int arc;                  /* decoder.kind "rmsin": conv2 rotates; "lavt": conv2_plain */
    rr_conv2d_m conv1[3];
    rr_batch_norm_m bn1[3];
    rr_arc_conv conv2[3];
    rr_conv2d_m conv2_plain[3];
    rr_batch_norm_m bn2[3];
    rr_conv2d_m conv1_1;
} rr_decoder;

int rr_decoder_init(rr_params *p, rr_decoder *m, const rr_config *cfg, const char *prefix /* "classifier" */);

/* x_c4..x_c1: B x C_i x H_i x W_i (HFIM's D4..D1).  Returns B x 2 x H1 x W1
 * (the top-level model upsamples it to the image).  Traces
 * "decoder.l{k}.conv1", "decoder.l{k}.alpha", "decoder.l{k}.theta",
 * "decoder.l{k}.arc_conv" (these three with the ARC only), "decoder.l{k}.out"
 * for k = 4, 3, 2. */
rr_tensor *rr_decoder_fwd(rr_ctx *c, const rr_decoder *m, rr_tensor *x_c4, rr_tensor *x_c3, rr_tensor *x_c2,
                          rr_tensor *x_c1, rr_trace *tr);

#endif
