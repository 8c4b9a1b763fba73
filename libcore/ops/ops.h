/* Every primitive op, forward and backward, CPU and CUDA (see backend.h).
 * Ops take a context (ctx.h), return a new tensor (NULL with a message on
 * failure), and record themselves on the tape when the context has grad on. */
#ifndef RR_OPS_H
#define RR_OPS_H

#include "activation.h"
#include "arc.h"
#include "binary.h"
#include "conv.h"
#include "dropout.h"
#include "embedding.h"
#include "fft.h"
#include "fill.h"
#include "loss.h"
#include "matmul.h"
#include "norm.h"
#include "pixel_shuffle.h"
#include "pool.h"
#include "reduce.h"
#include "resize.h"
#include "shape.h"
#include "softmax.h"
#include "window.h"

#endif
