/* A mask written a band of rows at a time, as PNG or GeoTIFF: a scene's
 * mask never has to be whole in memory (rrsis-decode's tiled mode).
 *
 *   PNG      8-bit gray, 0 and 255 (libpng writes row by row);
 *            no georeferencing, NoData pixels are 0
 *   GeoTIFF  8-bit, 0 and 255, tiled 256 x 256, DEFLATE (GDAL); the CRS
 *            and geotransform of g when known; with nodata, a per-dataset
 *            mask band (internal, 0 where the source had NoData, 255
 *            elsewhere), which GDAL and QGIS read as NoData, while the
 *            values stay 0 (background) there for readers without it
 *
 * A file is written under a hidden temporary name and renamed into place
 * when closed after its last row (io/atomic.h); "-" is
 * standard output (PNG only). */
#ifndef RR_IO_MASK_WRITER_H
#define RR_IO_MASK_WRITER_H

#include <stdint.h>

#include "georef.h"

typedef enum { RR_MASK_PNG, RR_MASK_GTIFF } rr_mask_format;

/* The format a name asks for: .tif or .tiff (any case) GeoTIFF, anything
 * else PNG. */
rr_mask_format rr_mask_format_of(const char *path);
/* ".png" or ".tif". */
const char *rr_mask_format_ext(rr_mask_format f);

typedef struct rr_mask_writer rr_mask_writer;

/* A writer of a width x height mask to path; g may be NULL.  NULL with a
 * message on a failure. */
rr_mask_writer *rr_mask_writer_open(const char *path, rr_mask_format f, int width, int height,
                                    const rr_georef *g, int nodata);
/* The next n rows: mask (n * width bytes, nonzero is foreground) and, with
 * nodata, valid (0 for a NoData pixel; NULL: all valid). */
int rr_mask_writer_rows(rr_mask_writer *w, int n, const uint8_t *mask, const uint8_t *valid);
/* Finishes the file (ok: every row was written) and renames it into place,
 * or abandons it (ok 0: nothing is left); frees w.  -1 with a message. */
int rr_mask_writer_close(rr_mask_writer *w, int ok);

#endif
