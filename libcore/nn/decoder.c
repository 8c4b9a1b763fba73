#include "decoder.h"

#include <math.h>
#include <stdio.h>

#include "../ops/arc.h"

int rr_arc_conv_init(rr_params *p, rr_arc_conv *m, int64_t ch, const rr_decoder_config *cfg, const char *prefix)
{
    int64_t n = cfg->arc_kernel_number;
    char name[160];
    m->dropout = cfg->arc_dropout;
    m->proportion = (float)(cfg->arc_max_angle_deg / 180.0 * M_PI);
    m->weight = rr_param_add(p, RR_PARAM_TRAIN, RR_INIT_KAIMING_NORMAL_FAN_OUT, 0, RR_SHAPE(n, ch, ch, 3, 3),
                             "%s.weight", prefix);
    m->dwc.cp = (rr_conv2d_params){.padding = {1, 1}, .groups = (int)ch};
    m->dwc.weight = rr_param_add(p, RR_PARAM_TRAIN, RR_INIT_TRUNC_NORMAL, 0.02f, RR_SHAPE(ch, 1, 3, 3),
                                 "%s.rounting_func.dwc.weight", prefix);
    m->dwc.bias = NULL;
    snprintf(name, sizeof name, "%s.rounting_func.norm.norm", prefix);
    int rc = rr_layer_norm_m_init(p, &m->norm, ch, cfg->ln_eps, RR_PARAM_TRAIN, name);
    m->fc_alpha.weight = rr_param_add(p, RR_PARAM_TRAIN, RR_INIT_TRUNC_NORMAL, 0.02f, RR_SHAPE(n, ch),
                                      "%s.rounting_func.fc_alpha.weight", prefix);
    m->fc_alpha.bias = rr_param_add(p, RR_PARAM_TRAIN, RR_INIT_FAN_IN_UNIFORM, (float)ch, RR_SHAPE(n),
                                    "%s.rounting_func.fc_alpha.bias", prefix);
    m->fc_theta.weight = rr_param_add(p, RR_PARAM_TRAIN, RR_INIT_TRUNC_NORMAL, 0.02f, RR_SHAPE(n, ch),
                                      "%s.rounting_func.fc_theta.weight", prefix);
    m->fc_theta.bias = NULL;
    return rc || !m->weight || !m->dwc.weight || !m->fc_alpha.weight || !m->fc_alpha.bias || !m->fc_theta.weight
               ? -1
               : 0;
}

rr_tensor *rr_arc_conv_fwd(rr_ctx *c, const rr_arc_conv *m, rr_tensor *x, rr_trace *tr, const char *tag)
{
    if (!x)
        return NULL;
    int64_t b = x->shape[0], ch = x->shape[1], h = x->shape[2], w = x->shape[3];
    /* Routing (doc/network.md, ARC).  The reference's LayerNormProxy permutes back to
     * NCHW before the mean; averaging the NHWC map over (H, W) is the same
     * and skips a copy of the map. */
    rr_tensor *nhwc = rr_permute(c, rr_conv2d_m_fwd(c, &m->dwc, x), (int[]){0, 2, 3, 1});
    rr_tensor *r = rr_layer_norm_m_fwd(c, &m->norm, nhwc);
    rr_tensor *g = rr_mean(c, rr_relu(c, r), 2, (int[]){1, 2}, 0);
    rr_tensor *alpha = rr_sigmoid(c, rr_linear_m_fwd(c, &m->fc_alpha, rr_dropout(c, g, m->dropout)));
    rr_tensor *theta = rr_scale(c, rr_softsign(c, rr_linear_m_fwd(c, &m->fc_theta, rr_dropout(c, g, m->dropout))),
                                m->proportion);
    rr_trace_put(tr, tag, "alpha", alpha);
    rr_trace_put(tr, tag, "theta", theta);
    /* Every sample's rotated kernel at once: a grouped convolution of the
     * batch folded into channels. */
    rr_tensor *wb = rr_arc_weight(c, m->weight, alpha, theta);
    rr_tensor *y = rr_conv2d(c, rr_reshape(c, x, RR_SHAPE(1, b * ch, h, w)), wb, NULL,
                             &(rr_conv2d_params){.padding = {1, 1}, .groups = (int)b});
    return rr_reshape(c, y, RR_SHAPE(b, ch, h, w));
}

int rr_decoder_init(rr_params *p, rr_decoder *m, const rr_config *cfg, const char *prefix)
{
    const rr_decoder_config *d = &cfg->decoder;
    int64_t e = cfg->swin.embed_dim, hid = d->hidden;
    /* Input channels of conv1_k: [up(x_c4); x_c3], then [x; x_c2], [x; x_c1]. */
    const int64_t ins[3] = {8 * e + 4 * e, hid + 2 * e, hid + e};
    char name[160];
    int rc = 0;
    m->arc = d->kind == RR_DECODER_RMSIN;
    for (int i = 0; i < 3; i++) {
        int k = 4 - i;
        snprintf(name, sizeof name, "%s.conv1_%d", prefix, k);
        rc |= rr_conv2d_m_init(p, &m->conv1[i], ins[i], hid, 3, 1, 1, 1, 0, RR_PARAM_TRAIN, name);
        snprintf(name, sizeof name, "%s.bn1_%d", prefix, k);
        rc |= rr_batch_norm_m_init(p, &m->bn1[i], hid, d->bn_eps, d->bn_momentum, RR_PARAM_TRAIN, name);
        snprintf(name, sizeof name, "%s.conv2_%d", prefix, k);
        if (m->arc)
            rc |= rr_arc_conv_init(p, &m->conv2[i], hid, d, name);
        else
            rc |= rr_conv2d_m_init(p, &m->conv2_plain[i], hid, hid, 3, 1, 1, 1, 0, RR_PARAM_TRAIN, name);
        snprintf(name, sizeof name, "%s.bn2_%d", prefix, k);
        rc |= rr_batch_norm_m_init(p, &m->bn2[i], hid, d->bn_eps, d->bn_momentum, RR_PARAM_TRAIN, name);
    }
    snprintf(name, sizeof name, "%s.conv1_1", prefix);
    rc |= rr_conv2d_m_init(p, &m->conv1_1, hid, cfg->num_classes, 1, 1, 0, 1, 1, RR_PARAM_TRAIN, name);
    return rc ? -1 : 0;
}

rr_tensor *rr_decoder_fwd(rr_ctx *c, const rr_decoder *m, rr_tensor *x_c4, rr_tensor *x_c3, rr_tensor *x_c2,
                          rr_tensor *x_c1, rr_trace *tr)
{
    rr_tensor *skips[3] = {x_c3, x_c2, x_c1}, *x = x_c4;
    for (int i = 0; i < 3; i++) {
        rr_tensor *s = skips[i];
        char tag[32];
        snprintf(tag, sizeof tag, "decoder.l%d.", 4 - i);
        if (!x || !s) {
            rr_error_prefix("decoder: input missing (an earlier op failed): ");
            return NULL;
        }
        if (x->shape[2] < s->shape[2] || x->shape[3] < s->shape[3])
            x = rr_resize_bilinear(c, x, s->shape[2], s->shape[3], 1);
        x = rr_concat(c, 2, (rr_tensor *[]){x, s}, 1);
        x = rr_relu(c, rr_batch_norm_m_fwd(c, &m->bn1[i], rr_conv2d_m_fwd(c, &m->conv1[i], x)));
        rr_trace_put(tr, tag, "conv1", x);
        if (m->arc) {
            x = rr_arc_conv_fwd(c, &m->conv2[i], x, tr, tag);
            rr_trace_put(tr, tag, "arc_conv", x);
        } else {
            x = rr_conv2d_m_fwd(c, &m->conv2_plain[i], x);
        }
        x = rr_relu(c, rr_batch_norm_m_fwd(c, &m->bn2[i], x));
        rr_trace_put(tr, tag, "out", x);
    }
    return rr_conv2d_m_fwd(c, &m->conv1_1, x);
}
