/* The synthetic batch of the GPU tools (tests/gpu/golden_gpu.c,
 * bench/gpu_bench.c): normal images; [CLS] words [SEP] then padding, of a
 * different length per sample; a rectangle per sample as the target; all
 * made from the seed, on c's device. */
#ifndef RR_TESTS_GPU_SYNTH_BATCH_H
#define RR_TESTS_GPU_SYNTH_BATCH_H

#include <stdint.h>

#include "ctx.h"
#include "nn/config.h"

typedef struct {
    rr_tensor *img, *ids, *mask, *target;
} synth_batch;

int synth_batch_make(rr_ctx *c, const rr_config *cfg, int B, int S, uint64_t seed, synth_batch *b);

#endif
