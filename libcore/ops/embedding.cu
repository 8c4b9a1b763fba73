/* CUDA twins of embedding.c. */
#include "../cuda/common.cuh"

extern "C" {
#include "embedding.h"
}

/* An id out of range gives a row of zeros and a fault (common.cuh): no
 * wait here, the error comes at the next synchronisation. */
__global__ static void gather(const int32_t *ids, int64_t n, const float *table, int64_t V, int64_t D, float *out,
                              unsigned long long *fault)
{
    RR_GRID_STRIDE(k, n * D)
    {
        int64_t i = k / D, j = k % D;
        int32_t id = ids[i];
        if (id < 0 || id >= V) {
            if (j == 0)
                rr_fault_store(fault, i, id);
            out[k] = 0;
        } else {
            out[k] = table[id * D + j];
        }
    }
}

extern "C" int rr_embedding_fwd_cuda(const int32_t *ids, int64_t n, const float *table, int64_t V, int64_t D,
                                     float *out)
{
    unsigned long long *fault = rr_cuda_fault_slot(RR_FAULT_EMBEDDING);
    if (!fault)
        return -1;
    gather<<<rr_blocks(n * D), 256, 0, rr_cuda_stream()>>>(ids, n, table, V, D, out, fault);
    RR_LAUNCHED();
    return 0;
}

/* One thread per column, walking the ids in order: deterministic, no atomics. */
__global__ static void scatter_add(const int32_t *ids, int64_t n, const float *dout, int64_t V, int64_t D,
                                   float *dtable)
{
    RR_GRID_STRIDE(j, D)
    {
        for (int64_t i = 0; i < n; i++)
            if (ids[i] >= 0 && ids[i] < V)
                dtable[ids[i] * D + j] += dout[i * D + j];
    }
}

extern "C" int rr_embedding_bwd_cuda(const int32_t *ids, int64_t n, const float *dout, int64_t V, int64_t D,
                                     float *dtable)
{
    scatter_add<<<rr_blocks(D), 256, 0, rr_cuda_stream()>>>(ids, n, dout, V, D, dtable);
    RR_LAUNCHED();
    return 0;
}
