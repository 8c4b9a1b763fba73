/* Learning-rate schedules, stepped once per optimizer update (never per
 * epoch), and the per-parameter multiplier of doc/training.md, Schedule.
 *
 * Update k (k = 0, 1, ..., total - 1; the first update is k = 0) uses
 * lr * f(k):
 *   cosine  f(k) = (1 + cos(pi * k / total)) / 2: PyTorch's
 *           CosineAnnealingLR(T_max = total, eta_min = 0) stepped per
 *           iteration, the MRSNet default (doc/training.md, Schedule, ours);
 *   poly    f(k) = (1 - k / total)^power, power 0.9: LAVT's and RMSIN's
 *           LambdaLR.
 * With a warmup of W updates (ours, optional): f(k) = (k + 1) / W for
 * k < W, and after it the schedule above over the remaining total - W
 * updates (k - W of total - W).  f(k) = 0 from k = total on. */
#ifndef RR_TRAIN_SCHEDULE_H
#define RR_TRAIN_SCHEDULE_H

#include <stdint.h>

typedef enum { RR_SCHED_COSINE, RR_SCHED_POLY } rr_sched_kind;

typedef struct {
    rr_sched_kind kind;
    double lr;      /* the base learning rate */
    int64_t total;  /* updates of the whole run (epochs x updates per epoch) */
    int64_t warmup; /* linear warmup updates, 0 for none */
    double power;   /* poly's exponent (0.9) */
} rr_schedule;

/* The learning rate of update k. */
double rr_schedule_lr(const rr_schedule *s, int64_t k);

/* "cosine" or "poly"; -1 for another name. */
int rr_sched_parse(const char *name, rr_sched_kind *out);
const char *rr_sched_name(rr_sched_kind k);

/* 1 for the pretrained parts the backbone multiplier applies to (doc/training.md,
 * Optimizer groups: Swin's blocks and patch merging, and BERT): backbone.layers.*.blocks.*,
 * backbone.layers.*.downsample.*, and text_encoder.*, and also
 * backbone.patch_embed.*, the pretrained Swin's first layer (doc/training.md, Initialisation).
 * The fusion modules (IFIM, gates, out-norms, HFIM) and the decoder are
 * new, and keep the base rate. */
int rr_lr_pretrained(const char *name);
/* backbone_lr_mult for a pretrained parameter, else 1. */
double rr_lr_mult(const char *name, double backbone_lr_mult);

#endif
