/* The core library of rrsis, in one include. */
#ifndef RR_H
#define RR_H

#include "arena.h"
#include "ctx.h"
#include "device.h"
#include "error.h"
#include "rng.h"
#include "tape.h"
#include "tensor.h"
#include "ops/ops.h"

#endif
