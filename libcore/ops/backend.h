/* One op, two backends, one signature.
 *
 * Each kernel is declared once with RR_KERNEL(name, (params)): that declares
 * name_cpu (always present) and name_cuda (a weak symbol, present when the
 * CUDA twin is compiled in).  RR_BACKEND(device, name, args...) calls the
 * twin for the tensor's device; a CUDA tensor reaching a kernel without a
 * CUDA twin is an error with the kernel's name, never a silent CPU fallback.
 * Kernels return 0, or -1 after rr_error(). */
#ifndef RR_OPS_BACKEND_H
#define RR_OPS_BACKEND_H

#include "../error.h"
#include "../device.h"

#define RR_KERNEL(name, params) \
    int name##_cpu params;      \
    int name##_cuda params __attribute__((weak))

#define RR_BACKEND(dev, name, ...)                                                    \
    ((dev) == RR_CUDA ? (name##_cuda ? name##_cuda(__VA_ARGS__)                       \
                                     : rr_error("%s has no CUDA kernel", #name))      \
                      : name##_cpu(__VA_ARGS__))

#endif
