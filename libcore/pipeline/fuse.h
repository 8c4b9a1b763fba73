/* The fuse stage (rrsis-fuse): an encoded stream in (encode.h), a fused
 * stream out.  The Swin backbone with an IFIM at every stage and the HFIM
 * over the four scales (nn/backbone.h) run on up to `batch` records at a
 * time.
 *
 * A fused record holds
 *   "D1" .. "D4"  F32 [C_i, H_i, W_i]  the HFIM's outputs: C_i = C << (i-1)
 *                                      (C the Swin embed_dim), H_i = W_i =
 *                                      S / patch_size / 2^(i-1) (the
 *                                      configuration makes S a multiple of
 *                                      8 patches)
 *   "valid"       U8 [height, width], the encoded record's NoData mask,
 *                 copied unchanged when it has one
 *   metadata      the encoded record's, with stage "fused" (so id,
 *                 sentence, image, width and height travel on, and so do
 *                 the keys of georeferenced scenes and their tiles).
 * Records are written in the order read, and the stream's end mark
 * (io/stream.h) after the last, when every record went through.  Records of
 * a batch whose sentences have different lengths run separately. */
#ifndef RR_PIPELINE_FUSE_H
#define RR_PIPELINE_FUSE_H

#include <stdio.h>

#include "../nn/mrsnet.h"
#include "stage.h"

typedef struct {
    const rr_mrsnet *model;  /* its backbone (RR_PART_BACKBONE) */
    int batch;               /* records per run of the network, >= 1 */
    rr_progress_fn progress; /* or NULL */
    void *progress_arg;
} rr_fuse_opts;

int rr_fuse_run(const rr_fuse_opts *o, FILE *in, FILE *out);

/* The shape of D_i (i = 1..4) for a model: C_i, H_i, W_i. */
void rr_fuse_shape(const rr_config *cfg, int i, int64_t shape[3]);

#endif
