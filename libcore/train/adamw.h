/* AdamW over a model's parameters, as torch.optim.AdamW (PyTorch 1.13,
 * amsgrad off) computes it, with the parameter groups of doc/training.md, Optimizer groups:
 *
 *   p <- p * (1 - lr * wd)                       decoupled weight decay
 *   m <- beta1 * m + (1 - beta1) * g
 *   v <- beta2 * v + (1 - beta2) * g * g
 *   p <- p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
 *
 * t counts the updates taken (from 1).  Every float operation is PyTorch's,
 * in its order, so that a step matches its single-tensor implementation.
 *
 * Groups, by parameter name:
 *   - frozen parameters (RR_PARAM_FROZEN: BERT's embeddings and layers
 *     >= train_layers) and buffers are not optimised (no moments);
 *   - backbone parameters whose name contains "norm", "absolute_pos_embed"
 *     or "relative_position_bias_table" get weight decay 0 (LAVT's
 *     backbone_no_decay: norm1/norm2, norm0..3, patch_embed.norm,
 *     downsample.norm, the HFIM's LayerNorms; not "bn" BatchNorms, not the
 *     decoder's routing LayerNorm);
 *   - every other optimised parameter gets the weight decay.
 * All groups share one learning rate, times a per-parameter multiplier
 * (rr_lr_mult in schedule.h: backbone_lr_mult for the pretrained parts). */
#ifndef RR_TRAIN_ADAMW_H
#define RR_TRAIN_ADAMW_H

#include <stdint.h>

#include "../nn/params.h"
#include "../ops/backend.h"

/* In double, as PyTorch's Python floats: each update rounds the scalars it
 * derives from them to float once. */
typedef struct {
    double beta1, beta2, eps, weight_decay;
} rr_adamw_opts;

/* betas (0.9, 0.999), eps 1e-8, weight decay 0.01 (doc/training.md, Optimizer groups). */
#define RR_ADAMW_DEFAULTS ((rr_adamw_opts){0.9, 0.999, 1e-8, 0.01})

/* One optimised parameter. */
typedef struct {
    rr_param *p;
    rr_tensor *m, *v; /* exp_avg, exp_avg_sq: zero until the first update */
    double wd;        /* the weight decay of its group */
    double lr_mult;
} rr_adamw_slot;

typedef struct {
    rr_adamw_opts o;
    rr_ctx store;     /* the moments, on the parameters' device */
    rr_adamw_slot *slots;
    int n;
    int64_t t;        /* updates taken */
} rr_adamw;

/* 1 when parameter `name` is in the weight-decay-0 group. */
int rr_adamw_no_decay(const char *name);

/* Slots for every trainable parameter of p (which must have gradients),
 * with their group's weight decay and rr_lr_mult(name, backbone_lr_mult). */
int rr_adamw_init(rr_adamw *o, rr_params *p, const rr_adamw_opts *opts, double backbone_lr_mult);
void rr_adamw_free(rr_adamw *o);

/* One update of every slot: t += 1, each parameter with learning rate
 * lr * lr_mult from its gradient times gscale (gradient accumulation's
 * 1/N and clipping's coefficient; 1 leaves the gradient as it is).  The
 * gradients are read, not cleared. */
int rr_adamw_step(rr_adamw *o, double lr, float gscale);

/* The scalars of one tensor's update, as PyTorch rounds them to float. */
typedef struct {
    float decay;      /* 1 - lr * wd */
    float beta1, one_minus_beta1, beta2, one_minus_beta2;
    float bc2_sqrt;   /* sqrt(1 - beta2^t) */
    float eps;
    float neg_step;   /* -lr / (1 - beta1^t) */
    float gscale;
} rr_adamw_args;

/* The update of n elements in place; g is only read. */
RR_KERNEL(rr_adamw_f32, (float *p, const float *g, float *m, float *v, int64_t n, const rr_adamw_args *a));

#endif
