/* A port of the semantics of Pillow's libImaging/Resample.c (8-bit path)
 * and of ImagingScaleAffine in libImaging/Geometry.c.  Every floating-point
 * expression keeps Pillow's operand order: the results must be the same to
 * the last bit (the build uses -std=c11, so gcc contracts no a*b+c into an
 * FMA). */
#include "resize_pil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../error.h"

/* Pillow's fixed point: 8 bits of result, 2 of headroom. */
#define PRECISION_BITS (32 - 8 - 2)

static double triangle(double x)
{
    if (x < 0.0)
        x = -x;
    return x < 1.0 ? 1.0 - x : 0.0;
}

/* One axis of the separable filter: for output pixel i, the inputs
 * bounds[2i] .. bounds[2i] + bounds[2i+1] - 1, with fixed-point weights
 * k[i * ksize ...]. */
typedef struct {
    int ksize;
    int *bounds;
    int32_t *k;
} axis_coeffs;

static void coeffs_free(axis_coeffs *a)
{
    free(a->bounds);
    free(a->k);
}

/* precompute_coeffs and normalize_coeffs_8bpc, for the box (0, in_size). */
static int coeffs_init(int in_size, int out_size, axis_coeffs *a)
{
    double scale = (double)in_size / out_size;
    double filterscale = scale < 1.0 ? 1.0 : scale;
    double support = 1.0 * filterscale; /* the triangle's support is 1 */
    int ksize = (int)ceil(support) * 2 + 1;
    double *kk = malloc((size_t)out_size * (size_t)ksize * sizeof *kk);
    a->ksize = ksize;
    a->bounds = malloc((size_t)out_size * 2 * sizeof *a->bounds);
    a->k = malloc((size_t)out_size * (size_t)ksize * sizeof *a->k);
    if (!kk || !a->bounds || !a->k) {
        free(kk);
        coeffs_free(a);
        return rr_error("resize: out of memory");
    }
    double inv_filterscale = 1.0 / filterscale;
    for (int xx = 0; xx < out_size; xx++) {
        double center = (xx + 0.5) * scale;
        double ww = 0.0;
        int xmin = (int)(center - support + 0.5); /* truncation, as Pillow */
        if (xmin < 0)
            xmin = 0;
        int xmax = (int)(center + support + 0.5);
        if (xmax > in_size)
            xmax = in_size;
        xmax -= xmin;
        double *k = &kk[(size_t)xx * ksize];
        int x;
        for (x = 0; x < xmax; x++) {
            double w = triangle((x + xmin - center + 0.5) * inv_filterscale);
            k[x] = w;
            ww += w;
        }
        if (ww != 0.0)
            for (x = 0; x < xmax; x++)
                k[x] /= ww;
        for (; x < ksize; x++)
            k[x] = 0;
        a->bounds[xx * 2 + 0] = xmin;
        a->bounds[xx * 2 + 1] = xmax;
    }
    for (size_t i = 0; i < (size_t)out_size * (size_t)ksize; i++)
        a->k[i] = kk[i] < 0 ? (int32_t)(-0.5 + kk[i] * (1 << PRECISION_BITS))
                            : (int32_t)(0.5 + kk[i] * (1 << PRECISION_BITS));
    free(kk);
    return 0;
}

static uint8_t clip8(int32_t v)
{
    v >>= PRECISION_BITS; /* an arithmetic shift, as Pillow's table lookup */
    return v < 0 ? 0 : v > 255 ? 255 : (uint8_t)v;
}

/* Horizontal pass: rows y0 .. y0 + rows - 1 of `in` into `out`. */
static void pass_horizontal(const uint8_t *in, int in_w, int ch, int y0, int rows, uint8_t *out, int out_w,
                            const axis_coeffs *a)
{
#pragma omp parallel for schedule(static)
    for (int yy = 0; yy < rows; yy++) {
        const uint8_t *line = in + (size_t)(yy + y0) * in_w * ch;
        uint8_t *dst = out + (size_t)yy * out_w * ch;
        for (int xx = 0; xx < out_w; xx++) {
            int xmin = a->bounds[xx * 2], xmax = a->bounds[xx * 2 + 1];
            const int32_t *k = &a->k[(size_t)xx * a->ksize];
            for (int c = 0; c < ch; c++) {
                int32_t ss = 1 << (PRECISION_BITS - 1);
                for (int x = 0; x < xmax; x++)
                    ss += line[(size_t)(x + xmin) * ch + c] * k[x];
                dst[(size_t)xx * ch + c] = clip8(ss);
            }
        }
    }
}

/* Vertical pass; a's bounds index the rows of `in` (already shifted). */
static void pass_vertical(const uint8_t *in, int w, int ch, uint8_t *out, int out_h, const axis_coeffs *a)
{
    size_t stride = (size_t)w * ch;
#pragma omp parallel for schedule(static)
    for (int yy = 0; yy < out_h; yy++) {
        int ymin = a->bounds[yy * 2], ymax = a->bounds[yy * 2 + 1];
        const int32_t *k = &a->k[(size_t)yy * a->ksize];
        uint8_t *dst = out + (size_t)yy * stride;
        for (size_t i = 0; i < stride; i++) {
            int32_t ss = 1 << (PRECISION_BITS - 1);
            for (int y = 0; y < ymax; y++)
                ss += in[(size_t)(y + ymin) * stride + i] * k[y];
            dst[i] = clip8(ss);
        }
    }
}

static int check_args(const char *fn, const rr_image *in, int out_w, int out_h)
{
    if (!in->data || in->width < 1 || in->height < 1)
        return rr_error("%s: empty input image", fn);
    if (out_w < 1 || out_h < 1)
        return rr_error("%s: output size %dx%d must be positive", fn, out_w, out_h);
    return 0;
}

static int copy_image(const rr_image *in, rr_image *out)
{
    if (rr_image_alloc(out, in->width, in->height, in->channels))
        return -1;
    memcpy(out->data, in->data, (size_t)in->width * in->height * in->channels);
    return 0;
}

int rr_pil_resize_bilinear(const rr_image *in, int out_w, int out_h, rr_image *out)
{
    memset(out, 0, sizeof *out);
    if (check_args("resize bilinear", in, out_w, out_h))
        return -1;
    int ch = in->channels;
    int need_h = out_w != in->width, need_v = out_h != in->height;
    if (!need_h && !need_v)
        return copy_image(in, out);
    axis_coeffs vert, horiz;
    if (coeffs_init(in->height, out_h, &vert))
        return -1;
    if (rr_image_alloc(out, out_w, out_h, ch)) {
        coeffs_free(&vert);
        return -1;
    }
    if (!need_h) {
        pass_vertical(in->data, in->width, ch, out->data, out_h, &vert);
        coeffs_free(&vert);
        return 0;
    }
    /* Only the input rows that the vertical pass reads go through the
     * horizontal one. */
    int first = vert.bounds[0];
    int last = vert.bounds[out_h * 2 - 2] + vert.bounds[out_h * 2 - 1];
    uint8_t *tmp = malloc((size_t)out_w * (size_t)(last - first) * ch);
    if (!tmp || coeffs_init(in->width, out_w, &horiz)) {
        if (!tmp)
            rr_error("resize bilinear: out of memory");
        free(tmp);
        coeffs_free(&vert);
        rr_image_free(out);
        return -1;
    }
    pass_horizontal(in->data, in->width, ch, first, last - first, tmp, out_w, &horiz);
    coeffs_free(&horiz);
    if (need_v) {
        for (int i = 0; i < out_h; i++)
            vert.bounds[i * 2] -= first;
        pass_vertical(tmp, out_w, ch, out->data, out_h, &vert);
    } else {
        memcpy(out->data, tmp, (size_t)out_w * out_h * ch);
    }
    free(tmp);
    coeffs_free(&vert);
    return 0;
}

int rr_pil_resize_nearest(const rr_image *in, int out_w, int out_h, rr_image *out)
{
    memset(out, 0, sizeof *out);
    if (check_args("resize nearest", in, out_w, out_h))
        return -1;
    if (out_w == in->width && out_h == in->height)
        return copy_image(in, out);
    if (rr_image_alloc(out, out_w, out_h, in->channels))
        return -1;
    int *xin = malloc((size_t)out_w * sizeof *xin);
    if (!xin) {
        rr_image_free(out);
        return rr_error("resize nearest: out of memory");
    }
    /* Pillow's running sums; a position outside the input leaves 0 (it
     * cannot happen for these scales, but Pillow's rule says so). */
    double sx = (double)in->width / out_w, sy = (double)in->height / out_h;
    double xo = sx * 0.5, yo = sy * 0.5;
    for (int x = 0; x < out_w; x++, xo += sx)
        xin[x] = xo < 0.0 ? -1 : (int)xo;
    int ch = in->channels;
    for (int y = 0; y < out_h; y++, yo += sy) {
        int yi = yo < 0.0 ? -1 : (int)yo;
        if (yi < 0 || yi >= in->height)
            continue;
        const uint8_t *src = in->data + (size_t)yi * in->width * ch;
        uint8_t *dst = out->data + (size_t)y * out_w * ch;
        for (int x = 0; x < out_w; x++)
            if (xin[x] >= 0 && xin[x] < in->width)
                memcpy(dst + (size_t)x * ch, src + (size_t)xin[x] * ch, (size_t)ch);
    }
    free(xin);
    return 0;
}
