/* LAVT's pixel-word attention module (PWAM, doc/network.md, PWAM), the
 * fusion module of a stage with fusion "pwam" (Yang et al., "LAVT:
 * Language-Aware Vision Transformer for Referring Image Segmentation", CVPR
 * 2022; lib/backbone.py: PWAM, SpatialImageLanguageAttention).  For the
 * stage's Swin output X (B x N x C) and the words L (B x D_l x N_l):
 *   V = Dropout(GELU(vis_project(X)))                        B x C x N
 *   Q = IN(f_query(X)), K = f_key(L)·m, W_ = f_value(L)·m    (1x1 Conv1d)
 *   A = softmax(C^-1/2 Q^T K + 10000 m - 10000) per head     B x heads x N x N_l
 *   G = IN(W(A W_))                                          the words at each pixel
 *   F = Dropout(GELU(project_mm(V ⊙ G)))                     B x N x C
 * IN: InstanceNorm1d over the N positions, affine-free.  The language gate
 * that follows (the stage's res_gate) is the backbone's (backbone.h).
 * Parameter names are LAVT's under PREFIX ("backbone.layers.{i}.fusion"):
 * vis_project.0, image_lang_att.{f_key,f_query,f_value,W}.0, project_mm.0,
 * each a Conv1d with a bias, PyTorch's default initialisation. */
#ifndef RR_NN_PWAM_H
#define RR_NN_PWAM_H

#include "config.h"
#include "layers.h"
#include "trace.h"

typedef struct rr_pwam {
    int64_t c;
    int heads;
    float eps, mask_value, dropout;
    rr_conv1d_m vis_project, f_key, f_query, f_value, W, project_mm;
} rr_pwam;

/* A PWAM of width c whose words have cfg->text.hidden_size channels. */
int rr_pwam_init(rr_params *p, rr_pwam *m, int64_t c, const rr_config *cfg, const char *prefix);

/* x: B x N x C; l: B x D_l x N_l; lmask: B x N_l x 1, F32 0/1.  Returns F,
 * B x N x C.  Records tag + "vis" (V) and tag + "lang" (G), B x C x N. */
rr_tensor *rr_pwam_fwd(rr_ctx *c, const rr_pwam *m, rr_tensor *x, rr_tensor *l, rr_tensor *lmask, rr_trace *tr,
                       const char *tag);

/* The attention shared by the PWAM and the IFIM's CMA: q (B x C x N)
 * against the words' keys k and values v (B x C x N_l, already times the
 * mask), per head of C / heads channels (channels h·C/heads ..), scores
 * scaled by C^-1/2 (not (C/heads)^-1/2) plus mask_value·m - mask_value;
 * mt: the word mask as B x 1 x N_l.  Returns A·V as B x C x N. */
rr_tensor *rr_pixel_word_attention(rr_ctx *c, rr_tensor *q, rr_tensor *k, rr_tensor *v, rr_tensor *mt, int heads,
                                   float mask_value);

#endif
