/* Devices and raw memory on them.
 *
 * The library is built with or without CUDA (RR_WITH_CUDA).  Without it,
 * RR_CUDA still exists as a value, and every request for it fails with a
 * clear message, so programs need no #ifdefs. */
#ifndef RR_DEVICE_H
#define RR_DEVICE_H

#include <stddef.h>

typedef enum { RR_CPU = 0, RR_CUDA = 1 } rr_device;

/* "cpu" or "cuda". */
const char *rr_device_name(rr_device d);

/* Parses "auto", "cpu" or "cuda"; auto takes CUDA when a GPU is present.
 * Returns -1 with a message for anything else or for "cuda" without a GPU. */
int rr_device_parse(const char *s, rr_device *out);

/* 1 when the library was built with CUDA and a GPU is usable. */
int rr_cuda_available(void);
/* Why it is not, for a message: the CUDA runtime's own reason for the call
 * that failed (a driver too old for this CUDA, no device node, out of
 * memory), or that the build has no CUDA; "" when a GPU is usable. */
const char *rr_cuda_unavailable_reason(void);

/* Where CUDA kernels record a bad input for the host (cuda/common.cuh), by
 * the environment variable RRSIS_FAULT_SLOTS: "mapped" (mapped, pinned host
 * memory), "device" (device memory, copied back at each synchronisation), or
 * unset or "" (RR_SLOTS_AUTO: mapped, and device memory when the mapped
 * allocation fails).  -1 with a message for any other value. */
typedef enum { RR_SLOTS_AUTO, RR_SLOTS_MAPPED, RR_SLOTS_DEVICE } rr_fault_slots;
int rr_fault_slots_parse(const char *s, rr_fault_slots *out);

/* A description of the device for --verbose ("NVIDIA H100 80GB HBM3, sm_90"). */
const char *rr_device_describe(rr_device d);

void *rr_dev_malloc(rr_device d, size_t bytes);  /* NULL + message on failure */
void rr_dev_free(rr_device d, void *p);
int rr_dev_memset0(rr_device d, void *p, size_t bytes);
/* Copies between any two devices. */
int rr_dev_memcpy(rr_device dst_dev, void *dst, rr_device src_dev, const void *src, size_t bytes);
/* The copies between the host and a device so far, each way: tests count
 * them around training steps (doc/architecture.md, Devices: a step copies its inputs in and its
 * loss out, nothing else). */
void rr_dev_transfers(long *to_device, long *to_host);
/* Waits for the work queued on the device and reports a fault that a kernel
 * found in its inputs meanwhile (cuda/common.cuh); a copy to the host does
 * the same. */
int rr_dev_sync(rr_device d);

#ifdef RR_WITH_CUDA
/* Implemented in cuda/device.cu. */
int rr_cuda_present(void);
const char *rr_cuda_absent_reason(void); /* "" when present */
const char *rr_cuda_describe(void);
/* "mapped" or "device": the way the fault slots were made (rr_fault_slots),
 * "not made yet" before the first kernel that checks its input. */
const char *rr_cuda_fault_slots_way(void);
void *rr_cuda_malloc(size_t bytes);
void rr_cuda_free(void *p);
int rr_cuda_memset0(void *p, size_t bytes);
int rr_cuda_memcpy(int dst_on_gpu, void *dst, int src_on_gpu, const void *src, size_t bytes);
int rr_cuda_sync(void);
/* The library's stream (a cudaStream_t), for C code that queues work on
 * it: NCCL's exchanges (dist/dist.c). */
void *rr_cuda_stream_c(void);
/* TF32 tensor-core GEMMs on (default, unless RRSIS_TF32=0) or off. */
void rr_cuda_set_tf32(int on);
#endif

#endif
