#include "fft.h"

#include <fftw3.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>

#include "../tape.h"
#include "binary.h"
#include "check.h"

/* ---- FFTW plans ----
 *
 * One plan per (kind, batch, H, W, alignment), made with FFTW_ESTIMATE (which
 * neither measures nor touches the arrays) on the first call's arrays and
 * reused through the new-array execute functions.  FFTW's planner is not
 * thread-safe, so lookups and creation hold a mutex; fftwf_execute_* is
 * thread-safe.  Plans live until the process exits (a network has a handful
 * of shapes).  Every transform is out of place. */

typedef enum { PLAN_C2C_FWD, PLAN_C2C_INV, PLAN_R2C } plan_kind;

typedef struct plan_entry {
    plan_kind kind;
    int batch, h, w, unaligned;
    fftwf_plan plan;
    struct plan_entry *next;
} plan_entry;

static plan_entry *plans;
static pthread_mutex_t plans_lock = PTHREAD_MUTEX_INITIALIZER;

static fftwf_plan make_plan(plan_kind kind, int batch, int h, int w, int unaligned, float *x, float *y)
{
    int n[2] = {h, w};
    unsigned flags = FFTW_ESTIMATE | (unaligned ? FFTW_UNALIGNED : 0);
    if (kind == PLAN_R2C)
        return fftwf_plan_many_dft_r2c(2, n, batch, x, NULL, 1, h * w, (fftwf_complex *)y, NULL, 1,
                                       h * (w / 2 + 1), flags);
    return fftwf_plan_many_dft(2, n, batch, (fftwf_complex *)x, NULL, 1, h * w, (fftwf_complex *)y,
                               NULL, 1, h * w, kind == PLAN_C2C_FWD ? FFTW_FORWARD : FFTW_BACKWARD,
                               flags);
}

/* The plan for these arrays, or NULL with a message. */
static fftwf_plan get_plan(plan_kind kind, int64_t batch, int64_t h, int64_t w, const float *x, float *y)
{
    if (batch > INT_MAX || h * w > INT_MAX / 2) {
        rr_error("fft: %lld planes of %lldx%lld are too many for FFTW's int sizes", (long long)batch,
                 (long long)h, (long long)w);
        return NULL;
    }
    /* A plan made for aligned arrays may use SIMD loads that need them. */
    int unaligned = fftwf_alignment_of((float *)x) != 0 || fftwf_alignment_of(y) != 0;
    pthread_mutex_lock(&plans_lock);
    plan_entry *e = plans;
    while (e && !(e->kind == kind && e->batch == batch && e->h == h && e->w == w &&
                  e->unaligned == unaligned))
        e = e->next;
    if (!e && (e = malloc(sizeof *e)) != NULL) {
        *e = (plan_entry){kind, (int)batch, (int)h, (int)w, unaligned, NULL, plans};
        e->plan = make_plan(kind, (int)batch, (int)h, (int)w, unaligned, (float *)x, y);
        if (e->plan)
            plans = e;
        else {
            free(e);
            e = NULL;
        }
    }
    pthread_mutex_unlock(&plans_lock);
    if (!e) {
        rr_error("fft: no FFTW plan for %lld planes of %lldx%lld", (long long)batch, (long long)h,
                 (long long)w);
        return NULL;
    }
    return e->plan;
}

/* ---- CPU kernels ---- */

int rr_fft_c2c_cpu(const float *x, float *y, int64_t batch, int64_t h, int64_t w, int inverse)
{
    if (batch == 0)
        return 0;
    fftwf_plan p = get_plan(inverse ? PLAN_C2C_INV : PLAN_C2C_FWD, batch, h, w, x, y);
    if (!p)
        return -1;
    fftwf_execute_dft(p, (fftwf_complex *)x, (fftwf_complex *)y); /* out of place: x is kept */
    return 0;
}

int rr_fft_r2c_cpu(const float *x, float *y, int64_t batch, int64_t h, int64_t w)
{
    if (batch == 0)
        return 0;
    fftwf_plan p = get_plan(PLAN_R2C, batch, h, w, x, y);
    if (!p)
        return -1;
    fftwf_execute_dft_r2c(p, (float *)x, (fftwf_complex *)y); /* r2c out of place keeps x */
    return 0;
}

int rr_fft_half_pad_cpu(const float *half, float *full, int64_t rows, int64_t w, int weighted)
{
    int64_t wc = w / 2 + 1;
#pragma omp parallel for if (rows * w > 32768)
    for (int64_t r = 0; r < rows; r++)
        for (int64_t k = 0; k < w; k++) {
            float s = k >= wc ? 0.0f : weighted ? rr_fft_half_weight(k, w) : 1.0f;
            const float *a = &half[2 * (r * wc + (k < wc ? k : 0))];
            full[2 * (r * w + k)] = s * a[0];
            full[2 * (r * w + k) + 1] = s * a[1];
        }
    return 0;
}

int rr_fft_half_acc_cpu(const float *half, float *dst, int64_t rows, int64_t w, float s)
{
    int64_t wc = w / 2 + 1;
#pragma omp parallel for if (rows * wc > 32768)
    for (int64_t r = 0; r < rows; r++)
        for (int64_t k = 0; k < wc; k++) {
            float f = s * rr_fft_half_weight(k, w);
            dst[2 * (r * wc + k)] += f * half[2 * (r * wc + k)];
            dst[2 * (r * wc + k) + 1] += f * half[2 * (r * wc + k) + 1];
        }
    return 0;
}

int rr_complex_real_cpu(const float *z, float *x, int64_t n, float s, int accumulate)
{
#pragma omp parallel for if (n > 65536)
    for (int64_t i = 0; i < n; i++)
        x[i] = (accumulate ? x[i] : 0.0f) + s * z[2 * i];
    return 0;
}

int rr_real_complex_cpu(const float *x, float *z, int64_t n)
{
#pragma omp parallel for if (n > 65536)
    for (int64_t i = 0; i < n; i++) {
        z[2 * i] = x[i];
        z[2 * i + 1] = 0.0f;
    }
    return 0;
}

int rr_complex_abs_fwd_cpu(const float *z, float *y, int64_t n)
{
#pragma omp parallel for if (n > 65536)
    for (int64_t i = 0; i < n; i++)
        y[i] = hypotf(z[2 * i], z[2 * i + 1]);
    return 0;
}

int rr_complex_abs_bwd_cpu(const float *z, const float *dy, float *dz, int64_t n)
{
#pragma omp parallel for if (n > 65536)
    for (int64_t i = 0; i < n; i++) {
        float re = z[2 * i], im = z[2 * i + 1], r = hypotf(re, im);
        if (r > 0) {
            dz[2 * i] += dy[i] * re / r;
            dz[2 * i + 1] += dy[i] * im / r;
        }
    }
    return 0;
}

int rr_complex_angle_fwd_cpu(const float *z, float *y, int64_t n)
{
#pragma omp parallel for if (n > 65536)
    for (int64_t i = 0; i < n; i++)
        y[i] = atan2f(z[2 * i + 1], z[2 * i]);
    return 0;
}

int rr_complex_angle_bwd_cpu(const float *z, const float *dy, float *dz, int64_t n)
{
#pragma omp parallel for if (n > 65536)
    for (int64_t i = 0; i < n; i++) {
        float re = z[2 * i], im = z[2 * i + 1], r2 = re * re + im * im;
        if (r2 > 0) {
            dz[2 * i] -= dy[i] * im / r2;
            dz[2 * i + 1] += dy[i] * re / r2;
        }
    }
    return 0;
}

/* ---- ops ---- */

/* The scale of a transform in direction `inverse` under `norm` (fft.h). */
static float norm_scale(rr_fft_norm norm, int inverse, int64_t h, int64_t w)
{
    double n = (double)h * (double)w;
    if (norm == RR_FFT_ORTHO)
        return (float)(1.0 / sqrt(n));
    return (norm == RR_FFT_FORWARD) != inverse ? (float)(1.0 / n) : 1.0f;
}

static int check_norm(const char *op, rr_fft_norm norm)
{
    if (norm != RR_FFT_BACKWARD && norm != RR_FFT_ORTHO && norm != RR_FFT_FORWARD)
        return rr_error("%s: unknown norm %d", op, (int)norm);
    return 0;
}

/* x is F32 with at least min_ndim dims, (complex) a trailing dim of 2, and
 * (min_ndim >= 2) a non-empty H x W plane before it. */
static int check_input(const char *op, const rr_tensor *x, int min_ndim, int complex)
{
    char s[64];
    if (rr_check_f32(op, x))
        return -1;
    if (x->ndim < min_ndim)
        return rr_error("%s: expected at least %d dimensions, got %s", op, min_ndim,
                        rr_shape_str(x, s, sizeof s));
    if (complex && x->shape[x->ndim - 1] != 2)
        return rr_error("%s: expected a complex tensor (trailing dimension 2), got %s", op,
                        rr_shape_str(x, s, sizeof s));
    int w = x->ndim - 1 - complex;
    if (min_ndim >= 2 && (x->shape[w] < 1 || x->shape[w - 1] < 1))
        return rr_error("%s: empty spatial plane in %s", op, rr_shape_str(x, s, sizeof s));
    return 0;
}

/* The shape of x with one more dim of size 2 (a complex result); -1 when x
 * has no room for it. */
static int complex_shape(const char *op, const rr_tensor *x, int64_t *shape)
{
    if (x->ndim == RR_MAXDIM)
        return rr_error("%s: %d dimensions leave no room for the complex one", op, x->ndim);
    for (int i = 0; i < x->ndim; i++)
        shape[i] = x->shape[i];
    shape[x->ndim] = 2;
    return 0;
}

/* A scratch tensor of n floats in c (on c's device). */
static float *scratch(rr_ctx *c, int64_t n)
{
    rr_tensor *t = rr_new(c, RR_F32, 1, (int64_t[]){n});
    return t ? rr_f32(t) : NULL;
}

/* What the FFT ops' backward passes need: the planes and the forward scale. */
typedef struct {
    int64_t batch, h, w; /* w: the full (real-domain) width */
    float s;
    int inverse;
} fft_saved;

static rr_tensor *record(rr_ctx *c, const char *op, rr_backward_fn bw, rr_tensor *out, rr_tensor *x,
                         const fft_saved *saved)
{
    int err;
    rr_node *n = rr_tape_record(c, op, bw, out, 1, &x, sizeof *saved, &err);
    if (err)
        return NULL;
    if (n)
        *(fft_saved *)n->saved = *saved;
    return out;
}

/* Complex to complex: the adjoint of s * DFT is s * the unscaled DFT of the
 * other direction. */
static int c2c_backward(rr_ctx *c, rr_node *n)
{
    fft_saved *s = n->saved;
    rr_tensor *x = n->in[0], *gx = rr_grad_of(c, x);
    float *tmp = scratch(c, x->numel);
    if (!gx || !tmp ||
        RR_BACKEND(x->device, rr_fft_c2c, rr_f32(n->out->grad), tmp, s->batch, s->h, s->w, !s->inverse))
        return -1;
    return RR_BACKEND(x->device, rr_scale_f32, tmp, rr_f32(gx), x->numel, s->s, 1);
}

static rr_tensor *c2c(rr_ctx *c, const char *op, rr_tensor *x, rr_fft_norm norm, int inverse)
{
    if (check_input(op, x, 3, 1) || check_norm(op, norm))
        return NULL;
    fft_saved sv = {.h = x->shape[x->ndim - 3], .w = x->shape[x->ndim - 2], .inverse = inverse};
    sv.batch = x->numel / (2 * sv.h * sv.w);
    sv.s = norm_scale(norm, inverse, sv.h, sv.w);
    rr_tensor *out = rr_new_like(c, x);
    if (!out || RR_BACKEND(x->device, rr_fft_c2c, rr_f32(x), rr_f32(out), sv.batch, sv.h, sv.w, inverse))
        return NULL;
    if (sv.s != 1.0f && RR_BACKEND(x->device, rr_scale_f32, rr_f32(out), rr_f32(out), out->numel, sv.s, 0))
        return NULL;
    return record(c, op, c2c_backward, out, x, &sv);
}

rr_tensor *rr_fft2(rr_ctx *c, rr_tensor *x, rr_fft_norm norm) { return c2c(c, "fft2", x, norm, 0); }
rr_tensor *rr_ifft2(rr_ctx *c, rr_tensor *x, rr_fft_norm norm) { return c2c(c, "ifft2", x, norm, 1); }

/* rfft2 keeps the first W/2+1 columns of the full spectrum of a real x, so
 * its adjoint (torch's fft_r2c_backward) zero-pads the gradient to width W,
 * takes the inverse c2c and keeps the real part. */
static int rfft2_backward(rr_ctx *c, rr_node *n)
{
    fft_saved *s = n->saved;
    rr_tensor *x = n->in[0], *gx = rr_grad_of(c, x);
    float *full = scratch(c, 2 * x->numel), *spec = scratch(c, 2 * x->numel);
    if (!gx || !full || !spec ||
        RR_BACKEND(x->device, rr_fft_half_pad, rr_f32(n->out->grad), full, s->batch * s->h, s->w, 0) ||
        RR_BACKEND(x->device, rr_fft_c2c, full, spec, s->batch, s->h, s->w, 1))
        return -1;
    return RR_BACKEND(x->device, rr_complex_real, spec, rr_f32(gx), x->numel, s->s, 1);
}

rr_tensor *rr_rfft2(rr_ctx *c, rr_tensor *x, rr_fft_norm norm)
{
    const char *op = "rfft2";
    if (check_input(op, x, 2, 0) || check_norm(op, norm))
        return NULL;
    int64_t shape[RR_MAXDIM];
    if (complex_shape(op, x, shape))
        return NULL;
    fft_saved sv = {.h = x->shape[x->ndim - 2], .w = x->shape[x->ndim - 1]};
    sv.batch = x->numel / (sv.h * sv.w);
    sv.s = norm_scale(norm, 0, sv.h, sv.w);
    shape[x->ndim - 1] = sv.w / 2 + 1;
    rr_tensor *out = rr_new(c, RR_F32, x->ndim + 1, shape);
    if (!out || RR_BACKEND(x->device, rr_fft_r2c, rr_f32(x), rr_f32(out), sv.batch, sv.h, sv.w))
        return NULL;
    if (sv.s != 1.0f && RR_BACKEND(x->device, rr_scale_f32, rr_f32(out), rr_f32(out), out->numel, sv.s, 0))
        return NULL;
    return record(c, op, rfft2_backward, out, x, &sv);
}

/* irfft2 is s * Re(IDFT2(weighted zero-padded x)) (fft.h), so its adjoint
 * (torch's fft_c2r_backward) is the r2c of the gradient, times s and the
 * column weights. */
static int irfft2_backward(rr_ctx *c, rr_node *n)
{
    fft_saved *s = n->saved;
    rr_tensor *x = n->in[0], *gx = rr_grad_of(c, x);
    float *half = scratch(c, x->numel);
    if (!gx || !half ||
        RR_BACKEND(x->device, rr_fft_r2c, rr_f32(n->out->grad), half, s->batch, s->h, s->w))
        return -1;
    return RR_BACKEND(x->device, rr_fft_half_acc, half, rr_f32(gx), s->batch * s->h, s->w, s->s);
}

rr_tensor *rr_irfft2(rr_ctx *c, rr_tensor *x, int64_t out_w, rr_fft_norm norm)
{
    const char *op = "irfft2";
    if (check_input(op, x, 3, 1) || check_norm(op, norm))
        return NULL;
    if (out_w < 1 || x->shape[x->ndim - 2] != out_w / 2 + 1) {
        char s[64];
        rr_error("%s: an output width of %lld needs an input width of %lld, got %s", op,
                 (long long)out_w, (long long)(out_w / 2 + 1), rr_shape_str(x, s, sizeof s));
        return NULL;
    }
    int64_t shape[RR_MAXDIM];
    for (int i = 0; i < x->ndim - 1; i++)
        shape[i] = x->shape[i];
    shape[x->ndim - 2] = out_w;
    fft_saved sv = {.h = shape[x->ndim - 3], .w = out_w, .inverse = 1};
    sv.batch = x->numel / (2 * sv.h * (out_w / 2 + 1));
    sv.s = norm_scale(norm, 1, sv.h, sv.w);
    rr_tensor *out = rr_new(c, RR_F32, x->ndim - 1, shape);
    float *full = out ? scratch(c, 2 * out->numel) : NULL, *spec = full ? scratch(c, 2 * out->numel) : NULL;
    if (!spec ||
        RR_BACKEND(x->device, rr_fft_half_pad, rr_f32(x), full, sv.batch * sv.h, out_w, 1) ||
        RR_BACKEND(x->device, rr_fft_c2c, full, spec, sv.batch, sv.h, out_w, 1) ||
        RR_BACKEND(x->device, rr_complex_real, spec, rr_f32(out), out->numel, sv.s, 0))
        return NULL;
    return record(c, op, irfft2_backward, out, x, &sv);
}

static int real_to_complex_backward(rr_ctx *c, rr_node *n)
{
    rr_tensor *x = n->in[0], *gx = rr_grad_of(c, x);
    if (!gx)
        return -1;
    return RR_BACKEND(x->device, rr_complex_real, rr_f32(n->out->grad), rr_f32(gx), x->numel, 1.0f, 1);
}

rr_tensor *rr_real_to_complex(rr_ctx *c, rr_tensor *x)
{
    const char *op = "real_to_complex";
    if (check_input(op, x, 0, 0))
        return NULL;
    int64_t shape[RR_MAXDIM];
    if (complex_shape(op, x, shape))
        return NULL;
    rr_tensor *out = rr_new(c, RR_F32, x->ndim + 1, shape);
    if (!out || RR_BACKEND(x->device, rr_real_complex, rr_f32(x), rr_f32(out), x->numel))
        return NULL;
    int err;
    rr_tape_record(c, op, real_to_complex_backward, out, 1, &x, 0, &err);
    return err ? NULL : out;
}

/* |z| and angle(z): (..., 2) -> (...), elementwise. */
static rr_tensor *complex_part(rr_ctx *c, const char *op, rr_tensor *z, int angle, rr_backward_fn bw)
{
    if (check_input(op, z, 1, 1))
        return NULL;
    rr_tensor *out = rr_new(c, RR_F32, z->ndim - 1, z->shape);
    if (!out || (angle ? RR_BACKEND(z->device, rr_complex_angle_fwd, rr_f32(z), rr_f32(out), out->numel)
                       : RR_BACKEND(z->device, rr_complex_abs_fwd, rr_f32(z), rr_f32(out), out->numel)))
        return NULL;
    int err;
    rr_tape_record(c, op, bw, out, 1, &z, 0, &err);
    return err ? NULL : out;
}

static int abs_backward(rr_ctx *c, rr_node *n)
{
    rr_tensor *z = n->in[0], *gz = rr_grad_of(c, z);
    if (!gz)
        return -1;
    return RR_BACKEND(z->device, rr_complex_abs_bwd, rr_f32(z), rr_f32(n->out->grad), rr_f32(gz),
                      n->out->numel);
}

static int angle_backward(rr_ctx *c, rr_node *n)
{
    rr_tensor *z = n->in[0], *gz = rr_grad_of(c, z);
    if (!gz)
        return -1;
    return RR_BACKEND(z->device, rr_complex_angle_bwd, rr_f32(z), rr_f32(n->out->grad), rr_f32(gz),
                      n->out->numel);
}

rr_tensor *rr_complex_abs(rr_ctx *c, rr_tensor *z) { return complex_part(c, "complex_abs", z, 0, abs_backward); }

rr_tensor *rr_complex_angle(rr_ctx *c, rr_tensor *z)
{
    return complex_part(c, "complex_angle", z, 1, angle_backward);
}
