/* Where a mask lies on the Earth, from a record's metadata, and what the
 * GDAL-based writers (io/mask_writer.h, io/polygons.h) share.
 *
 * A record of a georeferenced scene carries (rrsis-encode writes them):
 *   "crs"           the scene's CRS as WKT
 *   "geotransform"  six numbers x0 dx rx y0 ry dy (GDAL's order): the map
 *                   position of pixel corner (col, row) of the scene grid
 *                   is (x0 + col dx + row rx, y0 + col ry + row dy)
 * Either may be absent (a PNG, a raster without georeferencing). */
#ifndef RR_IO_GEOREF_H
#define RR_IO_GEOREF_H

#include <gdal.h>
#include <stdint.h>

typedef struct {
    const char *crs; /* WKT, or NULL; not owned */
    int has_gt;
    double gt[6];
} rr_georef;

/* Fills g from the two metadata values (either may be NULL).  -1 with a
 * message when the geotransform is not six finite numbers separated by
 * spaces, or is degenerate (no area). */
int rr_georef_parse(const char *crs, const char *geotransform, rr_georef *g);

/* The georeferencing of a window of g's grid: its corner at (x, y), its
 * pixels scaled by (sx, sy) of the grid's (a mask at another size than the
 * grid: the model's size). */
rr_georef rr_georef_window(const rr_georef *g, double x, double y, double sx, double sy);

/* GDAL's drivers, registered once, GDAL's messages kept for rr_gdal_error
 * (never printed), and its block cache held to RR_GDAL_CACHE_BYTES unless
 * GDAL_CACHEMAX is set. */
#define RR_GDAL_CACHE_BYTES (64L << 20)
void rr_gdal_init(void);

/* rr_error with GDAL's last message appended ("...: <CPLGetLastErrorMsg>");
 * returns -1. */
int rr_gdal_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A raster band written a row at a time, in bands of whole 256-row blocks:
 * the rows wait here until a band of them is complete, which is then
 * written and flushed out of GDAL's block cache, so that a compressed
 * block is written once and the cache never holds more than that band. */
#define RR_BAND_ROWS 256
typedef struct {
    GDALRasterBandH band;
    GDALDataType type;
    int width, height;
    int y, fill;  /* the band's first row, and the rows in buf */
    size_t pixel; /* bytes a pixel */
    uint8_t *buf;
} rr_band_rows;
int rr_band_rows_init(rr_band_rows *w, GDALRasterBandH band, GDALDataType type, int width, int height);
/* The next n rows (n * width pixels of type). */
int rr_band_rows_put(rr_band_rows *w, int n, const void *rows);
/* Writes the rows waiting (after the last row). */
int rr_band_rows_flush(rr_band_rows *w);
void rr_band_rows_free(rr_band_rows *w);

#endif
