#include "loader.h"

#include <omp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../data/input.h"
#include "../error.h"
#include "../rng.h"
#include "../text/tokenizer.h"

/* Streams derived from the seed (rr_rand64(seed, tag)). */
enum { TAG_ORDER = 1, TAG_ERASE = 2 };

/* RMSIN's add_random_boxes (doc/training.md, Data and augmentation). */
enum { ERASE_MIN = 20, ERASE_MAX = 60, ERASE_SIDE = 32 };

typedef struct {
    int64_t seq; /* the batch this slot is for */
    int done;    /* samples written */
    rr_batch b;
} slot;

typedef struct {
    rr_loader *l;
    rr_tokenizer *tok;
    pthread_t th;
    int started;
} worker;

struct rr_loader {
    const rr_manifest *m;
    rr_loader_opts o;
    int64_t per_epoch;               /* batches per epoch */
    int64_t start;                   /* batch 0's place: start_epoch * per_epoch + index */
    int64_t end;                     /* batches to make (INT64_MAX with repeat) */
    uint64_t order_seed, erase_seed;
    unsigned char *erase;            /* per sample: gets random boxes */
    size_t *perm;                    /* the order of epoch perm_epoch (claiming side) */
    int64_t perm_epoch;
    slot *slots;
    worker *w;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int64_t claim_seq;               /* the next sample to make: batch claim_seq, */
    int claim_i;                     /* its sample claim_i */
    int64_t consume_seq;
    int stop, failed;
    char err[1024];
    double waited;
};

int64_t rr_loader_batches(size_t n, int batch, int drop_last)
{
    return drop_last ? (int64_t)(n / (size_t)batch) : (int64_t)((n + (size_t)batch - 1) / (size_t)batch);
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* A uniform integer in [0, m]. */
static uint64_t uniform_int(rr_rng *r, uint64_t m) { return rr_rng_next(r) % (m + 1); }

static void permute(size_t *v, size_t n, uint64_t seed)
{
    rr_rng r = {seed, 0};
    for (size_t i = 0; i < n; i++)
        v[i] = i;
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)uniform_int(&r, i - 1), t = v[i - 1];
        v[i - 1] = v[j];
        v[j] = t;
    }
}

/* Batch `seq`: its epoch, index in the epoch and sample count. */
static void locate(const rr_loader *l, int64_t seq, int64_t *epoch, int64_t *index, int *n)
{
    int64_t g = l->start + seq;
    *epoch = g / l->per_epoch;
    *index = g % l->per_epoch;
    int64_t left = (int64_t)l->m->n - *index * l->o.batch;
    *n = (int)(left < l->o.batch ? left : l->o.batch);
}

static void random_boxes(rr_image *im, uint64_t seed)
{
    if (im->width < ERASE_SIDE)
        return;
    rr_rng r = {seed, 0};
    int boxes = ERASE_MIN + (int)uniform_int(&r, ERASE_MAX - ERASE_MIN);
    for (int k = 0; k < boxes; k++) {
        /* y first, both in [0, width - 32]: RMSIN uses img.shape[1] for both */
        int y0 = (int)uniform_int(&r, (uint64_t)(im->width - ERASE_SIDE));
        int x0 = (int)uniform_int(&r, (uint64_t)(im->width - ERASE_SIDE));
        for (int y = y0; y < y0 + ERASE_SIDE && y < im->height; y++)
            memset(im->data + ((size_t)y * im->width + x0) * 3, 0, ERASE_SIDE * 3);
    }
}

static int make_sample(rr_loader *l, rr_tokenizer *tok, size_t k, int64_t epoch, slot *s, int i)
{
    const rr_sample *sm = &l->m->samples[k];
    const rr_loader_opts *o = &l->o;
    size_t px = (size_t)o->size * o->size;
    rr_image im = {0}, mask = {0};
    int rc = rr_raster_load(sm->image_path, o->raster, &im, NULL);
    if (!rc && l->erase && l->erase[k])
        random_boxes(&im, rr_rand64(rr_rand64(l->erase_seed, (uint64_t)epoch), k));
    if (!rc)
        rc = rr_input_image(&im, o->size, o->mean, o->std, s->b.image + (size_t)i * 3 * px);
    if (!rc)
        rc = rr_sample_mask(sm, &mask);
    if (!rc)
        rc = rr_input_mask(&mask, o->size, s->b.target + (size_t)i * px);
    if (!rc && rr_tokenizer_encode(tok, sm->sentence, strlen(sm->sentence), o->max_len, 0,
                                   s->b.ids + (size_t)i * o->max_len, s->b.mask + (size_t)i * o->max_len) < 0)
        rc = -1;
    s->b.sample[i] = k;
    rr_image_free(&im);
    rr_image_free(&mask);
    return rc ? rr_error_prefix("%s (line %ld): ", sm->id, sm->line) : 0;
}

static void *work(void *arg)
{
    worker *w = arg;
    rr_loader *l = w->l;
    /* one sample per thread: the resizer's OpenMP loops would only add
     * threads to a machine the training step already keeps busy */
    omp_set_num_threads(1);
    pthread_mutex_lock(&l->mu);
    while (!l->stop && !l->failed && l->claim_seq < l->end) {
        int64_t seq = l->claim_seq, epoch, index;
        int i = l->claim_i, n;
        locate(l, seq, &epoch, &index, &n);
        if (++l->claim_i == n) {
            l->claim_i = 0;
            l->claim_seq++;
        }
        if (epoch != l->perm_epoch) { /* claims come in order: one epoch's order at a time */
            if (l->o.shuffle)
                permute(l->perm, l->m->n, rr_rand64(l->order_seed, (uint64_t)epoch));
            l->perm_epoch = epoch;
        }
        size_t k = l->perm[(size_t)index * l->o.batch + i];
        slot *s = &l->slots[seq % l->o.depth];
        while (!l->stop && !l->failed && s->seq != seq)
            pthread_cond_wait(&l->cv, &l->mu);
        if (l->stop || l->failed)
            break;
        pthread_mutex_unlock(&l->mu);
        int rc = make_sample(l, w->tok, k, epoch, s, i);
        pthread_mutex_lock(&l->mu);
        if (rc && !l->failed) {
            l->failed = 1;
            snprintf(l->err, sizeof l->err, "%s", rr_errmsg());
        }
        if (++s->done == n || rc)
            pthread_cond_broadcast(&l->cv);
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

static void *alloc_or_null(size_t n) { return malloc(n ? n : 1); }

rr_loader *rr_loader_open(const rr_manifest *m, const rr_loader_opts *o, int64_t epoch, int64_t index)
{
    int64_t per_epoch = m->n ? rr_loader_batches(m->n, o->batch, o->drop_last) : 0;
    if (per_epoch < 1) {
        rr_error("%s: %zu samples, fewer than one batch of %d", m->path, m->n, o->batch);
        return NULL;
    }
    if (index < 0 || index >= per_epoch || epoch < 0 || o->threads < 1 || o->depth < 1) {
        rr_error("loader: batch %lld of epoch %lld is outside the epoch's %lld batches", (long long)index,
                 (long long)epoch, (long long)per_epoch);
        return NULL;
    }
    rr_loader *l = calloc(1, sizeof *l);
    if (!l) {
        rr_error("out of memory");
        return NULL;
    }
    l->m = m;
    l->o = *o;
    l->per_epoch = per_epoch;
    l->start = epoch * per_epoch + index;
    l->end = o->repeat ? INT64_MAX : per_epoch - index;
    l->order_seed = rr_rand64(o->seed, TAG_ORDER);
    l->erase_seed = rr_rand64(o->seed, TAG_ERASE);
    l->perm_epoch = -1;
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, NULL);
    l->perm = alloc_or_null(m->n * sizeof *l->perm);
    l->slots = calloc((size_t)o->depth, sizeof *l->slots);
    l->w = calloc((size_t)o->threads, sizeof *l->w);
    int ok = l->perm && l->slots && l->w;
    if (ok) /* without shuffle the order never changes */
        for (size_t i = 0; i < m->n; i++)
            l->perm[i] = i;
    if (ok && o->random_erase) {
        size_t *pick = alloc_or_null(m->n * sizeof *pick);
        l->erase = calloc(m->n + 1, 1);
        ok = pick && l->erase;
        if (ok) { /* random.sample(ref_ids, int(0.2 n)): a fixed subset */
            permute(pick, m->n, l->erase_seed);
            for (size_t i = 0; i < m->n / 5; i++)
                l->erase[pick[i]] = 1;
        }
        free(pick);
    }
    size_t px = (size_t)o->size * o->size, B = (size_t)o->batch, L = (size_t)o->max_len;
    for (int k = 0; ok && k < o->depth; k++) {
        rr_batch *b = &l->slots[k].b;
        l->slots[k].seq = k;
        b->image = malloc(B * 3 * px * sizeof *b->image);
        b->ids = malloc(B * L * sizeof *b->ids);
        b->mask = malloc(B * L * sizeof *b->mask);
        b->target = malloc(B * px);
        b->sample = malloc(B * sizeof *b->sample);
        ok = b->image && b->ids && b->mask && b->target && b->sample;
    }
    if (!ok) {
        rr_error("out of memory");
        rr_loader_close(l);
        return NULL;
    }
    for (int k = 0; k < o->threads; k++) {
        worker *w = &l->w[k];
        w->l = l;
        if (!(w->tok = rr_tokenizer_load(o->vocab, 0))) {
            rr_loader_close(l);
            return NULL;
        }
    }
    for (int k = 0; k < o->threads; k++) {
        if (pthread_create(&l->w[k].th, NULL, work, &l->w[k]) != 0) {
            rr_error("cannot start a loader thread");
            rr_loader_close(l);
            return NULL;
        }
        l->w[k].started = 1;
    }
    return l;
}

int rr_loader_next(rr_loader *l, rr_batch **out)
{
    pthread_mutex_lock(&l->mu);
    int64_t seq = l->consume_seq, epoch, index;
    if (seq >= l->end) {
        pthread_mutex_unlock(&l->mu);
        return 1;
    }
    int n;
    locate(l, seq, &epoch, &index, &n);
    slot *s = &l->slots[seq % l->o.depth];
    double t0 = now();
    while (!l->failed && !(s->seq == seq && s->done == n))
        pthread_cond_wait(&l->cv, &l->mu);
    l->waited += now() - t0;
    int failed = l->failed;
    pthread_mutex_unlock(&l->mu);
    if (failed)
        return rr_error("%s", l->err);
    s->b.n = n;
    s->b.epoch = epoch;
    s->b.index = index;
    *out = &s->b;
    return 0;
}

void rr_loader_release(rr_loader *l, rr_batch *b)
{
    pthread_mutex_lock(&l->mu);
    slot *s = &l->slots[l->consume_seq % l->o.depth];
    if (&s->b == b) {
        s->seq += l->o.depth;
        s->done = 0;
        l->consume_seq++;
        pthread_cond_broadcast(&l->cv);
    }
    pthread_mutex_unlock(&l->mu);
}

double rr_loader_waited(const rr_loader *l) { return l->waited; }

void rr_loader_close(rr_loader *l)
{
    if (!l)
        return;
    pthread_mutex_lock(&l->mu);
    l->stop = 1;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
    for (int k = 0; l->w && k < l->o.threads; k++) {
        if (l->w[k].started)
            pthread_join(l->w[k].th, NULL);
        rr_tokenizer_free(l->w[k].tok);
    }
    for (int k = 0; l->slots && k < l->o.depth; k++) {
        rr_batch *b = &l->slots[k].b;
        free(b->image);
        free(b->ids);
        free(b->mask);
        free(b->target);
        free(b->sample);
    }
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->cv);
    free(l->w);
    free(l->slots);
    free(l->perm);
    free(l->erase);
    free(l);
}
