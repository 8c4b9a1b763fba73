#include "score.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../error.h"
#include "../io/raster.h"
#include "../io/resize_pil.h"
#include "../io/stream.h"

#define NONE ((size_t)-1)

void rr_score_free(rr_score *s)
{
    free(s->sel);
    free(s->iou);
    free(s->seen);
    memset(s, 0, sizeof *s);
}

int rr_score_init(rr_score *s, const rr_manifest *m, const rr_score_opts *opts)
{
    memset(s, 0, sizeof *s);
    s->m = m;
    s->opts = *opts;
    if (opts->side < 0 || opts->side > 65535)
        return rr_error("score: bad resolution %d", opts->side);
    rr_findings f = {0};
    long dup = rr_manifest_check(m, 0, &f);
    if (dup < 0)
        return -1;
    if (dup > 0) {
        rr_error("%s:%ld: %s", m->path, f.v[0].line, f.v[0].msg);
        rr_findings_free(&f);
        return -1;
    }
    rr_findings_free(&f);
    size_t n = 0;
    for (size_t i = 0; i < m->n; i++)
        n += !opts->split || strcmp(m->samples[i].split, opts->split) == 0;
    if (m->n == 0)
        return rr_error("%s: no samples", m->path);
    if (n == 0)
        return rr_error("%s: no sample of split '%s'", m->path, opts->split);
    s->sel = malloc(n * sizeof *s->sel);
    s->iou = calloc(n, sizeof *s->iou);
    s->seen = calloc(n, 1);
    if (!s->sel || !s->iou || !s->seen)
        return rr_error("score: out of memory");
    for (size_t i = 0; i < m->n; i++)
        if (!opts->split || strcmp(m->samples[i].split, opts->split) == 0)
            s->sel[s->n++] = i;
    return 0;
}

/* "PATH:LINE: sample 'id'" for messages. */
static void where(const rr_score *s, size_t k, char *buf, size_t n)
{
    const rr_sample *sm = rr_score_sample(s, k);
    char id[96];
    snprintf(buf, n, "%s:%ld: sample '%s'", s->m->path, sm->line, rr_printable(sm->id, id, sizeof id));
}

/* Scores sample k against pred (a 0/1 mask; NULL: an empty prediction),
 * named `what` in messages. */
static int score_one(rr_score *s, size_t k, const rr_image *pred, const char *what)
{
    const rr_sample *sm = rr_score_sample(s, k);
    char w[256];
    int side = s->opts.side;
    rr_image gt, gt_r = {0}, pred_r = {0}, empty = {0};
    if (rr_sample_mask(sm, &gt)) {
        where(s, k, w, sizeof w);
        return rr_error_prefix("%s: ground truth: ", w);
    }
    int rc = 0;
    if (!pred) {
        if (rr_image_alloc(&empty, gt.width, gt.height, 1)) {
            rr_image_free(&gt);
            return -1;
        }
        pred = &empty;
    }
    if (!side && (pred->width != sm->width || pred->height != sm->height)) {
        where(s, k, w, sizeof w);
        rc = rr_error("%s: %s is %dx%d but the image is %dx%d (--resolution 480 resizes both)", w, what,
                      pred->width, pred->height, sm->width, sm->height);
        goto out;
    }
    const rr_image *g = &gt, *p = pred;
    if (side && (gt.width != side || gt.height != side)) {
        if ((rc = rr_pil_resize_nearest(&gt, side, side, &gt_r)))
            goto out;
        g = &gt_r;
    }
    if (side && (pred->width != side || pred->height != side)) {
        if ((rc = rr_pil_resize_nearest(pred, side, side, &pred_r)))
            goto out;
        p = &pred_r;
    }
    s->iou[k] = rr_iou_count(p->data, g->data, (size_t)g->width * (size_t)g->height, sm->type == RR_TYPE_NONE);
    s->seen[k] = 1;
out:
    rr_image_free(&gt);
    rr_image_free(&gt_r);
    rr_image_free(&pred_r);
    rr_image_free(&empty);
    return rc;
}

/* After reading the predictions: the samples that got none are an error,
 * or (missing_empty) scored as empty. */
static int finish_missing(rr_score *s, const char *dir)
{
    size_t first = NONE;
    long missing = 0;
    for (size_t k = 0; k < s->n; k++)
        if (!s->seen[k]) {
            if (first == NONE)
                first = k;
            missing++;
        }
    if (!missing)
        return 0;
    if (!s->opts.missing_empty) {
        const rr_sample *sm = rr_score_sample(s, first);
        char id[96], more[96] = "";
        if (missing > 1)
            snprintf(more, sizeof more, " (and %ld more samples have none)", missing - 1);
        rr_printable(sm->id, id, sizeof id);
        if (dir)
            return rr_error("no prediction for sample '%s' (%s:%ld): %s%s%s.png does not exist%s; "
                            "--missing=empty scores missing predictions as empty masks",
                            id, s->m->path, sm->line, dir, dir[strlen(dir) - 1] == '/' ? "" : "/", id, more);
        return rr_error("no prediction for sample '%s' (%s:%ld) in the stream%s; --missing=empty scores missing "
                        "predictions as empty masks",
                        id, s->m->path, sm->line, more);
    }
    for (size_t k = 0; k < s->n; k++)
        if (!s->seen[k]) {
            if (score_one(s, k, NULL, "an empty prediction"))
                return -1;
            s->seen[k] = 2;
        }
    s->missing = missing;
    return 0;
}

/* The file of a sample's prediction in a folder: DIR/ID.png, or
 * DIR/ID.tif or DIR/ID.tiff (a GeoTIFF mask), into path.  1 when there is
 * none; -1 when there are two. */
static int prediction_path(char *path, size_t len, const char *dir, const char *sep, const char *id)
{
    static const char *const ext[] = {"png", "tif", "tiff"};
    struct stat st;
    int found = -1;
    for (int e = 0; e < 3; e++) {
        snprintf(path, len, "%s%s%s.%s", dir, sep, id, ext[e]);
        if (stat(path, &st) != 0 && errno == ENOENT)
            continue;
        if (found >= 0)
            return rr_error("%s%s%s.%s and .%s: two predictions of one sample", dir, sep, id, ext[found], ext[e]);
        found = e;
    }
    if (found < 0)
        return 1;
    snprintf(path, len, "%s%s%s.%s", dir, sep, id, ext[found]);
    return 0;
}

int rr_score_folder(rr_score *s, const char *dir)
{
    struct stat st;
    if (stat(dir, &st) != 0)
        return rr_error("%s: %s", dir, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return rr_error("%s: not a folder", dir);
    char **err = calloc(s->n, sizeof *err);
    if (!err)
        return rr_error("score: out of memory");
    int stop = 0;
    size_t done = 0; /* for the progress */
    const char *sep = dir[strlen(dir) - 1] == '/' ? "" : "/";
#pragma omp parallel for schedule(dynamic, 4)
    for (size_t k = 0; k < s->n; k++) {
        int halt;
#pragma omp atomic read
        halt = stop;
        if (halt)
            continue;
        const rr_sample *sm = rr_score_sample(s, k);
        size_t len = strlen(dir) + strlen(sm->id) + 7;
        char *path = malloc(len);
        rr_image pred = {0};
        int rc = 0;
        if (!path)
            rc = rr_error("score: out of memory");
        else if ((rc = prediction_path(path, len, dir, sep, sm->id)) == 1)
            rc = 0; /* missing: left unseen */
        else if (!rc)
            rc = rr_raster_mask_load(path, &pred) ? -1 : score_one(s, k, &pred, path);
        if (rc) {
            err[k] = strdup(rr_errmsg());
#pragma omp atomic write
            stop = 1;
        } else if (s->opts.progress) {
#pragma omp critical(score_progress)
            rr_progress_update(s->opts.progress, "%zu/%zu masks scored", ++done, s->n);
        }
        rr_image_free(&pred);
        free(path);
    }
    int rc = 0;
    for (size_t k = 0; k < s->n; k++)
        if (err[k] && !rc)
            rc = rr_error("%s", err[k]);
    for (size_t k = 0; k < s->n; k++)
        free(err[k]);
    free(err);
    if (stop && !rc)
        rc = rr_error("score: out of memory");
    return rc ? rc : finish_missing(s, dir);
}

/* ---- streams ------------------------------------------------------------- */

static const rr_entry *entry(const rr_record *rec, const char *name)
{
    for (int i = 0; i < rr_record_count(rec); i++)
        if (strcmp(rr_record_entry(rec, i)->name, name) == 0)
            return rr_record_entry(rec, i);
    return NULL;
}

static void shape_str(const rr_entry *e, char *buf, size_t n)
{
    size_t k = (size_t)snprintf(buf, n, "[");
    for (int d = 0; d < e->ndim && k < n; d++)
        k += (size_t)snprintf(buf + k, n - k, d ? ", %lld" : "%lld", (long long)e->shape[d]);
    if (k < n)
        snprintf(buf + k, n - k, "]");
}

static int alloc_mask(rr_image *mask, int64_t h, int64_t w, const char *name)
{
    if (h < 1 || w < 1 || h > 65535 || w > 65535 || h * w > RR_IMAGE_MAX_PIXELS)
        return rr_error("tensor '%s': a mask of %lldx%lld pixels is out of range", name, (long long)w,
                        (long long)h);
    return rr_image_alloc(mask, (int)w, (int)h, 1);
}

static double value_at(const rr_entry *e, size_t i)
{
    const unsigned char *p = (const unsigned char *)e->data + i * rr_dtype_size(e->dtype);
    switch (e->dtype) {
    case RR_F32: {
        float v;
        memcpy(&v, p, 4);
        return v;
    }
    case RR_F64: {
        double v;
        memcpy(&v, p, 8);
        return v;
    }
    case RR_F16:
    case RR_BF16: {
        uint16_t h;
        memcpy(&h, p, 2);
        return e->dtype == RR_F16 ? rr_f16_to_f32(h) : rr_bf16_to_f32(h);
    }
    default: return 0;
    }
}

int rr_record_pred_mask(const rr_record *rec, rr_image *mask)
{
    memset(mask, 0, sizeof *mask);
    char shape[160];
    const rr_entry *e = entry(rec, "logits");
    if (e) {
        shape_str(e, shape, sizeof shape);
        if (e->dtype != RR_F32 && e->dtype != RR_F64 && e->dtype != RR_F16 && e->dtype != RR_BF16)
            return rr_error("tensor 'logits' is %s, expected F32, F16, BF16 or F64", rr_dtype_name(e->dtype));
        int lead = e->ndim == 4;
        if (!(e->ndim == 3 || (e->ndim == 4 && e->shape[0] == 1)) || e->shape[lead] != 2)
            return rr_error("tensor 'logits' has shape %s, expected [2, H, W] or [1, 2, H, W]", shape);
        int64_t h = e->shape[lead + 1], w = e->shape[lead + 2];
        if (alloc_mask(mask, h, w, "logits"))
            return -1;
        size_t hw = (size_t)(h * w);
        for (size_t i = 0; i < hw; i++) {
            double l0 = value_at(e, i), l1 = value_at(e, hw + i);
            if (isnan(l0) || isnan(l1)) {
                rr_image_free(mask);
                return rr_error("tensor 'logits' holds NaN at row %zu, column %zu", i / (size_t)w,
                                i % (size_t)w);
            }
            mask->data[i] = l1 > l0;
        }
        return 0;
    }
    if ((e = entry(rec, "mask"))) {
        shape_str(e, shape, sizeof shape);
        if (e->dtype != RR_U8 && e->dtype != RR_BOOL)
            return rr_error("tensor 'mask' is %s, expected U8 or BOOL", rr_dtype_name(e->dtype));
        if (!(e->ndim == 2 || (e->ndim == 3 && e->shape[0] == 1)))
            return rr_error("tensor 'mask' has shape %s, expected [H, W] or [1, H, W]", shape);
        int64_t h = e->shape[e->ndim - 2], w = e->shape[e->ndim - 1];
        if (alloc_mask(mask, h, w, "mask"))
            return -1;
        const uint8_t *d = e->data;
        for (size_t i = 0; i < (size_t)(h * w); i++)
            mask->data[i] = d[i] != 0;
        return 0;
    }
    char names[200] = "";
    size_t k = 0;
    for (int i = 0; i < rr_record_count(rec) && k < sizeof names; i++)
        k += (size_t)snprintf(names + k, sizeof names - k, "%s'%s'", i ? ", " : "", rr_record_entry(rec, i)->name);
    return rr_error("no tensor 'logits' or 'mask' (it holds %s)", k ? names : "no tensors");
}

typedef struct {
    const char *id;
    size_t index;
} id_index;

static int cmp_id(const void *a, const void *b)
{
    return strcmp(((const id_index *)a)->id, ((const id_index *)b)->id);
}

int rr_score_stream(rr_score *s, FILE *in, const char *name)
{
    const rr_manifest *m = s->m;
    id_index *ids = malloc((m->n ? m->n : 1) * sizeof *ids);
    size_t *pos = malloc((m->n ? m->n : 1) * sizeof *pos);
    long *recof = calloc(s->n ? s->n : 1, sizeof *recof);
    if (!ids || !pos || !recof) {
        free(ids);
        free(pos);
        free(recof);
        return rr_error("score: out of memory");
    }
    for (size_t i = 0; i < m->n; i++) {
        ids[i] = (id_index){m->samples[i].id, i};
        pos[i] = NONE;
    }
    for (size_t k = 0; k < s->n; k++)
        pos[s->sel[k]] = k;
    qsort(ids, m->n, sizeof *ids, cmp_id);
    rr_record rec;
    rr_record_init(&rec);
    int r, rc = 0;
    long recno = 1;
    char q[96];
    for (; (r = rr_stream_read(in, &rec, recno)) == 1; recno++) {
        if (rr_stream_expect_stage(&rec, "logits", recno)) {
            rc = rr_error_prefix("%s: ", name);
            break;
        }
        const char *id = rr_record_meta(&rec, "id");
        if (!id) {
            rc = rr_error("%s: record %ld: no \"id\" in the metadata", name, recno);
            break;
        }
        id_index key = {id, 0}, *hit = bsearch(&key, ids, m->n, sizeof *ids, cmp_id);
        if (!hit) {
            rc = rr_error("%s: record %ld: sample '%s' is not in %s", name, recno, rr_printable(id, q, sizeof q),
                          m->path);
            break;
        }
        if (rr_stream_check_finite(&rec)) {
            rc = rr_error_prefix("%s: record %ld (sample '%s'): ", name, recno, rr_printable(id, q, sizeof q));
            break;
        }
        size_t k = pos[hit->index];
        if (k == NONE)
            continue; /* another split */
        if (s->seen[k]) {
            rc = rr_error("%s: record %ld: a second prediction for sample '%s' (the first was record %ld)", name,
                          recno, rr_printable(id, q, sizeof q), recof[k]);
            break;
        }
        rr_image pred;
        if (rr_record_pred_mask(&rec, &pred)) {
            rc = rr_error_prefix("%s: record %ld (sample '%s'): ", name, recno, rr_printable(id, q, sizeof q));
            break;
        }
        char what[160];
        snprintf(what, sizeof what, "the prediction in record %ld of %s", recno, name);
        rc = score_one(s, k, &pred, what);
        rr_image_free(&pred);
        if (rc)
            break;
        recof[k] = recno;
        if (s->opts.progress)
            rr_progress_update(s->opts.progress, "%ld records scored", recno);
    }
    if (r < 0 && !rc)
        rc = rr_error_prefix("%s: ", name);
    rr_record_free(&rec);
    free(ids);
    free(pos);
    free(recof);
    return rc ? rc : finish_missing(s, NULL);
}

/* ---- the manifest check -------------------------------------------------- */

typedef struct {
    rr_finding f;
    size_t seq;
} seq_finding;

static int cmp_finding(const void *a, const void *b)
{
    const seq_finding *x = a, *y = b;
    if (x->f.line != y->f.line)
        return x->f.line < y->f.line ? -1 : 1;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

long rr_check_manifest(const char *path, rr_check_level level, rr_manifest *m, rr_findings *f)
{
    memset(f, 0, sizeof *f);
    if (rr_manifest_read(path, m, f) < 0 && f->n == 0)
        return -1;
    unsigned flags = RR_CHECK_FILES;
    if (level >= RR_CHECK_LEVEL_MASKS)
        flags |= RR_CHECK_MASKS;
    if (level >= RR_CHECK_LEVEL_IMAGES)
        flags |= RR_CHECK_IMAGES;
    if (rr_manifest_check(m, flags, f) < 0)
        return -1;
    if (f->n > 1) {
        seq_finding *v = malloc(f->n * sizeof *v);
        if (!v)
            return rr_error("manifest check: out of memory");
        for (size_t i = 0; i < f->n; i++)
            v[i] = (seq_finding){f->v[i], i};
        qsort(v, f->n, sizeof *v, cmp_finding);
        for (size_t i = 0; i < f->n; i++)
            f->v[i] = v[i].f;
        free(v);
    }
    return (long)f->n;
}
