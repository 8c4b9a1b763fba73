#include "georef.h"

#include <cpl_error.h>
#include <gdal.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

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
    /* GDAL's default cache is 5% of the RAM; a scene written row by row
     * needs a row of 256-pixel blocks (a few MB), polygonising a few more */
    if (GDALGetCacheMax64() > (GIntBig)64 << 20)
        GDALSetCacheMax64((GIntBig)64 << 20);
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
