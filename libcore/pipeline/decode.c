#include "decode.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../error.h"
#include "../io/folder.h"
#include "../io/image.h"
#include "../io/overlay.h"
#include "../io/raster.h"
#include "../io/resize_pil.h"
#include "../ops/ops.h"
#include "fuse.h"

void rr_decode_threshold(const float *logits, int64_t n, uint8_t *mask)
{
    for (int64_t i = 0; i < n; i++)
        mask[i] = logits[n + i] > logits[i];
}

/* dir/<id>.png, malloc'd; an id that cannot name a file is an error, and
 * so is a file already there unless force is on: no run silently replaces
 * the masks of another (doc/architecture.md, Programs). */
static char *sample_path(const rr_batch *b, int i, const char *dir, int force)
{
    const char *id = rr_record_meta(&b->recs[i], "id");
    if (strchr(id, '/') || strcmp(id, ".") == 0 || strcmp(id, "..") == 0) {
        rr_batch_error(b, i, "the id cannot name a file in %s (a '/', or . or ..)", dir);
        return NULL;
    }
    size_t n = strlen(dir) + strlen(id) + 6;
    char *path = malloc(n);
    if (!path)
        rr_error("out of memory");
    else
        snprintf(path, n, "%s/%s.png", dir, id);
    if (path && !force && rr_path_exists(path)) {
        rr_batch_error(b, i, "%s exists (from an earlier run, or an id seen twice); --force overwrites it", path);
        free(path);
        return NULL;
    }
    return path;
}

/* What a sample's mask holds. */
typedef struct {
    int64_t area;
    int x0, y0, x1, y1; /* the foreground's bounding box, inclusive */
} mask_stats;

static mask_stats stats_of(const rr_image *mask)
{
    mask_stats s = {0, mask->width, mask->height, -1, -1};
    for (int y = 0; y < mask->height; y++)
        for (int x = 0; x < mask->width; x++)
            if (mask->data[(size_t)y * mask->width + x]) {
                s.area++;
                s.x0 = x < s.x0 ? x : s.x0;
                s.y0 = y < s.y0 ? y : s.y0;
                s.x1 = x > s.x1 ? x : s.x1;
                s.y1 = y > s.y1 ? y : s.y1;
            }
    return s;
}

static int write_overlay(const rr_decode_opts *o, const rr_batch *b, int i, const rr_image *mask,
                         const char *path)
{
    const char *image = rr_batch_meta(b, i, "image");
    if (!image)
        return -1;
    rr_image rgb, sized = {0};
    rr_raster_opts ro; /* the bands, scale and grid the encoded image was made with */
    if (rr_raster_opts_from_meta(&ro, &b->recs[i]) || rr_raster_load(image, &ro, &rgb, NULL))
        return rr_batch_error(b, i, "%s", rr_errmsg());
    int rc = 0;
    if (o->model_size) {
        rc = rr_pil_resize_bilinear(&rgb, mask->width, mask->height, &sized);
        rr_image_free(&rgb);
        rgb = sized;
    } else if (rgb.width != mask->width || rgb.height != mask->height) {
        rc = rr_batch_error(b, i, "%s is %dx%d, the record says %dx%d", image, rgb.width, rgb.height, mask->width,
                            mask->height);
    }
    if (!rc)
        rc = rr_overlay_draw(&rgb, mask, rr_record_meta(&b->recs[i], "sentence"));
    if (!rc)
        rc = rr_image_write_png(path, &rgb);
    rr_image_free(&rgb);
    return rc;
}

static int write_json(FILE *out, const char *id, const char *mask_path, const char *overlay_path,
                      const rr_image *mask, const mask_stats *s)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", id);
    if (mask_path)
        cJSON_AddStringToObject(o, "mask", mask_path);
    else
        cJSON_AddNullToObject(o, "mask");
    if (overlay_path)
        cJSON_AddStringToObject(o, "overlay", overlay_path);
    cJSON_AddNumberToObject(o, "width", mask->width);
    cJSON_AddNumberToObject(o, "height", mask->height);
    cJSON_AddBoolToObject(o, "empty", s->area == 0);
    cJSON_AddNumberToObject(o, "area", (double)s->area);
    if (s->area) {
        int box[4] = {s->x0, s->y0, s->x1 - s->x0 + 1, s->y1 - s->y0 + 1};
        cJSON_AddItemToObject(o, "bbox", cJSON_CreateIntArray(box, 4));
    } else {
        cJSON_AddNullToObject(o, "bbox");
    }
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!text)
        return rr_error("out of memory");
    int rc = fprintf(out, "%s\n", text) < 0 ? rr_error("writing the results: %s", strerror(errno)) : 0;
    free(text);
    return rc;
}

/* The mask, to outdir or the output file; *path (malloc'd) names it. */
static int write_mask(const rr_decode_opts *o, const rr_batch *b, int i, const rr_image *mask, char **path)
{
    if (o->outdir)
        *path = sample_path(b, i, o->outdir, o->force);
    else if (o->output && strcmp(o->output, "-") != 0) {
        if (!(*path = strdup(o->output)))
            return rr_error("out of memory");
    } else {
        return 0; /* no file, or the PNG goes to out (sample_result) */
    }
    return *path && rr_mask_write_png(*path, mask) == 0 ? 0 : -1;
}

/* What goes to out for the sample: a logits record, the mask as PNG, or a
 * JSON line. */
static int sample_result(const rr_decode_opts *o, const rr_batch *b, int i, const float *logits, rr_image *mask,
                         const char *mask_path, const char *overlay_path, FILE *out)
{
    if (o->logits) {
        rr_record rec;
        int rc = rr_batch_out(b, i, "logits", &rec);
        if (!rc)
            rc = rr_record_add(&rec, "logits", RR_F32, 3, (int64_t[]){2, mask->height, mask->width}, logits);
        if (!rc)
            rc = rr_stream_write(out, &rec);
        rr_record_free(&rec);
        return rc;
    }
    if (o->output && strcmp(o->output, "-") == 0) {
        for (size_t k = 0; k < (size_t)mask->width * mask->height; k++)
            mask->data[k] = mask->data[k] ? 255 : 0;
        return rr_image_write_png_stream(out, mask);
    }
    mask_stats st = stats_of(mask);
    return write_json(out, rr_record_meta(&b->recs[i], "id"), mask_path, overlay_path, mask, &st);
}

/* Everything about sample i of the batch, whose S x S logits are `logits`
 * (1 x 2 x S x S, on the model's device). */
static int sample_out(const rr_decode_opts *o, rr_ctx *c, const rr_batch *b, int i, rr_tensor *logits,
                      FILE *out)
{
    int64_t s = o->model->cfg.image_size;
    int w = (int)s, h = (int)s;
    if (!o->model_size && (rr_batch_meta_int(b, i, "width", &w) || rr_batch_meta_int(b, i, "height", &h)))
        return -1;
    /* to the image's size; the same size is the identity, skipped */
    rr_tensor *lt = h != s || w != s ? rr_resize_bilinear(c, logits, h, w, 1) : logits;
    int64_t n = (int64_t)h * w;
    float *host = malloc((size_t)(2 * n) * sizeof *host);
    char *mask_path = NULL, *overlay_path = NULL;
    rr_image mask = {0};
    int rc = host ? 0 : rr_error("out of memory");
    if (!rc && (!lt || rr_to_host(host, lt)))
        rc = rr_batch_error(b, i, "upsampling the logits: %s", rr_errmsg());
    if (!rc)
        rc = rr_image_alloc(&mask, w, h, 1);
    if (!rc) {
        rr_decode_threshold(host, n, mask.data);
        rc = write_mask(o, b, i, &mask, &mask_path);
    }
    if (!rc && o->overlay && !(overlay_path = sample_path(b, i, o->overlay, o->force)))
        rc = -1;
    if (!rc && o->overlay)
        rc = write_overlay(o, b, i, &mask, overlay_path);
    if (!rc)
        rc = sample_result(o, b, i, host, &mask, mask_path, overlay_path, out);
    free(host);
    free(mask_path);
    free(overlay_path);
    rr_image_free(&mask);
    return rc;
}

int rr_decode_run(const rr_decode_opts *o, FILE *in, FILE *out)
{
    const rr_mrsnet *m = o->model;
    if (!(m->parts & RR_PART_DECODER))
        return rr_error("the model was loaded without its decoder");
    if ((o->outdir && rr_make_folder(o->outdir)) || (o->overlay && rr_make_folder(o->overlay)) ||
        (o->output && rr_make_parent(o->output)))
        return -1;
    int cap = o->batch;
    int64_t s = m->cfg.image_size, shape[4][3], size[4];
    rr_batch b;
    int rc = rr_batch_init(&b, in, "fused", cap);
    b.model = m; /* the parts of another model do not fit */
    float *host[4] = {0};
    for (int k = 0; k < 4 && !rc; k++) {
        rr_fuse_shape(&m->cfg, k + 1, shape[k]);
        size[k] = shape[k][0] * shape[k][1] * shape[k][2];
        if (!(host[k] = malloc((size_t)(cap * size[k]) * sizeof *host[k])))
            rc = rr_error("out of memory");
    }
    rr_ctx c;
    rr_ctx_init(&c, m->params.store.device);
    long done = 0;
    double start = rr_batch_clock();
    int n = 0;
    while (!rc && (n = rr_batch_read(&b)) > 0) {
        if (o->output && b.first + n > 2) {
            /* the stream's second record */
            rc = rr_batch_error(&b, (int)(2 - b.first), "a second sample, and the output file holds one mask");
            break;
        }
        rr_tensor *d[4];
        for (int k = 0; k < 4 && !rc; k++) {
            char name[4] = {'D', (char)('1' + k), 0};
            for (int i = 0; i < n && !rc; i++)
                rc = rr_batch_tensor(&b, i, name, RR_F32, 3, (int64_t[]){shape[k][0], shape[k][1], shape[k][2]},
                                     host[k] + i * size[k]);
            d[k] = rc ? NULL : rr_from_host(&c, RR_F32, RR_SHAPE(n, shape[k][0], shape[k][1], shape[k][2]), host[k]);
        }
        rr_tensor *logits = rc ? NULL : rr_mrsnet_decode(&c, m, d, s, s, NULL);
        if (!rc && !logits)
            rc = rr_batch_error(&b, 0, "the decoder: %s", rr_errmsg());
        for (int i = 0; i < n && !rc; i++) {
            rr_tensor *one = rr_tensor_wrap(&c.meta, c.device, RR_F32, 4, (int64_t[]){1, 2, s, s},
                                            rr_f32(logits) + i * 2 * s * s);
            rc = one ? sample_out(o, &c, &b, i, one, out) : -1;
        }
        rr_ctx_reset(&c);
        done += n;
        if (!rc && o->progress)
            o->progress(o->progress_arg, done, rr_batch_clock() - start);
    }
    if (n < 0)
        rc = -1;
    if (!rc && o->logits)
        rc = rr_stream_end(out, done); /* only a stream written in full ends with its mark */
    rr_batch_free(&b);
    rr_ctx_free(&c);
    for (int k = 0; k < 4; k++)
        free(host[k]);
    return rc;
}
