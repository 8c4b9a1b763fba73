/* What the stage functions of rrsis-encode, rrsis-fuse and rrsis-decode
 * (and their programs) share: a stream read a batch of records at a time,
 * the tensors of a record checked against the shapes the model takes, the
 * records they write, the model's loading, and progress reports.
 *
 *   rr_batch b;
 *   if (rr_batch_init(&b, in, "encoded", 8)) ...
 *   while ((n = rr_batch_read(&b)) > 0) {
 *       for (int i = 0; i < n; i++)
 *           ... rr_batch_tensor(&b, i, "L", RR_F32, 2, shape, dst) ...
 *   }
 *   if (n < 0) ... rr_errmsg(): "record 3: stage is 'tokens', expected 'encoded' (...)"
 *   rr_batch_free(&b);
 */
#ifndef RR_PIPELINE_STAGE_H
#define RR_PIPELINE_STAGE_H

#include <stdio.h>

#include "../io/progress.h"
#include "../io/stream.h"
#include "../nn/mrsnet.h"

/* Called after every batch with the records written so far and the seconds
 * since the stage began (the programs print it with --verbose). */
typedef void (*rr_progress_fn)(void *arg, long records, double seconds);

typedef struct {
    FILE *in;
    const char *stage; /* the stage every record must have */
    int cap;           /* records per batch */
    rr_record *recs;   /* the batch: recs[0..n) */
    int n;
    long first;        /* the number of recs[0] in the stream, from 1 */
    int ended;         /* the stream's end mark was read */
    const rr_mrsnet *model; /* set after rr_batch_init: the model every record
                               must have been made by (NULL: any) */
    rr_ctx host;       /* conversions of the entries (reset every batch) */
} rr_batch;

int rr_batch_init(rr_batch *b, FILE *in, const char *stage, int cap);
void rr_batch_free(rr_batch *b);
/* Reads the next batch: up to cap records, each of the stage, with an id,
 * made by b->model when set (rr_stage_check_model) and with finite values
 * in its floating-point tensors.  Returns how many
 * (0 at the end of the stream: its end mark), or -1 with a message that
 * names the record ("record 3: ...", "record 2 (id '7'): tensor 'D3' holds
 * NaN at element 1234") or says that the stream ended without its end mark
 * (io/stream.h). */
int rr_batch_read(rr_batch *b);

/* The tensor `name` of record i of the batch: its shape must have ndim
 * dimensions equal to shape[] where shape[d] >= 0; a -1 takes the tensor's
 * size (written back).  With dst, the data is then copied there as want
 * (RR_F32 from any numeric dtype, RR_I32 from the integer ones), so dst
 * must hold the product of the final shape.  -1 with a message ("record 3
 * (id '7'): tensor 'L' is 16x20, expected 32xN (what the model takes)"). */
int rr_batch_tensor(rr_batch *b, int i, const char *name, rr_dtype want, int ndim, int64_t *shape, void *dst);
/* A metadata value of record i that must be there (else NULL with a
 * message: "record 3 (id '7'): no \"image\" in the metadata"). */
const char *rr_batch_meta(const rr_batch *b, int i, const char *key);
/* A positive integer metadata value of record i (width, height). */
int rr_batch_meta_int(const rr_batch *b, int i, const char *key, int *out);
/* A message about record i: "record 3 (id 'x'): " + fmt; returns -1. */
int rr_batch_error(const rr_batch *b, int i, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* A new record (out is initialised here) for the next stage: record i's
 * metadata, its stage replaced. */
int rr_batch_out(const rr_batch *b, int i, const char *stage, rr_record *out);

/* Copies record i's tensor `name`, when it has one, to out unchanged (the
 * "valid" mask of NoData pixels, which fuse carries from encode to
 * decode). */
int rr_batch_carry(const rr_batch *b, int i, const char *name, rr_record *out);

/* The model that made a stream (doc/architecture.md, Streams): rrsis-encode
 * sets the metadata "model", the identity of its model (rr_mrsnet_identity,
 * 16 hex digits), and "model_file", its weight file's name, on every record
 * it writes (rr_stage_set_model); the later stages carry both on
 * (rr_batch_out) and take only records their own model made
 * (rr_stage_check_model): the parts of two different models do not fit
 * together, though their shapes may.  Record i of the batch: -1 with a
 * message naming both ("record 1 (id 'x'): the stream was made by model
 * 3f2a1b2c (a.safetensors), this program runs model 9c1b7d0e
 * (b.safetensors)") or saying that the record names none. */
int rr_stage_set_model(rr_record *rec, const rr_mrsnet *m);
int rr_stage_check_model(const rr_batch *b, int i, const rr_mrsnet *m);

/* Seconds on a monotonic clock. */
double rr_batch_clock(void);

/* For the programs (rrsis-encode, -fuse, -decode), which share these steps.
 * rr_stage_check: the usage errors of their common options (exit 2): more
 * than one input, no model (-m or RRSIS_MODEL), a --device other than auto,
 * cpu or cuda.  rr_stage_open: opens the input (a path or "-"), loads the
 * given part (RR_PART_*) of the model on the device (with allow_unused,
 * tensors of that part the model does not have are ignored, not an error),
 * and with verbose says which on stderr (exit 1 on an error); sets up the
 * progress.  rr_stage_close: rc is the stage's
 * result; a failure exits 1 with the input's name and the library's
 * message, else the model and input are closed. */
typedef struct {
    rr_mrsnet model;
    FILE *in;
    const char *path;
    rr_progress progress; /* stderr: a bar on a terminal, lines with verbose */
} rr_stage_cli;
void rr_stage_check(int ninputs, const char *model, const char *device);
void rr_stage_open(rr_stage_cli *s, const char *path, const char *model, int part, const char *device,
                   int allow_unused, int verbose);
void rr_stage_close(rr_stage_cli *s, int rc);
/* The rr_progress_fn of the programs, arg an rr_stage_cli's progress:
 * "PROG: 24 records, 3.1 s, 7.7 records/s", redrawn on a terminal, a line
 * per batch elsewhere with --verbose, else nothing (io/progress.h). */
void rr_stage_progress(void *progress, long records, double seconds);

#endif
