/* The image reader the programs share: a scene read window by window, as
 * 8-bit gray or RGB, with its georeferencing.
 *
 * PNG and JPEG files (recognised by their first bytes), and any input that
 * is a pipe, go through io/image.h's decoders, which match Pillow bit for
 * bit; they are decoded whole when opened.  Every other regular file goes
 * through GDAL (GeoTIFF, COG, JPEG 2000, VRT and the other rasters GDAL
 * reads), one window at a time, so that the memory a read takes is bounded
 * by the window and not by the scene.
 *
 * Bands: --bands 3,2,1 names the source bands (1-based) that become red,
 * green and blue, or one band, which becomes gray (repeated as RGB).  The
 * default: the bands whose colour interpretation is red, green and blue;
 * else band 1 alone when it is a palette or the raster has fewer than 3
 * bands (gray, gray and alpha); else bands 1, 2, 3.  A palette band is expanded through its colour table.
 *
 * 8 bits: Byte data (of 8 significant bits) is taken as is ("none"); data of
 * other types (16-bit, 32-bit, float) is scaled to 0..255 per band by
 *   v8 = clamp(floor((v - min) / (max - min) * 255 + 0.5), 0, 255)
 * (0 where max <= min), where min and max are either fixed (--scale MIN,MAX,
 * the same for every band: "fixed") or the 2nd and 98th percentiles of the
 * band's valid pixels ("percentile 2 98", numpy's default linear
 * interpolation between order statistics).  The percentiles are computed
 * once per scene, when it is opened, from a read of the whole scene
 * decimated to at most RR_RASTER_STATS_PIXELS pixels (GDAL uses the
 * overviews where the file has them): every tile of a scene is scaled
 * alike.  --scale also applies to Byte data.
 *
 * NoData: a pixel is invalid when one of the bands used holds the raster's
 * NoData value (or NaN); invalid pixels take no part in the statistics, are
 * 0 in the 8-bit image, and 0 in the valid mask a read returns.
 *
 * --gsd METRES: the scene is resampled (GDAL's bilinear, on the fly) to that
 * ground sample distance before anything is read; the scene grid, its size
 * and its geotransform are then the resampled ones.  It needs a
 * north-up geotransform and a projected CRS in metres.
 *
 * GDAL's block cache is kept small (io/georef.h: rr_gdal_init).  Errors:
 * -1 with one message "PATH: what" (GDAL's own message included where it
 * has one). */
#ifndef RR_IO_RASTER_H
#define RR_IO_RASTER_H

#include <stdint.h>

#include "image.h"
#include "safetensors.h"

#define RR_RASTER_STATS_PIXELS (1024L * 1024L)

/* How a scene is read (the programs' --bands, --scale and --gsd). */
typedef struct rr_raster_opts {
    int nbands;      /* 0: the default bands; else 1 or 3 */
    int band[3];     /* 1-based source bands */
    int fixed;       /* --scale given: min and max below, per used band
                        (--scale sets the three alike) */
    double min[3], max[3];
    double gsd;      /* metres per pixel; 0: the native grid */
} rr_raster_opts;

/* Parse --bands ("3,2,1" or "4") and --scale ("MIN,MAX", MIN < MAX) into o:
 * -1 with a message that names the option and the value. */
int rr_raster_parse_bands(rr_raster_opts *o, const char *s);
int rr_raster_parse_scale(rr_raster_opts *o, const char *s);

typedef enum { RR_SCALE_NONE, RR_SCALE_PERCENTILE, RR_SCALE_FIXED } rr_scale_rule;

typedef struct {
    char *path;
    void *ds;            /* GDALDatasetH read from (the resampled view with
                            --gsd); NULL for an image decoded whole */
    void *src;           /* GDALDatasetH opened, when ds is a view of it */
    rr_image whole;      /* a PNG/JPEG (or piped) image, decoded */
    int width, height;   /* the scene grid */
    int nsrc;            /* the source's bands */
    int nbands;          /* bands used: 1 (gray) or 3 */
    int band[3];
    double gsd;          /* --gsd resampled the scene to this; else 0 */
    int has_gt;
    double gt[6];        /* GDAL's order: x0 dx rx y0 ry dy */
    char *crs;           /* WKT, or NULL */
    int has_nodata;
    double nodata;
    rr_scale_rule scale;
    double min[3], max[3];
    int nbits;           /* significant bits of Byte data (1 to 8) */
    uint8_t (*palette)[3]; /* a palette band's colours (256), or NULL */
} rr_raster;

/* Opens a scene and, for the percentile rule, computes its statistics.
 * o may be NULL (the defaults).  On failure r is left closed. */
int rr_raster_open(rr_raster *r, const char *path, const rr_raster_opts *o);
void rr_raster_close(rr_raster *r);

/* The window (x, y, w, h) of the scene grid, read into an RGB image of
 * bw x bh pixels (bw, bh = w, h: the pixels as they are; smaller: GDAL's
 * average over each output pixel, the overviews used where they exist).
 * bw * bh is held to the pixel limit (rr_image_max_pixels).  *valid, when
 * valid is not NULL, is set to a malloc'd bw x bh mask (1 valid, 0 NoData)
 * when some pixel of the window is NoData, else to NULL. */
int rr_raster_read(rr_raster *r, int x, int y, int w, int h, int bw, int bh, rr_image *rgb, uint8_t **valid);

/* The whole scene at its size, as RGB (what the training loader and the
 * overlays read). */
int rr_raster_load(const char *path, const rr_raster_opts *o, rr_image *rgb, uint8_t **valid);

/* Sets the scene's metadata on a record: crs, geotransform, nodata (each
 * only when the source has it), bands, scale (with scale_min and scale_max
 * unless "none"), gsd (with --gsd), scene_width and scene_height. */
int rr_raster_set_meta(const rr_raster *r, rr_record *rec);

/* The options a record's metadata recorded (bands, gsd, and the scale
 * rule's values as fixed ones), so that a later read of the same image (an
 * overlay) gives the pixels the record was made from.  Keys absent: the
 * defaults. */
int rr_raster_opts_from_meta(rr_raster_opts *o, const rr_record *rec);

/* A mask file (a prediction, a dataset's ground truth) into a 1-channel 0/1
 * image.  PNG and JPEG through rr_mask_load; other rasters through GDAL,
 * band 1 in any data type (a 16-bit or float GeoTIFF mask too; of three
 * bands or more, the gray of the first three as Pillow's convert("L")) with
 * rr_mask_load's rule: foreground is value > 127, except in a mask whose
 * values are all 0 or 1, where it is 1; NoData pixels (and NaN) are
 * background.  Read a band of rows at a time; the pixel limit applies to
 * the mask. */
int rr_raster_mask_load(const char *path, rr_image *mask);

#endif
