/* The training loop of rrsis-train: MRSNet on one device, resumable and
 * deterministic, with validation.
 *
 * A run lives in a folder RUNDIR:
 *   last.safetensors   the checkpoint (checkpoint.h): every ckpt_every
 *                      updates, after every validation, at the end, and
 *                      when *stop is set (SIGINT/SIGTERM); a skipped update
 *                      is neither validated nor checkpointed, so that the
 *                      checkpoint stays that of the last good update
 *   best.safetensors   the weights of the best validation so far (by
 *                      best_metric), a weight file with the same metadata
 *   log.jsonl          one JSON object a line: {"type": "step", ...} for
 *                      every update (loss, its CE and Dice terms, lr,
 *                      gradient norm), "skip" for a skipped update, "val"
 *                      for every validation (the metrics of rrsis-score,
 *                      eval/metrics.h, at the network's input size),
 *                      "start" and "end"
 *   lock               held (flock) while a trainer runs in the folder
 *
 * One update: `accum` micro-batches of `batch` samples, each forward, loss
 * (doc/training.md, Loss) and backward, their gradients summed; the loss of every
 * micro-batch and the global gradient norm checked (a NaN or an Inf skips
 * the update: weights, moments and BatchNorm statistics are left as they
 * were); clipping; AdamW (doc/training.md, Optimizer groups) with the gradients scaled by
 * clip / accum and the rate of the schedule (doc/training.md, Schedule).  An epoch is
 * floor(floor(n / batch) / accum) updates over a permutation of the
 * training samples; the samples that do not fill an update are left out
 * of that epoch.
 *
 * Determinism: every random number derives from the seed (initial
 * weights, data order, random boxes, dropout), the loader's batches do not
 * depend on its thread count, and the state saved in a checkpoint (the
 * data position, the dropout stream's offset, the moments, the update
 * count) makes a resumed run compute the same bits on the CPU as a run
 * that never stopped (with the same OpenMP and BLAS thread counts). */
#ifndef RR_TRAIN_TRAINER_H
#define RR_TRAIN_TRAINER_H

#include <signal.h>
#include <stdint.h>
#include <stdio.h>

#include "../device.h"
#include "../io/raster.h"
#include "schedule.h"

/* What best.safetensors is chosen by. */
typedef enum {
    RR_METRIC_OIOU, RR_METRIC_MIOU, RR_METRIC_P50, RR_METRIC_P60, RR_METRIC_P70, RR_METRIC_P80, RR_METRIC_P90,
    RR_METRIC_CIOU, RR_METRIC_GIOU, RR_METRIC_NACC, RR_METRIC_TACC, RR_METRIC_LOSS, RR_NMETRICS
} rr_metric;

/* "oiou", "miou", "p50" ... "p90" (RMSIN protocol), "ciou", "giou", "nacc",
 * "tacc" (GRES), "loss" (the validation loss: lower is better). */
int rr_metric_parse(const char *name, rr_metric *out);
const char *rr_metric_name(rr_metric m);

/* Bits of rr_train_opts.given: the training options set on the command
 * line.  A resumed run takes its options from the checkpoint; one given
 * with another value is an error. */
enum {
    RR_OPT_EPOCHS = 1 << 0,
    RR_OPT_BATCH = 1 << 1,
    RR_OPT_ACCUM = 1 << 2,
    RR_OPT_LR = 1 << 3,
    RR_OPT_SCHEDULE = 1 << 4,
    RR_OPT_WARMUP = 1 << 5,
    RR_OPT_BACKBONE_LR_MULT = 1 << 6,
    RR_OPT_WEIGHT_DECAY = 1 << 7,
    RR_OPT_CLIP = 1 << 8,
    RR_OPT_SEED = 1 << 9,
    RR_OPT_RANDOM_ERASE = 1 << 10,
    RR_OPT_BEST_METRIC = 1 << 11,
};

typedef struct {
    const char *rundir;
    const char *config;  /* model configuration (NULL: --init's, or the checkpoint's) */
    const char *train;   /* manifests (NULL on resume: the checkpoint's) */
    const char *val;
    const char *init;    /* initial weights, loaded by name (missing ones keep their init) */
    int allow_unused;    /* tensors of init the model does not have are ignored (else an error) */
    const char *vocab;
    int resume;

    /* the training options, saved in the checkpoint */
    int epochs, batch, accum;
    double lr;
    rr_sched_kind schedule;
    double warmup_epochs, backbone_lr_mult, weight_decay;
    double clip;         /* max gradient norm; 0: no clipping */
    uint64_t seed;
    int random_erase;
    rr_metric best_metric;
    unsigned given;      /* RR_OPT_* */

    /* free to change from one invocation to the next */
    const rr_raster_opts *raster; /* how images are read (NULL: the defaults;
                                     not saved: give the same on --resume) */
    int threads;         /* loader threads */
    rr_device device;
    int64_t log_every;   /* progress lines (when not a terminal) */
    int64_t val_every;   /* updates between validations; 0: every epoch */
    int64_t ckpt_every;  /* updates between checkpoints; 0: only at validations and the end */
    int64_t max_steps;   /* stop after this many updates in all (0: none); the schedule is unchanged */
    int max_bad_steps;   /* consecutive skipped updates that end the run */

    FILE *progress;      /* progress and notes (stderr) */
    int tty;             /* progress is a terminal: one bar, redrawn */
    volatile sig_atomic_t *stop; /* set asynchronously: checkpoint and return */
    /* Called once the run is set up, just before its first update: from
     * then on *stop is honoured (rrsis-train catches SIGINT and SIGTERM
     * there).  Before it, nothing of the run needs saving (a new run has no
     * checkpoint yet, a resumed one's is as it was), so that set-up, the
     * model's construction above all, may be ended at any moment. */
    void (*started)(void);
} rr_train_opts;

/* The defaults of doc/training.md (lr 6e-4, cosine, 40 epochs, batch 8, seed 2401,
 * weight decay 0.01, best by oIoU) and of the program. */
void rr_train_defaults(rr_train_opts *o);

/* Trains.  0 when the run is complete, reached max_steps or was stopped by
 * *stop (a checkpoint written each time); -1 with a message on an error,
 * including max_bad_steps skipped updates in a row (then the last
 * checkpoint is left as it was). */
int rr_train(const rr_train_opts *o);

/* Verifies a checkpoint (rr_checkpoint_open) and writes a one-line JSON
 * summary of it to out: format, step, epoch, model name, training
 * options. */
int rr_train_check(const char *path, FILE *out);

#endif
