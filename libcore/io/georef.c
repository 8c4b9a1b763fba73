#include "georef.h"

#include <cpl_error.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../error.h"

int rr_georef_parse(const char *crs, const char *geotransform, rr_georef *g)
{
    g->crs = crs && *crs ? crs : NULL;
    g->has_gt = 0;
    if (!geotransform)
        return 0;
    const char *p = geotransform;
    for (int i = 0; i < 6; i++) {
        char *end;
        g->gt[i] = strtod(p, &end);
        if (end == p || !isfinite(g->gt[i]) || (i < 5 && *end != ' '))
            return rr_error("\"geotransform\" is '%.80s', not six numbers separated by spaces", geotransform);
        p = end + (i < 5);
    }
    if (*p)
        return rr_error("\"geotransform\" is '%.80s', not six numbers separated by spaces", geotransform);
    if (g->gt[1] * g->gt[5] - g->gt[2] * g->gt[4] == 0)
        return rr_error("\"geotransform\" '%.80s' gives pixels no area", geotransform);
    g->has_gt = 1;
    return 0;
}

rr_georef rr_georef_window(const rr_georef *g, double x, double y, double sx, double sy)
{
    rr_georef w = *g;
    if (g->has_gt) {
        w.gt[0] = g->gt[0] + x * g->gt[1] + y * g->gt[2];
        w.gt[3] = g->gt[3] + x * g->gt[4] + y * g->gt[5];
        w.gt[1] = g->gt[1] * sx;
        w.gt[4] = g->gt[4] * sx;
        w.gt[2] = g->gt[2] * sy;
        w.gt[5] = g->gt[5] * sy;
    }
    return w;
}

static void gdal_setup(void)
{
    GDALAllRegister();
    /* GDAL's default cache is 5% of the RAM; a scene read window by window
     * (io/raster.h) or written row by row (rr_band_rows) needs a row of
     * blocks at most (20 MB for 20000 pixels of Float32 in 256-pixel
     * blocks).  GDAL_CACHEMAX, when set, has the last word. */
    if (!getenv("GDAL_CACHEMAX"))
        GDALSetCacheMax64(RR_GDAL_CACHE_BYTES);
    CPLSetErrorHandler(CPLQuietErrorHandler); /* messages go through rr_error */
}

void rr_gdal_init(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, gdal_setup);
}

int rr_gdal_error(const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const char *why = CPLGetLastErrorMsg();
    int rc = why && *why ? rr_error("%s: %s", msg, why) : rr_error("%s", msg);
    CPLErrorReset(); /* a later failure says its own */
    return rc;
}

int rr_band_rows_init(rr_band_rows *w, GDALRasterBandH band, GDALDataType type, int width, int height)
{
    *w = (rr_band_rows){.band = band, .type = type, .width = width, .height = height,
                        .pixel = (size_t)GDALGetDataTypeSizeBytes(type)};
    if (!(w->buf = malloc((size_t)RR_BAND_ROWS * width * w->pixel)))
        return rr_error("out of memory for %d rows of %d pixels", RR_BAND_ROWS, width);
    return 0;
}

int rr_band_rows_flush(rr_band_rows *w)
{
    if (!w->fill)
        return 0;
    if (GDALRasterIO(w->band, GF_Write, 0, w->y, w->width, w->fill, w->buf, w->width, w->fill, w->type, 0, 0) !=
            CE_None ||
        GDALFlushRasterCache(w->band) != CE_None)
        return rr_gdal_error("writing rows %d to %d", w->y, w->y + w->fill - 1);
    w->y += w->fill;
    w->fill = 0;
    return 0;
}

int rr_band_rows_put(rr_band_rows *w, int n, const void *rows)
{
    const uint8_t *p = rows;
    size_t row = (size_t)w->width * w->pixel;
    if (n > w->height - w->y - w->fill)
        return rr_error("%d rows more than the raster's %d", w->y + w->fill + n - w->height, w->height);
    while (n > 0) {
        int k = RR_BAND_ROWS - w->fill < n ? RR_BAND_ROWS - w->fill : n;
        memcpy(w->buf + (size_t)w->fill * row, p, (size_t)k * row);
        w->fill += k;
        p += (size_t)k * row;
        n -= k;
        if (w->fill == RR_BAND_ROWS && rr_band_rows_flush(w))
            return -1;
    }
    return 0;
}

void rr_band_rows_free(rr_band_rows *w)
{
    free(w->buf);
    w->buf = NULL;
}
