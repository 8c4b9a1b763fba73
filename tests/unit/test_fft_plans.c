/* The bounded table of cuFFT plans (ops/fft_plans.h), as plain data: the
 * bookkeeping fft.cu relies on, tested without a GPU. */
#include "harness.h"
#include "ops/fft_plans.h"

/* Looks k up as fft.cu does: a kept plan, else a new handle (counted). */
static int plan_for(rr_fft_plans *t, rr_fft_plan_key k, int *next_handle, int *dropped)
{
    int i = rr_fft_plans_find(t, &k);
    if (i >= 0)
        return t->handle[i];
    int drop, h = (*next_handle)++;
    rr_fft_plans_put(t, rr_fft_plans_slot(t, &drop), &k, h);
    if (dropped)
        *dropped = drop;
    return h;
}

TEST(fft_plans_kept_per_shape_and_batch)
{
    rr_fft_plans t = {0};
    int next = 100;
    /* an epoch: training batches of 8, the last partial batch of 3, then
     * validation at batch 2; per batch size a C2C and an R2C plan at two sizes */
    const int batches[] = {8, 8, 8, 3, 2};
    long made_after_first_epoch = 0;
    for (int epoch = 0; epoch < 3; epoch++) {
        for (int b = 0; b < 5; b++)
            for (int type = 0; type < 2; type++)
                for (int s = 0; s < 2; s++) {
                    rr_fft_plan_key k = {0x29 + type, batches[b] * 16, 30 >> s, 30 >> s};
                    int h1 = plan_for(&t, k, &next, NULL), h2 = plan_for(&t, k, &next, NULL);
                    CHECK(h1 == h2, "the same key gave plans %d and %d", h1, h2);
                }
        if (epoch == 0)
            made_after_first_epoch = t.made;
    }
    CHECK(t.made == 12, "%ld plans made for 3 batch sizes x 2 types x 2 sizes (expected 12)", t.made);
    CHECK(t.made == made_after_first_epoch, "plans made after the first epoch: %ld -> %ld", made_after_first_epoch,
          t.made);
    CHECK(t.allocs == t.made && t.replaced == 0, "allocs %ld, replaced %ld", t.allocs, t.replaced);
}

TEST(fft_plans_bounded_least_recently_used_replaced)
{
    rr_fft_plans t = {0};
    int next = 1, dropped = -1;
    for (int i = 0; i < RR_FFT_PLANS_MAX; i++)
        plan_for(&t, (rr_fft_plan_key){0x29, i + 1, 8, 8}, &next, &dropped);
    CHECK(t.n == RR_FFT_PLANS_MAX && dropped == -1, "%d plans kept, dropped %d", t.n, dropped);
    /* every plan used again but the one of batch 5: it is the oldest now */
    for (int i = 0; i < RR_FFT_PLANS_MAX; i++)
        if (i + 1 != 5)
            plan_for(&t, (rr_fft_plan_key){0x29, i + 1, 8, 8}, &next, NULL);
    int h = plan_for(&t, (rr_fft_plan_key){0x29, 1000, 8, 8}, &next, &dropped);
    CHECK(t.n == RR_FFT_PLANS_MAX, "%d plans kept (at most %d)", t.n, RR_FFT_PLANS_MAX);
    CHECK(dropped == 5, "dropped handle %d, expected 5 (batch 5's, the least recently used)", dropped);
    CHECK(h == RR_FFT_PLANS_MAX + 1 && t.replaced == 1, "new handle %d, %ld replaced", h, t.replaced);
    CHECK(rr_fft_plans_find(&t, &(rr_fft_plan_key){0x29, 5, 8, 8}) < 0, "the dropped plan is still found");
    CHECK(rr_fft_plans_find(&t, &(rr_fft_plan_key){0x29, 6, 8, 8}) >= 0, "a kept plan is not found");
    /* the type is part of the key */
    CHECK(rr_fft_plans_find(&t, &(rr_fft_plan_key){0x2a, 6, 8, 8}) < 0, "an R2C key found a C2C plan");
}
