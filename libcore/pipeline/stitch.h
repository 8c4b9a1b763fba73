/* A scene's mask from the predictions of its tiles (rrsis-decode's tiled
 * and gated modes), a band of rows at a time: memory holds the rows that a
 * row of tiles covers, never the scene.
 *
 * Each tile brings its foreground margin (logit 1 - logit 0, at the tile's
 * own size) for its window of the scene.  Where tiles overlap, the margins
 * are blended with linear ramp weights: the pixel at column i, row j of a
 * w x h tile weighs
 *     min(i + 1, w - i) * min(j + 1, h - j)
 * (a pyramid, highest at the tile's centre), so that across an overlap
 * each tile's share falls linearly towards its edge, where its view of
 * the scene is cut.  The scene's margin is the weighted mean; a pixel is
 * foreground iff it is > 0.  Where all the tiles over a pixel agree, the
 * blend agrees with them (a mean of positive numbers is positive).  Its
 * probability is the logistic of the blended margin.  A pixel that no tile
 * covers is background, and so is a NoData pixel (a tile's valid 0).
 *
 * The gate (the gated mode): the prediction of the whole scene downscaled
 * to the model's size S x S (the context record) decides where the tiles
 * may find foreground.  Its foreground probabilities are dilated (a max
 * over the (2r+1) x (2r+1) neighbourhood, r context pixels), upsampled to
 * the scene (bilinear, corners aligned, as the decoder's upsampling), and
 * a pixel stays foreground only where that is >= the threshold: a tile
 * then keeps the objects the whole scene's view singles out ("the plane on
 * the left", which a tile cannot tell from the others), at the tiles' own
 * resolution, and loses those it finds elsewhere.
 *
 * Tiles come in raster order (rows of tiles top to bottom, left to right
 * in a row, as rrsis-encode writes them): when a tile starts below the
 * previous one, every scene row above it is final and goes to the
 * callback. */
#ifndef RR_PIPELINE_STITCH_H
#define RR_PIPELINE_STITCH_H

#include <stdint.h>

/* Rows y .. y+n-1 of the scene, each width pixels: mask (1 foreground,
 * 0 background), prob (the foreground probability; 0 where no tile
 * covers), valid (0 for NoData).  Returns 0, or -1 with a message. */
typedef int (*rr_rows_fn)(void *arg, int y, int n, const uint8_t *mask, const float *prob, const uint8_t *valid);

typedef struct {
    int width, height;
    rr_rows_fn fn;
    void *arg;
    int y0, rows, cap;   /* the rows held: y0 .. y0+rows-1, room for cap */
    int last_y;          /* the previous tile's top row (-1: none) */
    float *num, *den;    /* sums of weight * margin, and of weights */
    uint8_t *invalid;
    uint8_t *mask;       /* what goes to fn */
    float *prob;
    uint8_t *valid;
    float *gate;         /* dilated S x S context probabilities, or NULL */
    int gate_s;
    float gate_threshold;
} rr_stitch;

int rr_stitch_begin(rr_stitch *st, int width, int height, rr_rows_fn fn, void *arg);
/* The gate: margin, the context's S x S foreground margins (copied). */
int rr_stitch_gate(rr_stitch *st, const float *margin, int s, int dilate, float threshold);
/* A tile at (x, y), w x h: margin[h * w], valid[h * w] or NULL (all
 * valid).  -1 with a message for a window outside the scene, or a tile
 * out of raster order. */
int rr_stitch_add(rr_stitch *st, int x, int y, int w, int h, const float *margin, const uint8_t *valid);
/* The rows left, to the scene's last. */
int rr_stitch_end(rr_stitch *st);
void rr_stitch_free(rr_stitch *st);

#endif
