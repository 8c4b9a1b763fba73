#include "mask_writer.h"

#include <errno.h>
#include <cpl_conv.h>
#include <gdal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../error.h"
#include "atomic.h"
#include "image.h"

struct rr_mask_writer {
    rr_mask_format format;
    int width, height, y; /* y: rows written */
    char *path;
    rr_atomic_file out;   /* the file, whole or not at all (io/atomic.h); unused for "-" */
    FILE *f;              /* PNG */
    rr_png_rows *png;
    GDALDatasetH ds;      /* GeoTIFF */
    rr_band_rows band, mask; /* its band, and its NoData mask's (or none) */
    uint8_t *row;         /* n rows of 0/255 */
    int row_cap;
};

rr_mask_format rr_mask_format_of(const char *path)
{
    const char *dot = strrchr(path, '.');
    return dot && (strcasecmp(dot, ".tif") == 0 || strcasecmp(dot, ".tiff") == 0) ? RR_MASK_GTIFF : RR_MASK_PNG;
}

const char *rr_mask_format_ext(rr_mask_format f) { return f == RR_MASK_GTIFF ? ".tif" : ".png"; }

static int open_png(rr_mask_writer *w)
{
    if (strcmp(w->path, "-") == 0)
        w->f = stdout;
    else if (rr_atomic_open(&w->out, w->path))
        return -1;
    else
        w->f = w->out.f;
    return (w->png = rr_png_rows_begin(w->f, w->width, w->height, 1)) ? 0 : -1;
}

static int open_gtiff(rr_mask_writer *w, const rr_georef *g, int nodata)
{
    rr_gdal_init();
    GDALDriverH drv = GDALGetDriverByName("GTiff");
    char *opts[] = {"TILED=YES", "COMPRESS=DEFLATE", "BLOCKXSIZE=256", "BLOCKYSIZE=256", "BIGTIFF=IF_SAFER", NULL};
    if (!drv || !(w->ds = GDALCreate(drv, rr_atomic_name(&w->out), w->width, w->height, 1, GDT_Byte, opts)))
        return rr_gdal_error("cannot create the GeoTIFF");
    if (rr_band_rows_init(&w->band, GDALGetRasterBand(w->ds, 1), GDT_Byte, w->width, w->height))
        return -1;
    if (g && g->has_gt && GDALSetGeoTransform(w->ds, (double *)g->gt) != CE_None)
        return rr_gdal_error("setting the geotransform");
    if (g && g->crs && GDALSetProjection(w->ds, g->crs) != CE_None)
        return rr_gdal_error("setting the CRS");
    if (nodata) {
        /* inside the file, not a .msk beside it */
        CPLSetThreadLocalConfigOption("GDAL_TIFF_INTERNAL_MASK", "YES");
        CPLErr e = GDALCreateDatasetMaskBand(w->ds, GMF_PER_DATASET);
        CPLSetThreadLocalConfigOption("GDAL_TIFF_INTERNAL_MASK", NULL);
        GDALRasterBandH m = GDALGetMaskBand(GDALGetRasterBand(w->ds, 1));
        if (e != CE_None || !m)
            return rr_gdal_error("making the NoData mask band");
        if (rr_band_rows_init(&w->mask, m, GDT_Byte, w->width, w->height))
            return -1;
    }
    return 0;
}

rr_mask_writer *rr_mask_writer_open(const char *path, rr_mask_format f, int width, int height,
                                    const rr_georef *g, int nodata)
{
    rr_mask_writer *w = calloc(1, sizeof *w);
    if (!w || !(w->path = strdup(path))) {
        free(w);
        rr_error("out of memory");
        return NULL;
    }
    w->format = f;
    w->width = width;
    w->height = height;
    int rc = strcmp(path, "-") == 0 && f == RR_MASK_GTIFF ? rr_error("a GeoTIFF cannot go to standard output") : 0;
    if (!rc)
        rc = f == RR_MASK_PNG ? open_png(w)
                              : rr_atomic_open_name(&w->out, path) ? -1 : open_gtiff(w, g, nodata);
    if (rc) {
        if (strcmp(path, "-"))
            rr_error_prefix("%s: ", path);
        w->png = NULL; /* freed by its failure */
        rr_mask_writer_close(w, 0);
        return NULL;
    }
    return w;
}

int rr_mask_writer_rows(rr_mask_writer *w, int n, const uint8_t *mask, const uint8_t *valid)
{
    if (n > w->height - w->y)
        return rr_error("%s: %d rows more than the mask's %d", w->path, w->y + n - w->height, w->height);
    size_t len = (size_t)n * (size_t)w->width;
    if (n > w->row_cap) {
        uint8_t *r = realloc(w->row, len);
        if (!r)
            return rr_error("out of memory");
        w->row = r;
        w->row_cap = n;
    }
    for (size_t i = 0; i < len; i++)
        w->row[i] = mask[i] && (!valid || valid[i]) ? 255 : 0;
    int rc = 0;
    if (w->format == RR_MASK_PNG) {
        for (int r = 0; r < n && !rc; r++)
            if ((rc = rr_png_rows_put(w->png, w->row + (size_t)r * w->width)))
                w->png = NULL; /* freed by its failure */
    } else {
        rc = rr_band_rows_put(&w->band, n, w->row);
        for (size_t i = 0; w->mask.buf && i < len && !rc; i++)
            w->row[i] = valid && !valid[i] ? 0 : 255;
        if (!rc && w->mask.buf && rr_band_rows_put(&w->mask, n, w->row))
            rc = rr_error_prefix("the NoData mask: ");
    }
    w->y += n;
    return rc ? rr_error_prefix("%s: ", w->path) : 0;
}

int rr_mask_writer_close(rr_mask_writer *w, int ok)
{
    int rc = ok && w->y != w->height ? rr_error("%d of the mask's %d rows written", w->y, w->height) : 0;
    int good = ok && !rc; /* the file is to be kept */
    if (w->png && rr_png_rows_end(w->png, good) && good)
        rc = -1;
    if (w->ds) {
        if (good && !rc && (rr_band_rows_flush(&w->band) || (w->mask.buf && rr_band_rows_flush(&w->mask))))
            rc = -1;
        rr_band_rows_free(&w->band);
        rr_band_rows_free(&w->mask);
        /* GDALClose writes what is left, and says nothing */
        CPLErrorReset();
        GDALClose(w->ds);
        if (good && !rc && CPLGetLastErrorType() >= CE_Failure)
            rc = rr_gdal_error("writing the GeoTIFF");
    }
    int named = 0; /* the message names the file already */
    if (w->out.path && rr_atomic_close(&w->out, good && !rc, RR_ATOMIC_FAST) && good && !rc) {
        rc = -1;
        named = 1;
    }
    if (ok && rc && !named)
        rr_error_prefix("%s: ", w->path);
    free(w->path);
    free(w->row);
    free(w);
    return ok ? rc : 0;
}
