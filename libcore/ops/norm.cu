/* CUDA twins of norm.c.  Row norms (layer, instance) run one warp per row;
 * their weight gradients and the batch-norm statistics one block per weight
 * or channel.  Every reduction is a fixed tree (warp butterfly or shared
 * memory halving), never a float atomic, so results are deterministic. */
#include "../cuda/common.cuh"

extern "C" {
#include "norm.h"
}

/* --- row norms ---------------------------------------------------------------- */

__global__ static void row_norm_fwd(const float *x, const float *w, const float *b, float *y, float *mean,
                                    float *rstd, int64_t rows, int64_t d, int64_t channels, float eps)
{
    int lane = threadIdx.x & 31;
    RR_WARP_ROWS(r, rows)
    {
        const float *xr = x + r * d;
        float s = 0, v = 0;
        for (int64_t j = lane; j < d; j += 32)
            s += xr[j];
        float mu = rr_warp_sum(s) / d;
        for (int64_t j = lane; j < d; j += 32)
            v += (xr[j] - mu) * (xr[j] - mu);
        float rs = 1.0f / sqrtf(rr_warp_sum(v) / d + eps);
        if (lane == 0) {
            mean[r] = mu;
            rstd[r] = rs;
        }
        for (int64_t j = lane; j < d; j += 32) {
            int64_t k = channels ? r % channels : j;
            y[r * d + j] = (xr[j] - mu) * rs * (w ? w[k] : 1.0f) + (b ? b[k] : 0.0f);
        }
    }
}

extern "C" int rr_row_norm_fwd_cuda(const float *x, const float *w, const float *b, float *y, float *mean,
                                    float *rstd, int64_t rows, int64_t d, int64_t channels, float eps)
{
    row_norm_fwd<<<rr_blocks(rows * 32), RR_BLOCK, 0, rr_cuda_stream()>>>(x, w, b, y, mean, rstd, rows, d, channels, eps);
    RR_LAUNCHED();
    return 0;
}

/* dx = rstd · (g − mean(g) − x̂ · mean(g ⊙ x̂)) with g = dy ⊙ w, a warp per row. */
__global__ static void row_norm_bwd_dx(const float *x, const float *w, const float *mean, const float *rstd,
                                       const float *dy, float *dx, int64_t rows, int64_t d, int64_t channels)
{
    int lane = threadIdx.x & 31;
    RR_WARP_ROWS(r, rows)
    {
        const float *xr = x + r * d, *dyr = dy + r * d;
        float mu = mean[r], rs = rstd[r], sg = 0, sgx = 0;
        for (int64_t j = lane; j < d; j += 32) {
            float g = dyr[j] * (w ? w[channels ? r % channels : j] : 1.0f);
            sg += g;
            sgx += g * (xr[j] - mu) * rs;
        }
        float mg = rr_warp_sum(sg) / d, mgx = rr_warp_sum(sgx) / d;
        for (int64_t j = lane; j < d; j += 32) {
            float g = dyr[j] * (w ? w[channels ? r % channels : j] : 1.0f);
            dx[r * d + j] += rs * (g - mg - (xr[j] - mu) * rs * mgx);
        }
    }
}

/* dw = Σ dy ⊙ x̂, db = Σ dy: block k sums the elements weight k scales, a
 * column over all rows (channels == 0) or every row of channel k. */
__global__ static void row_norm_bwd_dw(const float *x, const float *mean, const float *rstd, const float *dy,
                                       float *dw, float *db, int64_t rows, int64_t d, int64_t channels)
{
    int64_t k = blockIdx.x, cnt = channels ? rows / channels * d : rows;
    float sw = 0, sb = 0;
    for (int64_t t = threadIdx.x; t < cnt; t += RR_BLOCK) {
        int64_t r = channels ? t / d * channels + k : t, i = r * d + (channels ? t % d : k);
        sw += dy[i] * (x[i] - mean[r]) * rstd[r];
        sb += dy[i];
    }
    sw = rr_block_sum(sw);
    sb = rr_block_sum(sb);
    if (threadIdx.x == 0) {
        if (dw)
            dw[k] += sw;
        if (db)
            db[k] += sb;
    }
}

extern "C" int rr_row_norm_bwd_cuda(const float *x, const float *w, const float *mean, const float *rstd,
                                    const float *dy, float *dx, float *dw, float *db, int64_t rows, int64_t d,
                                    int64_t channels)
{
    if (dx) {
        row_norm_bwd_dx<<<rr_blocks(rows * 32), RR_BLOCK, 0, rr_cuda_stream()>>>(x, w, mean, rstd, dy, dx, rows, d,
                                                                          channels);
        RR_LAUNCHED();
    }
    int64_t nw = channels ? channels : d;
    if ((dw || db) && nw > 0) {
        row_norm_bwd_dw<<<(unsigned)nw, RR_BLOCK, 0, rr_cuda_stream()>>>(x, mean, rstd, dy, dw, db, rows, d, channels);
        RR_LAUNCHED();
    }
    return 0;
}

/* --- batch norm: block k handles channel k of x as (n, ch, inner) ------------- */

__device__ static inline int64_t bn_index(int64_t t, int64_t k, int64_t ch, int64_t inner)
{
    return (t / inner * ch + k) * inner + t % inner;
}

__global__ static void batch_norm_fwd(const float *x, const float *w, const float *b, float *y, float *mean,
                                      float *rstd, float *running_mean, float *running_var, int64_t n, int64_t ch,
                                      int64_t inner, int training, float momentum, float eps)
{
    int64_t k = blockIdx.x, m = n * inner;
    float mu, rs;
    if (training) {
        float s = 0, v = 0;
        for (int64_t t = threadIdx.x; t < m; t += RR_BLOCK)
            s += x[bn_index(t, k, ch, inner)];
        mu = rr_block_sum(s) / m;
        for (int64_t t = threadIdx.x; t < m; t += RR_BLOCK) {
            float e = x[bn_index(t, k, ch, inner)] - mu;
            v += e * e;
        }
        float var = rr_block_sum(v) / m;
        rs = 1.0f / sqrtf(var + eps);
        if (threadIdx.x == 0 && running_mean) {
            running_mean[k] = (1 - momentum) * running_mean[k] + momentum * mu;
            running_var[k] = (1 - momentum) * running_var[k] + momentum * (var * m / (m - 1));
        }
    } else {
        mu = running_mean[k];
        rs = 1.0f / sqrtf(running_var[k] + eps);
    }
    if (threadIdx.x == 0) {
        mean[k] = mu;
        rstd[k] = rs;
    }
    float sc = rs * (w ? w[k] : 1.0f), sf = b ? b[k] : 0.0f;
    for (int64_t t = threadIdx.x; t < m; t += RR_BLOCK) {
        int64_t i = bn_index(t, k, ch, inner);
        y[i] = (x[i] - mu) * sc + sf;
    }
}

extern "C" int rr_batch_norm_fwd_cuda(const float *x, const float *w, const float *b, float *y, float *mean,
                                      float *rstd, float *running_mean, float *running_var, int64_t n, int64_t ch,
                                      int64_t inner, int training, float momentum, float eps)
{
    batch_norm_fwd<<<(unsigned)ch, RR_BLOCK, 0, rr_cuda_stream()>>>(x, w, b, y, mean, rstd, running_mean, running_var, n,
                                                              ch, inner, training, momentum, eps);
    RR_LAUNCHED();
    return 0;
}

__global__ static void batch_norm_bwd(const float *x, const float *w, const float *mean, const float *rstd,
                                      const float *dy, float *dx, float *dw, float *db, int64_t n, int64_t ch,
                                      int64_t inner, int training)
{
    int64_t k = blockIdx.x, m = n * inner;
    float mu = mean[k], rs = rstd[k], sb = 0, sw = 0; /* Σ dy, Σ dy ⊙ x̂ */
    for (int64_t t = threadIdx.x; t < m; t += RR_BLOCK) {
        int64_t i = bn_index(t, k, ch, inner);
        sb += dy[i];
        sw += dy[i] * (x[i] - mu) * rs;
    }
    sb = rr_block_sum(sb);
    sw = rr_block_sum(sw);
    if (threadIdx.x == 0) {
        if (dw)
            dw[k] += sw;
        if (db)
            db[k] += sb;
    }
    if (!dx)
        return;
    float sc = rs * (w ? w[k] : 1.0f), mb = training ? sb / m : 0.0f, mw = training ? sw / m : 0.0f;
    for (int64_t t = threadIdx.x; t < m; t += RR_BLOCK) {
        int64_t i = bn_index(t, k, ch, inner);
        dx[i] += sc * (dy[i] - mb - (x[i] - mu) * rs * mw);
    }
}

extern "C" int rr_batch_norm_bwd_cuda(const float *x, const float *w, const float *mean, const float *rstd,
                                      const float *dy, float *dx, float *dw, float *db, int64_t n, int64_t ch,
                                      int64_t inner, int training)
{
    batch_norm_bwd<<<(unsigned)ch, RR_BLOCK, 0, rr_cuda_stream()>>>(x, w, mean, rstd, dy, dx, dw, db, n, ch, inner,
                                                              training);
    RR_LAUNCHED();
    return 0;
}
