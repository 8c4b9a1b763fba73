/* Batches of a dataset manifest, made by background threads.
 *
 * Each sample is decoded (rr_image_load, RGB), optionally erased with
 * RMSIN's random boxes, resized and normalised (rr_input_image), its mask
 * made (rr_sample_mask, the union of its parts) and resized
 * (rr_input_mask), and its sentence tokenized ([CLS] ... [SEP], cut and
 * padded to max_len, as the reference does).  Threads fill the batches
 * ahead of the consumer in a ring of `depth` slots, so a training step
 * finds its batch ready once the files are in the page cache.
 *
 * Order.  Micro-batch j of epoch e holds the samples at positions
 * j*batch ... j*batch + batch - 1 of epoch e's order: the manifest's order,
 * or with shuffle a permutation drawn from (seed, e) alone (Fisher-Yates
 * over the counter-based RNG).  With drop_last an epoch has floor(n/batch)
 * batches, else ceil(n/batch) (the last one smaller).  A batch's content is
 * a function of (seed, epoch, batch index) only: the same batches whatever
 * the number of threads, and a loader opened at (epoch, batch) continues a
 * run exactly.
 *
 * Random boxes (RMSIN's add_random_boxes, doc/training.md, Data and augmentation, option): a fixed 20%
 * of the samples (int(0.2 n), drawn from the seed once) get, each time they
 * are loaded, 20 to 60 black 32 x 32 boxes at uniform positions of the
 * original image, both coordinates drawn in [0, width - 32] as RMSIN draws
 * them (clipped to the image). */
#ifndef RR_TRAIN_LOADER_H
#define RR_TRAIN_LOADER_H

#include <stddef.h>
#include <stdint.h>

#include "../io/manifest.h"
#include "../io/raster.h"

typedef struct {
    int size;          /* image side (the configuration's image_size) */
    float mean[3], std[3];
    int max_len;       /* token ids per sentence */
    const char *vocab; /* the WordPiece vocabulary file */
    int batch;
    int shuffle;       /* a new permutation each epoch; else manifest order */
    int drop_last;     /* drop an epoch's last, incomplete batch */
    int repeat;        /* go on to the next epoch; else end after one */
    int random_erase;
    uint64_t seed;
    int threads;       /* >= 1 */
    int depth;         /* batches made ahead (ring slots), >= 1 */
    const rr_raster_opts *raster; /* the images' bands and scale (NULL: the defaults) */
} rr_loader_opts;

/* One batch, host memory, valid until rr_loader_release. */
typedef struct {
    int n;             /* samples (batch, or fewer for a last batch) */
    int64_t epoch, index;
    float *image;      /* n x 3 x size x size, normalised */
    int32_t *ids;      /* n x max_len */
    int32_t *mask;     /* n x max_len: 1 on ids, 0 on padding */
    uint8_t *target;   /* n x size x size, 0/1 */
    size_t *sample;    /* n indices into the manifest's samples */
} rr_batch;

typedef struct rr_loader rr_loader;

/* Batches in an epoch of n samples. */
int64_t rr_loader_batches(size_t n, int batch, int drop_last);

/* Starts the threads at micro-batch `index` of epoch `epoch`.  The manifest
 * must outlive the loader.  NULL with a message on failure (an epoch
 * without a batch, a vocabulary that does not load, no memory). */
rr_loader *rr_loader_open(const rr_manifest *m, const rr_loader_opts *o, int64_t epoch, int64_t index);
/* The next batch, waiting for it: 0 and *out, 1 at the end (no repeat),
 * -1 when a sample failed ("ID (line N): what"). */
int rr_loader_next(rr_loader *l, rr_batch **out);
/* Gives the batch's slot back to the threads. */
void rr_loader_release(rr_loader *l, rr_batch *b);
/* Seconds the consumer has waited in rr_loader_next in all. */
double rr_loader_waited(const rr_loader *l);
/* Stops and joins the threads, frees everything. */
void rr_loader_close(rr_loader *l);

#endif
