/* The basic layers as modules: a struct of parameter pointers, an init that
 * creates the parameters under a name prefix (PyTorch's names: PREFIX.weight,
 * PREFIX.bias, PREFIX.running_mean, ...), and a forward that only calls ops.
 *
 * Init rules (doc/training.md, Initialisation): a Linear inside the backbone is trunc_normal(.02)
 * with bias 0 (RR_LINEAR_TRUNC); elsewhere PyTorch's default, kaiming-uniform
 * weight and U(+-1/sqrt(fan_in)) bias (RR_LINEAR_DEFAULT).  Convolutions keep
 * PyTorch's default everywhere. */
#ifndef RR_NN_LAYERS_H
#define RR_NN_LAYERS_H

#include "../ops/ops.h"
#include "params.h"

typedef enum { RR_LINEAR_DEFAULT, RR_LINEAR_TRUNC } rr_linear_init;

typedef struct {
    rr_tensor *weight, *bias; /* (out, in), (out) or NULL */
} rr_linear_m;

/* kind: rr_param_kind for the weight and the bias (RR_PARAM_TRAIN usually). */
int rr_linear_m_init(rr_params *p, rr_linear_m *m, int64_t in, int64_t out, int bias, rr_linear_init init,
                     int kind, const char *prefix);
rr_tensor *rr_linear_m_fwd(rr_ctx *c, const rr_linear_m *m, rr_tensor *x);

typedef struct {
    rr_tensor *weight, *bias; /* (out, in/groups, k, k), (out) or NULL */
    rr_conv2d_params cp;
} rr_conv2d_m;

int rr_conv2d_m_init(rr_params *p, rr_conv2d_m *m, int64_t in, int64_t out, int k, int stride, int padding,
                     int groups, int bias, int kind, const char *prefix);
rr_tensor *rr_conv2d_m_fwd(rr_ctx *c, const rr_conv2d_m *m, rr_tensor *x);

/* Conv1d with kernel 1 (PWAM and IFIM projections): weight (out, in, 1). */
typedef struct {
    rr_tensor *weight, *bias;
} rr_conv1d_m;

int rr_conv1d_m_init(rr_params *p, rr_conv1d_m *m, int64_t in, int64_t out, int bias, int kind,
                     const char *prefix);
rr_tensor *rr_conv1d_m_fwd(rr_ctx *c, const rr_conv1d_m *m, rr_tensor *x);

typedef struct {
    rr_tensor *weight, *bias;
    float eps;
} rr_layer_norm_m;

/* weight 1, bias 0.  (Weight decay is chosen by name, doc/training.md, Optimizer groups.) */
int rr_layer_norm_m_init(rr_params *p, rr_layer_norm_m *m, int64_t dim, float eps, int kind, const char *prefix);
rr_tensor *rr_layer_norm_m_fwd(rr_ctx *c, const rr_layer_norm_m *m, rr_tensor *x);

typedef struct {
    rr_tensor *weight, *bias, *running_mean, *running_var;
    float momentum, eps;
} rr_batch_norm_m;

/* PyTorch's defaults are eps 1e-5, momentum 0.1 (doc/network.md, Decoder). */
int rr_batch_norm_m_init(rr_params *p, rr_batch_norm_m *m, int64_t dim, float eps, float momentum, int kind,
                         const char *prefix);
/* Batch statistics and a running-statistics update when c->training. */
rr_tensor *rr_batch_norm_m_fwd(rr_ctx *c, const rr_batch_norm_m *m, rr_tensor *x);

#endif
