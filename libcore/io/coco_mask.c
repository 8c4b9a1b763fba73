/* A port of the semantics of the COCO mask API (cocoapi common/maskApi.c:
 * rleEncode, rleFrString, rleToString, rleFrPoly), with its undefined
 * corners (a NaN slope, shifts past 32 bits, reads past a bad string) made
 * defined without changing any result pycocotools can give. */
#include "coco_mask.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../error.h"

void rr_rle_free(rr_rle *r)
{
    if (!r)
        return;
    free(r->counts_str);
    free(r->counts);
    memset(r, 0, sizeof *r);
}

static int check_hw(const char *fn, int h, int w)
{
    if (h < 1 || w < 1 || (uint64_t)h * (uint64_t)w > UINT32_MAX)
        return rr_error("%s: bad mask size %dx%d", fn, h, w);
    return 0;
}

int rr_rle_from_string(const char *s, uint32_t **counts, size_t *n)
{
    size_t len = strlen(s), m = 0, p = 0;
    *counts = NULL;
    *n = 0;
    uint32_t *cnts = malloc((len ? len : 1) * sizeof *cnts);
    if (!cnts)
        return rr_error("RLE: out of memory");
    while (s[p]) {
        int64_t x = 0;
        int k = 0, more = 1;
        while (more) {
            if (!s[p]) {
                free(cnts);
                return rr_error("RLE: counts string ends inside a count");
            }
            if (s[p] < 48 || s[p] > 111) {
                free(cnts);
                return rr_error("RLE: character '%c' (0x%02x) at %zu is not a counts character",
                                s[p] >= 32 && s[p] < 127 ? s[p] : '?', (unsigned char)s[p], p);
            }
            if (k == 12) {
                free(cnts);
                return rr_error("RLE: count at %zu is too long", p);
            }
            int c = s[p] - 48;
            x |= (int64_t)(c & 0x1f) << (5 * k);
            more = c & 0x20;
            p++;
            k++;
            if (!more && (c & 0x10))
                x |= (int64_t)-1 * ((int64_t)1 << (5 * k)); /* sign extension */
        }
        if (m > 2)
            x += cnts[m - 2];
        if (x < 0 || x > UINT32_MAX) {
            free(cnts);
            return rr_error("RLE: count %zu is %lld", m, (long long)x);
        }
        cnts[m++] = (uint32_t)x;
    }
    *counts = cnts;
    *n = m;
    return 0;
}

char *rr_rle_to_string(const uint32_t *counts, size_t n)
{
    char *s = malloc(n * 7 + 1); /* a 33-bit signed delta takes 7 groups */
    size_t p = 0;
    if (!s) {
        rr_error("RLE: out of memory");
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        int64_t x = counts[i];
        if (i > 2)
            x -= counts[i - 2];
        int more = 1;
        while (more) {
            int c = (int)(x & 0x1f);
            x >>= 5; /* arithmetic, as maskApi.c's long */
            more = (c & 0x10) ? x != -1 : x != 0;
            if (more)
                c |= 0x20;
            s[p++] = (char)(c + 48);
        }
    }
    s[p] = '\0';
    return s;
}

int rr_rle_encode(const uint8_t *mask, int h, int w, uint32_t **counts, size_t *n)
{
    *counts = NULL;
    *n = 0;
    if (check_hw("RLE encode", h, w))
        return -1;
    size_t a = (size_t)h * (size_t)w, k = 0;
    uint32_t *cnts = malloc((a + 1) * sizeof *cnts), c = 0;
    if (!cnts)
        return rr_error("RLE encode: out of memory");
    uint8_t prev = 0;
    for (int x = 0; x < w; x++)
        for (int y = 0; y < h; y++) {
            uint8_t v = mask[(size_t)y * w + x] != 0;
            if (v != prev) {
                cnts[k++] = c;
                c = 0;
                prev = v;
            }
            c++;
        }
    cnts[k++] = c;
    *counts = cnts;
    *n = k;
    return 0;
}

int rr_rle_paint(const uint32_t *counts, size_t n, int h, int w, uint8_t *mask)
{
    if (check_hw("RLE", h, w))
        return -1;
    uint64_t sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += counts[i];
    if (sum != (uint64_t)h * (uint64_t)w)
        return rr_error("RLE: the counts add up to %llu, not %dx%d = %llu", (unsigned long long)sum, h, w,
                        (unsigned long long)h * (unsigned long long)w);
    int x = 0, y = 0; /* the column-major position */
    for (size_t i = 0; i < n; i++) {
        uint32_t c = counts[i];
        if (i % 2 == 0) { /* a run of zeros: skip */
            uint64_t pos = (uint64_t)x * h + y + c;
            x = (int)(pos / h);
            y = (int)(pos % h);
            continue;
        }
        for (uint32_t j = 0; j < c; j++) {
            mask[(size_t)y * w + x] = 1;
            if (++y == h) {
                y = 0;
                x++;
            }
        }
    }
    return 0;
}

int rr_rle_paint_rle(const rr_rle *r, int h, int w, uint8_t *mask)
{
    if (r->h != h || r->w != w)
        return rr_error("RLE: size %dx%d differs from the mask's %dx%d", r->h, r->w, h, w);
    if (!r->counts_str)
        return rr_rle_paint(r->counts, r->n, h, w, mask);
    uint32_t *counts;
    size_t n;
    if (rr_rle_from_string(r->counts_str, &counts, &n))
        return -1;
    int rc = rr_rle_paint(counts, n, h, w, mask);
    free(counts);
    return rc;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Vertices are limited so that 5x their coordinates fits an int with room
 * (maskApi.c converts them with a plain (int) cast). */
#define POLY_COORD_MAX 1e7

int rr_rle_from_poly(const double *xy, size_t k, int h, int w, uint32_t **counts, size_t *n)
{
    const double scale = 5;
    *counts = NULL;
    *n = 0;
    if (check_hw("polygon", h, w))
        return -1;
    for (size_t j = 0; j < 2 * k; j++)
        if (!(fabs(xy[j]) <= POLY_COORD_MAX))
            return rr_error("polygon: coordinate %zu (%g) is not a number within +-%g", j, xy[j],
                            POLY_COORD_MAX);
    /* The outline is walked point by point at 5x, outside the image too:
     * a vertex far away would cost memory and time in proportion to its
     * distance (gigabytes for a 1x1 mask), for nothing inside the image. */
    double margin = 2 * ((double)h + w);
    for (size_t j = 0; j < k; j++)
        if (!(xy[2 * j] >= -margin && xy[2 * j] <= w + margin && xy[2 * j + 1] >= -margin &&
              xy[2 * j + 1] <= h + margin))
            return rr_error("polygon: vertex %zu (%g, %g) lies more than %g outside the %dx%d image", j,
                            xy[2 * j], xy[2 * j + 1], margin, w, h);
    /* the upsampled vertices, the first repeated at the end */
    int *x = malloc((k + 1) * sizeof *x), *y = malloc((k + 1) * sizeof *y);
    int *u = NULL, *v = NULL;
    uint32_t *a = NULL, *b = NULL;
    size_t m = 0;
    if (!x || !y)
        goto oom;
    for (size_t j = 0; j < k; j++) {
        x[j] = (int)(scale * xy[j * 2 + 0] + .5); /* truncation toward 0 */
        y[j] = (int)(scale * xy[j * 2 + 1] + .5);
    }
    if (k) {
        x[k] = x[0];
        y[k] = y[0];
    }
    for (size_t j = 0; j < k; j++) {
        int dx = abs(x[j] - x[j + 1]), dy = abs(y[j] - y[j + 1]);
        m += (size_t)(dx > dy ? dx : dy) + 1;
    }
    u = malloc((m ? m : 1) * sizeof *u);
    v = malloc((m ? m : 1) * sizeof *v);
    if (!u || !v)
        goto oom;
    /* every point of the outline at 5x, edge after edge */
    m = 0;
    for (size_t j = 0; j < k; j++) {
        int xs = x[j], xe = x[j + 1], ys = y[j], ye = y[j + 1], t;
        int dx = abs(xe - xs), dy = abs(ys - ye);
        int flip = (dx >= dy && xs > xe) || (dx < dy && ys > ye);
        if (flip) {
            t = xs, xs = xe, xe = t;
            t = ys, ys = ye, ye = t;
        }
        if (dx == 0 && dy == 0) {
            /* A repeated vertex: maskApi.c computes 0/0 here and casts the
             * NaN; the point lies between two of the same column, so its
             * row is never read.  Any row will do. */
            u[m] = xs;
            v[m++] = ys;
            continue;
        }
        double s = dx >= dy ? (double)(ye - ys) / dx : (double)(xe - xs) / dy;
        if (dx >= dy)
            for (int d = 0; d <= dx; d++) {
                t = flip ? dx - d : d;
                u[m] = t + xs;
                v[m++] = (int)(ys + s * t + .5);
            }
        else
            for (int d = 0; d <= dy; d++) {
                t = flip ? dy - d : d;
                v[m] = t + ys;
                u[m++] = (int)(xs + s * t + .5);
            }
    }
    /* where the outline crosses a pixel column's centre, downsampled: the
     * first pixel row below the crossing, per column */
    size_t np = m, nc = 0;
    free(x);
    free(y);
    x = malloc((np ? np : 1) * sizeof *x);
    y = malloc((np ? np : 1) * sizeof *y);
    if (!x || !y)
        goto oom;
    for (size_t j = 1; j < np; j++) {
        if (u[j] == u[j - 1])
            continue;
        double xd = (double)(u[j] < u[j - 1] ? u[j] : u[j] - 1);
        xd = (xd + .5) / scale - .5;
        if (floor(xd) != xd || xd < 0 || xd > w - 1)
            continue;
        double yd = (double)(v[j] < v[j - 1] ? v[j] : v[j - 1]);
        yd = (yd + .5) / scale - .5;
        if (yd < 0)
            yd = 0;
        else if (yd > h)
            yd = h;
        yd = ceil(yd);
        x[nc] = (int)xd;
        y[nc++] = (int)yd;
    }
    /* the crossings as column-major positions, sorted: their differences
     * are the runs; a zero run merges its neighbours */
    size_t na = nc;
    a = malloc((na + 1) * sizeof *a);
    b = malloc((na + 1) * sizeof *b);
    if (!a || !b)
        goto oom;
    for (size_t j = 0; j < na; j++)
        a[j] = (uint32_t)((int64_t)x[j] * h + y[j]);
    a[na++] = (uint32_t)h * (uint32_t)w;
    qsort(a, na, sizeof *a, cmp_u32);
    uint32_t prev = 0;
    for (size_t j = 0; j < na; j++) {
        uint32_t t = a[j];
        a[j] -= prev;
        prev = t;
    }
    size_t j = 0, nb = 0;
    b[nb++] = a[j++];
    while (j < na) {
        if (a[j] > 0) {
            b[nb++] = a[j++];
        } else {
            j++;
            if (j < na)
                b[nb - 1] += a[j++];
        }
    }
    free(x);
    free(y);
    free(u);
    free(v);
    free(a);
    *counts = b;
    *n = nb;
    return 0;
oom:
    free(x);
    free(y);
    free(u);
    free(v);
    free(a);
    free(b);
    return rr_error("polygon: out of memory");
}

int rr_poly_paint(const double *xy, size_t k, int h, int w, uint8_t *mask)
{
    uint32_t *counts;
    size_t n;
    if (rr_rle_from_poly(xy, k, h, w, &counts, &n))
        return -1;
    int rc = rr_rle_paint(counts, n, h, w, mask);
    free(counts);
    return rc;
}
