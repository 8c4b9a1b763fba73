/* HFIM: the hierarchical feature integration module that follows stage 4
 * (doc/network.md, HFIM; the reference's class HFIM, parameters under
 * "backbone.hfim.").
 *
 * The four stage outputs E1..E4 (B x C_i x H_i x W_i, C_i = embed_dim·2^i,
 * strides 4..32) are PixelShuffled by r_i = 1, 2, 4, 8 onto the stride-4 grid
 * and concatenated into X (B x ch x H1 x W1, ch = sum C_i / r_i²).  Three
 * branches read X:
 *   local   ReLU(BN(PW1x1(DW3x3(X))))                       (no conv biases)
 *   global  8 x 32 multi-head attention of LN(X) against LN(AvgPool_sr(X))
 *   freq    channel attention per head from the L2-normalised amplitude
 *           spectra (rfft2, ortho) of Q_s, K_s, applied to V_s (doc/network.md, HFIM, step 4's
 *           exact shortcut), then a 1x1 projection;
 * then Y = X + BN(Conv1x1_{3ch->ch}([F_local; F_global; F_freq])) is split
 * by the scales' channels and PixelUnshuffled back to E's shapes.
 *
 * It lives inside the backbone (doc/training.md, Initialisation): Linear layers trunc_normal(.02) with
 * bias 0, LayerNorms 1/0, convolutions PyTorch's default, BN 1/0,
 * freq_temperature 1. */
#ifndef RR_NN_HFIM_H
#define RR_NN_HFIM_H

#include "config.h"
#include "layers.h"
#include "trace.h"

typedef struct rr_hfim {
    int64_t split[4]; /* channels of each scale on the stride-4 map: C_i / r_i² */
    int64_t ch, heads, head_dim, freq_heads;
    int sr;
    float l2_eps;
    rr_conv2d_m local_dw, local_pw;
    rr_batch_norm_m local_bn;
    rr_layer_norm_m global_norm, global_norm_kv;
    rr_linear_m global_q, global_kv, global_proj;
    rr_conv2d_m freq_q, freq_k, freq_v, freq_proj;
    rr_tensor *freq_temperature; /* freq_heads x 1 x 1 */
    rr_conv2d_m fuse;
    rr_batch_norm_m fuse_bn;
} rr_hfim;

int rr_hfim_init(rr_params *p, rr_hfim *m, const rr_config *cfg, const char *prefix /* "backbone.hfim" */);

/* e: E1..E4; writes D1..D4 (the same shapes) to d.  Returns 0, or -1 with a
 * message.  Traces "hfim.X", "hfim.F_local", "hfim.F_global", "hfim.F_freq",
 * "hfim.freq_attn", "hfim.Y", "hfim.D1".."hfim.D4". */
int rr_hfim_fwd(rr_ctx *c, const rr_hfim *m, rr_tensor *const e[4], rr_tensor *d[4], rr_trace *tr);

#endif
