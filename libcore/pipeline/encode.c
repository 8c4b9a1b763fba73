#include "encode.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../data/input.h"
#include "../error.h"
#include "../io/raster.h"
#include "../io/sample_id.h"

/* The normalised images of a batch, and the last one read, kept for the next
 * batch: the records of a manifest come several sentences to an image.
 * geo[i] holds what a record of image i carries besides: the scene's
 * metadata (io/raster.h) and the "valid" tensor when it has NoData. */
typedef struct {
    int64_t plane;     /* floats per image: 3 x S x S */
    float *chw;        /* cap images */
    int *width, *height;
    rr_record *geo;    /* cap */
    int *from;         /* per record: -2 load, -1 the kept last image, j the slot of record j */
    char **err;        /* per record: a failed load's message, or NULL */
    char *last_path;
    float *last_chw;
    int last_width, last_height;
    rr_record last_geo;
    rr_raster scene;   /* tiled mode: the last scene opened, kept for the
                          next records of the same image (a pipe is read
                          once; the statistics are computed once) */
} images;

static int images_init(images *im, int cap, int size)
{
    memset(im, 0, sizeof *im);
    im->plane = 3 * (int64_t)size * size;
    im->chw = malloc((size_t)(cap * im->plane) * sizeof *im->chw);
    im->last_chw = malloc((size_t)im->plane * sizeof *im->last_chw);
    im->width = calloc((size_t)cap, sizeof *im->width);
    im->height = calloc((size_t)cap, sizeof *im->height);
    im->geo = calloc((size_t)cap, sizeof *im->geo);
    im->from = calloc((size_t)cap, sizeof *im->from);
    im->err = calloc((size_t)cap, sizeof *im->err);
    rr_record_init(&im->last_geo);
    for (int i = 0; im->geo && i < cap; i++)
        rr_record_init(&im->geo[i]);
    return im->chw && im->last_chw && im->width && im->height && im->geo && im->from && im->err
               ? 0
               : rr_error("out of memory");
}

static void images_free(images *im, int cap)
{
    for (int i = 0; im->err && i < cap; i++)
        free(im->err[i]);
    for (int i = 0; im->geo && i < cap; i++)
        rr_record_free(&im->geo[i]);
    rr_record_free(&im->last_geo);
    rr_raster_close(&im->scene);
    free(im->chw);
    free(im->last_chw);
    free(im->width);
    free(im->height);
    free(im->geo);
    free(im->from);
    free(im->err);
    free(im->last_path);
}

/* Adds src's metadata and tensors to dst. */
static int copy_record(rr_record *dst, const rr_record *src)
{
    for (int k = 0; k < src->nmeta; k++)
        if (rr_record_set_meta(dst, src->meta[k].key, src->meta[k].value))
            return -1;
    for (int k = 0; k < src->nentries; k++) {
        const rr_entry *e = &src->entries[k];
        if (rr_record_add(dst, e->name, e->dtype, e->ndim, e->shape, e->data))
            return -1;
    }
    return 0;
}

/* The window (x, y, w, h) of an open scene read at bw x bh and normalised
 * into chw; its metadata (and "valid" tensor) into geo. */
static int read_scene(rr_raster *r, int x, int y, int w, int h, int bw, int bh, const rr_config *cfg, float *chw,
                      rr_record *geo)
{
    rr_image rgb;
    uint8_t *valid;
    int rc = rr_raster_read(r, x, y, w, h, bw, bh, &rgb, &valid) ||
             rr_input_image(&rgb, cfg->image_size, cfg->pixel_mean, cfg->pixel_std, chw) ||
             rr_raster_set_meta(r, geo) ||
             (valid && rr_record_add(geo, "valid", RR_U8, 2, (int64_t[]){bh, bw}, valid));
    rr_image_free(&rgb);
    free(valid);
    return rc;
}

/* Loads the images of records [0, n) named by paths into slots [0, n): the
 * distinct ones in parallel, a repeat of the one before (or of the last
 * image of the previous batch) by copying. */
static int load_images(images *im, rr_batch *b, int n, const char *const *paths, const rr_encode_opts *o)
{
    const rr_config *cfg = &o->model->cfg;
    int *from = im->from;
    for (int i = 0; i < n; i++) {
        from[i] = i > 0 && strcmp(paths[i], paths[i - 1]) == 0                  ? i - 1
                  : i == 0 && im->last_path && strcmp(paths[0], im->last_path) == 0 ? -1
                                                                                   : -2;
        rr_record_free(&im->geo[i]);
    }
#pragma omp parallel for schedule(dynamic)
    for (int i = 0; i < n; i++) {
        if (from[i] != -2)
            continue;
        rr_raster r;
        if (rr_raster_open(&r, paths[i], o->raster) ||
            read_scene(&r, 0, 0, r.width, r.height, r.width, r.height, cfg, im->chw + i * im->plane, &im->geo[i])) {
            im->err[i] = strdup(rr_errmsg());
        } else {
            im->width[i] = r.width;
            im->height[i] = r.height;
        }
        rr_raster_close(&r);
    }
    for (int i = 0; i < n; i++) {
        if (im->err[i]) {
            rr_batch_error(b, i, "%s", im->err[i]);
            for (int j = i; j < n; j++) {
                free(im->err[j]);
                im->err[j] = NULL;
            }
            return -1;
        }
        if (from[i] == -2)
            continue;
        const float *src = from[i] == -1 ? im->last_chw : im->chw + from[i] * im->plane;
        memcpy(im->chw + i * im->plane, src, (size_t)im->plane * sizeof *src);
        im->width[i] = from[i] == -1 ? im->last_width : im->width[from[i]];
        im->height[i] = from[i] == -1 ? im->last_height : im->height[from[i]];
        if (copy_record(&im->geo[i], from[i] == -1 ? &im->last_geo : &im->geo[from[i]]))
            return -1;
    }
    char *last = strdup(paths[n - 1]);
    if (!last)
        return rr_error("out of memory");
    free(im->last_path);
    im->last_path = last;
    memcpy(im->last_chw, im->chw + (n - 1) * im->plane, (size_t)im->plane * sizeof *im->last_chw);
    im->last_width = im->width[n - 1];
    im->last_height = im->height[n - 1];
    rr_record_free(&im->last_geo);
    return copy_record(&im->last_geo, &im->geo[n - 1]);
}

/* The text encoder's output for record i of the batch. */
typedef struct {
    const float *l;
    const int32_t *mask;
    int64_t n_l;
} words;

/* Writes one encoded record made from record i: its image chw (w x h
 * pixels before resizing), the id with suffix appended, and geo's metadata
 * and tensors. */
static int write_record(const rr_encode_opts *o, const rr_batch *b, int i, const char *suffix, int w, int h,
                        const float *chw, const rr_record *geo, const words *t, FILE *out)
{
    const rr_config *cfg = &o->model->cfg;
    int64_t d_l = cfg->text.hidden_size, s = cfg->image_size, n_l = t->n_l;
    rr_record rec;
    char num[2][16], named[512];
    snprintf(num[0], sizeof num[0], "%d", w);
    snprintf(num[1], sizeof num[1], "%d", h);
    int rc = rr_batch_out(b, i, "encoded", &rec) || rr_stage_set_model(&rec, o->model);
    const char *base = rr_record_meta(&b->recs[i], "id");
    /* an id made without the image gets its name (io/sample_id.h) */
    if (!rc && o->image && !rr_record_meta(&b->recs[i], "image"))
        rc = rr_sample_id_prefix(named, sizeof named, o->image, base), base = named;
    char *id = rc ? NULL : malloc(strlen(base) + strlen(suffix) + 1);
    if (!rc && !id)
        rc = rr_error("out of memory");
    if (!rc) {
        strcat(strcpy(id, base), suffix);
        rc = rr_record_set_meta(&rec, "id", id);
    }
    free(id);
    if (!rc && o->image)
        rc = rr_record_set_meta(&rec, "image", o->image);
    if (!rc)
        rc = rr_record_set_meta(&rec, "width", num[0]) || rr_record_set_meta(&rec, "height", num[1]) ||
             copy_record(&rec, geo) ||
             rr_record_add(&rec, "image", RR_F32, 3, (int64_t[]){3, s, s}, chw) ||
             rr_record_add(&rec, "L", RR_F32, 2, (int64_t[]){d_l, n_l}, t->l) ||
             rr_record_add(&rec, "attention_mask", RR_I32, 1, &n_l, t->mask) || rr_stream_write(out, &rec);
    rr_record_free(&rec);
    return rc;
}

/* The starts of the windows of `tile` pixels along an axis of `size`, one
 * every tile - overlap pixels, the last moved back to end at the scene's
 * edge (a scene narrower than a tile is one window of its width).  At most
 * n starts are written; returns their count. */
int rr_encode_tile_starts(int size, int tile, int overlap, int *starts, int n)
{
    if (size <= tile) {
        if (n > 0)
            starts[0] = 0;
        return 1;
    }
    int step = tile - overlap, count = (size - tile + step - 1) / step + 1;
    for (int k = 0; k < count && k < n; k++)
        starts[k] = k * step < size - tile ? k * step : size - tile;
    return count;
}

/* The records of record i in tiled mode: the context record (with
 * o->context) and then each tile's, in raster order, read from im->scene
 * (opened unless it is already the record's image).  chw: room for one
 * normalised image.  *written counts the records. */
static int write_tiles(const rr_encode_opts *o, const rr_batch *b, int i, const char *path, images *im, float *chw,
                       const words *t, FILE *out, long *written)
{
    const rr_config *cfg = &o->model->cfg;
    rr_raster *r = &im->scene;
    if (!r->path || strcmp(r->path, path) != 0) {
        rr_raster_close(r);
        if (rr_raster_open(r, path, o->raster))
            return rr_batch_error(b, i, "%s", rr_errmsg());
    }
    int tw = o->tile < r->width ? o->tile : r->width, th = o->tile < r->height ? o->tile : r->height;
    int nx = rr_encode_tile_starts(r->width, o->tile, o->overlap, NULL, 0);
    int ny = rr_encode_tile_starts(r->height, o->tile, o->overlap, NULL, 0);
    int *xs = malloc((size_t)nx * sizeof *xs), *ys = malloc((size_t)ny * sizeof *ys);
    int rc = xs && ys ? 0 : rr_error("out of memory");
    if (!rc) {
        rr_encode_tile_starts(r->width, o->tile, o->overlap, xs, nx);
        rr_encode_tile_starts(r->height, o->tile, o->overlap, ys, ny);
    }
    char buf[64];
    if (!rc && o->context) {
        /* the whole scene, shrunk to at most RR_ENCODE_CONTEXT_SIDE a side */
        double f = (double)RR_ENCODE_CONTEXT_SIDE / (r->width > r->height ? r->width : r->height);
        int bw = f < 1 ? (int)(r->width * f) : r->width, bh = f < 1 ? (int)(r->height * f) : r->height;
        bw = bw > 0 ? bw : 1;
        bh = bh > 0 ? bh : 1;
        rr_record geo;
        rr_record_init(&geo);
        snprintf(buf, sizeof buf, "0 0 %d %d", r->width, r->height);
        rc = read_scene(r, 0, 0, r->width, r->height, bw, bh, cfg, chw, &geo) ||
             rr_record_set_meta(&geo, "role", "context") || rr_record_set_meta(&geo, "window", buf) ||
             write_record(o, b, i, "-ctx", bw, bh, chw, &geo, t, out);
        rr_record_free(&geo);
        *written += !rc;
    }
    for (int k = 0; k < nx * ny && !rc; k++) {
        int x = xs[k % nx], y = ys[k / nx];
        rr_record geo;
        rr_record_init(&geo);
        char suffix[24], idx[2][16];
        snprintf(suffix, sizeof suffix, "-t%d", k + 1);
        snprintf(idx[0], sizeof idx[0], "%d", k + 1);
        snprintf(idx[1], sizeof idx[1], "%d", nx * ny);
        snprintf(buf, sizeof buf, "%d %d %d %d", x, y, tw, th);
        rc = read_scene(r, x, y, tw, th, tw, th, cfg, chw, &geo) || rr_record_set_meta(&geo, "role", "tile") ||
             rr_record_set_meta(&geo, "window", buf) || rr_record_set_meta(&geo, "tile", idx[0]) ||
             rr_record_set_meta(&geo, "tiles", idx[1]) || write_record(o, b, i, suffix, tw, th, chw, &geo, t, out);
        rr_record_free(&geo);
        *written += !rc;
    }
    free(xs);
    free(ys);
    if (rc && !strstr(rr_errmsg(), "record "))
        rr_batch_error(b, i, "%s", rr_errmsg());
    return rc;
}

/* Records [lo, hi) of the batch, whose ids have n_l entries: one run of the
 * text encoder, then the records out. */
static int encode_run(const rr_encode_opts *o, rr_ctx *c, rr_batch *b, images *im, const char *const *paths, int lo,
                      int hi, int64_t n_l, int32_t *ids, int32_t *mask, float *l, FILE *out, long *written)
{
    const rr_config *cfg = &o->model->cfg;
    int g = hi - lo;
    for (int i = lo; i < hi; i++) {
        int64_t shape[1] = {n_l};
        if (rr_batch_tensor(b, i, "input_ids", RR_I32, 1, shape, ids + (i - lo) * n_l) ||
            rr_batch_tensor(b, i, "attention_mask", RR_I32, 1, shape, mask + (i - lo) * n_l))
            return -1;
    }
    rr_tensor *lt = rr_mrsnet_encode_text(c, o->model, rr_from_host(c, RR_I32, RR_SHAPE(g, n_l), ids),
                                          rr_from_host(c, RR_I32, RR_SHAPE(g, n_l), mask), NULL);
    if (!lt || rr_to_host(l, lt))
        return rr_batch_error(b, lo, "the text encoder: %s", rr_errmsg());
    int64_t d_l = cfg->text.hidden_size;
    for (int i = lo; i < hi; i++) {
        words t = {l + (i - lo) * d_l * n_l, mask + (i - lo) * n_l, n_l};
        float *chw = im->chw + i * im->plane;
        if (o->tile) {
            if (write_tiles(o, b, i, paths[i], im, chw, &t, out, written))
                return -1;
        } else {
            if (write_record(o, b, i, "", im->width[i], im->height[i], chw, &im->geo[i], &t, out))
                return -1;
            ++*written;
        }
    }
    return 0;
}

int rr_encode_run(const rr_encode_opts *o, FILE *in, FILE *out)
{
    const rr_mrsnet *m = o->model;
    if (!(m->parts & RR_PART_TEXT))
        return rr_error("the model was loaded without its text encoder");
    /* the path the records carry: absolute, except for a pipe with no
     * folder (a shell's <(...), /dev/fd/N), which realpath cannot resolve
     * and which is read once, for the first record */
    char *image = NULL;
    struct stat st;
    if (o->image && !(image = realpath(o->image, NULL)) &&
        !(stat(o->image, &st) == 0 && S_ISFIFO(st.st_mode) && (image = strdup(o->image))))
        return rr_error("%s: %s", o->image, strerror(errno));
    rr_encode_opts opts = *o;
    opts.image = image;

    int cap = o->batch, max_len = m->cfg.text.max_position;
    rr_batch b;
    images im = {0};
    rr_ctx c;
    rr_ctx_init(&c, m->params.store.device);
    int32_t *ids = malloc((size_t)cap * max_len * sizeof *ids), *mask = malloc((size_t)cap * max_len * sizeof *mask);
    float *l = malloc((size_t)cap * max_len * m->cfg.text.hidden_size * sizeof *l);
    const char **paths = calloc((size_t)cap, sizeof *paths);
    int rc = rr_batch_init(&b, in, "tokens", cap);
    if (!rc)
        rc = images_init(&im, cap, m->cfg.image_size);
    if (!rc && (!ids || !mask || !l || !paths))
        rc = rr_error("out of memory");
    long done = 0;
    double start = rr_batch_clock();
    int n = 0;
    while (!rc && (n = rr_batch_read(&b)) > 0) {
        for (int i = 0; i < n && !rc; i++)
            rc = (paths[i] = image ? image : rr_batch_meta(&b, i, "image")) ? 0 : -1;
        if (!rc && !o->tile) /* tiles are read as they are written */
            rc = load_images(&im, &b, n, paths, &opts);
        /* runs of records whose ids have the same length */
        for (int lo = 0, hi; lo < n && !rc; lo = hi) {
            int64_t len[1] = {-1};
            if ((rc = rr_batch_tensor(&b, lo, "input_ids", RR_I32, 1, len, NULL)))
                break;
            if (len[0] < 1 || len[0] > max_len) {
                rc = rr_batch_error(&b, lo, "%lld token ids; the model's text encoder takes 1 to %d",
                                    (long long)len[0], max_len);
                break;
            }
            for (hi = lo + 1; hi < n; hi++)
                if (rr_batch_tensor(&b, hi, "input_ids", RR_I32, 1, (int64_t[]){len[0]}, NULL))
                    break;
            rc = encode_run(&opts, &c, &b, &im, paths, lo, hi, len[0], ids, mask, l, out, &done);
            rr_ctx_reset(&c);
        }
        if (!rc && o->progress)
            o->progress(o->progress_arg, done, rr_batch_clock() - start);
    }
    if (n < 0)
        rc = -1;
    if (!rc)
        rc = rr_stream_end(out, done); /* only a stream written in full ends with its mark */
    rr_batch_free(&b);
    images_free(&im, cap);
    rr_ctx_free(&c);
    free(ids);
    free(mask);
    free(l);
    free(paths);
    free(image);
    return rc;
}
