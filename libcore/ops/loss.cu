/* CUDA twins of loss.c.  The per-sample sums are deterministic (one block
 * per sample, a fixed stride per thread, a fixed tree); loss_combine.h turns
 * them into the loss in one thread on the device: no copy to the host and no
 * wait.  A target value other than 0 or 1 is a fault (cuda/common.cuh),
 * reported at the next synchronisation. */
#include "../cuda/common.cuh"

extern "C" {
#include "loss.h"
#include "loss_combine.h"
}

enum { THREADS = 512 };

__device__ static inline int target_at(const void *t, int i32, int64_t i)
{
    return i32 ? ((const int32_t *)t)[i] : ((const uint8_t *)t)[i];
}

/* Sums each of the Q values of v over the block's threads, in a fixed tree
 * order; thread 0 ends with the totals. */
template <int Q> __device__ static void block_sum(double *v)
{
    __shared__ double part[Q][THREADS];
    for (int q = 0; q < Q; q++)
        part[q][threadIdx.x] = v[q];
    __syncthreads();
    for (int s = THREADS / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s)
            for (int q = 0; q < Q; q++)
                part[q][threadIdx.x] += part[q][threadIdx.x + s];
        __syncthreads();
    }
    for (int q = 0; q < Q; q++)
        v[q] = part[q][0];
}

/* Target value t at pixel k, or -1 (a fault) when not 0 or 1. */
__device__ static inline int checked_target(const void *target, int i32, int64_t k, unsigned long long *fault)
{
    int t = target_at(target, i32, k);
    if (t != 0 && t != 1) {
        rr_fault_store(fault, k, t);
        return -1;
    }
    return t;
}

/* Softmax of the two logits of pixel i (x at class 0, class 1 n further). */
__device__ static inline void softmax2(const float *x, int64_t n, int64_t i, float *p0, float *p1)
{
    float d = x[n + i] - x[i];
    *p1 = 1.0f / (1.0f + expf(-d));
    *p0 = 1.0f / (1.0f + expf(d));
}

__global__ static void ce_combine(const float *stats, int64_t B, float *loss) { *loss = rr_ce2_combine(stats, B); }

__global__ static void dice_combine(float *stats, int64_t B, int fg_only_nonempty, float *loss)
{
    *loss = rr_dice_combine(stats, B, fg_only_nonempty);
}

__global__ static void ce_stats(const float *logits, const void *target, int i32, int64_t n, float w0, float w1,
                                float *stats, unsigned long long *fault)
{
    int64_t b = blockIdx.x;
    const float *x = logits + b * 2 * n;
    double v[2] = {0, 0};
    for (int64_t i = threadIdx.x; i < n; i += THREADS) {
        int t = checked_target(target, i32, b * n + i, fault);
        if (t < 0)
            continue;
        float x0 = x[i], x1 = x[n + i], m = fmaxf(x0, x1);
        float lse = m + log1pf(expf(-fabsf(x0 - x1))); /* log-sum-exp, the max taken out */
        float w = t ? w1 : w0;
        v[0] += w * (lse - (t ? x1 : x0));
        v[1] += w;
    }
    block_sum<2>(v);
    if (threadIdx.x == 0) {
        stats[2 * b] = (float)v[0];
        stats[2 * b + 1] = (float)v[1];
    }
}

extern "C" int rr_ce2_fwd_cuda(const float *logits, const void *target, int target_i32, int64_t B, int64_t n,
                               float w0, float w1, float *stats, float *loss)
{
    unsigned long long *fault = rr_cuda_fault_slot(RR_FAULT_CE_TARGET);
    if (!fault)
        return -1;
    cudaStream_t st = rr_cuda_stream();
    ce_stats<<<(unsigned)B, THREADS, 0, st>>>(logits, target, target_i32, n, w0, w1, stats, fault);
    RR_LAUNCHED();
    ce_combine<<<1, 1, 0, st>>>(stats, B, loss);
    RR_LAUNCHED();
    return 0;
}

__global__ static void ce_bwd(const float *logits, const void *target, int i32, int64_t B, int64_t n, float w0,
                              float w1, const float *stats, const float *dloss, float *dlogits)
{
    double den = 0;
    for (int64_t b = 0; b < B; b++)
        den += stats[2 * b + 1];
    float g = (float)(dloss[0] / den);
    RR_GRID_STRIDE(k, B * n)
    {
        int64_t b = k / n, i = k % n;
        const float *x = logits + b * 2 * n;
        float *dx = dlogits + b * 2 * n;
        int t = target_at(target, i32, k);
        float p0, p1, gw = g * (t ? w1 : w0);
        softmax2(x, n, i, &p0, &p1);
        dx[i] += gw * (p0 - (t == 0));
        dx[n + i] += gw * (p1 - (t == 1));
    }
}

extern "C" int rr_ce2_bwd_cuda(const float *logits, const void *target, int target_i32, int64_t B, int64_t n,
                               float w0, float w1, const float *stats, const float *dloss, float *dlogits)
{
    ce_bwd<<<rr_blocks(B * n), 256, 0, rr_cuda_stream()>>>(logits, target, target_i32, B, n, w0, w1, stats, dloss,
                                                           dlogits);
    RR_LAUNCHED();
    return 0;
}

/* Per sample and class: sum p_c t_c, sum p_c, sum t_c (stats layout of loss.h). */
__global__ static void dice_stats(const float *logits, const void *target, int i32, int64_t n, float *stats,
                                  unsigned long long *fault)
{
    int64_t b = blockIdx.x;
    const float *x = logits + b * 2 * n;
    double v[6] = {0, 0, 0, 0, 0, 0}; /* {I, P, T} of class 0, then of class 1 */
    for (int64_t i = threadIdx.x; i < n; i += THREADS) {
        int t = checked_target(target, i32, b * n + i, fault);
        if (t < 0)
            continue;
        float p[2];
        softmax2(x, n, i, &p[0], &p[1]);
        for (int c = 0; c < 2; c++) {
            int tc = t == c;
            v[3 * c] += tc ? p[c] : 0.0f;
            v[3 * c + 1] += p[c];
            v[3 * c + 2] += tc;
        }
    }
    block_sum<6>(v);
    if (threadIdx.x == 0)
        for (int c = 0; c < 2; c++)
            for (int q = 0; q < 3; q++)
                stats[(2 * b + c) * 5 + q] = (float)v[3 * c + q];
}

extern "C" int rr_dice_fwd_cuda(const float *logits, const void *target, int target_i32, int64_t B, int64_t n,
                                int fg_only_nonempty, float *stats, float *loss)
{
    unsigned long long *fault = rr_cuda_fault_slot(RR_FAULT_DICE_TARGET);
    if (!fault)
        return -1;
    cudaStream_t st = rr_cuda_stream();
    dice_stats<<<(unsigned)B, THREADS, 0, st>>>(logits, target, target_i32, n, stats, fault);
    RR_LAUNCHED();
    dice_combine<<<1, 1, 0, st>>>(stats, B, fg_only_nonempty, loss);
    RR_LAUNCHED();
    return 0;
}

__global__ static void dice_bwd(const float *logits, const void *target, int i32, int64_t B, int64_t n,
                                const float *stats, const float *dloss, float *dlogits)
{
    RR_GRID_STRIDE(k, B * n)
    {
        int64_t b = k / n, i = k % n;
        const float *x = logits + b * 2 * n, *s = stats + b * 10;
        float *dx = dlogits + b * 2 * n;
        int t = target_at(target, i32, k);
        float p0, p1;
        softmax2(x, n, i, &p0, &p1);
        /* dL/dp_c, then through the softmax: dL/dx_j = p_j (g_j - sum_c g_c p_c) */
        float g0 = dloss[0] * (s[3] * (t == 0) + s[4]), g1 = dloss[0] * (s[8] * (t == 1) + s[9]);
        float dot = g0 * p0 + g1 * p1;
        dx[i] += p0 * (g0 - dot);
        dx[n + i] += p1 * (g1 - dot);
    }
}

extern "C" int rr_dice_bwd_cuda(const float *logits, const void *target, int target_i32, int64_t B, int64_t n,
                                const float *stats, const float *dloss, float *dlogits)
{
    dice_bwd<<<rr_blocks(B * n), 256, 0, rr_cuda_stream()>>>(logits, target, target_i32, B, n, stats, dloss,
                                                             dlogits);
    RR_LAUNCHED();
    return 0;
}

/* Per sample: the largest margin logit_1 - logit_0 and its pixel (the first
 * on ties, as the CPU's scan), and whether the target has a foreground
 * pixel. */
__global__ static void presence_stats(const float *logits, const void *target, int i32, int64_t n, float *stats,
                                      unsigned long long *fault)
{
    __shared__ float best[THREADS];
    __shared__ int64_t at[THREADS];
    __shared__ int any[THREADS];
    int64_t b = blockIdx.x;
    const float *x = logits + b * 2 * n;
    float m = -INFINITY;
    int64_t a = 0;
    int y = 0;
    for (int64_t i = threadIdx.x; i < n; i += THREADS) {
        float d = x[n + i] - x[i];
        if (d > m)
            m = d, a = i;
        y |= checked_target(target, i32, b * n + i, fault) == 1;
    }
    best[threadIdx.x] = m, at[threadIdx.x] = a, any[threadIdx.x] = y;
    __syncthreads();
    for (int s = THREADS / 2; s > 0; s >>= 1) {
        int t = threadIdx.x;
        if (t < s) {
            float o = best[t + s];
            if (o > best[t] || (o == best[t] && at[t + s] < at[t]))
                best[t] = o, at[t] = at[t + s];
            any[t] |= any[t + s];
        }
        __syncthreads();
    }
    if (threadIdx.x == 0) {
        stats[4 * b] = best[0];
        stats[4 * b + 1] = (float)at[0];
        stats[4 * b + 2] = (float)any[0];
    }
}

__global__ static void presence_combine(float *stats, int64_t B, float *loss)
{
    *loss = rr_presence_combine(stats, B);
}

extern "C" int rr_presence_fwd_cuda(const float *logits, const void *target, int target_i32, int64_t B, int64_t n,
                                    float *stats, float *loss)
{
    unsigned long long *fault = rr_cuda_fault_slot(RR_FAULT_PRESENCE_TARGET);
    if (!fault)
        return -1;
    cudaStream_t st = rr_cuda_stream();
    presence_stats<<<(unsigned)B, THREADS, 0, st>>>(logits, target, target_i32, n, stats, fault);
    RR_LAUNCHED();
    presence_combine<<<1, 1, 0, st>>>(stats, B, loss);
    RR_LAUNCHED();
    return 0;
}

__global__ static void presence_bwd(int64_t B, int64_t n, const float *stats, const float *dloss, float *dlogits)
{
    int64_t b = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (b >= B)
        return;
    int64_t at = (int64_t)stats[4 * b + 1];
    float g = dloss[0] * stats[4 * b + 3];
    dlogits[b * 2 * n + n + at] += g;
    dlogits[b * 2 * n + at] -= g;
}

extern "C" int rr_presence_bwd_cuda(int64_t B, int64_t n, const float *stats, const float *dloss, float *dlogits)
{
    presence_bwd<<<(unsigned)((B + 255) / 256), 256, 0, rr_cuda_stream()>>>(B, n, stats, dloss, dlogits);
    RR_LAUNCHED();
    return 0;
}
