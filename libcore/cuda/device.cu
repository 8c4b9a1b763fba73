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

/* TF32 tensor-core GEMMs unless RRSIS_TF32=0 (doc/architecture.md, Devices: a switch, on by
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

/* Why CUDA cannot be used, in the runtime's words (empty while it can). */
static char absent[320];

/* The first call to the runtime initialises it and makes the device's
 * context: a missing or too old driver, a missing device node and a device
 * out of memory all fail here, and the runtime's reason is kept. */
extern "C" int rr_cuda_present(void)
{
    static int present = -1;
    if (present >= 0)
        return present;
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    const char *call = "cudaGetDeviceCount(&n)";
    if (e == cudaSuccess && n > 0) {
        e = cudaFree(0); /* makes the context */
        call = "cudaFree(0), which makes the device's context,";
    }
    present = e == cudaSuccess && n > 0;
    if (present)
        return present;
    int drv = 0, rt = 0;
    cudaDriverGetVersion(&drv);
    cudaRuntimeGetVersion(&rt);
    char dv[64];
    if (drv > 0)
        snprintf(dv, sizeof dv, "the driver supports CUDA %d.%d", drv / 1000, drv % 1000 / 10);
    else
        snprintf(dv, sizeof dv, "no NVIDIA driver (libcuda.so.1) was found");
    if (e == cudaSuccess)
        snprintf(absent, sizeof absent, "cudaGetDeviceCount found no device (%s; runtime CUDA %d.%d)", dv,
                 rt / 1000, rt % 1000 / 10);
    else
        snprintf(absent, sizeof absent, "%s failed: %s (%s; runtime CUDA %d.%d)", call, cudaGetErrorString(e), dv,
                 rt / 1000, rt % 1000 / 10);
    return present;
}

extern "C" const char *rr_cuda_absent_reason(void)
{
    rr_cuda_present();
    return absent;
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
    if (!dst_on_gpu) /* the host reads it next; the kernels before it have run */
        return rr_cuda_sync();
    return 0;
}

/* The fault slots (common.cuh), one way or the other; all ones is an empty
 * slot.  The messages take the value, then the position. */
static const char *const fault_messages[RR_FAULT_KINDS] = {
    "embedding: id %d at position %llu is outside the table",        /* RR_FAULT_EMBEDDING */
    "cross_entropy: target value %d at index %llu is not 0 or 1",    /* RR_FAULT_CE_TARGET */
    "dice: target value %d at index %llu is not 0 or 1",             /* RR_FAULT_DICE_TARGET */
    "presence: target value %d at index %llu is not 0 or 1",         /* RR_FAULT_PRESENCE_TARGET */
};
static rr_fault_slots way = RR_SLOTS_AUTO;                 /* AUTO: not made yet */
static volatile unsigned long long *mapped_slots;          /* RR_SLOTS_MAPPED: host memory */
static unsigned long long *slots_on_device;                /* the device's address of the slots */
static unsigned long long device_copy[RR_FAULT_KINDS];     /* RR_SLOTS_DEVICE: read back at each sync */

/* Mapped, pinned host memory for the slots; 0, or -1 after rr_error(). */
static int make_mapped_slots(void)
{
    int dev = 0, can = 0;
    RR_CUDA(cudaGetDevice(&dev));
    RR_CUDA(cudaDeviceGetAttribute(&can, cudaDevAttrCanMapHostMemory, dev));
    if (!can)
        return rr_error("fault slots: this device cannot map host memory (cudaDevAttrCanMapHostMemory is 0)");
    void *p = NULL, *d = NULL;
    RR_CUDA(cudaHostAlloc(&p, RR_FAULT_KINDS * sizeof(unsigned long long), cudaHostAllocMapped));
    cudaError_t e = cudaHostGetDevicePointer(&d, p, 0);
    if (e != cudaSuccess) {
        cudaFreeHost(p);
        return rr_error("cudaHostGetDevicePointer(&d, p, 0) failed: %s (%s:%d)", cudaGetErrorString(e), __FILE__,
                        __LINE__);
    }
    mapped_slots = (volatile unsigned long long *)p;
    for (int i = 0; i < RR_FAULT_KINDS; i++)
        mapped_slots[i] = ~0ull;
    slots_on_device = (unsigned long long *)d;
    return 0;
}

/* Device memory for the slots, all ones; 0, or -1 after rr_error().  The
 * fill goes on the library's stream (non-blocking: the legacy stream's
 * cudaMemset would not be ordered before its kernels). */
static int make_device_slots(void)
{
    void *d = NULL;
    RR_CUDA(cudaMalloc(&d, RR_FAULT_KINDS * sizeof(unsigned long long)));
    cudaError_t e = cudaMemsetAsync(d, 0xff, RR_FAULT_KINDS * sizeof(unsigned long long), rr_cuda_stream());
    if (e != cudaSuccess) {
        cudaFree(d);
        return rr_error("cudaMemsetAsync(d, 0xff, slots) failed: %s (%s:%d)", cudaGetErrorString(e), __FILE__,
                        __LINE__);
    }
    for (int i = 0; i < RR_FAULT_KINDS; i++)
        device_copy[i] = ~0ull;
    slots_on_device = (unsigned long long *)d;
    return 0;
}

/* Made on first use, the way RRSIS_FAULT_SLOTS asks (device.h). */
static int make_slots(void)
{
    rr_fault_slots want;
    if (rr_fault_slots_parse(getenv("RRSIS_FAULT_SLOTS"), &want))
        return -1;
    if (want != RR_SLOTS_DEVICE) {
        if (make_mapped_slots() == 0) {
            way = RR_SLOTS_MAPPED;
            return 0;
        }
        if (want == RR_SLOTS_MAPPED)
            return rr_error_prefix("RRSIS_FAULT_SLOTS=mapped: ");
        cudaGetLastError(); /* the failed allocation is not a sticky error; clear it */
    }
    if (make_device_slots())
        return -1;
    way = RR_SLOTS_DEVICE;
    return 0;
}

unsigned long long *rr_cuda_fault_slot(int kind)
{
    if (way == RR_SLOTS_AUTO && make_slots())
        return NULL;
    return slots_on_device + kind;
}

extern "C" const char *rr_cuda_fault_slots_way(void)
{
    return way == RR_SLOTS_MAPPED ? "mapped" : way == RR_SLOTS_DEVICE ? "device" : "not made yet";
}

/* The one synchronisation: with slots on the device, their copy joins the
 * queue first (into pageable memory: the call returns once it is done). */
extern "C" void *rr_cuda_stream_c(void) { return rr_cuda_stream(); }

extern "C" int rr_cuda_sync(void)
{
    if (way == RR_SLOTS_DEVICE)
        RR_CUDA(cudaMemcpyAsync(device_copy, slots_on_device, sizeof device_copy, cudaMemcpyDeviceToHost,
                                rr_cuda_stream()));
    RR_CUDA(cudaStreamSynchronize(rr_cuda_stream()));
    for (int i = 0; i < RR_FAULT_KINDS; i++) {
        unsigned long long v = way == RR_SLOTS_MAPPED ? mapped_slots[i] : way == RR_SLOTS_DEVICE ? device_copy[i] : ~0ull;
        if (v == ~0ull)
            continue;
        if (way == RR_SLOTS_MAPPED) {
            mapped_slots[i] = ~0ull;
        } else { /* emptied before any later kernel runs */
            device_copy[i] = ~0ull;
            RR_CUDA(cudaMemsetAsync(slots_on_device + i, 0xff, sizeof *slots_on_device, rr_cuda_stream()));
        }
        return rr_error(fault_messages[i], (int32_t)(uint32_t)v, v >> 32);
    }
    return 0;
}
