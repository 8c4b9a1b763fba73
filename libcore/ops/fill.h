/* Filling f32 memory with one value (used for gradient seeds and tests). */
#ifndef RR_OPS_FILL_H
#define RR_OPS_FILL_H

#include <stdint.h>

#include "backend.h"

RR_KERNEL(rr_fill_f32, (float *x, int64_t n, float value));

#endif
