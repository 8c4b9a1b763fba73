/* The visual backbone of MRSNet (doc/network.md: Swin backbone, Stage wiring): patch embedding, four
 * stages of Swin blocks each followed by its fusion module (cfg->fusion[i]:
 * MRSNet's IFIM, LAVT's PWAM, RMSIN's IIM) and the gated residual
 * x <- X + tanh(W2 relu(W1 F)) * F (+ the IIM's gated branch, iim.h) and (stages 1-3) PatchMerging, the
 * out-norms norm0..3 that turn each stage's F into E_i, and the cross-scale
 * module over E1..E4 (cfg->cross_scale: the HFIM, RMSIN's CIM, or none:
 * D_i = E_i).
 * Parameter names are tools/reference/mrsnet.py's Backbone under
 * "backbone.": patch_embed.*, absolute_pos_embed (with swin.ape),
 * layers.{i}.{blocks.{j}.*, ifim.* (IFIM) or fusion.* (PWAM),
 * res_gate.{0,2}.weight, downsample.*}, norm{i}.*, hfim.* or cim.*. */
#ifndef RR_NN_BACKBONE_H
#define RR_NN_BACKBONE_H

#include "cim.h"
#include "config.h"
#include "hfim.h"
#include "ifim.h"
#include "iim.h"
#include "layers.h"
#include "pwam.h"
#include "swin.h"
#include "trace.h"

/* The reference's Stage (LAVT's MMBasicLayer, doc/network.md, Stage wiring). */
typedef struct {
    int depth;
    rr_swin_block *blocks;          /* depth of them, in the registry's store */
    int fusion_kind;                /* rr_fusion_kind: which member of `fusion` */
    union {
        rr_ifim ifim;
        rr_pwam pwam;
        rr_iim iim;                 /* its PWAM and the various receptive branch */
    } fusion;
    rr_linear_m gate1, gate2;       /* res_gate.0, res_gate.2: C -> C, no bias */
    int has_downsample;             /* stages 1-3 */
    rr_patch_merging downsample;
} rr_stage;

typedef struct rr_backbone {
    rr_patch_embed patch_embed;
    rr_tensor *ape;                 /* 1 x C x gh x gw with swin.ape, else NULL */
    rr_stage layers[4];
    rr_layer_norm_m norm[4];        /* norm0..norm3 */
    int cross_scale;                /* rr_cross_kind: which member of `cross`, none for RR_CROSS_NONE */
    union {
        rr_hfim hfim;
        rr_cim cim;
    } cross;
    int64_t window, shift;
    float mask_value, drop_rate;
} rr_backbone;

int rr_backbone_init(rr_params *p, rr_backbone *m, const rr_config *cfg, const char *prefix /* "backbone" */);

/* img: B x 3 x H x W, normalised; l: B x D_l x N_l word features; lmask:
 * B x N_l x 1 (F32 0/1).  Writes the cross-scale outputs D1..D4 (B x C_i x
 * H_i x W_i; E1..E4 themselves without a cross-scale module) to d.  Records
 * "patch_embed", "stage{i}.X", "stage{i}.F", "stage{i}.x_gated" (i = 1..3),
 * "stage{i}.E" and the fusion and cross-scale modules' names.  Returns 0,
 * or -1 with a message. */
int rr_backbone_fwd(rr_ctx *c, const rr_backbone *m, rr_tensor *img, rr_tensor *l, rr_tensor *lmask,
                    rr_tensor *d[4], rr_trace *tr);

#endif
