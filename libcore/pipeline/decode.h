/* The decode stage (rrsis-decode): a fused stream in (fuse.h); masks,
 * overlays, and a JSON line or a logits record per sample out.
 *
 * RMSIN's decoder turns D1..D4 into logits at a quarter of the model's
 * input size S, upsampled (bilinear, align_corners) to S x S: exactly the
 * forward's logits (nn/mrsnet.h).  At the original size (the default) these
 * S x S logits are upsampled once more, bilinear with align_corners, to the
 * image's height x width (the record's "height" and "width"); at the model's
 * size they are kept.  A pixel is foreground iff logit 1 > logit 0
 * (doc/network.md, Output; a tie or a NaN is background).
 *
 * Outputs, per sample, in the order read:
 *   - outdir: outdir/<id>.png, the mask as a gray PNG of 0 and 255 (the
 *     layout rrsis-score --pred reads), or outdir/<id>.tif, a GeoTIFF, with
 *     mask_format RR_MASK_GTIFF (io/mask_writer.h: the record's "crs" and
 *     "geotransform", scaled to the mask's size, and its NoData); an id
 *     holding '/', or . or .., is an error;
 *   - output: the one mask of a one-sample (or one-scene) stream to that
 *     file, GeoTIFF when its name ends in .tif or .tiff or mask_format
 *     says so, else PNG ("-": to out, as PNG, and nothing else is written
 *     there);
 *   - vector: the masks' polygons, all in one layer of that file
 *     (io/polygons.h);
 *   - overlay: overlay/<id>.png, the mask over the record's "image" (read
 *     again; resized to S x S with the data pipeline's filter at the
 *     model's size) with the sentence on it (io/overlay.h);
 *   - logits: a logits record to out,
 *       "logits"  F32 [2, H, W]  the two class scores at the mask's size
 *       metadata  the fused record's, with stage "logits"
 *     (what rrsis-score --pred reads from a stream), and the stream's end
 *     mark (io/stream.h) after the last, when every sample went through;
 *   - otherwise a JSON line to out:
 *       {"id", "mask": the PNG's path or null, "overlay" (with overlay),
 *        "width", "height": the mask's size, "empty": no foreground,
 *        "area": foreground pixels, "bbox": [x, y, w, h] of the
 *        foreground or null}.
 * A "valid" tensor (U8 [height, width], 0 for the source's NoData pixels,
 * carried from encode by fuse) makes those pixels background.
 *
 * Tiled scenes: records with "window" ("x y w h" in the scene grid of
 * "scene_width" x "scene_height"), "tile" and "tiles" (its 1-based index
 * and the count), written consecutively in raster order, each with the id
 * of its scene + "-t" + index.  Their logits (upsampled to each window's
 * size) are blended into the scene's mask (pipeline/stitch.h), written a
 * band of rows at a time; the scene's outputs are named by its id and its
 * JSON line (with "tiles": the count) follows its last tile.  A record with
 * "role" "context" (id: the scene's + "-ctx") before a scene's tiles is the
 * whole scene downscaled: its S x S prediction gates the tiles' (gated
 * mode; gate_dilate, gate_threshold).  Tiles have no overlay and no model
 * size; with logits, every record's logits are written as they are
 * (unstitched), context records included.
 *
 * outdir and overlay are made when missing, with their parents, and so is
 * the folder of output (io/folder.h).  A mask or overlay file of outdir or
 * overlay that exists already is an error unless force is on; output, a
 * file the user names, is replaced as a shell's > would. */
#ifndef RR_PIPELINE_DECODE_H
#define RR_PIPELINE_DECODE_H

#include <stdio.h>

#include "../nn/mrsnet.h"
#include "stage.h"

typedef struct {
    const rr_mrsnet *model;  /* its decoder (RR_PART_DECODER) */
    int batch;               /* records per run of the network, >= 1 */
    int model_size;          /* 1: masks S x S; 0: at the image's size */
    const char *outdir;      /* or NULL */
    const char *output;      /* or NULL */
    const char *overlay;     /* or NULL */
    int logits;              /* a logits stream instead of JSON lines */
    int force;               /* replace existing files of outdir and overlay */
    int mask_format;         /* an rr_mask_format, or -1: by output's name
                                (PNG for outdir) */
    const char *vector;      /* the polygons' file, or NULL */
    int vector_wgs84;        /* their coordinates in EPSG:4326 */
    double simplify;         /* their simplification tolerance, map units */
    int gate_dilate;         /* the gated mode: the dilation in context pixels */
    float gate_threshold;    /* and the threshold of the gate */
    rr_progress_fn progress; /* or NULL */
    void *progress_arg;
} rr_decode_opts;

int rr_decode_run(const rr_decode_opts *o, FILE *in, FILE *out);

/* The mask of two-class logits (2 x n floats: class 0's, then class 1's):
 * mask[i] = logits[n + i] > logits[i]. */
void rr_decode_threshold(const float *logits, int64_t n, uint8_t *mask);

#endif
