/* CUDA twins of fft.c: cuFFT C2C and R2C plans, and elementwise kernels.
 * irfft2 goes through C2C (fft.c), so cuFFT's C2R, which overwrites its
 * input, is never used; out-of-place C2C and R2C keep their inputs. */
#include <mutex>

#include "../cuda/common.cuh"

extern "C" {
#include "fft.h"
}

/* ---- cuFFT plans: one per (type, batch, H, W), kept for the process ----
 * A plan owns a work area and is bound to the library's stream.  The mutex
 * guards the table; ops run from one thread, so a plan never executes twice
 * at once. */

struct plan_entry {
    cufftType type;
    int64_t batch, h, w;
    cufftHandle plan;
    plan_entry *next;
};

static plan_entry *plans;
static std::mutex plans_lock;

static int get_plan(cufftType type, int64_t batch, int64_t h, int64_t w, cufftHandle *out)
{
    if (batch > INT32_MAX || h * w > INT32_MAX / 2)
        return rr_error("fft: %lld planes of %lldx%lld are too many for cuFFT's int sizes", (long long)batch,
                        (long long)h, (long long)w);
    std::lock_guard<std::mutex> lock(plans_lock);
    for (plan_entry *e = plans; e; e = e->next)
        if (e->type == type && e->batch == batch && e->h == h && e->w == w) {
            *out = e->plan;
            return 0;
        }
    int n[2] = {(int)h, (int)w};
    cufftHandle p;
    /* NULL embeds: the contiguous layout, planes h*w (R2C out: h*(w/2+1)) apart. */
    RR_CUFFT(cufftPlanMany(&p, 2, n, NULL, 1, 0, NULL, 1, 0, type, (int)batch));
    cufftResult r = cufftSetStream(p, rr_cuda_stream());
    plan_entry *e = r == CUFFT_SUCCESS ? new (std::nothrow) plan_entry{type, batch, h, w, p, plans} : NULL;
    if (!e) {
        cufftDestroy(p);
        return rr_error("fft: cannot keep a cuFFT plan: %s", rr_cufft_result_str(r));
    }
    plans = e;
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
