#include "layers.h"

int rr_linear_m_init(rr_params *p, rr_linear_m *m, int64_t in, int64_t out, int bias, rr_linear_init init,
                     int kind, const char *prefix)
{
    int trunc = init == RR_LINEAR_TRUNC;
    m->weight = rr_param_add(p, kind, trunc ? RR_INIT_TRUNC_NORMAL : RR_INIT_KAIMING_UNIFORM, 0.02f,
                             RR_SHAPE(out, in), "%s.weight", prefix);
    m->bias = NULL;
    if (bias)
        m->bias = rr_param_add(p, kind, trunc ? RR_INIT_ZEROS : RR_INIT_FAN_IN_UNIFORM, (float)in,
                               RR_SHAPE(out), "%s.bias", prefix);
    return m->weight && (!bias || m->bias) ? 0 : -1;
}

rr_tensor *rr_linear_m_fwd(rr_ctx *c, const rr_linear_m *m, rr_tensor *x)
{
    return rr_linear(c, x, m->weight, m->bias);
}

int rr_conv2d_m_init(rr_params *p, rr_conv2d_m *m, int64_t in, int64_t out, int k, int stride, int padding,
                     int groups, int bias, int kind, const char *prefix)
{
    m->cp = (rr_conv2d_params){.stride = {stride, stride}, .padding = {padding, padding}, .groups = groups};
    m->weight = rr_param_add(p, kind, RR_INIT_KAIMING_UNIFORM, 0, RR_SHAPE(out, in / groups, k, k), "%s.weight",
                             prefix);
    m->bias = NULL;
    if (bias)
        m->bias = rr_param_add(p, kind, RR_INIT_FAN_IN_UNIFORM, (float)(in / groups * k * k), RR_SHAPE(out),
                               "%s.bias", prefix);
    return m->weight && (!bias || m->bias) ? 0 : -1;
}

rr_tensor *rr_conv2d_m_fwd(rr_ctx *c, const rr_conv2d_m *m, rr_tensor *x)
{
    return rr_conv2d(c, x, m->weight, m->bias, &m->cp);
}

int rr_conv1d_m_init(rr_params *p, rr_conv1d_m *m, int64_t in, int64_t out, int bias, int kind,
                     const char *prefix)
{
    m->weight = rr_param_add(p, kind, RR_INIT_KAIMING_UNIFORM, 0, RR_SHAPE(out, in, 1), "%s.weight", prefix);
    m->bias = NULL;
    if (bias)
        m->bias = rr_param_add(p, kind, RR_INIT_FAN_IN_UNIFORM, (float)in, RR_SHAPE(out), "%s.bias", prefix);
    return m->weight && (!bias || m->bias) ? 0 : -1;
}

rr_tensor *rr_conv1d_m_fwd(rr_ctx *c, const rr_conv1d_m *m, rr_tensor *x)
{
    return rr_conv1d(c, x, m->weight, m->bias);
}

int rr_layer_norm_m_init(rr_params *p, rr_layer_norm_m *m, int64_t dim, float eps, int kind, const char *prefix)
{
    m->eps = eps;
    m->weight = rr_param_add(p, kind, RR_INIT_ONES, 0, RR_SHAPE(dim), "%s.weight", prefix);
    m->bias = rr_param_add(p, kind, RR_INIT_ZEROS, 0, RR_SHAPE(dim), "%s.bias", prefix);
    return m->weight && m->bias ? 0 : -1;
}

rr_tensor *rr_layer_norm_m_fwd(rr_ctx *c, const rr_layer_norm_m *m, rr_tensor *x)
{
    return rr_layer_norm(c, x, m->weight, m->bias, m->eps);
}

int rr_batch_norm_m_init(rr_params *p, rr_batch_norm_m *m, int64_t dim, float eps, float momentum, int kind,
                         const char *prefix)
{
    m->momentum = momentum;
    m->eps = eps;
    m->weight = rr_param_add(p, kind, RR_INIT_ONES, 0, RR_SHAPE(dim), "%s.weight", prefix);
    m->bias = rr_param_add(p, kind, RR_INIT_ZEROS, 0, RR_SHAPE(dim), "%s.bias", prefix);
    m->running_mean = rr_param_add(p, RR_PARAM_BUFFER, RR_INIT_ZEROS, 0, RR_SHAPE(dim), "%s.running_mean", prefix);
    m->running_var = rr_param_add(p, RR_PARAM_BUFFER, RR_INIT_ONES, 0, RR_SHAPE(dim), "%s.running_var", prefix);
    return m->weight && m->bias && m->running_mean && m->running_var
               ? rr_params_add_bn_stats(p, m->running_mean, m->running_var, momentum)
               : -1;
}

rr_tensor *rr_batch_norm_m_fwd(rr_ctx *c, const rr_batch_norm_m *m, rr_tensor *x)
{
    return rr_batch_norm(c, x, m->weight, m->bias, m->running_mean, m->running_var, m->momentum, m->eps);
}
