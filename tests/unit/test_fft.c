/* fft2, ifft2, rfft2, irfft2, real_to_complex, complex_abs, complex_angle. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

/* Batch 3, 7 channels, odd and even planes (odd H, odd/even W). */
static const int64_t planes[][2] = {{15, 15}, {15, 12}, {9, 16}};
static const rr_fft_norm norms[] = {RR_FFT_BACKWARD, RR_FFT_ORTHO, RR_FFT_FORWARD};
#define NPLANES 21 /* 3 x 7 */

/* torch.fft's scale for n = H*W points, written out per norm. */
static double scale_of(rr_fft_norm norm, int inverse, double n)
{
    switch (norm) {
    case RR_FFT_BACKWARD: return inverse ? 1 / n : 1;
    case RR_FFT_ORTHO: return 1 / sqrt(n);
    default: return inverse ? 1 : 1 / n;
    }
}

/* out = s * sum_{k1,k2} in[k1,k2] e^{sign 2 pi i (k1 n1 / h + k2 n2 / w)}, per
 * complex h x w plane, in double, straight from the definition. */
static void naive_dft2(const double *in, double *out, int64_t np, int64_t h, int64_t w, int sign, double s)
{
    for (int64_t p = 0; p < np; p++) {
        const double *a = in + 2 * p * h * w;
        double *b = out + 2 * p * h * w;
        for (int64_t n1 = 0; n1 < h; n1++)
            for (int64_t n2 = 0; n2 < w; n2++) {
                double re = 0, im = 0;
                for (int64_t k1 = 0; k1 < h; k1++)
                    for (int64_t k2 = 0; k2 < w; k2++) {
                        double t = sign * 2 * M_PI *
                                   ((double)(k1 * n1 % h) / h + (double)(k2 * n2 % w) / w);
                        double xr = a[2 * (k1 * w + k2)], xi = a[2 * (k1 * w + k2) + 1];
                        re += xr * cos(t) - xi * sin(t);
                        im += xr * sin(t) + xi * cos(t);
                    }
                b[2 * (n1 * w + n2)] = s * re;
                b[2 * (n1 * w + n2) + 1] = s * im;
            }
    }
}

static double *to_double(const rr_tensor *t)
{
    double *d = malloc((size_t)t->numel * sizeof *d);
    for (int64_t i = 0; i < t->numel; i++)
        d[i] = rr_f32(t)[i];
    return d;
}

/* A real tensor as complex doubles with zero imaginary parts. */
static double *real_as_complex(const rr_tensor *t)
{
    double *d = calloc((size_t)(2 * t->numel), sizeof *d);
    for (int64_t i = 0; i < t->numel; i++)
        d[2 * i] = rr_f32(t)[i];
    return d;
}

typedef struct {
    rr_fft_norm norm;
    int64_t w;
} fft_arg;

static rr_tensor *apply_fft2(rr_ctx *c, rr_tensor *const *in, const void *arg)
{
    return rr_fft2(c, in[0], ((const fft_arg *)arg)->norm);
}
static rr_tensor *apply_ifft2(rr_ctx *c, rr_tensor *const *in, const void *arg)
{
    return rr_ifft2(c, in[0], ((const fft_arg *)arg)->norm);
}
static rr_tensor *apply_rfft2(rr_ctx *c, rr_tensor *const *in, const void *arg)
{
    return rr_rfft2(c, in[0], ((const fft_arg *)arg)->norm);
}
static rr_tensor *apply_irfft2(rr_ctx *c, rr_tensor *const *in, const void *arg)
{
    const fft_arg *a = arg;
    return rr_irfft2(c, in[0], a->w, a->norm);
}

TEST(fft2_ifft2_against_naive_dft)
{
    rr_ctx *c = test_ctx();
    for (int p = 0; p < 3; p++) {
        int64_t h = planes[p][0], w = planes[p][1];
        rr_tensor *x = test_randn(c, 10 + p, RR_SHAPE(3, 7, h, w, 2));
        double *xd = to_double(x), *want = malloc((size_t)x->numel * sizeof *want);
        for (int k = 0; k < 3; k++)
            for (int inverse = 0; inverse < 2; inverse++) {
                rr_tensor *y = (inverse ? rr_ifft2 : rr_fft2)(c, x, norms[k]);
                naive_dft2(xd, want, NPLANES, h, w, inverse ? 1 : -1, scale_of(norms[k], inverse, h * w));
                check_forward(inverse ? "ifft2" : "fft2", y, want, 1e-5);
            }
        free(xd);
        free(want);
        /* Gradients: each plane shape with one of the norms. */
        x->requires_grad = 1;
        fft_arg a = {norms[p], w};
        check_gradient("fft2", apply_fft2, &a, 1, &x, 1e-2);
        check_gradient("ifft2", apply_ifft2, &a, 1, &x, 1e-2);
    }
}

TEST(fft2_round_trip)
{
    rr_ctx *c = test_ctx();
    for (int p = 0; p < 3; p++) {
        rr_tensor *x = test_randn(c, 20 + p, RR_SHAPE(3, 7, planes[p][0], planes[p][1], 2));
        double *xd = to_double(x);
        for (int k = 0; k < 3; k++) {
            rr_tensor *y = rr_ifft2(c, rr_fft2(c, x, norms[k]), norms[k]);
            CHECK_NOTNULL(y);
            double e = y ? rel_error(rr_f32(y), xd, x->numel) : 1;
            CHECK(e < 1e-6, "ifft2(fft2(x)) norm %d: relative error %.3g", k, e);
        }
        free(xd);
    }
}

TEST(rfft2_against_naive_dft)
{
    rr_ctx *c = test_ctx();
    for (int p = 0; p < 3; p++) {
        int64_t h = planes[p][0], w = planes[p][1], wc = w / 2 + 1;
        rr_tensor *x = test_randn(c, 30 + p, RR_SHAPE(3, 7, h, w));
        double *xd = real_as_complex(x), *full = malloc((size_t)(2 * x->numel) * sizeof *full);
        double *want = malloc((size_t)(NPLANES * h * wc * 2) * sizeof *want);
        for (int k = 0; k < 3; k++) {
            rr_tensor *y = rr_rfft2(c, x, norms[k]);
            CHECK(y && y->ndim == 5 && y->shape[3] == wc && y->shape[4] == 2, "rfft2 shape");
            /* The first W/2+1 columns of the full spectrum. */
            naive_dft2(xd, full, NPLANES, h, w, -1, scale_of(norms[k], 0, h * w));
            for (int64_t r = 0; r < NPLANES * h; r++)
                for (int64_t j = 0; j < 2 * wc; j++)
                    want[r * 2 * wc + j] = full[r * 2 * w + j];
            check_forward("rfft2", y, want, 1e-5);
        }
        free(xd);
        free(full);
        free(want);
        x->requires_grad = 1;
        fft_arg a = {norms[p], w};
        check_gradient("rfft2", apply_rfft2, &a, 1, &x, 1e-2);
    }
}

/* torch.fft.irfft2 (pocketfft): the inverse c2c over H, then per row the c2r
 * over W, which drops the imaginary parts of the DC and (even W) Nyquist
 * columns and fills the other half by conjugate symmetry. */
static void naive_irfft2(const double *x, double *y, int64_t h, int64_t w, double s)
{
    int64_t wc = w / 2 + 1;
    double *g = malloc((size_t)(2 * h * wc) * sizeof *g);
    double *full = malloc((size_t)(2 * h * w) * sizeof *full), *out = malloc((size_t)(2 * h * w) * sizeof *out);
    for (int64_t p = 0; p < NPLANES; p++) {
        const double *a = x + 2 * p * h * wc;
        for (int64_t n1 = 0; n1 < h; n1++)
            for (int64_t k2 = 0; k2 < wc; k2++) {
                double re = 0, im = 0;
                for (int64_t k1 = 0; k1 < h; k1++) {
                    double t = 2 * M_PI * (double)(k1 * n1 % h) / h;
                    double xr = a[2 * (k1 * wc + k2)], xi = a[2 * (k1 * wc + k2) + 1];
                    re += xr * cos(t) - xi * sin(t);
                    im += xr * sin(t) + xi * cos(t);
                }
                g[2 * (n1 * wc + k2)] = re;
                g[2 * (n1 * wc + k2) + 1] = im;
            }
        for (int64_t n1 = 0; n1 < h; n1++)
            for (int64_t k = 0; k < w; k++) {
                int64_t src = k < wc ? k : w - k; /* mirror for the other half */
                double re = g[2 * (n1 * wc + src)], im = g[2 * (n1 * wc + src) + 1];
                if (k == 0 || 2 * k == w)
                    im = 0;
                full[2 * (n1 * w + k)] = re;
                full[2 * (n1 * w + k) + 1] = k < wc ? im : -im;
            }
        /* A 1-D inverse DFT along W of each row (as an h=1 2-D one). */
        naive_dft2(full, out, h, 1, w, 1, 1);
        for (int64_t i = 0; i < h * w; i++)
            y[p * h * w + i] = s * out[2 * i];
    }
    free(g);
    free(full);
    free(out);
}

TEST(irfft2_against_naive)
{
    rr_ctx *c = test_ctx();
    for (int p = 0; p < 3; p++) {
        int64_t h = planes[p][0], w = planes[p][1], wc = w / 2 + 1;
        /* Not Hermitian: the DC and Nyquist columns have imaginary parts. */
        rr_tensor *x = test_randn(c, 40 + p, RR_SHAPE(3, 7, h, wc, 2));
        double *xd = to_double(x), *want = malloc((size_t)(NPLANES * h * w) * sizeof *want);
        for (int k = 0; k < 3; k++) {
            rr_tensor *y = rr_irfft2(c, x, w, norms[k]);
            CHECK(y && y->ndim == 4 && y->shape[2] == h && y->shape[3] == w, "irfft2 shape");
            naive_irfft2(xd, want, h, w, scale_of(norms[k], 1, h * w));
            check_forward("irfft2", y, want, 1e-5);
        }
        free(xd);
        free(want);
        x->requires_grad = 1;
        fft_arg a = {norms[p], w};
        check_gradient("irfft2", apply_irfft2, &a, 1, &x, 1e-2);
    }
}

TEST(rfft2_round_trip)
{
    rr_ctx *c = test_ctx();
    for (int p = 0; p < 3; p++) {
        rr_tensor *x = test_randn(c, 50 + p, RR_SHAPE(3, 7, planes[p][0], planes[p][1]));
        float *xf = rr_f32(x);
        for (int k = 0; k < 3; k++) {
            rr_tensor *y = rr_irfft2(c, rr_rfft2(c, x, norms[k]), planes[p][1], norms[k]);
            CHECK_NOTNULL(y);
            double e = y ? rel_error_f(rr_f32(y), xf, x->numel) : 1;
            CHECK(e < 1e-6, "irfft2(rfft2(x)) norm %d: relative error %.3g", k, e);
        }
    }
}

static rr_tensor *apply_real_to_complex(rr_ctx *c, rr_tensor *const *in, const void *arg)
{
    return rr_real_to_complex(c, in[0]);
}

/* PSR's spectrum (doc/network.md, PSR): FFT2 of a real X, ortho, through real_to_complex. */
TEST(real_to_complex_and_psr_spectrum)
{
    rr_ctx *c = test_ctx();
    rr_tensor *x = test_randn(c, 60, RR_SHAPE(3, 7, 15, 15));
    rr_tensor *z = rr_real_to_complex(c, x);
    double *want = real_as_complex(x);
    check_forward("real_to_complex", z, want, 0);
    double *spec = malloc((size_t)(2 * x->numel) * sizeof *spec);
    naive_dft2(want, spec, NPLANES, 15, 15, -1, 1 / 15.0);
    check_forward("fft2", rr_fft2(c, z, RR_FFT_ORTHO), spec, 1e-5);
    free(want);
    free(spec);
    x->requires_grad = 1;
    check_gradient("real_to_complex", apply_real_to_complex, NULL, 1, &x, 1e-2);
}

static rr_tensor *apply_abs(rr_ctx *c, rr_tensor *const *in, const void *arg) { return rr_complex_abs(c, in[0]); }
static rr_tensor *apply_angle(rr_ctx *c, rr_tensor *const *in, const void *arg)
{
    return rr_complex_angle(c, in[0]);
}

TEST(complex_abs_and_angle)
{
    rr_ctx *c = test_ctx();
    /* |z| in [0.5, 2] and phases away from the branch cut at +-pi, so that
     * the finite differences stay on one side of it. */
    rr_tensor *mag = test_uniform(c, 70, 0.5f, 2.0f, RR_SHAPE(3, 7, 15, 15));
    rr_tensor *ph = test_uniform(c, 71, -2.8f, 2.8f, RR_SHAPE(3, 7, 15, 15));
    rr_tensor *z = rr_new(c, RR_F32, RR_SHAPE(3, 7, 15, 15, 2));
    double *wabs = malloc((size_t)mag->numel * sizeof *wabs), *wang = malloc((size_t)mag->numel * sizeof *wang);
    for (int64_t i = 0; i < mag->numel; i++) {
        float re = rr_f32(mag)[i] * cosf(rr_f32(ph)[i]), im = rr_f32(mag)[i] * sinf(rr_f32(ph)[i]);
        rr_f32(z)[2 * i] = re;
        rr_f32(z)[2 * i + 1] = im;
        wabs[i] = sqrt((double)re * re + (double)im * im);
        wang[i] = atan2((double)im, (double)re);
    }
    check_forward("complex_abs", rr_complex_abs(c, z), wabs, 1e-6);
    check_forward("complex_angle", rr_complex_angle(c, z), wang, 1e-6);
    free(wabs);
    free(wang);
    z->requires_grad = 1;
    check_gradient("complex_abs", apply_abs, NULL, 1, &z, 1e-2);
    check_gradient("complex_angle", apply_angle, NULL, 1, &z, 1e-2);
}

/* torch's convention at z = 0: both gradients are 0, not NaN. */
TEST(complex_abs_angle_gradient_at_zero)
{
    rr_ctx *c = test_ctx();
    rr_ctx_grad(c, 1);
    rr_tensor *z = rr_zeros(c, RR_F32, RR_SHAPE(3, 2));
    z->requires_grad = 1;
    rr_tensor *dy = rr_from_host(c, RR_F32, RR_SHAPE(3), (float[]){1, -2, 3});
    for (int angle = 0; angle < 2; angle++) {
        z->grad = NULL;
        rr_tensor *y = angle ? rr_complex_angle(c, z) : rr_complex_abs(c, z);
        CHECK_NOTNULL(y);
        if (!y)
            continue;
        CHECK(rr_f32(y)[0] == 0, "value at 0: %g", rr_f32(y)[0]);
        CHECK_OK(rr_backward_from(c, y, dy));
        for (int i = 0; i < 6 && z->grad; i++)
            CHECK(rr_f32(z->grad)[i] == 0, "%s gradient at 0: %g", angle ? "angle" : "abs", rr_f32(z->grad)[i]);
    }
}

TEST(fft_rejects_bad_inputs)
{
    rr_ctx *c = test_ctx();
    rr_tensor *notc = rr_zeros(c, RR_F32, RR_SHAPE(3, 7, 15, 15, 3));
    CHECK(rr_fft2(c, notc, RR_FFT_ORTHO) == NULL, "fft2 of a trailing dim 3 must fail");
    CHECK(strstr(rr_errmsg(), "fft2: expected a complex tensor") != NULL, "message: %s", rr_errmsg());
    rr_tensor *half = rr_zeros(c, RR_F32, RR_SHAPE(3, 7, 15, 8, 2));
    CHECK(rr_irfft2(c, half, 16, RR_FFT_BACKWARD) == NULL, "irfft2 to width 16 from 8 columns must fail");
    CHECK(strstr(rr_errmsg(), "irfft2: an output width of 16 needs an input width of 9") != NULL,
          "message: %s", rr_errmsg());
    rr_tensor *five = rr_zeros(c, RR_F32, RR_SHAPE(2, 3, 7, 15, 15));
    CHECK(rr_rfft2(c, five, RR_FFT_BACKWARD) == NULL, "rfft2 of 5 dims must fail");
    CHECK(strstr(rr_errmsg(), "rfft2: 5 dimensions") != NULL, "message: %s", rr_errmsg());
    CHECK(rr_complex_abs(c, notc) == NULL, "abs of a trailing dim 3 must fail");
    CHECK(strstr(rr_errmsg(), "complex_abs: expected a complex tensor") != NULL, "message: %s", rr_errmsg());
}

/* Data that is not 16-byte aligned (a wrapped buffer) gets a plan of its own
 * (FFTW_UNALIGNED) and the same result. */
TEST(fft2_unaligned_data)
{
    rr_ctx *c = test_ctx();
    rr_tensor *x = test_randn(c, 80, RR_SHAPE(3, 7, 9, 16, 2));
    rr_tensor *buf = rr_new(c, RR_F32, RR_SHAPE(x->numel + 1));
    memcpy(rr_f32(buf) + 1, rr_f32(x), (size_t)x->numel * sizeof(float));
    rr_tensor *xu = rr_tensor_wrap(&c->meta, RR_CPU, RR_F32, x->ndim, x->shape, rr_f32(buf) + 1);
    rr_tensor *want = rr_fft2(c, x, RR_FFT_ORTHO), *got = rr_fft2(c, xu, RR_FFT_ORTHO);
    CHECK(want && got, "fft2: %s", rr_errmsg());
    if (want && got)
        CHECK(rel_error_f(rr_f32(got), rr_f32(want), want->numel) < 1e-6, "unaligned differs");
}
