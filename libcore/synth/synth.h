/* A synthetic referring-segmentation dataset on disk (rrsis-synth).
 *
 *   DIR/images/<split>_<n>.png       the scenes (RGB, size x size)
 *   DIR/masks/<split>_<n>_<k>.png    one mask per sample (0/255), named by
 *                                    the sample's id; all zeros for a
 *                                    no-target sample (whose manifest mask
 *                                    is null), so that masks/ is a perfect
 *                                    prediction folder for rrsis-score
 *   DIR/<split>.jsonl                the manifest of each split written
 *                                    (io/manifest.h), relative paths
 *
 * Sample ids are "<split>_<n>_<k>": image n (6 digits or more, from 0) and
 * its sentence k (from 0).  The manifests are written last, each to a
 * temporary file renamed into place, so that an interrupted run leaves no
 * manifest (or the previous one) behind.
 *
 * Everything is a function of the options: each split draws from its own
 * seed (the splits are disjoint), each image from one derived from it, and
 * the types of a split's samples are exact counts (rr_synth_type_counts)
 * shuffled by that seed.  The same options give the same bytes on every
 * machine (given the same libpng and zlib), whatever the number of
 * threads. */
#ifndef RR_SYNTH_SYNTH_H
#define RR_SYNTH_SYNTH_H

#include <stdint.h>

#include "io/manifest.h"
#include "io/progress.h"
#include "synth/scene.h"
#include "synth/sentence.h"

enum { RR_SYNTH_TRAIN, RR_SYNTH_VAL, RR_SYNTH_TEST, RR_SYNTH_NSPLIT };

/* rr_synth_write's return when the folder is not empty and force is off. */
#define RR_SYNTH_NOT_EMPTY (-2)

typedef struct {
    uint64_t seed;
    long count[RR_SYNTH_NSPLIT]; /* samples per split; 0: the split is not written */
    int size;                    /* image width and height (128) */
    int per_image;               /* sentences per image (2) */
    double none_fraction;        /* 0.15 */
    double multi_fraction;       /* 0.25 */
    rr_synth_preset preset;      /* full */
    int object_pct;              /* object lengths, percent (100; rr_synth_scene) */
    int unit;                    /* lengths at this image size's scale
                                    (rr_synth_scene.unit); 0: size */
    int force;                   /* write into a folder that is not empty */
    rr_progress *progress;       /* images written per split, or NULL */
} rr_synth_options;

typedef struct {
    long samples, images;
    long split[RR_SYNTH_NSPLIT];
    long type[3];              /* by rr_sample_type */
    long dims[RR_SYNTH_NDIM];  /* samples referring by each dimension */
    long cats[RR_SYNTH_NCAT];  /* samples by category */
} rr_synth_stats;

void rr_synth_options_default(rr_synth_options *o);
const char *rr_synth_split_name(int split);

/* How many of n samples are none and multi (rounded to nearest). */
void rr_synth_type_counts(long n, double none_fraction, double multi_fraction, long *none, long *multi);
/* The types of a split's n samples, in order. */
void rr_synth_types(long n, double none_fraction, double multi_fraction, uint64_t seed, rr_sample_type *out);
/* The seed of a split, and of its image i. */
uint64_t rr_synth_split_seed(uint64_t seed, int split);
uint64_t rr_synth_image_seed(uint64_t split_seed, long i);

/* One image: draws a scene from `seed` (s initialised with the size and
 * preset) and k sentences of the given types, all different.  Returns 0,
 * or -1 when no scene of 100 tries allows them (not seen in practice). */
int rr_synth_image(rr_synth_scene *s, uint64_t seed, const rr_sample_type *types, int k, rr_synth_sentence *out);

/* Writes the dataset into dir (made when missing).  -1 on an error
 * (rr_errmsg), RR_SYNTH_NOT_EMPTY when dir has files and force is off (then
 * nothing is written).  st may be NULL. */
int rr_synth_write(const char *dir, const rr_synth_options *o, rr_synth_stats *st);

#endif
