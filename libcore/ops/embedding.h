/* Embedding lookup (BERT's word, position and token-type embeddings). */
#ifndef RR_OPS_EMBEDDING_H
#define RR_OPS_EMBEDDING_H

#include <stdint.h>

#include "../ctx.h"
#include "backend.h"

/* F.embedding(ids, table): ids I32 of any shape up to 4-D, table F32 (V, D)
 * -> ids.shape + (D).  An id outside [0, V) is an error that names it (on
 * CUDA, reported at the next synchronisation: cuda/common.cuh).  The
 * table's gradient sums the rows of every occurrence of an id, in order. */
rr_tensor *rr_embedding(rr_ctx *c, rr_tensor *ids, rr_tensor *table);

/* out[i, :] = table[ids[i], :] for the n ids; fails, naming an id outside
 * [0, V) (the CPU the first one; CUDA any one, at the next synchronisation,
 * its row of out zero). */
RR_KERNEL(rr_embedding_fwd, (const int32_t *ids, int64_t n, const float *table, int64_t V, int64_t D,
                             float *out));
/* dtable[ids[i], :] += dout[i, :], for i in order (parallel over columns);
 * an id outside [0, V) adds nothing (CUDA may run the backward before the
 * forward's fault is reported). */
RR_KERNEL(rr_embedding_bwd, (const int32_t *ids, int64_t n, const float *dout, int64_t V, int64_t D,
                             float *dtable));

#endif
