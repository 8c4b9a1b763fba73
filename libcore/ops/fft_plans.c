#include "fft_plans.h"

rr_fft_plans *rr_fft_plans_table(void)
{
    static rr_fft_plans t;
    return &t;
}

int rr_fft_plans_find(rr_fft_plans *t, const rr_fft_plan_key *k)
{
    for (int i = 0; i < t->n; i++) {
        const rr_fft_plan_key *e = &t->key[i];
        if (e->type == k->type && e->batch == k->batch && e->h == k->h && e->w == k->w) {
            t->used[i] = ++t->clock;
            return i;
        }
    }
    return -1;
}

int rr_fft_plans_slot(rr_fft_plans *t, int *drop)
{
    *drop = -1;
    if (t->n < RR_FFT_PLANS_MAX)
        return t->n++;
    int old = 0;
    for (int i = 1; i < t->n; i++)
        if (t->used[i] < t->used[old])
            old = i;
    *drop = t->handle[old];
    t->replaced++;
    return old;
}

void rr_fft_plans_put(rr_fft_plans *t, int slot, const rr_fft_plan_key *k, int handle)
{
    t->key[slot] = *k;
    t->handle[slot] = handle;
    t->used[slot] = ++t->clock;
    t->made++;
    t->allocs++;
}
