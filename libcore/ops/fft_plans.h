/* The table of cuFFT plans that fft.cu keeps: bounded, and counted.
 *
 * A plan is made once per (type, batch, H, W) and kept; training meets a few
 * batch sizes (the training batch, the last partial one, the validation
 * batch), each with its own plans.  The table holds RR_FFT_PLANS_MAX of
 * them at most (a whole mrsnet-b run needs a few dozen at most) and, when
 * full, replaces the least recently used.  The plans share one work area,
 * sized for the largest (ops run one at a time on the library's stream), so
 * their memory is one block per plan for cuFFT's own tables plus that area.
 * `allocs` counts the device allocations: one per plan made and one per
 * growth of the work area, so a test that a step allocates nothing (the
 * arenas' `mallocs`) counts these with them.
 *
 * Only the bookkeeping is here, in C, so that the bound and the choice of
 * the plan to replace are the same code on every machine and are tested on
 * the CPU; fft.cu makes, binds and destroys the plans. */
#ifndef RR_FFT_PLANS_H
#define RR_FFT_PLANS_H

#include <stddef.h>
#include <stdint.h>

#define RR_FFT_PLANS_MAX 64

typedef struct {
    int type; /* cufftType */
    int64_t batch, h, w;
} rr_fft_plan_key;

typedef struct {
    rr_fft_plan_key key[RR_FFT_PLANS_MAX];
    int handle[RR_FFT_PLANS_MAX];           /* cufftHandle */
    unsigned long used[RR_FFT_PLANS_MAX];   /* the clock at the last use */
    int n;                                  /* slots filled */
    unsigned long clock;
    size_t work;                            /* bytes of the shared work area */
    long made, replaced;                    /* plans made, and dropped to make room */
    long allocs;                            /* device allocations: plans made, work area growths */
} rr_fft_plans;

/* The table of this process's cuFFT plans (fft.cu; empty in a CPU run). */
rr_fft_plans *rr_fft_plans_table(void);

/* The slot holding k's plan (now the most recently used), or -1. */
int rr_fft_plans_find(rr_fft_plans *t, const rr_fft_plan_key *k);

/* The slot for a new plan: a free one while there is one, else the least
 * recently used, whose handle goes to *drop for the caller to destroy (-1
 * when nothing is dropped).  rr_fft_plans_put fills the slot. */
int rr_fft_plans_slot(rr_fft_plans *t, int *drop);
void rr_fft_plans_put(rr_fft_plans *t, int slot, const rr_fft_plan_key *k, int handle);

#endif
