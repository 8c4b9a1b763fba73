/* The PSR's phase P = atan2(Im Z, Re Z) of Z = FFT2(x) (ortho), x real
 * (doc/network.md, PSR): at the self-conjugate bins (rows 0 and h/2 for even h,
 * columns 0 and w/2 for even w) Z is real in exact arithmetic and the FFT
 * leaves a rounding-level Im of either sign, so the IFIM takes Im = +0
 * there: P is exactly 0 (Re > 0) or pi (Re < 0), never -pi, and passes no
 * gradient.  Read from the IFIM's trace (tag "psr.P{s}"). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "nn/ifim.h"
#include "nn/trace.h"

#define C 8
#define DL 16
#define NL 5
#define B 2

/* x: B x (h w) x C whose image at pixel (i, j) of channel k is
 * -(1 + k/8) (1 + (-1)^i + (-1)^j + (-1)^(i+j) / 2) plus 0.1 of seeded
 * noise: each term puts a negative real part on one of the self-conjugate
 * bins (0,0), (h/2,0), (0,w/2) and (h/2,w/2) (h and w even). */
static rr_tensor *negative_bins_input(rr_ctx *c, int64_t h, int64_t w, uint64_t seed)
{
    rr_tensor *x = test_randn(c, seed, RR_SHAPE(B, h * w, C));
    float *v = rr_f32(x);
    for (int64_t b = 0; b < B; b++)
        for (int64_t i = 0; i < h; i++)
            for (int64_t j = 0; j < w; j++)
                for (int64_t k = 0; k < C; k++) {
                    float si = i % 2 ? -1.0f : 1.0f, sj = j % 2 ? -1.0f : 1.0f;
                    float a = 1.0f + 0.125f * (float)k;
                    v[(b * h * w + i * w + j) * C + k] =
                        0.1f * v[(b * h * w + i * w + j) * C + k] - a * (1.0f + si + sj + si * sj * 0.5f);
                }
    return x;
}

typedef struct {
    rr_params p;
    rr_ifim m;
} fixture;

static int setup(fixture *f)
{
    rr_config cfg;
    rr_config_default(&cfg);
    cfg.text.hidden_size = DL;
    rr_params_init(&f->p, RR_CPU, 7, 0);
    return rr_ifim_init(&f->p, &f->m, C, &cfg, "m");
}

/* The IFIM forward of x on an h x w grid, its trace in tr. */
static int ifim_trace(rr_ctx *c, const fixture *f, rr_tensor *x, int64_t h, int64_t w, rr_trace *tr)
{
    float ones[B * NL];
    for (int i = 0; i < B * NL; i++)
        ones[i] = 1.0f;
    rr_tensor *l = test_randn(c, 9, RR_SHAPE(B, DL, NL));
    rr_tensor *mask = rr_from_host(c, RR_F32, RR_SHAPE(B, NL, 1), ones);
    return rr_ifim_fwd(c, &f->m, x, h, w, l, mask, tr, "") ? 0 : -1;
}

static int selfconj(int64_t u, int64_t v, int64_t h, int64_t w)
{
    return (u == 0 || 2 * u == h) && (v == 0 || 2 * v == w);
}

/* Level 1 (x itself) against a naive double DFT: P exactly pi at the
 * self-conjugate bins with Re < 0 (all four here), exactly 0 at those with
 * Re > 0, atan2 elsewhere (mod 2 pi, |Z| times the difference within 1e-5
 * of the largest |Z|); and at levels 2 and 4
 * (pooled, odd and even sizes) every self-conjugate bin holds 0 or pi. */
static void check_phases(int64_t h, int64_t w)
{
    fixture f;
    CHECK_OK(setup(&f));
    rr_ctx *c = test_ctx();
    rr_trace *tr = calloc(1, sizeof *tr);
    rr_tensor *x = negative_bins_input(c, h, w, 31);
    CHECK_OK(ifim_trace(c, &f, x, h, w, tr));
    rr_tensor *p1 = rr_trace_get(tr, "psr.P1");
    CHECK_NOTNULL(p1);
    if (!p1) {
        free(tr);
        rr_params_free(&f.p);
        return;
    }
    CHECK(p1->ndim == 4 && p1->shape[0] == B && p1->shape[1] == C && p1->shape[2] == h && p1->shape[3] == w,
          "psr.P1 is not B x C x h x w");
    const float *xv = rr_f32(x), *pv = rr_f32(p1);
    int npi = 0;
    double worst = 0, zmax = 0;
    for (int64_t b = 0; b < B; b++)
        for (int64_t k = 0; k < C; k++)
            for (int64_t u = 0; u < h; u++)
                for (int64_t v = 0; v < w; v++) {
                    double re = 0, im = 0;
                    for (int64_t i = 0; i < h; i++)
                        for (int64_t j = 0; j < w; j++) {
                            double t = -2 * M_PI * ((double)(u * i % h) / h + (double)(v * j % w) / w);
                            double xi = xv[(b * h * w + i * w + j) * C + k];
                            re += xi * cos(t);
                            im += xi * sin(t);
                        }
                    float got = pv[((b * C + k) * h + u) * w + v];
                    if (selfconj(u, v, h, w)) {
                        float want = re < 0 ? (float)M_PI : 0.0f;
                        CHECK(memcmp(&got, &want, sizeof got) == 0,
                              "%lldx%lld: bin (%lld,%lld) of channel %lld: Re %.3g, P %.9g, not exactly %.9g",
                              (long long)h, (long long)w, (long long)u, (long long)v, (long long)k, re, got, want);
                        npi += re < 0;
                    } else {
                        /* float32 rounding moves Z by ~1e-7 of the largest
                         * |Z|: weigh the angle's error by |Z| */
                        double d = fabs(got - atan2(im, re));
                        d = fmin(d, 2 * M_PI - d) * hypot(re, im);
                        worst = fmax(worst, d);
                        zmax = fmax(zmax, hypot(re, im));
                    }
                }
    CHECK(worst < 1e-5 * zmax, "%lldx%lld: |Z| times P's distance to the naive DFT's phase %.2e of the largest |Z|",
          (long long)h, (long long)w, worst / zmax);
    int nsc = (h % 2 ? 1 : 2) * (w % 2 ? 1 : 2);
    CHECK(npi == B * C * nsc, "%lldx%lld: %d self-conjugate bins with Re < 0, wanted %d", (long long)h,
          (long long)w, npi, B * C * nsc);
    for (int s = 2; s <= 4; s *= 2) {
        char name[16];
        snprintf(name, sizeof name, "psr.P%d", s);
        rr_tensor *p = rr_trace_get(tr, name);
        CHECK_NOTNULL(p);
        if (!p)
            continue;
        int64_t hs = p->shape[2], ws = p->shape[3];
        for (int64_t i = 0; i < p->numel; i++) {
            float got = rr_f32(p)[i], pi = (float)M_PI, zero = 0.0f;
            if (selfconj(i / ws % hs, i % ws, hs, ws))
                CHECK(memcmp(&got, &pi, sizeof got) == 0 || memcmp(&got, &zero, sizeof got) == 0,
                      "%s (%lldx%lld): entry %lld is %.9g, not 0 or pi", name, (long long)hs, (long long)ws,
                      (long long)i, got);
        }
    }
    free(tr);
    rr_params_free(&f.p);
}

TEST(psr_phase_is_pi_at_negative_self_conjugate_bins)
{
    check_phases(30, 30); /* even: DC and three Nyquist bins, as stage 3 of mrsnet-b */
    check_phases(6, 10);
}

/* d P / d x through the self-conjugate bins is zero: P is constant there
 * (as long as Re keeps its sign), in the tape as in exact arithmetic. */
TEST(psr_phase_passes_no_gradient_at_self_conjugate_bins)
{
    fixture f;
    CHECK_OK(setup(&f));
    rr_ctx *c = test_ctx();
    int64_t h = 30, w = 30;
    rr_trace *tr = calloc(1, sizeof *tr);
    rr_tensor *x = negative_bins_input(c, h, w, 32);
    x->requires_grad = 1;
    rr_ctx_grad(c, 1);
    CHECK_OK(ifim_trace(c, &f, x, h, w, tr));
    rr_tensor *p1 = rr_trace_get(tr, "psr.P1");
    CHECK_NOTNULL(p1);
    if (p1) {
        float *dy = calloc((size_t)p1->numel, sizeof *dy);
        for (int64_t i = 0; i < p1->numel; i++)
            dy[i] = selfconj(i / w % h, i % w, h, w) ? 1.0f : 0.0f;
        rr_tensor *dout = rr_from_host(c, RR_F32, 4, p1->shape, dy);
        CHECK_OK(rr_backward_from(c, p1, dout));
        rr_tensor *g = x->grad;
        double most = 0;
        for (int64_t i = 0; g && i < g->numel; i++)
            most = fmax(most, fabs(rr_f32(g)[i]));
        CHECK(g && most == 0, "d P / d x through the self-conjugate bins: %.3g", most);
        free(dy);
    }
    rr_ctx_grad(c, 0);
    free(tr);
    rr_params_free(&f.p);
}
