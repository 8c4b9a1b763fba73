/* Shared by every CUDA source: checked calls and launch helpers.
 *
 * RR_CUDA(x), RR_CUBLAS(x), RR_CUFFT(x) evaluate a call and, on failure,
 * record "<call text> failed: <reason> (file:line)" with rr_error and make
 * the enclosing function return -1.  After a kernel launch, RR_LAUNCHED()
 * checks the launch and, when RRSIS_CUDA_SYNC=1, synchronises so that a
 * fault is reported at the launch that caused it. */
#ifndef RR_CUDA_COMMON_CUH
#define RR_CUDA_COMMON_CUH

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cufft.h>
#include <stdint.h>

extern "C" {
#include "../error.h"
}

const char *rr_cublas_status_str(cublasStatus_t s);
const char *rr_cufft_result_str(cufftResult r);
/* 1 when RRSIS_CUDA_SYNC=1 is set (read once). */
int rr_cuda_sync_each_launch(void);
/* The library's stream and cuBLAS handle (created on first use). */
cudaStream_t rr_cuda_stream(void);
int rr_cublas_handle(cublasHandle_t *out);

#define RR_CHECK_GEN(call, ok, str)                                                        \
    do {                                                                                   \
        auto rr_st_ = (call);                                                              \
        if (rr_st_ != (ok))                                                                \
            return rr_error("%s failed: %s (%s:%d)", #call, str(rr_st_), __FILE__, __LINE__); \
    } while (0)

#define RR_CUDA(call) RR_CHECK_GEN(call, cudaSuccess, cudaGetErrorString)
#define RR_CUBLAS(call) RR_CHECK_GEN(call, CUBLAS_STATUS_SUCCESS, rr_cublas_status_str)
#define RR_CUFFT(call) RR_CHECK_GEN(call, CUFFT_SUCCESS, rr_cufft_result_str)

#define RR_LAUNCHED()                                                 \
    do {                                                              \
        RR_CUDA(cudaGetLastError());                                  \
        if (rr_cuda_sync_each_launch() && rr_cuda_sync())             \
            return -1;                                                \
    } while (0)

/* --- faults in kernels' inputs, reported without a wait ----------------------
 * A kernel that finds a bad input (an id outside the embedding table, a target
 * value other than 0 or 1) stores it with its position in a slot: no copy and
 * no synchronisation at the op, so a training step keeps its one copy to the
 * host.  The host reads the slots at the next synchronisation (rr_cuda_sync:
 * every copy to the host, and every launch under RRSIS_CUDA_SYNC=1) and
 * reports the fault then.  The slots live, by RRSIS_FAULT_SLOTS (device.h),
 * in mapped, pinned host memory that the kernels write directly (the
 * default), or in device memory that rr_cuda_sync copies back in the same
 * queue just before it waits (for a GPU that cannot map host memory, as some
 * virtualised ones; the default falls back to it when the mapped allocation
 * fails).  A slot holds the position in its high 32 bits and the value in
 * its low 32, written in one 64-bit store; the stores are plain (no atomics),
 * so with several bad inputs any one of them may be the one reported. */
enum { RR_FAULT_EMBEDDING, RR_FAULT_CE_TARGET, RR_FAULT_DICE_TARGET, RR_FAULT_PRESENCE_TARGET, RR_FAULT_KINDS };
/* The device address of slot `kind`; NULL after rr_error() when the slots
 * cannot be made (the first call makes them). */
unsigned long long *rr_cuda_fault_slot(int kind);
/* Waits for the library's stream, then reports the first recorded fault
 * (and clears it): 0, or -1 after rr_error(). */
extern "C" int rr_cuda_sync(void);

__device__ static inline void rr_fault_store(unsigned long long *slot, int64_t pos, int32_t value)
{
    *(volatile unsigned long long *)slot = (unsigned long long)pos << 32 | (uint32_t)value;
}

/* Blocks of 256 threads covering n elements, capped for grid-stride loops. */
static inline unsigned rr_blocks(int64_t n)
{
    int64_t b = (n + 255) / 256;
    return (unsigned)(b < 1 ? 1 : b > 65535 * 16 ? 65535 * 16 : b);
}
#define RR_GRID_STRIDE(i, n) \
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < (n); i += (int64_t)blockDim.x * gridDim.x)

/* --- deterministic reductions (fixed trees, never float atomics) ----------- */

/* Threads per block of the kernels that use rr_block_sum. */
#define RR_BLOCK 256

__device__ static inline float rr_warp_sum(float v)
{
    for (int o = 16; o; o >>= 1)
        v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ static inline float rr_warp_max(float v)
{
    for (int o = 16; o; o >>= 1)
        v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

/* The sum of v over a block of RR_BLOCK threads in a fixed tree order,
 * returned to all of them. */
__device__ static inline float rr_block_sum(float v)
{
    __shared__ float sh[RR_BLOCK];
    sh[threadIdx.x] = v;
    __syncthreads();
    for (int s = RR_BLOCK / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s)
            sh[threadIdx.x] += sh[threadIdx.x + s];
        __syncthreads();
    }
    float r = sh[0];
    __syncthreads(); /* before the next call overwrites sh */
    return r;
}

/* One warp per row: every lane of a warp walks the same rows, so the
 * shuffles see full warps. */
#define RR_WARP_ROWS(r, rows)                                                         \
    for (int64_t r = (blockIdx.x * (int64_t)blockDim.x + threadIdx.x) >> 5; r < (rows); \
         r += ((int64_t)gridDim.x * blockDim.x) >> 5)

#endif
