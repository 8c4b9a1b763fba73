/* CUDA twins of fft.c: cuFFT C2C and R2C plans, and elementwise kernels.
 * irfft2 goes through C2C (fft.c), so cuFFT's C2R, which overwrites its
 * input, is never used; out-of-place C2C and R2C keep their inputs. */
#include <mutex>

#include "../cuda/common.cuh"

extern "C" {
#include "fft.h"
#include "fft_plans.h"
}

/* ---- cuFFT plans: a bounded table (fft_plans.h), one shared work area ----
 * A plan is bound to the library's stream and made without a work area of
 * its own (cufftSetAutoAllocation off): every plan uses work_area, which
 * grows to the largest plan's need.  That is safe because transforms run one
 * after the other on the one stream.  The mutex guards the table; ops run
 * from one thread, so a plan never executes twice at once. */

static void *work_area;
static std::mutex plans_lock;

/* Makes the shared work area at least `need` bytes and points every kept
 * plan at it.  The new area is allocated before the old is freed, so a
 * failure leaves the table as it was; transforms still queued may be using
 * the old one, so the stream is drained first. */
static int fit_work_area(rr_fft_plans *t, size_t need)
{
    if (need <= t->work)
        return 0;
    void *grown = NULL;
    RR_CUDA(cudaMalloc(&grown, need));
    cudaError_t e = cudaStreamSynchronize(rr_cuda_stream());
    if (e == cudaSuccess && work_area)
        e = cudaFree(work_area);
    if (e != cudaSuccess) {
        cudaFree(grown);
        return rr_error("fft: cannot replace the cuFFT work area: %s", cudaGetErrorString(e));
    }
    work_area = grown;
    t->work = need;
    t->allocs++;
    for (int i = 0; i < t->n; i++)
        RR_CUFFT(cufftSetWorkArea(t->handle[i], work_area));
    return 0;
}

/* Plans p (made by cufftCreate) for `batch` contiguous planes of n[0] x n[1]. */
static int make_plan(rr_fft_plans *t, cufftHandle p, cufftType type, int64_t batch, int *n)
{
    size_t need = 0;
    RR_CUFFT(cufftSetAutoAllocation(p, 0));
    /* NULL embeds: the contiguous layout, planes h*w (R2C out: h*(w/2+1)) apart. */
    RR_CUFFT(cufftMakePlanMany(p, 2, n, NULL, 1, 0, NULL, 1, 0, type, (int)batch, &need));
    RR_CUFFT(cufftSetStream(p, rr_cuda_stream()));
    if (fit_work_area(t, need))
        return -1;
    if (work_area)
        RR_CUFFT(cufftSetWorkArea(p, work_area));
    return 0;
}

static int get_plan(cufftType type, int64_t batch, int64_t h, int64_t w, cufftHandle *out)
{
    if (batch > INT32_MAX || h * w > INT32_MAX / 2)
        return rr_error("fft: %lld planes of %lldx%lld are too many for cuFFT's int sizes", (long long)batch,
                        (long long)h, (long long)w);
    std::lock_guard<std::mutex> lock(plans_lock);
    rr_fft_plans *t = rr_fft_plans_table();
    rr_fft_plan_key k = {(int)type, batch, h, w};
    int i = rr_fft_plans_find(t, &k);
    if (i >= 0) {
        *out = t->handle[i];
        return 0;
    }
    cufftHandle p;
    RR_CUFFT(cufftCreate(&p));
    int n[2] = {(int)h, (int)w};
    if (make_plan(t, p, type, batch, n)) {
        cufftDestroy(p);
        return -1;
    }
    int drop;
    int slot = rr_fft_plans_slot(t, &drop);
    rr_fft_plans_put(t, slot, &k, p);
    if (drop >= 0) { /* the dropped plan's queued transforms finish before its tables go */
        RR_CUDA(cudaStreamSynchronize(rr_cuda_stream()));
        RR_CUFFT(cufftDestroy(drop));
    }
    *out = p;
    return 0;
}

extern "C" int rr_fft_c2c_cuda(const float *x, float *y, int64_t batch, int64_t h, int64_t w, int inverse)
{
    if (batch == 0)
        return 0;
    cufftHandle p;
    if (get_plan(CUFFT_C2C, batch, h, w, &p))
        return -1;
    RR_CUFFT(cufftExecC2C(p, (cufftComplex *)x, (cufftComplex *)y, inverse ? CUFFT_INVERSE : CUFFT_FORWARD));
    return 0;
}

extern "C" int rr_fft_r2c_cuda(const float *x, float *y, int64_t batch, int64_t h, int64_t w)
{
    if (batch == 0)
        return 0;
    cufftHandle p;
    if (get_plan(CUFFT_R2C, batch, h, w, &p))
        return -1;
    RR_CUFFT(cufftExecR2C(p, (cufftReal *)x, (cufftComplex *)y));
    return 0;
}

/* ---- elementwise kernels: one thread per written element ---- */

__global__ static void half_pad(const float *half, float *full, int64_t rows, int64_t w, int weighted)
{
    int64_t wc = w / 2 + 1;
    RR_GRID_STRIDE(i, rows * w)
    {
        int64_t r = i / w, k = i % w;
        float s = k >= wc ? 0.0f : weighted ? rr_fft_half_weight(k, w) : 1.0f;
        const float *a = &half[2 * (r * wc + (k < wc ? k : 0))];
        full[2 * i] = s * a[0];
        full[2 * i + 1] = s * a[1];
    }
}

extern "C" int rr_fft_half_pad_cuda(const float *half, float *full, int64_t rows, int64_t w, int weighted)
{
    half_pad<<<rr_blocks(rows * w), 256, 0, rr_cuda_stream()>>>(half, full, rows, w, weighted);
    RR_LAUNCHED();
    return 0;
}

__global__ static void half_acc(const float *half, float *dst, int64_t rows, int64_t w, float s)
{
    int64_t wc = w / 2 + 1;
    RR_GRID_STRIDE(i, rows * wc)
    {
        float f = s * rr_fft_half_weight(i % wc, w);
        dst[2 * i] += f * half[2 * i];
        dst[2 * i + 1] += f * half[2 * i + 1];
    }
}

extern "C" int rr_fft_half_acc_cuda(const float *half, float *dst, int64_t rows, int64_t w, float s)
{
    half_acc<<<rr_blocks(rows * (w / 2 + 1)), 256, 0, rr_cuda_stream()>>>(half, dst, rows, w, s);
    RR_LAUNCHED();
    return 0;
}

__global__ static void complex_real(const float *z, float *x, int64_t n, float s, int accumulate)
{
    RR_GRID_STRIDE(i, n) x[i] = (accumulate ? x[i] : 0.0f) + s * z[2 * i];
}

extern "C" int rr_complex_real_cuda(const float *z, float *x, int64_t n, float s, int accumulate)
{
    complex_real<<<rr_blocks(n), 256, 0, rr_cuda_stream()>>>(z, x, n, s, accumulate);
    RR_LAUNCHED();
    return 0;
}

__global__ static void real_complex(const float *x, float *z, int64_t n)
{
    RR_GRID_STRIDE(i, n)
    {
        z[2 * i] = x[i];
        z[2 * i + 1] = 0.0f;
    }
}

extern "C" int rr_real_complex_cuda(const float *x, float *z, int64_t n)
{
    real_complex<<<rr_blocks(n), 256, 0, rr_cuda_stream()>>>(x, z, n);
    RR_LAUNCHED();
    return 0;
}

__global__ static void abs_fwd(const float *z, float *y, int64_t n)
{
    RR_GRID_STRIDE(i, n) y[i] = hypotf(z[2 * i], z[2 * i + 1]);
}

extern "C" int rr_complex_abs_fwd_cuda(const float *z, float *y, int64_t n)
{
    abs_fwd<<<rr_blocks(n), 256, 0, rr_cuda_stream()>>>(z, y, n);
    RR_LAUNCHED();
    return 0;
}

__global__ static void abs_bwd(const float *z, const float *dy, float *dz, int64_t n)
{
    RR_GRID_STRIDE(i, n)
    {
        float re = z[2 * i], im = z[2 * i + 1], r = hypotf(re, im);
        if (r > 0) {
            dz[2 * i] += dy[i] * re / r;
            dz[2 * i + 1] += dy[i] * im / r;
        }
    }
}

extern "C" int rr_complex_abs_bwd_cuda(const float *z, const float *dy, float *dz, int64_t n)
{
    abs_bwd<<<rr_blocks(n), 256, 0, rr_cuda_stream()>>>(z, dy, dz, n);
    RR_LAUNCHED();
    return 0;
}

__global__ static void angle_fwd(const float *z, float *y, int64_t n)
{
    RR_GRID_STRIDE(i, n) y[i] = atan2f(z[2 * i + 1], z[2 * i]);
}

extern "C" int rr_complex_angle_fwd_cuda(const float *z, float *y, int64_t n)
{
    angle_fwd<<<rr_blocks(n), 256, 0, rr_cuda_stream()>>>(z, y, n);
    RR_LAUNCHED();
    return 0;
}

__global__ static void angle_bwd(const float *z, const float *dy, float *dz, int64_t n)
{
    RR_GRID_STRIDE(i, n)
    {
        float re = z[2 * i], im = z[2 * i + 1], r2 = re * re + im * im;
        if (r2 > 0) {
            dz[2 * i] -= dy[i] * im / r2;
            dz[2 * i + 1] += dy[i] * re / r2;
        }
    }
}

extern "C" int rr_complex_angle_bwd_cuda(const float *z, const float *dy, float *dz, int64_t n)
{
    angle_bwd<<<rr_blocks(n), 256, 0, rr_cuda_stream()>>>(z, dy, dz, n);
    RR_LAUNCHED();
    return 0;
}
