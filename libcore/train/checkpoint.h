/* Training checkpoints: one safetensors file holding everything a run
 * needs to continue exactly where it was.
 *
 *   tensors   every parameter and buffer under its own name (F32), so a
 *             checkpoint is also a weight file that rr_mrsnet_load reads;
 *             "optimizer.exp_avg.NAME" and "optimizer.exp_avg_sq.NAME",
 *             AdamW's moments of each optimised parameter
 *   metadata  "format"     "rrsis-checkpoint/1" ("rrsis-weights/1" for a
 *                          weights-only file, see rr_checkpoint_save)
 *             "config"     the model configuration (JSON, config.h)
 *             "training"   the training options (JSON, written and read by
 *                          the trainer; opaque here)
 *             "state"      rr_train_state and AdamW's update count (JSON)
 *             "checksums_sum64"  a 64-bit hash of each tensor's bytes (JSON
 *                          object name -> 16 hex digits, io/checksum.h;
 *                          earlier checkpoints: "checksums", still read)
 *
 * Files are written with rr_safetensors_save: a temporary file beside the
 * target, fsync, rename, fsync of the folder; a crash or kill -9 at any
 * moment leaves the previous file whole.  rr_checkpoint_open checks what a
 * torn or damaged file would break, each with one message naming the file:
 * a truncated file or a bad header (the safetensors parser), the format,
 * every tensor's checksum (naming the first tensor whose bytes changed),
 * the configuration and the state. */
#ifndef RR_TRAIN_CHECKPOINT_H
#define RR_TRAIN_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "../io/checksum.h"
#include "../io/safetensors.h"
#include "../nn/mrsnet.h"
#include "adamw.h"

/* RR_CHECKPOINT_FORMAT and RR_WEIGHTS_FORMAT: nn/mrsnet.h */

/* Where a run stands, besides its weights and moments. */
typedef struct {
    int64_t step;        /* optimizer updates done (skipped ones included) */
    int64_t epoch;       /* the epoch of the next micro-batch, from 0 */
    int64_t batch;       /* the next micro-batch's index within that epoch */
    uint64_t rng_offset; /* the dropout stream's position when written (rr_ctx.rng_offset); for
                          * information: each micro-batch's draws start at a place fixed by
                          * its place in the run (trainer.h) */
    int64_t bad_streak;  /* consecutive skipped (non-finite) updates just before */
    int64_t images;      /* samples trained on so far */
    double seconds;      /* training time so far */
    double best;         /* the best validation value so far (NAN: none yet) */
    int64_t best_step;   /* the step of that validation (-1: none) */
    int64_t log_bytes;   /* the size of the run's log when this was written */
} rr_train_state;

/* Writes a checkpoint of model m, optimizer o and state st, with the
 * training options `training` (JSON text), atomically.  o NULL writes a
 * weights-only file (format rrsis-weights/1: best.safetensors) with the
 * same metadata but no moments. */
int rr_checkpoint_save(const char *path, const rr_mrsnet *m, const rr_adamw *o, const rr_train_state *st,
                       const char *training);

/* An opened, verified checkpoint. */
typedef struct {
    rr_record rec;
    rr_config cfg;
    rr_train_state state;
    int64_t adamw_t;
    const char *training; /* the options JSON (points into rec) */
} rr_checkpoint;

/* Loads and verifies path (see above).  -1 with "PATH: what" on failure;
 * rr_checkpoint_close either way. */
int rr_checkpoint_open(rr_checkpoint *ck, const char *path);
/* Copies the weights into m and the moments and update count into o; m and
 * o must have been built from ck->cfg (every tensor must be present, with
 * its shape). */
int rr_checkpoint_restore(const rr_checkpoint *ck, rr_mrsnet *m, rr_adamw *o);
void rr_checkpoint_close(rr_checkpoint *ck);

#endif
