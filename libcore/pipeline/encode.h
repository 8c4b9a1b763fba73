/* The encode stage (rrsis-encode): a tokens stream in, an encoded stream
 * out.  Each record's image is read, resized and normalised as the data
 * pipeline does it (data/input.h, doc/network.md, Inputs), and its token ids go through
 * the text encoder (BERT, doc/network.md, BERT), up to `batch` records at a time.
 *
 * A tokens record (rrsis-tokenize) holds
 *   "input_ids"       I32 [N_l]  (any integer dtype is taken)
 *   "attention_mask"  I32 [N_l]
 *   metadata          id, sentence, image (a path; optional when the
 *                     options name the image)
 * The encoded record it becomes holds
 *   "image"           F32 [3, S, S]    the normalised image, S the model's
 *                                      image_size
 *   "L"               F32 [D_l, N_l]   the word features (channel-first)
 *   "attention_mask"  I32 [N_l]
 *   "valid"           U8 [h, w]        1 valid, 0 NoData, at the image's
 *                                      size before resizing; only when the
 *                                      image has NoData pixels
 *   metadata          the tokens record's, with stage "encoded", "image"
 *                     the path read, "width" and "height" the image's size
 *                     in pixels before resizing (decimal strings), and the
 *                     scene's description (rr_raster_set_meta, io/raster.h).
 * The image is read by io/raster.h with o->raster's bands, scale and gsd.
 *
 * Tiled mode (tile > 0): a tokens record becomes a record per window of
 * tile x tile pixels of the scene (its width or height where smaller),
 * starting every tile - overlap pixels, the last of a row or column moved
 * back to end at the scene's edge, in raster order, each read alone (the
 * memory is the tile's, not the scene's); with context, first a record of
 * the whole scene shrunk to at most RR_ENCODE_CONTEXT_SIDE a side.  Their
 * ids are the record's with "-t1", "-t2", ... ("-ctx"); their metadata adds
 * "role" ("tile", "context"), "window" ("x y w h" in the scene grid),
 * "tile" and "tiles" (index from 1, count; tiles only).
 * Records are written in the order read, and the stream's end mark
 * (io/stream.h) after the last, when every record went through.  Records of
 * a batch with ids of different lengths go through the text encoder in
 * separate runs. */
#ifndef RR_PIPELINE_ENCODE_H
#define RR_PIPELINE_ENCODE_H

#include <stdio.h>

#include "../io/raster.h"
#include "../nn/mrsnet.h"
#include "stage.h"

/* The longest side of the context record's image (--context). */
#define RR_ENCODE_CONTEXT_SIDE 1024

typedef struct {
    const rr_mrsnet *model;  /* its text encoder (RR_PART_TEXT) */
    int batch;               /* records per run of the network, >= 1 */
    const char *image;       /* every record's image, instead of its own; or NULL */
    const rr_raster_opts *raster; /* bands, scale, gsd (NULL: the defaults) */
    int tile, overlap;       /* tiled mode when tile > 0: 0 <= overlap < tile */
    int context;             /* tiled mode: the context record first */
    rr_progress_fn progress; /* or NULL */
    void *progress_arg;
} rr_encode_opts;

/* Returns 0, or -1 with a message (a record's messages name it: "record 3
 * (id '7'): /data/x.png: not an image"). */
int rr_encode_run(const rr_encode_opts *o, FILE *in, FILE *out);

/* The starts of the tiles along an axis of size pixels (see above): their
 * count, of which at most n are written to starts. */
int rr_encode_tile_starts(int size, int tile, int overlap, int *starts, int n);

#endif
