/* Float math for the CPU kernels' inner loops, written so that the loops
 * vectorise: straight-line code, no library calls, no float branches.
 * CPU only (the CUDA twins keep the libm functions).
 *
 * RR_SIMD_CLONES on a function compiles it three times, for AVX-512
 * (x86-64-v4), AVX2 (x86-64-v3) and the baseline the build targets, and
 * picks one when the program loads: the library is built for any x86-64,
 * and its elementwise loops would otherwise use SSE2 only.  Put it on small
 * row kernels that an OpenMP loop calls (the loops inside them carry
 * `#pragma omp simd`). */
#ifndef RR_OPS_VMATH_H
#define RR_OPS_VMATH_H

#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define RR_SIMD_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define RR_SIMD_CLONES
#endif

/* e^x within 1e-7 relative (Cephes' expf polynomial) where it is a normal
 * float, x in [-87.33, 88]; 0 below (where e^x would be subnormal: flushed,
 * as FTZ would, because subnormal operands slow every later product down by
 * orders of magnitude: a softmax's masked entries feed a GEMM); above 88,
 * e^88.  A NaN comes out as 0 or e^88.  The range checks compare the bit
 * patterns as integers, which vectorises where a float compare does not. */
static inline float rr_vexpf(float x)
{
    int32_t i;
    memcpy(&i, &x, sizeof i);
    i = i < 0x42B00000 ? i : 0x42B00000; /* positive: x <= 88 */
    uint32_t u = (uint32_t)i;
    int32_t under = u > 0xC2AEAC50u; /* negative: x < -87.33654 */
    u = under ? 0xC2AEAC50u : u;
    memcpy(&x, &u, sizeof x);
    /* x = n ln 2 + r, |r| <= ln 2 / 2; n rounded by the 1.5 * 2^23 trick */
    float n = x * 1.44269504088896341f + 12582912.0f;
    n -= 12582912.0f;
    float r = x - n * 0.693359375f + n * 2.12194440e-4f;
    float p = ((((1.9875691500e-4f * r + 1.3981999507e-3f) * r + 8.3334519073e-3f) * r + 4.1665795894e-2f) * r +
               1.6666665459e-1f) * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    int32_t e = under ? 0 : ((int32_t)n + 127) << 23; /* 2^n, or 0 */
    float s;
    memcpy(&s, &e, sizeof s);
    return p * s;
}

/* erf(x) within 1.5e-7 absolute: Abramowitz & Stegun 7.1.26, the formula
 * of PyTorch's own vectorised erf (and so of its CPU GELU). */
static inline float rr_verff(float x)
{
    float a = x < 0 ? -x : x;
    float t = 1.0f / (1.0f + 0.3275911f * a);
    float r = (((1.061405429f * t - 1.453152027f) * t + 1.421413741f) * t - 0.284496736f) * t + 0.254829592f;
    float y = 1.0f - r * t * rr_vexpf(-a * a);
    return x < 0 ? -y : y;
}

#endif
