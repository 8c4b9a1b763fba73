/* RMSIN's intra-scale interaction module (IIM), the part LAVT's stage lacks:
 * RMSIN's stage is LAVT's (PWAM, whose output F gates back through
 * res_gate) plus a "various receptive" branch on the Swin stream X,
 *   V = X * sigmoid(RepBlock(mean over channels of X))   (one map per sample)
 * added through its own gate:
 *   x <- X + tanh(W2 relu(W1 F)) * F + tanh(V2 relu(V1 V)) * V.
 * RepBlock (unfused, as RMSIN trains it) on the 1-channel map m:
 *   y = relu(BN(1x1(m)) + BN(3x3(BN(1x1(m)))) + BN(m)), then the same three
 *   terms of y with the second set of weights, then sigmoid.
 * Convolutions have no bias; the 3x3 is zero-padded by 1.  The BatchNorms
 * (cfg->iim) use batch statistics in training.
 * rr_iim holds the stage's PWAM too (pwam.h, cfg->pwam, RMSIN's PWAM is
 * LAVT's), whose F the stage gates and norms as usual; rr_iim_fwd gives
 * the third term.
 * Parameter names are RMSIN's under PREFIX = "backbone.layers.{i}":
 * fusion.* (the PWAM), visual_residual.repblock.{brb_3x3,brb_3x3_2}.{conv1,bn1,conv2,bn2}.*,
 * .{brb_1x1,brb_1x1_2}.{conv,bn}.*, .{brb_identity,brb_identity_2}.*,
 * visual_gate.{0,2}.weight. */
#ifndef RR_NN_IIM_H
#define RR_NN_IIM_H

#include "config.h"
#include "layers.h"
#include "pwam.h"
#include "trace.h"

/* One round of RepBlock's three branches. */
typedef struct {
    rr_conv2d_m k3_in, k3, k1;         /* brb_3x3.conv1 (1x1), brb_3x3.conv2 (3x3), brb_1x1.conv */
    rr_batch_norm_m k3_in_bn, k3_bn, k1_bn, id;
} rr_iim_round;

typedef struct rr_iim {
    rr_pwam pwam;                      /* fusion.* */
    rr_iim_round round[2];
    rr_linear_m gate1, gate2;          /* visual_gate.0, visual_gate.2: C -> C, no bias */
} rr_iim;

int rr_iim_init(rr_params *p, rr_iim *m, int64_t c, const rr_config *cfg, const char *prefix);

/* x: the Swin stream X, B x N x C on an h x w grid.  Returns the gated
 * term tanh(V2 relu(V1 V)) * V (B x N x C) to add to the stream; records
 * tag + "V". */
rr_tensor *rr_iim_fwd(rr_ctx *c, const rr_iim *m, rr_tensor *x, int64_t h, int64_t w, rr_trace *tr,
                      const char *tag);

#endif
