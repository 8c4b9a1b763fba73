/* Dataset manifests (doc/architecture.md, Manifests): JSON Lines, one (image, sentence)
 * sample a line:
 *
 *   {"id": "rrsisd_00017_2", "split": "test", "image": "images/00017.jpg",
 *    "width": 800, "height": 800, "sentence": "the plane on the left",
 *    "lang": "en", "type": "single", "category": "airplane",
 *    "mask": {"png": "masks/00017_2.png"}}
 *
 * Fields, all required:
 *   id        non-empty string, unique in the manifest; no '/', not "." or
 *             ".." (predictions are read from DIR/<id>.png)
 *   split     one of RR_SPLITS: train, val, test, testA, testB
 *   image     path of the image; a relative path resolves against the
 *             manifest's folder
 *   width, height   the image's size, positive integers, at most
 *             rr_image_max_pixels() pixels (the size masks are made at)
 *   sentence  non-empty string
 *   lang      non-empty string ("en", "zh", ...)
 *   type      "single", "multi" or "none" (number of referred objects)
 *   category  string, or null when the dataset has none (RefSegRS); a
 *             multi-target sample's importer joins several with ","
 *   mask      null (only for type "none": an all-zero mask), or an object
 *             with exactly one of these keys:
 *               "png": path of a mask image (see rr_mask_load), resolved
 *                      like image
 *               "rle": a COCO RLE {"size": [h, w], "counts": string or
 *                      list}; the size must be [height, width]
 *               "polygons": [[x, y, x, y, ...], ...] COCO polygons in
 *                      pixel coordinates (pairs of numbers; fewer than 3
 *                      points draw what COCO draws: a line or nothing)
 *               "union": [mask, ...] (not null): several RLEs, or RLEs
 *                      with polygons (tools/import_refer.py writes this)
 *             The mask is the union of all its parts (doc/training.md, Empty and multi-target samples: OR).
 * Other keys are ignored and not written back.  Blank lines are skipped.
 *
 * Problems are "findings": a line number and a message, collected so that a
 * checker can print every one of them ("PATH:LINE: MESSAGE").
 * rr_manifest_read checks each line on its own (JSON, UTF-8, no NUL byte
 * and no \u escape of a NUL or a lone surrogate, at most RR_LINE_MAX
 * bytes, field types and values, RLE syntax and size); rr_manifest_check checks across lines
 * (duplicate ids) and against the files (images and masks exist, sizes
 * agree, masks are empty exactly when the type is "none"). */
#ifndef RR_IO_MANIFEST_H
#define RR_IO_MANIFEST_H

#include <stddef.h>
#include <stdio.h>

#include "coco_mask.h"
#include "image.h"

/* The known splits; any other value is a finding. */
#define RR_SPLITS "train, val, test, testA, testB"

typedef enum { RR_TYPE_SINGLE, RR_TYPE_MULTI, RR_TYPE_NONE } rr_sample_type;

typedef struct {
    double *xy; /* x0, y0, x1, y1, ... */
    size_t n;   /* points */
} rr_polygon;

/* Where a sample's mask comes from: the parts of its union, however the
 * manifest nested them; all empty (no png, no RLE, no polygon) for
 * "mask": null. */
typedef struct {
    char *png;      /* as written in the manifest, or NULL */
    char *png_path; /* resolved against the manifest's folder */
    rr_rle *rles;
    size_t nrle;
    rr_polygon *polys;
    size_t npoly;
} rr_mask_ref;

typedef struct {
    long line; /* 1-based line of the manifest; 0 for a sample built in memory */
    char *id, *split, *image, *sentence, *lang;
    char *category;   /* NULL for null */
    char *image_path; /* image resolved against the manifest's folder */
    int width, height;
    rr_sample_type type;
    rr_mask_ref mask;
} rr_sample;

typedef struct {
    char *path; /* as given to rr_manifest_read ("-" for stdin) */
    char *dir;  /* the folder relative paths resolve against */
    rr_sample *samples;
    size_t n, cap;
} rr_manifest;

typedef struct {
    long line; /* 0 when about the manifest as a whole */
    char *msg;
} rr_finding;

typedef struct {
    rr_finding *v;
    size_t n, cap;
} rr_findings;

/* Reads a manifest ("-": stdin, relative paths then resolve against the
 * current folder, as for a pipe with no folder, /dev/fd/N).  It must be a
 * regular file or a pipe (io/reader.h).  A line longer than RR_LINE_MAX
 * ends the read with an error.  A line that is not a well-formed sample is skipped and
 * becomes a finding in f.  Returns 0 when every line was well-formed; -1
 * when one was not (rr_errmsg: the first as "PATH:LINE: MESSAGE" and how
 * many there were) or the file cannot be read.  With f NULL it stops at
 * the first bad line.  rr_manifest_free must be called either way. */
int rr_manifest_read(const char *path, rr_manifest *m, rr_findings *f);
/* The same from an open stream, named `name` in messages, with relative
 * paths resolved against `dir`. */
int rr_manifest_read_stream(FILE *in, const char *name, const char *dir, rr_manifest *m, rr_findings *f);
void rr_manifest_free(rr_manifest *m);

/* What rr_manifest_check looks at besides duplicate ids. */
enum {
    RR_CHECK_FILES = 1,  /* images and PNG masks exist; sizes agree (headers only) */
    RR_CHECK_MASKS = 2,  /* every mask decoded: empty exactly for type "none" */
    RR_CHECK_IMAGES = 4, /* every image decoded, not only its header: finds
                            truncated or corrupt image data (slower) */
};
/* Appends findings to f (which may be NULL) in line order; returns how
 * many it found, or -1 out of memory.  Flags 0 checks only what needs no
 * file (duplicate ids): rrsis-score's minimum.  The file checks run in
 * parallel (OpenMP). */
long rr_manifest_check(const rr_manifest *m, unsigned flags, rr_findings *f);

/* A sample's mask: height x width, 1 channel, 0/1, the union of its
 * parts; all zeros for a null mask.  A PNG mask of another size fails. */
int rr_sample_mask(const rr_sample *s, rr_image *mask);

const char *rr_sample_type_name(rr_sample_type t);

/* Writes one sample as one JSON line (keys in the order of the example
 * above; paths as written, not resolved; the mask as one png, polygons
 * (all polygons in one list) or rle object, or a union of those when there
 * are several).  -1 on a write error. */
int rr_sample_write(FILE *out, const rr_sample *s);
/* Writes a whole manifest; a failed write leaves no file behind (a regular
 * file is removed, never a device or a pipe). */
int rr_manifest_write(const char *path, const rr_manifest *m);

/* Samples counted by one field, for the checker's summary. */
typedef enum { RR_FIELD_SPLIT, RR_FIELD_TYPE, RR_FIELD_CATEGORY, RR_FIELD_LANG } rr_field;
typedef struct {
    const char *key; /* points into the manifest (or a static name) */
    long n;
} rr_count;
typedef struct {
    rr_count *v;
    size_t n;
} rr_counts;
/* Distinct values of `field` with their counts, sorted by value (bytes);
 * a null category counts as "". */
int rr_manifest_count(const rr_manifest *m, rr_field field, rr_counts *out);
void rr_counts_free(rr_counts *c);

void rr_findings_free(rr_findings *f);

#endif
