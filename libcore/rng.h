/* A counter-based random number generator: the n-th number of a stream is a
 * pure function of (seed, n).  Dropout on the CPU and on the GPU therefore
 * draws the same masks, element by element, and a resumed run continues the
 * same sequence from a saved offset.  The mixer is SplitMix64's finaliser
 * applied twice, which passes BigCrush as a counter-based generator. */
#ifndef RR_RNG_H
#define RR_RNG_H

#include <stdint.h>

#ifdef __CUDACC__
#define RR_HD __host__ __device__
#else
#define RR_HD
#endif

static inline RR_HD uint64_t rr_mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* 64 random bits: element n of stream `seed`. */
static inline RR_HD uint64_t rr_rand64(uint64_t seed, uint64_t n)
{
    return rr_mix64(rr_mix64(seed + 0x9e3779b97f4a7c15ull * (n + 1)) ^ seed);
}

/* Uniform in [0, 1) with 24 random bits (exact in f32). */
static inline RR_HD float rr_uniform(uint64_t seed, uint64_t n)
{
    return (float)(rr_rand64(seed, n) >> 40) * (1.0f / 16777216.0f);
}

/* A sequential generator for host-side code (initialisation, data order). */
typedef struct {
    uint64_t seed, n;
} rr_rng;

static inline uint64_t rr_rng_next(rr_rng *r) { return rr_rand64(r->seed, r->n++); }
static inline float rr_rng_uniform(rr_rng *r) { return rr_uniform(r->seed, r->n++); }
/* Standard normal (Box-Muller). */
float rr_rng_normal(rr_rng *r);

#endif
