/* CUDA memory, the library's stream and cuBLAS handle, and error strings. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.cuh"

extern "C" {
#include "../device.h"
}

int rr_cuda_sync_each_launch(void)
{
    static int v = -1;
    if (v < 0) {
        const char *s = getenv("RRSIS_CUDA_SYNC");
        v = s && strcmp(s, "1") == 0;
    }
    return v;
}

/* The library's stream, made once.  Should making it fail, the legacy
 * default stream (0) serves for good: one stream either way, so the cuBLAS
 * handle and every launch stay ordered. */
cudaStream_t rr_cuda_stream(void)
{
    static cudaStream_t s;
    static int tried;
    if (!tried) {
        tried = 1;
        if (cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking) != cudaSuccess)
            s = 0;
    }
    return s;
}

/* TF32 tensor-core GEMMs unless RRSIS_TF32=0 (overview §3: a switch, on by
 * default); rr_cuda_set_tf32 overrides it for a program's option. */
static int tf32 = -1;

extern "C" void rr_cuda_set_tf32(int on) { tf32 = on; }

int rr_cublas_handle(cublasHandle_t *out)
{
    static cublasHandle_t h;
    static int mode = -1;
    if (!h) {
        RR_CUBLAS(cublasCreate(&h));
        RR_CUBLAS(cublasSetStream(h, rr_cuda_stream()));
    }
    if (tf32 < 0) {
        const char *s = getenv("RRSIS_TF32");
        tf32 = !(s && strcmp(s, "0") == 0);
    }
    if (mode != tf32) {
        RR_CUBLAS(cublasSetMathMode(h, tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
        mode = tf32;
    }
    *out = h;
    return 0;
}

const char *rr_cublas_status_str(cublasStatus_t s)
{
    switch (s) {
    case CUBLAS_STATUS_SUCCESS: return "success";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "not initialized";
    case CUBLAS_STATUS_ALLOC_FAILED: return "allocation failed";
    case CUBLAS_STATUS_INVALID_VALUE: return "invalid value";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "architecture mismatch";
    case CUBLAS_STATUS_MAPPING_ERROR: return "mapping error";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "execution failed";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "internal error";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "not supported";
    default: return "unknown cuBLAS status";
    }
}

const char *rr_cufft_result_str(cufftResult r)
{
    switch (r) {
    case CUFFT_SUCCESS: return "success";
    case CUFFT_INVALID_PLAN: return "invalid plan";
    case CUFFT_ALLOC_FAILED: return "allocation failed";
    case CUFFT_INVALID_VALUE: return "invalid value";
    case CUFFT_INTERNAL_ERROR: return "internal error";
    case CUFFT_EXEC_FAILED: return "execution failed";
    case CUFFT_SETUP_FAILED: return "setup failed";
    case CUFFT_INVALID_SIZE: return "invalid size";
    default: return "unknown cuFFT result";
    }
}

extern "C" int rr_cuda_present(void)
{
    static int present = -1;
    if (present < 0) {
        int n = 0;
        present = cudaGetDeviceCount(&n) == cudaSuccess && n > 0;
    }
    return present;
}

extern "C" const char *rr_cuda_describe(void)
{
    static char buf[320];
    cudaDeviceProp p;
    int dev = 0;
    if (cudaGetDevice(&dev) != cudaSuccess || cudaGetDeviceProperties(&p, dev) != cudaSuccess)
        return "cuda (no device)";
    snprintf(buf, sizeof buf, "cuda:%d %s, sm_%d%d, %.1f GiB", dev, p.name, p.major, p.minor,
             p.totalGlobalMem / 1073741824.0);
    return buf;
}

extern "C" void *rr_cuda_malloc(size_t bytes)
{
    void *p = NULL;
    cudaError_t e = cudaMalloc(&p, bytes);
    if (e != cudaSuccess) {
        rr_error("cudaMalloc(&p, %zu) failed: %s (%s:%d)", bytes, cudaGetErrorString(e), __FILE__, __LINE__);
        return NULL;
    }
    return p;
}

/* A failed free (a fault left by an earlier kernel, usually) is recorded as
 * the last error; freeing has no caller to return it to. */
extern "C" void rr_cuda_free(void *p)
{
    cudaError_t e = cudaFree(p);
    if (e != cudaSuccess)
        rr_error("cudaFree(p) failed: %s (%s:%d)", cudaGetErrorString(e), __FILE__, __LINE__);
}

extern "C" int rr_cuda_memset0(void *p, size_t bytes)
{
    RR_CUDA(cudaMemsetAsync(p, 0, bytes, rr_cuda_stream()));
    return 0;
}

extern "C" int rr_cuda_memcpy(int dst_on_gpu, void *dst, int src_on_gpu, const void *src, size_t bytes)
{
    cudaMemcpyKind k = dst_on_gpu ? (src_on_gpu ? cudaMemcpyDeviceToDevice : cudaMemcpyHostToDevice)
                                  : (src_on_gpu ? cudaMemcpyDeviceToHost : cudaMemcpyHostToHost);
    RR_CUDA(cudaMemcpyAsync(dst, src, bytes, k, rr_cuda_stream()));
    if (!dst_on_gpu) { /* the host reads it next; the kernels before it have run */
        RR_CUDA(cudaStreamSynchronize(rr_cuda_stream()));
        return rr_cuda_faults_check();
    }
    return 0;
}

extern "C" int rr_cuda_sync(void)
{
    RR_CUDA(cudaStreamSynchronize(rr_cuda_stream()));
    return rr_cuda_faults_check();
}

/* The fault slots (common.cuh): host memory the device writes directly;
 * all ones is an empty slot.  The messages take the value, then the position. */
static volatile unsigned long long *fault_slots;
static const char *const fault_messages[RR_FAULT_KINDS] = {
    "embedding: id %d at position %llu is outside the table",        /* RR_FAULT_EMBEDDING */
    "cross_entropy: target value %d at index %llu is not 0 or 1",    /* RR_FAULT_CE_TARGET */
    "dice: target value %d at index %llu is not 0 or 1",             /* RR_FAULT_DICE_TARGET */
    "presence: target value %d at index %llu is not 0 or 1",         /* RR_FAULT_PRESENCE_TARGET */
};

unsigned long long *rr_cuda_fault_slot(int kind)
{
    if (!fault_slots) {
        void *p = NULL;
        cudaError_t e = cudaHostAlloc(&p, RR_FAULT_KINDS * sizeof *fault_slots, cudaHostAllocMapped);
        if (e != cudaSuccess) {
            rr_error("cudaHostAlloc(&p, %zu, cudaHostAllocMapped) failed: %s (%s:%d)",
                     RR_FAULT_KINDS * sizeof *fault_slots, cudaGetErrorString(e), __FILE__, __LINE__);
            return NULL;
        }
        fault_slots = (volatile unsigned long long *)p;
        for (int i = 0; i < RR_FAULT_KINDS; i++)
            fault_slots[i] = ~0ull;
    }
    void *dev = NULL;
    cudaError_t e = cudaHostGetDevicePointer(&dev, (void *)(fault_slots + kind), 0);
    if (e != cudaSuccess) {
        rr_error("cudaHostGetDevicePointer(&dev, slot, 0) failed: %s (%s:%d)", cudaGetErrorString(e), __FILE__,
                 __LINE__);
        return NULL;
    }
    return (unsigned long long *)dev;
}

extern "C" int rr_cuda_faults_check(void)
{
    if (!fault_slots)
        return 0;
    for (int i = 0; i < RR_FAULT_KINDS; i++) {
        unsigned long long v = fault_slots[i];
        if (v != ~0ull) {
            fault_slots[i] = ~0ull;
            return rr_error(fault_messages[i], (int32_t)(uint32_t)v, v >> 32);
        }
    }
    return 0;
}
