#include "synth_batch.h"

#include <stdlib.h>

#include "error.h"
#include "rng.h"

int synth_batch_make(rr_ctx *c, const rr_config *cfg, int B, int S, uint64_t seed, synth_batch *b)
{
    int64_t L = cfg->text.max_len, npix = (int64_t)B * 3 * S * S;
    float *img = malloc((size_t)npix * sizeof *img);
    int32_t *ids = calloc((size_t)(B * L), sizeof *ids), *mask = calloc((size_t)(B * L), sizeof *mask);
    uint8_t *t = calloc((size_t)B * S * S, 1);
    if (!img || !ids || !mask || !t) {
        free(img), free(ids), free(mask), free(t);
        return rr_error("out of memory");
    }
    rr_rng r = {seed, 0};
    for (int64_t i = 0; i < npix; i++)
        img[i] = rr_rng_normal(&r);
    for (int s = 0; s < B; s++) {
        int64_t len = 3 + (int64_t)(rr_rng_next(&r) % (uint64_t)(L - 3));
        for (int64_t j = 0; j < len; j++) {
            int32_t id = j == 0 ? 101 : j == len - 1 ? 102 : 1000 + (int32_t)(rr_rng_next(&r) % 20000);
            if (id >= cfg->text.vocab_size)
                id = (int32_t)(rr_rng_next(&r) % (uint64_t)cfg->text.vocab_size);
            ids[s * L + j] = id;
            mask[s * L + j] = 1;
        }
        int x0 = (int)(rr_rng_next(&r) % (uint64_t)(S / 2)), y0 = (int)(rr_rng_next(&r) % (uint64_t)(S / 2));
        for (int y = y0; y < y0 + S / 3; y++)
            for (int x = x0; x < x0 + S / 4; x++)
                t[((int64_t)s * S + y) * S + x] = 1;
    }
    b->img = rr_from_host(c, RR_F32, RR_SHAPE(B, 3, S, S), img);
    b->ids = rr_from_host(c, RR_I32, RR_SHAPE(B, L), ids);
    b->mask = rr_from_host(c, RR_I32, RR_SHAPE(B, L), mask);
    b->target = rr_from_host(c, RR_U8, RR_SHAPE(B, S, S), t);
    free(img), free(ids), free(mask), free(t);
    return b->img && b->ids && b->mask && b->target ? 0 : -1;
}
