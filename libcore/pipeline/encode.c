#include "encode.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../data/input.h"
#include "../error.h"
#include "../io/sample_id.h"

/* The normalised images of a batch, and the last one read, kept for the next
 * batch: the records of a manifest come several sentences to an image. */
typedef struct {
    int64_t plane;     /* floats per image: 3 x S x S */
    float *chw;        /* cap images */
    int *width, *height;
    int *from;         /* per record: -2 load, -1 the kept last image, j the slot of record j */
    char **err;        /* per record: a failed load's message, or NULL */
    char *last_path;
    float *last_chw;
    int last_width, last_height;
} images;

static int images_init(images *im, int cap, int size)
{
    memset(im, 0, sizeof *im);
    im->plane = 3 * (int64_t)size * size;
    im->chw = malloc((size_t)(cap * im->plane) * sizeof *im->chw);
    im->last_chw = malloc((size_t)im->plane * sizeof *im->last_chw);
    im->width = calloc((size_t)cap, sizeof *im->width);
    im->height = calloc((size_t)cap, sizeof *im->height);
    im->from = calloc((size_t)cap, sizeof *im->from);
    im->err = calloc((size_t)cap, sizeof *im->err);
    return im->chw && im->last_chw && im->width && im->height && im->from && im->err ? 0 : rr_error("out of memory");
}

static void images_free(images *im, int cap)
{
    for (int i = 0; im->err && i < cap; i++)
        free(im->err[i]);
    free(im->chw);
    free(im->last_chw);
    free(im->width);
    free(im->height);
    free(im->from);
    free(im->err);
    free(im->last_path);
}

/* Loads the images of records [0, n) named by paths into slots [0, n): the
 * distinct ones in parallel, a repeat of the one before (or of the last
 * image of the previous batch) by copying. */
static int load_images(images *im, rr_batch *b, int n, const char *const *paths, const rr_config *cfg)
{
    int *from = im->from;
    for (int i = 0; i < n; i++)
        from[i] = i > 0 && strcmp(paths[i], paths[i - 1]) == 0                  ? i - 1
                  : i == 0 && im->last_path && strcmp(paths[0], im->last_path) == 0 ? -1
                                                                                   : -2;
#pragma omp parallel for schedule(dynamic)
    for (int i = 0; i < n; i++) {
        if (from[i] != -2)
            continue;
        rr_image rgb;
        float *dst = im->chw + i * im->plane;
        if (rr_image_load(paths[i], RR_IMAGE_RGB, &rgb) ||
            rr_input_image(&rgb, cfg->image_size, cfg->pixel_mean, cfg->pixel_std, dst)) {
            im->err[i] = strdup(rr_errmsg());
        } else {
            im->width[i] = rgb.width;
            im->height[i] = rgb.height;
        }
        rr_image_free(&rgb);
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
    }
    char *last = strdup(paths[n - 1]);
    if (!last)
        return rr_error("out of memory");
    free(im->last_path);
    im->last_path = last;
    memcpy(im->last_chw, im->chw + (n - 1) * im->plane, (size_t)im->plane * sizeof *im->last_chw);
    im->last_width = im->width[n - 1];
    im->last_height = im->height[n - 1];
    return 0;
}

/* Records [lo, hi) of the batch, whose ids have n_l entries: one run of the
 * text encoder, then the records out. */
static int encode_run(const rr_encode_opts *o, rr_ctx *c, rr_batch *b, images *im, int lo, int hi, int64_t n_l,
                      int32_t *ids, int32_t *mask, float *l, FILE *out)
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
    int64_t d_l = cfg->text.hidden_size, s = cfg->image_size;
    for (int i = lo; i < hi; i++) {
        rr_record rec;
        char num[2][16];
        snprintf(num[0], sizeof num[0], "%d", im->width[i]);
        snprintf(num[1], sizeof num[1], "%d", im->height[i]);
        int rc = rr_batch_out(b, i, "encoded", &rec) || rr_stage_set_model(&rec, o->model);
        if (!rc && o->image && !rr_record_meta(&b->recs[i], "image")) {
            /* an id made without the image gets its name (io/sample_id.h) */
            char id[512];
            rc = rr_sample_id_prefix(id, sizeof id, o->image, rr_record_meta(&b->recs[i], "id")) ||
                 rr_record_set_meta(&rec, "id", id);
        }
        if (!rc && o->image)
            rc = rr_record_set_meta(&rec, "image", o->image);
        if (!rc)
            rc = rr_record_set_meta(&rec, "width", num[0]) || rr_record_set_meta(&rec, "height", num[1]) ||
                 rr_record_add(&rec, "image", RR_F32, 3, (int64_t[]){3, s, s}, im->chw + i * im->plane) ||
                 rr_record_add(&rec, "L", RR_F32, 2, (int64_t[]){d_l, n_l}, l + (i - lo) * d_l * n_l) ||
                 rr_record_add(&rec, "attention_mask", RR_I32, 1, &n_l, mask + (i - lo) * n_l) ||
                 rr_stream_write(out, &rec);
        rr_record_free(&rec);
        if (rc)
            return -1;
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
        if (!rc)
            rc = load_images(&im, &b, n, paths, &m->cfg);
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
            rc = encode_run(&opts, &c, &b, &im, lo, hi, len[0], ids, mask, l, out);
            rr_ctx_reset(&c);
        }
        done += n;
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
