/* COCO masks: run-length encodings and polygons, exactly as the COCO mask
 * API (pycocotools' maskApi.c) reads, writes and rasterises them
 * (doc/architecture.md, Datasets; checked against pycocotools by
 * tests/golden/coco/, made by tools/make_coco_goldens.py).
 *
 * COCO's RLE runs over the pixels in column-major (Fortran) order: the
 * first count is a run of zeros (possibly 0), then ones, zeros, ... and the
 * counts add up to h*w.  The "compressed" form is a string (rleToString):
 * each count, minus the count two before it from the fourth on, in 5-bit
 * groups, least significant first, a 0x20 continuation bit, sign-extended
 * from the last group's 0x10 bit, each group + 48 as one ASCII character.
 *
 * Masks here are row-major h x w bytes, 0 or 1, as rr_image (channels 1)
 * holds them.  "Paint" functions OR into a mask, so painting every part of
 * every instance gives the union (doc/training.md, Empty and multi-target samples: OR, not REFER's sum). */
#ifndef RR_IO_COCO_MASK_H
#define RR_IO_COCO_MASK_H

#include <stddef.h>
#include <stdint.h>

/* A COCO RLE as a dataset stores it: "size": [h, w] and "counts", either a
 * compressed string (counts_str) or a list (counts, n). */
typedef struct {
    int h, w;
    char *counts_str; /* the string form, or NULL */
    uint32_t *counts; /* the list form when counts_str is NULL */
    size_t n;
} rr_rle;

/* Frees what an rr_rle points to and empties it. */
void rr_rle_free(rr_rle *r);

/* rleFrString: the counts of a compressed string (malloc'd into *counts).
 * Fails on a character outside '0'..'o' or a string that ends inside a
 * count. */
int rr_rle_from_string(const char *s, uint32_t **counts, size_t *n);
/* rleToString: the compressed string of counts (malloc'd, NUL-ended). */
char *rr_rle_to_string(const uint32_t *counts, size_t n);

/* rleEncode of a row-major 0/1 mask (any nonzero byte counts as 1). */
int rr_rle_encode(const uint8_t *mask, int h, int w, uint32_t **counts, size_t *n);
/* ORs the runs of ones into a row-major h x w mask.  The counts must add
 * up to h*w exactly (pycocotools would read or write out of bounds). */
int rr_rle_paint(const uint32_t *counts, size_t n, int h, int w, uint8_t *mask);
/* Paints an rr_rle of either form; its size must be h x w. */
int rr_rle_paint_rle(const rr_rle *r, int h, int w, uint8_t *mask);

/* rleFrPoly: the RLE of one polygon of k points xy[0..2k-1] = x0, y0, x1,
 * y1, ... in pixel coordinates (x to the right, y down; pixel (i, j)
 * covers [i, i+1) x [j, j+1)), rasterised by COCO's rule: the outline is
 * walked at 5x resolution, and a pixel is inside when its centre lies
 * between the crossings of its column.  Vertices may lie outside the image
 * (the polygon is clipped), but no further than twice the image's width
 * plus height beyond its edges (the walk's cost grows with the distance, and
 * annotations never stray so far); a vertex beyond that, or a coordinate
 * beyond +-1e7, fails.  Any k >= 0 (pycocotools treats a list of
 * exactly 4 numbers as a box instead; callers who want that say so). */
int rr_rle_from_poly(const double *xy, size_t k, int h, int w, uint32_t **counts, size_t *n);
/* ORs one polygon into a row-major h x w mask. */
int rr_poly_paint(const double *xy, size_t k, int h, int w, uint8_t *mask);

#endif
