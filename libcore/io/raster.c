#include "raster.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cpl_conv.h>
#include <cpl_error.h>
#include <gdal.h>
#include <gdal_utils.h>
#include <ogr_srs_api.h>

#include "../error.h"
#include "georef.h"
#include "resize_pil.h"

/* ---- options ------------------------------------------------------------- */

int rr_raster_parse_bands(rr_raster_opts *o, const char *s)
{
    int band[3], n = 0, ok = 1;
    for (const char *p = s; ok;) {
        char *end;
        errno = 0;
        long v = *p >= '0' && *p <= '9' ? strtol(p, &end, 10) : -1;
        ok = v >= 1 && v <= 65535 && !errno && n < 3 && (*end == ',' || !*end);
        if (ok)
            band[n++] = (int)v;
        if (!ok || !*end)
            break;
        p = end + 1;
    }
    if (!ok || (n != 1 && n != 3))
        return rr_error("--bands: '%s' is not one band number or three separated by commas (3,2,1)", s);
    o->nbands = n;
    memcpy(o->band, band, (size_t)n * sizeof *band);
    return 0;
}

int rr_raster_parse_scale(rr_raster_opts *o, const char *s)
{
    char *end;
    errno = 0;
    double lo = strtod(s, &end), hi = 0;
    int ok = end != s && *end == ',' && !errno;
    if (ok) {
        const char *p = end + 1;
        hi = strtod(p, &end);
        ok = end != p && !*end && !errno && isfinite(lo) && isfinite(hi) && lo < hi;
    }
    if (!ok)
        return rr_error("--scale: '%s' is not MIN,MAX (two numbers, MIN below MAX)", s);
    o->fixed = 1;
    for (int k = 0; k < 3; k++) {
        o->min[k] = lo;
        o->max[k] = hi;
    }
    return 0;
}

/* ---- GDAL ---------------------------------------------------------------- */

/* The bands --bands names, checked against the source's r->nsrc (what:
 * "raster" or "image", for the message): 1, or 0 when it names none. */
static int given_bands(rr_raster *r, const rr_raster_opts *o, const char *what)
{
    for (int k = 0; k < o->nbands; k++)
        if (o->band[k] > r->nsrc)
            return rr_error("%s: --bands names band %d; the %s has %d band%s", r->path, o->band[k], what, r->nsrc,
                            r->nsrc == 1 ? "" : "s");
    r->nbands = o->nbands;
    memcpy(r->band, o->band, sizeof r->band);
    return o->nbands > 0;
}

/* The bands used when --bands names none. */
static void default_bands(rr_raster *r)
{
    int rgb[3] = {0, 0, 0};
    for (int b = 1; b <= r->nsrc; b++) {
        GDALColorInterp ci = GDALGetRasterColorInterpretation(GDALGetRasterBand(r->ds, b));
        int k = ci == GCI_RedBand ? 0 : ci == GCI_GreenBand ? 1 : ci == GCI_BlueBand ? 2 : -1;
        if (k >= 0 && !rgb[k])
            rgb[k] = b;
    }
    GDALColorInterp first = GDALGetRasterColorInterpretation(GDALGetRasterBand(r->ds, 1));
    if (rgb[0] && rgb[1] && rgb[2]) {
        r->nbands = 3;
        memcpy(r->band, rgb, sizeof rgb);
    } else if (r->nsrc < 3 || first == GCI_PaletteIndex) {
        r->nbands = 1;
        r->band[0] = 1;
    } else {
        r->nbands = 3;
        for (int k = 0; k < 3; k++)
            r->band[k] = k + 1;
    }
}

/* --gsd: a VRT view of the source resampled to gsd metres a pixel. */
static int resample_view(rr_raster *r, double gsd)
{
    if (!r->has_gt || r->gt[2] != 0 || r->gt[4] != 0)
        return rr_error("%s: --gsd needs a north-up geotransform, which the raster has not", r->path);
    OGRSpatialReferenceH srs = r->crs ? OSRNewSpatialReference(r->crs) : NULL;
    int metres = srs && OSRIsProjected(srs) && fabs(OSRGetLinearUnits(srs, NULL) - 1.0) < 1e-12;
    if (srs)
        OSRDestroySpatialReference(srs);
    if (!metres)
        return rr_error("%s: --gsd needs a projected CRS in metres, which the raster has not", r->path);
    char g[40];
    snprintf(g, sizeof g, "%.17g", gsd);
    char *argv[] = {"-of", "VRT", "-tr", g, g, "-r", "bilinear", NULL};
    GDALTranslateOptions *to = GDALTranslateOptionsNew(argv, NULL);
    if (!to)
        return rr_gdal_error("%s: --gsd", r->path);
    int usage = 0;
    CPLErrorReset();
    GDALDatasetH v = GDALTranslate("", r->ds, to, &usage);
    GDALTranslateOptionsFree(to);
    if (!v)
        return rr_gdal_error("%s: resampling to --gsd", r->path);
    r->src = r->ds;
    r->ds = v;
    r->gsd = gsd;
    r->width = GDALGetRasterXSize(v);
    r->height = GDALGetRasterYSize(v);
    GDALGetGeoTransform(v, r->gt);
    return 0;
}

/* numpy.percentile's default ("linear") of the sorted a[0..n), q in
 * [0, 100], with numpy's own interpolation formula (exact at the ends). */
static double percentile(const double *a, size_t n, double q)
{
    double pos = q / 100 * (double)(n - 1);
    size_t lo = (size_t)floor(pos);
    if (lo + 1 >= n)
        return a[n - 1];
    double t = pos - (double)lo, d = a[lo + 1] - a[lo];
    return t >= 0.5 ? a[lo + 1] - d * (1 - t) : a[lo] + d * t;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int is_nodata(const rr_raster *r, double v) { return isnan(v) || (r->has_nodata && v == r->nodata); }

/* The 2-98 percentiles of each band used, over the valid pixels of a read
 * of the whole scene decimated to at most RR_RASTER_STATS_PIXELS. */
static int scene_stats(rr_raster *r)
{
    long w = r->width, h = r->height, bw = w, bh = h;
    if (w * h > RR_RASTER_STATS_PIXELS) {
        double f = sqrt((double)RR_RASTER_STATS_PIXELS / ((double)w * (double)h));
        bw = (long)(w * f) > 0 ? (long)(w * f) : 1;
        bh = (long)(h * f) > 0 ? (long)(h * f) : 1;
    }
    size_t np = (size_t)(bw * bh);
    double *v = malloc(np * (size_t)r->nbands * sizeof *v), *sorted = malloc(np * sizeof *v);
    if (!v || !sorted) {
        free(v);
        free(sorted);
        return rr_error("%s: out of memory", r->path);
    }
    int rc = 0;
    for (int k = 0; k < r->nbands && !rc; k++) {
        CPLErrorReset();
        if (GDALRasterIO(GDALGetRasterBand(r->ds, r->band[k]), GF_Read, 0, 0, (int)w, (int)h, v + k * np, (int)bw,
                         (int)bh, GDT_Float64, 0, 0) != CE_None)
            rc = rr_gdal_error("%s: reading the scene's statistics", r->path);
    }
    for (int k = 0; k < r->nbands && !rc; k++) {
        size_t n = 0;
        for (size_t p = 0; p < np; p++) {
            int ok = 1;
            for (int j = 0; j < r->nbands && ok; j++)
                ok = !is_nodata(r, v[j * np + p]);
            if (ok)
                sorted[n++] = v[k * np + p];
        }
        if (n == 0) { /* nothing valid: every pixel maps to 0 */
            r->min[k] = r->max[k] = 0;
            continue;
        }
        qsort(sorted, n, sizeof *sorted, cmp_double);
        r->min[k] = percentile(sorted, n, 2);
        r->max[k] = percentile(sorted, n, 98);
    }
    free(v);
    free(sorted);
    return rc;
}

static int open_gdal(rr_raster *r, const rr_raster_opts *o)
{
    rr_gdal_init();
    CPLErrorReset();
    r->ds = GDALOpenEx(r->path, GDAL_OF_RASTER | GDAL_OF_READONLY, NULL, NULL, NULL);
    if (!r->ds)
        return rr_error("%s: not an image (PNG, JPEG, or a raster GDAL reads: GeoTIFF, JPEG 2000, VRT, ...)",
                        r->path);
    r->width = GDALGetRasterXSize(r->ds);
    r->height = GDALGetRasterYSize(r->ds);
    r->nsrc = GDALGetRasterCount(r->ds);
    if (r->nsrc < 1)
        return rr_error("%s: a raster without bands", r->path);
    int given = given_bands(r, o, "raster");
    if (given < 0)
        return -1;
    if (!given)
        default_bands(r);
    r->has_gt = GDALGetGeoTransform(r->ds, r->gt) == CE_None;
    const char *wkt = GDALGetProjectionRef(r->ds);
    if (wkt && *wkt && !(r->crs = strdup(wkt)))
        return rr_error("out of memory");
    GDALRasterBandH b0 = GDALGetRasterBand(r->ds, r->band[0]);
    r->nodata = GDALGetRasterNoDataValue(b0, &r->has_nodata);
    if (r->has_nodata && isnan(r->nodata))
        r->has_nodata = 0; /* NaN is always NoData (is_nodata) */

    int bytes = 1;
    for (int k = 0; k < r->nbands; k++)
        bytes &= GDALGetRasterDataType(GDALGetRasterBand(r->ds, r->band[k])) == GDT_Byte;
    r->nbits = 8;
    const char *nbits = GDALGetMetadataItem(b0, "NBITS", "IMAGE_STRUCTURE");
    if (bytes && nbits && atoi(nbits) >= 1 && atoi(nbits) < 8)
        r->nbits = atoi(nbits);
    GDALColorTableH ct = GDALGetRasterColorTable(b0);
    if (r->nbands == 1 && ct && GDALGetRasterColorInterpretation(b0) == GCI_PaletteIndex && !o->fixed) {
        if (!(r->palette = calloc(256, sizeof *r->palette)))
            return rr_error("out of memory");
        int n = GDALGetColorEntryCount(ct);
        for (int i = 0; i < n && i < 256; i++) {
            const GDALColorEntry *e = GDALGetColorEntry(ct, i);
            r->palette[i][0] = (uint8_t)e->c1;
            r->palette[i][1] = (uint8_t)e->c2;
            r->palette[i][2] = (uint8_t)e->c3;
        }
    }
    if (o->gsd > 0 && resample_view(r, o->gsd))
        return -1;
    if (o->fixed) {
        r->scale = RR_SCALE_FIXED;
        memcpy(r->min, o->min, sizeof r->min);
        memcpy(r->max, o->max, sizeof r->max);
    } else if (bytes || r->palette) {
        r->scale = RR_SCALE_NONE;
    } else {
        r->scale = RR_SCALE_PERCENTILE;
        return scene_stats(r);
    }
    return 0;
}

/* A PNG or JPEG file, or a pipe: decoded whole by io/image.h. */
static int open_whole(rr_raster *r, const rr_raster_opts *o)
{
    if (o->gsd > 0)
        return rr_error("%s: --gsd needs a north-up geotransform, which the image has not", r->path);
    if (rr_image_load(r->path, RR_IMAGE_STORED, &r->whole))
        return -1;
    r->width = r->whole.width;
    r->height = r->whole.height;
    r->nsrc = r->whole.channels;
    int given = given_bands(r, o, "image");
    if (given < 0)
        return -1;
    if (!given) {
        r->nbands = r->nsrc;
        for (int k = 0; k < r->nsrc; k++)
            r->band[k] = k + 1;
    }
    r->nbits = 8;
    r->scale = o->fixed ? RR_SCALE_FIXED : RR_SCALE_NONE;
    memcpy(r->min, o->min, sizeof r->min);
    memcpy(r->max, o->max, sizeof r->max);
    return 0;
}

/* Whether GDAL reads a file: a regular file, not PNG or JPEG (io/image.h
 * decodes those, and pipes, as Pillow does). */
static int for_gdal(const char *path)
{
    struct stat st;
    unsigned char m[8];
    size_t n = 0;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
        FILE *f = fopen(path, "rb");
        if (f) {
            n = fread(m, 1, sizeof m, f);
            fclose(f);
        }
    }
    return n == 8 && memcmp(m, "\x89PNG\r\n\x1a\n", 8) != 0 && !(m[0] == 0xFF && m[1] == 0xD8 && m[2] == 0xFF);
}

int rr_raster_open(rr_raster *r, const char *path, const rr_raster_opts *o)
{
    static const rr_raster_opts defaults;
    if (!o)
        o = &defaults;
    memset(r, 0, sizeof *r);
    if (!(r->path = strdup(path)))
        return rr_error("out of memory");
    int rc = for_gdal(path) ? open_gdal(r, o) : open_whole(r, o);
    if (rc)
        rr_raster_close(r);
    return rc;
}

void rr_raster_close(rr_raster *r)
{
    if (r->ds)
        GDALClose(r->ds); /* the view first: it refers to the source */
    if (r->src)
        GDALClose(r->src);
    rr_image_free(&r->whole);
    free(r->path);
    free(r->crs);
    free(r->palette);
    memset(r, 0, sizeof *r);
}

/* ---- reading ------------------------------------------------------------- */

static uint8_t to8(const rr_raster *r, int k, double v)
{
    double x;
    if (r->scale == RR_SCALE_NONE)
        x = r->nbits < 8 ? v * 255 / ((1 << r->nbits) - 1) : v;
    else
        x = r->max[k] > r->min[k] ? floor((v - r->min[k]) / (r->max[k] - r->min[k]) * 255 + 0.5) : 0;
    return x <= 0 ? 0 : x >= 255 ? 255 : (uint8_t)x;
}

/* The window of an image decoded whole: cropped, then shrunk with Pillow's
 * bilinear when bw x bh is smaller. */
static int read_whole(rr_raster *r, int x, int y, int w, int h, int bw, int bh, rr_image *rgb)
{
    rr_image crop;
    if (rr_image_alloc(&crop, w, h, 3))
        return -1;
    const rr_image *s = &r->whole;
    for (int i = 0; i < h; i++)
        for (int j = 0; j < w; j++) {
            const uint8_t *p = s->data + ((size_t)(y + i) * s->width + x + j) * s->channels;
            uint8_t *q = crop.data + ((size_t)i * w + j) * 3;
            for (int c = 0; c < 3; c++) {
                int k = r->nbands == 1 ? 0 : c;
                q[c] = r->scale == RR_SCALE_NONE ? p[r->band[k] - 1] : to8(r, k, p[r->band[k] - 1]);
            }
        }
    if (bw == w && bh == h) {
        *rgb = crop;
        return 0;
    }
    int rc = rr_pil_resize_bilinear(&crop, bw, bh, rgb);
    rr_image_free(&crop);
    return rc;
}

/* A window at its size is read a band of rows at a time (its values as
 * doubles would take 8 bytes a pixel, more than the image); a shrunk one
 * (small: the context record's) at once. */
#define READ_VALUES (1L << 20)

static int read_gdal(rr_raster *r, int x, int y, int w, int h, int bw, int bh, rr_image *rgb, uint8_t *ok)
{
    int native = bw == w && bh == h, step = native ? (int)(READ_VALUES / w) : bh;
    step = step < 1 ? 1 : step > bh ? bh : step;
    double *v = malloc((size_t)bw * step * sizeof *v);
    if (!v)
        return rr_error("%s: out of memory", r->path);
    GDALRasterIOExtraArg extra;
    INIT_RASTERIO_EXTRA_ARG(extra);
    extra.eResampleAlg = native ? GRIORA_NearestNeighbour : GRIORA_Average;
    int rc = 0;
    for (int row = 0; row < bh && !rc; row += step)
        for (int k = 0, n = bh - row < step ? bh - row : step; k < r->nbands && !rc; k++) {
            CPLErrorReset();
            GDALRasterBandH band = GDALGetRasterBand(r->ds, r->band[k]);
            if (GDALRasterIOEx(band, GF_Read, x, native ? y + row : y, w, native ? n : h, v, bw, n, GDT_Float64, 0, 0,
                               &extra) != CE_None) {
                rc = rr_gdal_error("%s: reading", r->path);
                break;
            }
            size_t base = (size_t)row * bw;
            for (size_t j = 0; j < (size_t)bw * n; j++) {
                size_t p = base + j;
                uint8_t *q = rgb->data + 3 * p;
                if (is_nodata(r, v[j]))
                    ok[p] = 0;
                if (r->palette) {
                    int i = v[j] <= 0 ? 0 : v[j] >= 255 ? 255 : (int)v[j];
                    memcpy(q, r->palette[i], 3);
                } else if (r->nbands == 1) {
                    q[0] = q[1] = q[2] = to8(r, 0, v[j]);
                } else {
                    q[k] = to8(r, k, v[j]);
                }
            }
        }
    free(v);
    return rc;
}

int rr_raster_read(rr_raster *r, int x, int y, int w, int h, int bw, int bh, rr_image *rgb, uint8_t **valid)
{
    memset(rgb, 0, sizeof *rgb);
    if (valid)
        *valid = NULL;
    if (x < 0 || y < 0 || w < 1 || h < 1 || x > r->width - w || y > r->height - h || bw < 1 || bh < 1 || bw > w ||
        bh > h)
        return rr_error("%s: window %d %d %d %d outside the %dx%d scene", r->path, x, y, w, h, r->width, r->height);
    long max = rr_image_max_pixels();
    if (max < 0)
        return -1;
    if (bw > max / bh)
        return rr_error("%s: image of %dx%d pixels (%.0f bytes decoded) is over the limit of %ld pixels "
                        "(--max-pixels or RRSIS_MAX_PIXELS raises it)",
                        r->path, bw, bh, 3.0 * bw * bh, max);
    if (!r->ds)
        return read_whole(r, x, y, w, h, bw, bh, rgb);
    size_t np = (size_t)bw * bh;
    uint8_t *ok = malloc(np);
    if (!ok || rr_image_alloc(rgb, bw, bh, 3)) {
        free(ok);
        return rr_error("%s: out of memory", r->path);
    }
    memset(ok, 1, np);
    int rc = read_gdal(r, x, y, w, h, bw, bh, rgb, ok);
    size_t bad = 0;
    for (size_t p = 0; p < np && !rc; p++)
        if (!ok[p]) {
            memset(rgb->data + 3 * p, 0, 3);
            bad++;
        }
    if (rc)
        rr_image_free(rgb);
    if (!rc && bad && valid)
        *valid = ok;
    else
        free(ok);
    return rc;
}

int rr_raster_load(const char *path, const rr_raster_opts *o, rr_image *rgb, uint8_t **valid)
{
    rr_raster r;
    memset(rgb, 0, sizeof *rgb);
    if (valid)
        *valid = NULL;
    if (rr_raster_open(&r, path, o))
        return -1;
    int rc = rr_raster_read(&r, 0, 0, r.width, r.height, r.width, r.height, rgb, valid);
    rr_raster_close(&r);
    return rc;
}

/* ---- metadata ------------------------------------------------------------ */

/* n numbers "%.17g" joined by sep into buf. */
static void join(char *buf, size_t size, const double *v, int n, char sep)
{
    size_t len = 0;
    buf[0] = 0;
    for (int i = 0; i < n && len + 1 < size; i++) {
        if (i)
            buf[len++] = sep;
        len += (size_t)snprintf(buf + len, size - len, "%.17g", v[i]);
    }
}

int rr_raster_set_meta(const rr_raster *r, rr_record *rec)
{
    char buf[256];
    int rc = 0;
    if (r->crs)
        rc = rr_record_set_meta(rec, "crs", r->crs);
    if (!rc && r->has_gt) {
        join(buf, sizeof buf, r->gt, 6, ' ');
        rc = rr_record_set_meta(rec, "geotransform", buf);
    }
    if (!rc && r->has_nodata) {
        snprintf(buf, sizeof buf, "%.17g", r->nodata);
        rc = rr_record_set_meta(rec, "nodata", buf);
    }
    if (!rc) {
        double b[3] = {r->band[0], r->band[1], r->band[2]};
        join(buf, sizeof buf, b, r->nbands, ',');
        rc = rr_record_set_meta(rec, "bands", buf);
    }
    if (!rc)
        rc = rr_record_set_meta(rec, "scale",
                                r->scale == RR_SCALE_NONE         ? "none"
                                : r->scale == RR_SCALE_PERCENTILE ? "percentile 2 98"
                                                                  : "fixed");
    if (!rc && r->scale != RR_SCALE_NONE) {
        join(buf, sizeof buf, r->min, r->nbands, ',');
        rc = rr_record_set_meta(rec, "scale_min", buf);
        join(buf, sizeof buf, r->max, r->nbands, ',');
        rc = rc || rr_record_set_meta(rec, "scale_max", buf);
    }
    if (!rc && r->gsd > 0) {
        snprintf(buf, sizeof buf, "%.17g", r->gsd);
        rc = rr_record_set_meta(rec, "gsd", buf);
    }
    if (!rc) {
        snprintf(buf, sizeof buf, "%d", r->width);
        rc = rr_record_set_meta(rec, "scene_width", buf);
        snprintf(buf, sizeof buf, "%d", r->height);
        rc = rc || rr_record_set_meta(rec, "scene_height", buf);
    }
    return rc;
}

/* Up to 3 comma-separated numbers of s into v; their count, or -1. */
static int parse_list(const char *s, double *v)
{
    int n = 0;
    for (const char *p = s; n < 3;) {
        char *end;
        v[n++] = strtod(p, &end);
        if (end == p)
            return -1;
        if (!*end)
            return n;
        if (*end != ',')
            return -1;
        p = end + 1;
    }
    return -1;
}

int rr_raster_opts_from_meta(rr_raster_opts *o, const rr_record *rec)
{
    memset(o, 0, sizeof *o);
    const char *bands = rr_record_meta(rec, "bands"), *scale = rr_record_meta(rec, "scale");
    const char *gsd = rr_record_meta(rec, "gsd");
    char *end;
    if (gsd && !((o->gsd = strtod(gsd, &end)) > 0 && !*end))
        return rr_error("metadata \"gsd\": '%s' is not a positive number", gsd);
    if (bands && rr_raster_parse_bands(o, bands))
        return rr_error("metadata \"bands\": '%s' is not a list of 1 or 3 band numbers", bands);
    if (scale && strcmp(scale, "none") != 0) {
        const char *lo = rr_record_meta(rec, "scale_min"), *hi = rr_record_meta(rec, "scale_max");
        int n = o->nbands ? o->nbands : 3;
        if (!lo || !hi || parse_list(lo, o->min) != n || parse_list(hi, o->max) != n)
            return rr_error("metadata \"scale\" '%s' without %d numbers in \"scale_min\" and \"scale_max\"", scale, n);
        if (n == 1) {
            o->min[1] = o->min[2] = o->min[0];
            o->max[1] = o->max[2] = o->max[0];
        }
        o->fixed = 1;
    }
    return 0;
}

/* ---- masks --------------------------------------------------------------- */

/* What a mask's value says: 0, 1, over 127, or another value. */
enum { MASK_ZERO, MASK_ONE, MASK_HIGH, MASK_OTHER };

int rr_raster_mask_load(const char *path, rr_image *mask)
{
    memset(mask, 0, sizeof *mask);
    if (!for_gdal(path))
        return rr_mask_load(path, mask);
    rr_gdal_init();
    CPLErrorReset();
    GDALDatasetH ds = GDALOpenEx(path, GDAL_OF_RASTER | GDAL_OF_READONLY, NULL, NULL, NULL);
    if (!ds)
        return rr_error("%s: not a mask image (PNG, or a raster GDAL reads: GeoTIFF, ...)", path);
    int w = GDALGetRasterXSize(ds), h = GDALGetRasterYSize(ds), rc = 0;
    long max = rr_image_max_pixels();
    if (max < 0)
        rc = -1;
    else if (GDALGetRasterCount(ds) < 1)
        rc = rr_error("%s: a raster without bands", path);
    else if (w > max / h)
        rc = rr_error("%s: mask of %dx%d pixels is over the limit of %ld pixels "
                      "(--max-pixels or RRSIS_MAX_PIXELS raises it)",
                      path, w, h, max);
    else
        rc = rr_image_alloc(mask, w, h, 1);
    /* three bands or more: Pillow's convert("L") of the first three, as
     * rr_mask_load takes an RGB mask */
    int nb = rc ? 0 : GDALGetRasterCount(ds) >= 3 ? 3 : 1, has_nodata = 0;
    double nodata = nb ? GDALGetRasterNoDataValue(GDALGetRasterBand(ds, 1), &has_nodata) : 0;
    enum { ROWS = 256 };
    size_t chunk = (size_t)w * ROWS;
    double *v = rc ? NULL : malloc(chunk * (size_t)nb * sizeof *v);
    if (!rc && !v)
        rc = rr_error("%s: out of memory", path);
    int seen = 0; /* the kinds of values met, a bit each */
    for (int y = 0; y < h && !rc; y += ROWS) {
        int n = h - y < ROWS ? h - y : ROWS;
        for (int c = 0; c < nb && !rc; c++) {
            CPLErrorReset();
            if (GDALRasterIO(GDALGetRasterBand(ds, c + 1), GF_Read, 0, y, w, n, v + c * chunk, w, n, GDT_Float64, 0,
                             0) != CE_None)
                rc = rr_gdal_error("%s: reading", path);
        }
        if (rc)
            break;
        uint8_t *k = mask->data + (size_t)y * w;
        for (size_t p = 0; p < (size_t)w * n; p++) {
            double x = v[p];
            if (nb == 3 && !(has_nodata && x == nodata)) {
                long rgb[3];
                for (int c = 0; c < 3; c++) {
                    double e = v[c * chunk + p];
                    rgb[c] = isnan(e) || e <= 0 ? 0 : e >= 255 ? 255 : (long)e;
                }
                x = (double)((19595 * rgb[0] + 38470 * rgb[1] + 7471 * rgb[2] + 0x8000) >> 16);
            }
            k[p] = isnan(x) || (has_nodata && x == nodata) || x == 0 ? MASK_ZERO
                   : x == 1                                          ? MASK_ONE
                   : x > 127                                         ? MASK_HIGH
                                                                     : MASK_OTHER;
            seen |= 1 << k[p];
        }
    }
    free(v);
    GDALClose(ds);
    if (rc) {
        rr_image_free(mask);
        return -1;
    }
    /* io/image.h's rule: a mask of 0 and 1 only has foreground 1, any other
     * foreground over 127 */
    int fg = seen & (1 << MASK_HIGH | 1 << MASK_OTHER) ? MASK_HIGH : MASK_ONE;
    for (size_t p = 0; p < (size_t)w * h; p++)
        mask->data[p] = mask->data[p] == fg;
    return 0;
}
