/* CUDA twins of embedding.c. */
#include "../cuda/common.cuh"

extern "C" {
#include "embedding.h"
}

/* The first position holding an id out of range (all ones: none). */
__device__ static unsigned long long bad_pos;

__global__ static void gather(const int32_t *ids, int64_t n, const float *table, int64_t V, int64_t D, float *out)
{
    RR_GRID_STRIDE(k, n * D)
    {
        int64_t i = k / D, j = k % D;
        int32_t id = ids[i];
        if (id < 0 || id >= V) {
            if (j == 0)
                atomicMin(&bad_pos, (unsigned long long)i);
            out[k] = 0;
        } else {
            out[k] = table[id * D + j];
        }
    }
}

/* The check needs the answer on the host: this waits for the gather. */
extern "C" int rr_embedding_fwd_cuda(const int32_t *ids, int64_t n, const float *table, int64_t V, int64_t D,
                                     float *out)
{
    cudaStream_t s = rr_cuda_stream();
    unsigned long long none = ~0ull, pos;
    RR_CUDA(cudaMemcpyToSymbolAsync(bad_pos, &none, sizeof none, 0, cudaMemcpyHostToDevice, s));
    gather<<<rr_blocks(n * D), 256, 0, s>>>(ids, n, table, V, D, out);
    RR_LAUNCHED();
    RR_CUDA(cudaMemcpyFromSymbolAsync(&pos, bad_pos, sizeof pos, 0, cudaMemcpyDeviceToHost, s));
    RR_CUDA(cudaStreamSynchronize(s));
    if (pos != none) {
        int32_t id;
        RR_CUDA(cudaMemcpyAsync(&id, ids + pos, sizeof id, cudaMemcpyDeviceToHost, s));
        RR_CUDA(cudaStreamSynchronize(s));
        return rr_error("embedding: id %d at position %llu is outside [0, %lld)", id, pos, (long long)V);
    }
    return 0;
}

/* One thread per column, walking the ids in order: deterministic, no atomics. */
__global__ static void scatter_add(const int32_t *ids, int64_t n, const float *dout, int64_t D, float *dtable)
{
    RR_GRID_STRIDE(j, D)
    {
        for (int64_t i = 0; i < n; i++)
            dtable[ids[i] * D + j] += dout[i * D + j];
    }
}

extern "C" int rr_embedding_bwd_cuda(const int32_t *ids, int64_t n, const float *dout, int64_t D, float *dtable)
{
    scatter_add<<<rr_blocks(D), 256, 0, rr_cuda_stream()>>>(ids, n, dout, D, dtable);
    RR_LAUNCHED();
    return 0;
}
