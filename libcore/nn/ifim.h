/* IFIM, the intra-scale fusion module of every backbone stage (doc/network.md, IFIM):
 * PSR (pyramidal spatial-spectral refinement, doc/network.md, PSR), CSR (context-aware
 * spatial relation, doc/network.md, CSR) and CMA (cross-modal align, doc/network.md, CMA) branches,
 * fused by AFF (adaptive feature fusion, doc/network.md, AFF).  cfg->ifim.psr and
 * cfg->ifim.csr switch the first two off (doc/network.md, Ablation switches); AFF then fuses 2 or 1
 * branches.  Parameter names are tools/reference/mrsnet.py's IFIM under the
 * prefix "backbone.layers.{i}.ifim": psr.{dw,pw,spectral,fuse,agg},
 * csr.{gcn,out}, cma.{vis_project,f_query,lang_gate,f_key,f_value,W,
 * fusion_weight,project_mm}, aff.{fc1,fc2,proj}. */
#ifndef RR_NN_IFIM_H
#define RR_NN_IFIM_H

#include "config.h"
#include "layers.h"
#include "trace.h"

typedef struct {
    int64_t c;
    int levels[3], nlevels; /* pyramid strides, e.g. 1, 2, 4 */
    int rescale; /* softmax weights x C (psr_rescale "channels") */
    rr_conv2d_m dw, pw; /* SSR spatial: depthwise 3x3, then 1x1 */
    rr_conv2d_m spectral; /* [M; P] (2C) -> C */
    rr_conv2d_m fuse; /* [Xs; X_f] (2C) -> C */
    rr_conv2d_m agg; /* the levels (levels x C) -> C */
} rr_psr;

typedef struct {
    int radius;
    rr_conv2d_m gcn, out;
} rr_csr;

typedef struct {
    int64_t c;
    int heads;
    float eps, mask_value, dropout;
    rr_conv1d_m vis_project, f_query, lang_gate, f_key, f_value, W, fusion_weight, project_mm;
} rr_cma;

typedef struct {
    int k; /* branches: 1 + psr + csr */
    rr_linear_m fc1, fc2, proj;
} rr_aff;

typedef struct rr_ifim {
    int has_psr, has_csr;
    rr_psr psr;
    rr_csr csr;
    rr_cma cma;
    rr_aff aff;
} rr_ifim;

/* An IFIM of width c whose language input has cfg->text.hidden_size
 * channels. */
int rr_ifim_init(rr_params *p, rr_ifim *m, int64_t c, const rr_config *cfg, const char *prefix);

/* x: B x N x C on an h x w grid (N = h*w); l: B x D_l x N_l word features;
 * lmask: B x N_l x 1, F32 0/1 (1 = a word).  Returns F_out, B x N x C.
 * Records tag + "F_py", "F_rel" (when on) and "F_cm", each B x C x h x w,
 * and the PSR's phases tag + "psr.P{s}" (B x C x ceil(h/s) x ceil(w/s), s
 * each pyramid stride) when the PSR is on. */
rr_tensor *rr_ifim_fwd(rr_ctx *c, const rr_ifim *m, rr_tensor *x, int64_t h, int64_t w, rr_tensor *l,
                       rr_tensor *lmask, rr_trace *tr, const char *tag);

#endif
