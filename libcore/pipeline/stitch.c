#include "stitch.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../error.h"

int rr_stitch_begin(rr_stitch *st, int width, int height, rr_rows_fn fn, void *arg)
{
    memset(st, 0, sizeof *st);
    st->width = width;
    st->height = height;
    st->fn = fn;
    st->arg = arg;
    st->last_y = -1;
    return 0;
}

void rr_stitch_free(rr_stitch *st)
{
    free(st->num);
    free(st->den);
    free(st->invalid);
    free(st->mask);
    free(st->prob);
    free(st->valid);
    free(st->gate);
    memset(st, 0, sizeof *st);
}

static float logistic(float m) { return 1.0f / (1.0f + expf(-m)); }

int rr_stitch_gate(rr_stitch *st, const float *margin, int s, int dilate, float threshold)
{
    float *p = malloc((size_t)s * s * sizeof *p);
    free(st->gate);
    st->gate = malloc((size_t)s * s * sizeof *st->gate);
    if (!p || !st->gate) {
        free(p);
        return rr_error("out of memory");
    }
    for (size_t i = 0; i < (size_t)s * s; i++)
        p[i] = logistic(margin[i]);
    for (int y = 0; y < s; y++)
        for (int x = 0; x < s; x++) {
            float m = 0;
            for (int v = y - dilate; v <= y + dilate; v++)
                for (int u = x - dilate; u <= x + dilate; u++)
                    if (v >= 0 && v < s && u >= 0 && u < s && p[(size_t)v * s + u] > m)
                        m = p[(size_t)v * s + u];
            st->gate[(size_t)y * s + x] = m;
        }
    free(p);
    st->gate_s = s;
    st->gate_threshold = threshold;
    return 0;
}

/* Room for rows y0 .. until-1. */
static int hold(rr_stitch *st, int until)
{
    int need = until - st->y0;
    if (need > st->cap) {
        size_t n = (size_t)need * st->width;
        float *num = realloc(st->num, n * sizeof *num), *den = num ? realloc(st->den, n * sizeof *den) : NULL;
        if (num)
            st->num = num;
        if (den)
            st->den = den;
        uint8_t *inv = den ? realloc(st->invalid, n) : NULL;
        if (inv)
            st->invalid = inv;
        if (!inv)
            return rr_error("out of memory for %d rows of %d pixels", need, st->width);
        st->cap = need;
    }
    if (need > st->rows) {
        size_t at = (size_t)st->rows * st->width, n = (size_t)(need - st->rows) * st->width;
        memset(st->num + at, 0, n * sizeof *st->num);
        memset(st->den + at, 0, n * sizeof *st->den);
        memset(st->invalid + at, 0, n);
        st->rows = need;
    }
    return 0;
}

/* The gate's value at scene pixel (x, y): the S x S map upsampled
 * bilinearly with corners aligned. */
static float gate_at(const rr_stitch *st, int x, int y)
{
    int s = st->gate_s;
    float fx = st->width > 1 ? (float)x * (float)(s - 1) / (float)(st->width - 1) : 0;
    float fy = st->height > 1 ? (float)y * (float)(s - 1) / (float)(st->height - 1) : 0;
    int x0 = (int)fx, y0 = (int)fy, x1 = x0 + 1 < s ? x0 + 1 : x0, y1 = y0 + 1 < s ? y0 + 1 : y0;
    float ax = fx - (float)x0, ay = fy - (float)y0;
    const float *g = st->gate;
    float top = g[(size_t)y0 * s + x0] * (1 - ax) + g[(size_t)y0 * s + x1] * ax;
    float bottom = g[(size_t)y1 * s + x0] * (1 - ax) + g[(size_t)y1 * s + x1] * ax;
    return top * (1 - ay) + bottom * ay;
}

/* Rows y0 .. until-1 to the callback; the rest move up. */
static int flush_rows(rr_stitch *st, int until)
{
    int n = until - st->y0;
    if (n <= 0)
        return 0;
    if (hold(st, until))
        return -1;
    size_t len = (size_t)n * st->width;
    uint8_t *mask = realloc(st->mask, len), *valid = mask ? realloc(st->valid, len) : NULL;
    float *prob = valid ? realloc(st->prob, len * sizeof *prob) : NULL;
    if (mask)
        st->mask = mask;
    if (valid)
        st->valid = valid;
    if (prob)
        st->prob = prob;
    if (!prob)
        return rr_error("out of memory");
    for (int r = 0; r < n; r++)
        for (int x = 0; x < st->width; x++) {
            size_t i = (size_t)r * st->width + x;
            float m = st->den[i] > 0 ? st->num[i] / st->den[i] : 0;
            valid[i] = !st->invalid[i];
            prob[i] = st->den[i] > 0 ? logistic(m) : 0;
            mask[i] = st->den[i] > 0 && st->num[i] > 0 && valid[i] &&
                      (!st->gate || gate_at(st, x, st->y0 + r) >= st->gate_threshold);
        }
    int rc = st->fn(st->arg, st->y0, n, mask, prob, valid);
    size_t keep = (size_t)(st->rows - n) * st->width;
    memmove(st->num, st->num + len, keep * sizeof *st->num);
    memmove(st->den, st->den + len, keep * sizeof *st->den);
    memmove(st->invalid, st->invalid + len, keep);
    st->rows -= n;
    st->y0 = until;
    return rc;
}

/* The same, a band of at most the rows held (or 256) at a time: rows no
 * tile covered need no more memory than the tiles' rows. */
static int flush(rr_stitch *st, int until)
{
    while (st->y0 < until) {
        int band = st->rows > 256 ? st->rows : 256;
        if (flush_rows(st, until - st->y0 > band ? st->y0 + band : until))
            return -1;
    }
    return 0;
}

int rr_stitch_add(rr_stitch *st, int x, int y, int w, int h, const float *margin, const uint8_t *valid)
{
    if (x < 0 || y < 0 || w < 1 || h < 1 || x > st->width - w || y > st->height - h)
        return rr_error("the window %d %d %d %d is not inside the scene of %dx%d", x, y, w, h, st->width,
                        st->height);
    if (y < st->last_y || y < st->y0)
        return rr_error("a tile at row %d after one at row %d: tiles come in raster order", y, st->last_y);
    if (y > st->last_y && flush(st, y)) /* a new row of tiles: the rows above it are final */
        return -1;
    st->last_y = y;
    if (hold(st, y + h))
        return -1;
    for (int j = 0; j < h; j++) {
        float wy = (float)(j + 1 < h - j ? j + 1 : h - j);
        size_t row = (size_t)(y + j - st->y0) * st->width + x;
        for (int i = 0; i < w; i++) {
            float wt = wy * (float)(i + 1 < w - i ? i + 1 : w - i);
            st->num[row + i] += wt * margin[(size_t)j * w + i];
            st->den[row + i] += wt;
            if (valid && !valid[(size_t)j * w + i])
                st->invalid[row + i] = 1;
        }
    }
    return 0;
}

int rr_stitch_end(rr_stitch *st) { return flush(st, st->height); }
