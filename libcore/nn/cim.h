/* RMSIN's cross-scale interaction module (CIM), in place of HFIM when the
 * configuration's cross_scale is "cim" (share/configs/README, cim).
 *
 * E1..E4 (B x C_i x H_i x W_i, C_i = embed_dim·2^i) are adaptive-average-
 * pooled to stage 4's g x g grid (g = image_size / 32 with patch 4),
 * concatenated (dim = sum C_i channels) and taken to dim/4 by a 1x1 conv;
 * cfg->cim.layers blocks of
 *   x += CSA(x);  x += IntraFF(x);  x += CSA'(x);  x += FF(x)
 * follow, then BN and a 1x1 conv back to dim channels, split per scale into
 * G_i.  Each scale's output is a scale-aware gate:
 *   D_i = BN(1x1(E_i)) * up(hsigmoid(BN(1x1(G_i)))) + up(BN(1x1(G_i)))
 * (up: bilinear to H_i x W_i, align_corners false; three separate convs).
 *   FF(x)      = 1x1(relu6(3x3dw(BN(1x1(BN(x))))))  hidden mlp_ratio·width,
 *                the 3x3 grouped by the input width, padding 1, biases on
 *   IntraFF(x) = the channels split in C_i/4 parts, each part p -> p + FF(p)
 *   CSA(x)     = 1x1(hswish(BN(Attn([x0; DW3s2(x0); DW5s3(x0)])))), x0 = BN(x),
 *                DW3s2 / DW5s3 depthwise convs (stride 2 pad 1 / stride 3
 *                pad 2, bias) each followed by BN, the three grids' tokens
 *                concatenated (n = g² + n1 + n2 tokens of width dim/4)
 *   Attn(t)    = qkv = BN1d(Linear(t)) split per head into q, k (key_dim) and
 *                v (attn_ratio·key_dim); o = softmax(q kᵀ / sqrt(key_dim)) v;
 *                to_out(proj(o read as dh x n) + dwconv3x3(hswish(v0)))
 *                with dh = heads·attn_ratio·key_dim, v0 the grid tokens'
 *                values read as dh maps of g x g, proj a Linear n -> g²
 *                over tokens: RMSIN's reshapes of contiguous memory, kept.
 * The network runs only on images of image_size (proj's size depends on g).
 * Parameter names are RMSIN's under "backbone.cim": down_channel, up_channel,
 * bn, block.{k}.{csa1,csa2}.m.{bn1,DWConv1.{0,1},DWConv2.{0,1},
 * attention.{qkv.c,qkv.bn,parallel_conv.1,to_out,proj},bn4,conv},
 * block.{k}.intra_ff.m.ff{1..4}.m.* and block.{k}.ff.m.*
 * ({bn1,conv1,bn2,conv2,conv3}), fusion.{i}.{local_embedding,bn1,
 * global_embedding,bn2,global_act,bn3}. */
#ifndef RR_NN_CIM_H
#define RR_NN_CIM_H

#include "config.h"
#include "layers.h"
#include "trace.h"

typedef struct {
    rr_batch_norm_m bn1, bn2;
    rr_conv2d_m conv1, conv2, conv3;
} rr_cim_ff;

typedef struct {
    int64_t heads, kd, d, dh, g, n0, n;
    rr_linear_m qkv, to_out, proj;
    rr_batch_norm_m qkv_bn;
    rr_conv2d_m parallel_conv;
} rr_cim_attn;

typedef struct {
    int64_t g;
    rr_batch_norm_m bn1, dw1_bn, dw2_bn, bn4;
    rr_conv2d_m dw1, dw2, conv;
    rr_cim_attn attn;
} rr_cim_csa;

typedef struct {
    rr_cim_csa csa1, csa2;
    rr_cim_ff intra[4], ff;
} rr_cim_block;

typedef struct {
    rr_conv2d_m local, global, act;
    rr_batch_norm_m bn1, bn2, bn3;
} rr_cim_gate;

typedef struct rr_cim {
    int64_t widths[4], hidden, g;
    int nblocks;
    rr_cim_block *blocks;           /* nblocks of them, in the registry's store */
    rr_conv2d_m down, up;
    rr_batch_norm_m bn;
    rr_cim_gate fusion[4];
} rr_cim;

/* The tokens CIM's attention sees on a g x g grid: g² + ceil(g/2)² + ceil(g/3)². */
int64_t rr_cim_tokens(int64_t g);

int rr_cim_init(rr_params *p, rr_cim *m, const rr_config *cfg, const char *prefix /* "backbone.cim" */);

/* e: E1..E4; writes D1..D4 (the same shapes) to d.  Returns 0, or -1 with a
 * message (E4's grid must be g x g).  Traces "cim.Y" (after up_channel)
 * and "cim.D1".."cim.D4". */
int rr_cim_fwd(rr_ctx *c, const rr_cim *m, rr_tensor *const e[4], rr_tensor *d[4], rr_trace *tr);

#endif
