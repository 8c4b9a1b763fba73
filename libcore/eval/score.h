/* Scoring predictions against a dataset manifest (rrsis-score), and the
 * manifest check (rrsis-score --check).
 *
 *   rr_score s;
 *   rr_score_opts o = {.side = 480};
 *   if (rr_score_init(&s, &manifest, &o) || rr_score_folder(&s, "masks/")) ... rr_errmsg() ...
 *   rr_rmsin_metrics r;
 *   rr_rmsin_compute(s.iou, NULL, s.n, &r);
 *   rr_score_free(&s);
 *
 * Predictions come as
 *   - a folder: DIR/<id>.png, or DIR/<id>.tif or .tiff (a GeoTIFF), for
 *     each sample (two of them is an error), any mask rr_raster_mask_load
 *     reads (0/255 or 0/1 gray of any data type, palette indices, RGB:
 *     foreground > 127, or 1 in a mask of 0 and 1 only; NoData is
 *     background);
 *   - a tensor stream (stream.h) of stage "logits", one record per sample,
 *     in any order, whose metadata "id" names the sample and which holds
 *     one of the tensors
 *       "logits"  F32, F16, BF16 or F64, shape [2, H, W] or [1, 2, H, W]:
 *                 the two class scores; foreground iff logits[1] >
 *                 logits[0] (argmax, which picks class 0 on a tie); a NaN
 *                 is an error
 *       "mask"    U8 or BOOL, shape [H, W] or [1, H, W]: nonzero is
 *                 foreground
 *     (both present: "logits" is used).  A record whose id is not in the
 *     manifest, or a second record for one sample, is an error; records of
 *     samples outside the selected split are skipped.
 * The ground truth is the manifest's mask at the image's size (the union
 * of its parts, rr_sample_mask).  With side 0 ("native") a prediction must
 * have the image's size; with side > 0 both masks are resized to side x
 * side with Pillow's NEAREST (rr_pil_resize_nearest), as the reference
 * data pipeline resizes the ground truth for its 480 x 480 evaluation
 * (doc/network.md: Output, Inputs).  A sample is "no target" when its manifest
 * type is "none". */
#ifndef RR_EVAL_SCORE_H
#define RR_EVAL_SCORE_H

#include <stdio.h>

#include "../io/manifest.h"
#include "../io/progress.h"
#include "../io/safetensors.h"
#include "metrics.h"

typedef struct {
    int side;           /* 0: native size; else both masks resized to side x side */
    int missing_empty;  /* a missing prediction scores as an empty mask */
    const char *split;  /* only the samples of this split (NULL: all) */
    rr_progress *progress; /* predictions scored so far, or NULL */
} rr_score_opts;

typedef struct {
    const rr_manifest *m;
    rr_score_opts opts;
    size_t n;         /* samples scored */
    size_t *sel;      /* their indices into m->samples, in manifest order */
    rr_iou *iou;      /* their counts, parallel to sel */
    unsigned char *seen; /* 1: a prediction was read; 2: none, scored as empty */
    long missing;     /* predictions missing, scored as empty (missing_empty) */
} rr_score;

/* Selects the samples (all, or those of opts->split: none of them is an
 * error) and checks the ids are unique.  rr_score_free either way. */
int rr_score_init(rr_score *s, const rr_manifest *m, const rr_score_opts *opts);
/* Scores every selected sample against DIR/<id>.png (in parallel).  A
 * missing file is an error naming the first sample without one and how
 * many there are, unless missing_empty. */
int rr_score_folder(rr_score *s, const char *dir);
/* Scores the records of a "logits" stream read from in (named `name` in
 * messages); selected samples without a record are then missing, as above. */
int rr_score_stream(rr_score *s, FILE *in, const char *name);
void rr_score_free(rr_score *s);

/* The rr_sample of scored sample k. */
static inline const rr_sample *rr_score_sample(const rr_score *s, size_t k)
{
    return &s->m->samples[s->sel[k]];
}

/* The prediction a stream record holds, as a 0/1 mask (see above).
 * Messages name no record; the caller adds that. */
int rr_record_pred_mask(const rr_record *rec, rr_image *mask);

/* What rrsis-score --check looks at. */
typedef enum { RR_CHECK_LEVEL_FILES, RR_CHECK_LEVEL_MASKS, RR_CHECK_LEVEL_IMAGES } rr_check_level;

/* Reads and checks a manifest: every bad line, then rr_manifest_check at
 * that level (files: images and PNG masks exist with the right sizes;
 * masks: also every mask decoded, empty exactly for type "none"; images:
 * also every image decoded), all findings sorted by line into f.  The
 * samples of the well-formed lines are in m (rr_manifest_free it either
 * way).  Returns the number of findings, or -1 when the manifest cannot be
 * read at all (a missing file, an I/O error, out of memory). */
long rr_check_manifest(const char *path, rr_check_level level, rr_manifest *m, rr_findings *f);

#endif
