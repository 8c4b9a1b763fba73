#include "iim.h"

#include <stdio.h>

#include "../error.h"
#include "../ops/check.h"

static int round_init(rr_params *p, rr_iim_round *r, const rr_config *cfg, const char *prefix, const char *sfx)
{
    char name[256];
    float eps = cfg->iim.bn_eps, mom = cfg->iim.bn_momentum;
    struct {
        rr_conv2d_m *conv;
        rr_batch_norm_m *bn;
        int k;
        const char *branch, *cname, *bname;
    } parts[] = {{&r->k3_in, &r->k3_in_bn, 1, "brb_3x3", "conv1", "bn1"},
                 {&r->k3, &r->k3_bn, 3, "brb_3x3", "conv2", "bn2"},
                 {&r->k1, &r->k1_bn, 1, "brb_1x1", "conv", "bn"}};
    for (int i = 0; i < 3; i++) {
        snprintf(name, sizeof name, "%s.visual_residual.repblock.%s%s.%s", prefix, parts[i].branch, sfx,
                 parts[i].cname);
        if (rr_conv2d_m_init(p, parts[i].conv, 1, 1, parts[i].k, 1, parts[i].k / 2, 1, 0, RR_PARAM_TRAIN, name))
            return -1;
        snprintf(name, sizeof name, "%s.visual_residual.repblock.%s%s.%s", prefix, parts[i].branch, sfx,
                 parts[i].bname);
        if (rr_batch_norm_m_init(p, parts[i].bn, 1, eps, mom, RR_PARAM_TRAIN, name))
            return -1;
    }
    snprintf(name, sizeof name, "%s.visual_residual.repblock.brb_identity%s", prefix, sfx);
    return rr_batch_norm_m_init(p, &r->id, 1, eps, mom, RR_PARAM_TRAIN, name);
}

int rr_iim_init(rr_params *p, rr_iim *m, int64_t c, const rr_config *cfg, const char *prefix)
{
    char name[256];
    snprintf(name, sizeof name, "%s.fusion", prefix);
    if (rr_pwam_init(p, &m->pwam, c, cfg, name))
        return -1;
    if (round_init(p, &m->round[0], cfg, prefix, "") || round_init(p, &m->round[1], cfg, prefix, "_2"))
        return -1;
    snprintf(name, sizeof name, "%s.visual_gate.0", prefix);
    if (rr_linear_m_init(p, &m->gate1, c, c, 0, RR_LINEAR_TRUNC, RR_PARAM_TRAIN, name))
        return -1;
    snprintf(name, sizeof name, "%s.visual_gate.2", prefix);
    return rr_linear_m_init(p, &m->gate2, c, c, 0, RR_LINEAR_TRUNC, RR_PARAM_TRAIN, name);
}

/* BN(1x1(x)) + BN(3x3(BN(1x1(x)))) + BN(x) on B x 1 x h x w. */
static rr_tensor *round_fwd(rr_ctx *c, const rr_iim_round *r, rr_tensor *x)
{
    rr_tensor *k3 = rr_batch_norm_m_fwd(c, &r->k3_in_bn, rr_conv2d_m_fwd(c, &r->k3_in, x));
    k3 = rr_batch_norm_m_fwd(c, &r->k3_bn, rr_conv2d_m_fwd(c, &r->k3, k3));
    rr_tensor *k1 = rr_batch_norm_m_fwd(c, &r->k1_bn, rr_conv2d_m_fwd(c, &r->k1, x));
    return rr_add(c, rr_add(c, k1, k3), rr_batch_norm_m_fwd(c, &r->id, x));
}

rr_tensor *rr_iim_fwd(rr_ctx *c, const rr_iim *m, rr_tensor *x, int64_t h, int64_t w, rr_trace *tr,
                      const char *tag)
{
    if (rr_check_f32("iim", x) || rr_check_ndim("iim", x, 3))
        return NULL;
    int64_t B = x->shape[0], N = x->shape[1];
    if (N != h * w) {
        rr_error("iim: %lld tokens, not the %lld x %lld grid", (long long)N, (long long)h, (long long)w);
        return NULL;
    }
    /* The channel mean of X (B x N x 1) is the map (B x 1 x h x w) in the same order. */
    rr_tensor *map = rr_reshape(c, rr_mean(c, x, 1, (const int[]){2}, 1), RR_SHAPE(B, 1, h, w));
    rr_tensor *y = rr_relu(c, round_fwd(c, &m->round[0], map));
    rr_tensor *a = rr_sigmoid(c, round_fwd(c, &m->round[1], y));
    rr_tensor *v = rr_mul(c, x, rr_reshape(c, a, RR_SHAPE(B, N, 1)));
    rr_trace_put(tr, tag, "V", v);
    rr_tensor *gate = rr_tanh(c, rr_linear_m_fwd(c, &m->gate2, rr_relu(c, rr_linear_m_fwd(c, &m->gate1, v))));
    return rr_mul(c, gate, v);
}
