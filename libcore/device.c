#include "device.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"

const char *rr_device_name(rr_device d) { return d == RR_CUDA ? "cuda" : "cpu"; }

int rr_cuda_available(void)
{
#ifdef RR_WITH_CUDA
    return rr_cuda_present();
#else
    return 0;
#endif
}

const char *rr_cuda_unavailable_reason(void)
{
#ifdef RR_WITH_CUDA
    return rr_cuda_absent_reason();
#else
    return "this build has no CUDA support (built with CUDA=0)";
#endif
}

int rr_fault_slots_parse(const char *s, rr_fault_slots *out)
{
    if (!s || !*s)
        *out = RR_SLOTS_AUTO;
    else if (strcmp(s, "mapped") == 0)
        *out = RR_SLOTS_MAPPED;
    else if (strcmp(s, "device") == 0)
        *out = RR_SLOTS_DEVICE;
    else
        return rr_error("RRSIS_FAULT_SLOTS='%s': expected mapped or device (or unset: mapped, else device)", s);
    return 0;
}

int rr_device_parse(const char *s, rr_device *out)
{
    if (strcmp(s, "cpu") == 0) {
        *out = RR_CPU;
        return 0;
    }
    if (strcmp(s, "auto") == 0) {
        *out = rr_cuda_available() ? RR_CUDA : RR_CPU;
        return 0;
    }
    if (strcmp(s, "cuda") == 0) {
#ifdef RR_WITH_CUDA
        if (!rr_cuda_present())
            return rr_error("--device cuda: no usable CUDA GPU: %s", rr_cuda_absent_reason());
        *out = RR_CUDA;
        return 0;
#else
        return rr_error("--device cuda: this build has no CUDA support (built with CUDA=0)");
#endif
    }
    return rr_error("unknown device '%s' (expected auto, cpu or cuda)", s);
}

const char *rr_device_describe(rr_device d)
{
#ifdef RR_WITH_CUDA
    if (d == RR_CUDA)
        return rr_cuda_describe();
#endif
    return d == RR_CUDA ? "cuda (unavailable)" : "cpu";
}

void *rr_dev_malloc(rr_device d, size_t bytes)
{
    if (bytes == 0)
        bytes = 1;
    if (d == RR_CUDA) {
#ifdef RR_WITH_CUDA
        return rr_cuda_malloc(bytes);
#else
        rr_error("CUDA memory requested in a build without CUDA");
        return NULL;
#endif
    }
    void *p = NULL;
    if (posix_memalign(&p, 64, bytes) != 0) {
        rr_error("out of memory allocating %zu bytes", bytes);
        return NULL;
    }
    return p;
}

void rr_dev_free(rr_device d, void *p)
{
    if (!p)
        return;
#ifdef RR_WITH_CUDA
    if (d == RR_CUDA) {
        rr_cuda_free(p);
        return;
    }
#endif
    (void)d;
    free(p);
}

int rr_dev_memset0(rr_device d, void *p, size_t bytes)
{
#ifdef RR_WITH_CUDA
    if (d == RR_CUDA)
        return rr_cuda_memset0(p, bytes);
#endif
    if (d == RR_CUDA)
        return rr_error("CUDA memory used in a build without CUDA");
    memset(p, 0, bytes);
    return 0;
}

int rr_dev_sync(rr_device d)
{
#ifdef RR_WITH_CUDA
    if (d == RR_CUDA)
        return rr_cuda_sync();
#endif
    if (d == RR_CUDA)
        return rr_error("CUDA memory used in a build without CUDA");
    return 0;
}

static _Atomic long n_to_device, n_to_host;

void rr_dev_transfers(long *to_device, long *to_host)
{
    *to_device = n_to_device;
    *to_host = n_to_host;
}

int rr_dev_memcpy(rr_device dst_dev, void *dst, rr_device src_dev, const void *src, size_t bytes)
{
    if (bytes == 0)
        return 0;
    if (dst_dev != src_dev) {
        if (dst_dev == RR_CUDA)
            n_to_device++;
        else
            n_to_host++;
    }
#ifdef RR_WITH_CUDA
    if (dst_dev == RR_CUDA || src_dev == RR_CUDA)
        return rr_cuda_memcpy(dst_dev == RR_CUDA, dst, src_dev == RR_CUDA, src, bytes);
#endif
    if (dst_dev == RR_CUDA || src_dev == RR_CUDA)
        return rr_error("CUDA memory used in a build without CUDA");
    memmove(dst, src, bytes);
    return 0;
}
