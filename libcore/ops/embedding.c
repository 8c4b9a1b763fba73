#include "embedding.h"

#include <string.h>

#include "../tape.h"
#include "check.h"

int rr_embedding_fwd_cpu(const int32_t *ids, int64_t n, const float *table, int64_t V, int64_t D, float *out)
{
    for (int64_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= V)
            return rr_error("embedding: id %d at position %lld is outside the table", ids[i], (long long)i);
#pragma omp parallel for if (n * D > 65536)
    for (int64_t i = 0; i < n; i++)
        memcpy(out + i * D, table + ids[i] * D, (size_t)D * sizeof *out);
    return 0;
}

int rr_embedding_bwd_cpu(const int32_t *ids, int64_t n, const float *dout, int64_t V, int64_t D, float *dtable)
{
    /* Each thread owns a block of columns and walks the ids in order, so a
     * row repeated in ids accumulates in a fixed order without races. */
    enum { COLS = 64 };
    int64_t nblk = (D + COLS - 1) / COLS;
#pragma omp parallel for if (n * D > 65536)
    for (int64_t blk = 0; blk < nblk; blk++) {
        int64_t j0 = blk * COLS, j1 = j0 + COLS < D ? j0 + COLS : D;
        for (int64_t i = 0; i < n; i++) {
            if (ids[i] < 0 || ids[i] >= V) /* the forward has failed on it */
                continue;
            float *row = dtable + ids[i] * D;
            const float *g = dout + i * D;
            for (int64_t j = j0; j < j1; j++)
                row[j] += g[j];
        }
    }
    return 0;
}

static int embedding_backward(rr_ctx *c, rr_node *n)
{
    rr_tensor *ids = n->in[0], *table = n->in[1], *gt = rr_grad_of(c, table);
    if (!gt)
        return -1;
    return RR_BACKEND(table->device, rr_embedding_bwd, rr_i32(ids), ids->numel, rr_f32(n->out->grad),
                      table->shape[0], table->shape[1], rr_f32(gt));
}

rr_tensor *rr_embedding(rr_ctx *c, rr_tensor *ids, rr_tensor *table)
{
    const char *name = "embedding";
    if (rr_check_dtype(name, ids, RR_I32) || rr_check_f32(name, table) || rr_check_ndim(name, table, 2) ||
        rr_check_same_device(name, ids, table))
        return NULL;
    if (ids->ndim >= RR_MAXDIM) {
        rr_error("%s: ids have %d dimensions (at most %d)", name, ids->ndim, RR_MAXDIM - 1);
        return NULL;
    }
    int64_t shape[RR_MAXDIM];
    for (int d = 0; d < ids->ndim; d++)
        shape[d] = ids->shape[d];
    shape[ids->ndim] = table->shape[1];
    rr_tensor *out = rr_new(c, RR_F32, ids->ndim + 1, shape);
    if (!out || RR_BACKEND(table->device, rr_embedding_fwd, rr_i32(ids), ids->numel, rr_f32(table),
                           table->shape[0], table->shape[1], rr_f32(out)))
        return NULL;
    int err;
    rr_tape_record(c, name, embedding_backward, out, 2, (rr_tensor *[]){ids, table}, 0, &err);
    return err ? NULL : out;
}
