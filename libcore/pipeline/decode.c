#include "decode.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../error.h"
#include "../io/folder.h"
#include "../io/image.h"
#include "../io/mask_writer.h"
#include "../io/overlay.h"
#include "../io/polygons.h"
#include "../io/raster.h"
#include "../io/resize_pil.h"
#include "../ops/ops.h"
#include "fuse.h"
#include "stitch.h"

void rr_decode_threshold(const float *logits, int64_t n, uint8_t *mask)
{
    for (int64_t i = 0; i < n; i++)
        mask[i] = logits[n + i] > logits[i];
}

/* dir/<id><ext>, malloc'd; an id that cannot name a file is an error, and
 * so is a file already there unless force is on: no run silently replaces
 * the masks of another (doc/architecture.md, Programs).  Record i names
 * the sample in messages. */
static char *sample_path(const rr_batch *b, int i, const char *dir, const char *id, const char *ext, int force)
{
    if (strchr(id, '/') || strcmp(id, ".") == 0 || strcmp(id, "..") == 0) {
        rr_batch_error(b, i, "the id cannot name a file in %s (a '/', or . or ..)", dir);
        return NULL;
    }
    size_t n = strlen(dir) + strlen(id) + strlen(ext) + 2;
    char *path = malloc(n);
    if (!path)
        rr_error("out of memory");
    else
        snprintf(path, n, "%s/%s%s", dir, id, ext);
    if (path && !force && rr_path_exists(path)) {
        rr_batch_error(b, i, "%s exists (from an earlier run, or an id seen twice); --force overwrites it", path);
        free(path);
        return NULL;
    }
    return path;
}

/* The format of the mask files. */
static rr_mask_format mask_format(const rr_decode_opts *o)
{
    if (o->mask_format >= 0)
        return (rr_mask_format)o->mask_format;
    return o->output ? rr_mask_format_of(o->output) : RR_MASK_PNG;
}

/* A scene's (or a sample's) outputs, fed a band of rows at a time: the
 * mask file, its polygons, and what the JSON line says of it. */
typedef struct {
    rr_mask_writer *file; /* or NULL */
    rr_polygons *poly;    /* or NULL */
    char *path;           /* the mask file's, or NULL */
    int width, height;
    int64_t area;
    int x0, y0, x1, y1;   /* the foreground's bounding box, inclusive */
} scene_out;

static int scene_rows(void *arg, int y, int n, const uint8_t *mask, const float *prob, const uint8_t *valid)
{
    scene_out *so = arg;
    for (int r = 0; r < n; r++)
        for (int x = 0; x < so->width; x++)
            if (mask[(size_t)r * so->width + x]) {
                so->area++;
                so->x0 = x < so->x0 ? x : so->x0;
                so->y0 = y + r < so->y0 ? y + r : so->y0;
                so->x1 = x > so->x1 ? x : so->x1;
                so->y1 = y + r > so->y1 ? y + r : so->y1;
            }
    if (so->file && rr_mask_writer_rows(so->file, n, mask, valid))
        return -1;
    return so->poly ? rr_polygons_scene_rows(so->poly, n, mask, prob) : 0;
}

/* Opens the outputs of a width x height mask named id (record i of the
 * batch); g: where it lies, nodata: whether the source had NoData. */
static int scene_open(const rr_decode_opts *o, rr_polygons *poly, const rr_batch *b, int i, const char *id,
                      int width, int height, const rr_georef *g, int nodata, scene_out *so)
{
    *so = (scene_out){.width = width, .height = height, .x0 = width, .y0 = height, .x1 = -1, .y1 = -1};
    rr_mask_format f = mask_format(o);
    if (o->outdir)
        so->path = sample_path(b, i, o->outdir, id, rr_mask_format_ext(f), o->force);
    else if (o->output && !(so->path = strdup(o->output)))
        rr_error("out of memory");
    if ((o->outdir || o->output) && !so->path)
        return -1;
    if (so->path && !(so->file = rr_mask_writer_open(so->path, f, width, height, g, nodata)))
        return rr_batch_error(b, i, "%s", rr_errmsg());
    if (poly) {
        if (rr_polygons_scene_begin(poly, width, height, g))
            return rr_batch_error(b, i, "%s", rr_errmsg());
        so->poly = poly;
    }
    return 0;
}

/* Closes them (ok 0: abandons the mask file and the polygons). */
static int scene_close(scene_out *so, const char *id, const char *sentence, int ok)
{
    int rc = so->file ? rr_mask_writer_close(so->file, ok) : 0;
    if (so->poly && rr_polygons_scene_end(so->poly, id, sentence, ok && !rc) && ok && !rc)
        rc = -1;
    so->file = NULL;
    so->poly = NULL;
    return rc;
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

/* The JSON line of a mask; tiles > 0: a scene stitched from that many. */
static int write_json(FILE *out, const char *id, const char *overlay_path, const scene_out *so, int tiles)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", id);
    if (so->path)
        cJSON_AddStringToObject(o, "mask", so->path);
    else
        cJSON_AddNullToObject(o, "mask");
    if (overlay_path)
        cJSON_AddStringToObject(o, "overlay", overlay_path);
    cJSON_AddNumberToObject(o, "width", so->width);
    cJSON_AddNumberToObject(o, "height", so->height);
    cJSON_AddBoolToObject(o, "empty", so->area == 0);
    cJSON_AddNumberToObject(o, "area", (double)so->area);
    if (so->area) {
        int box[4] = {so->x0, so->y0, so->x1 - so->x0 + 1, so->y1 - so->y0 + 1};
        cJSON_AddItemToObject(o, "bbox", cJSON_CreateIntArray(box, 4));
    } else {
        cJSON_AddNullToObject(o, "bbox");
    }
    if (tiles)
        cJSON_AddNumberToObject(o, "tiles", tiles);
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!text)
        return rr_error("out of memory");
    int rc = fprintf(out, "%s\n", text) < 0 ? rr_error("writing the results: %s", strerror(errno)) : 0;
    free(text);
    return rc;
}

/* The record's georeferencing ("crs", "geotransform"). */
static int record_georef(const rr_batch *b, int i, rr_georef *g)
{
    const rr_record *r = &b->recs[i];
    if (rr_georef_parse(rr_record_meta(r, "crs"), rr_record_meta(r, "geotransform"), g))
        return rr_batch_error(b, i, "%s", rr_errmsg());
    return 0;
}

/* The record's "valid" tensor (U8 [h, w], 0 for NoData), or NULL when it
 * has none (*rc -1 with a message when it has one of another kind). */
static const uint8_t *record_valid(const rr_batch *b, int i, int w, int h, int *rc)
{
    const rr_record *r = &b->recs[i];
    *rc = 0;
    for (int k = 0; k < r->nentries; k++) {
        const rr_entry *e = &r->entries[k];
        if (strcmp(e->name, "valid"))
            continue;
        if (e->dtype != RR_U8 || e->ndim != 2 || e->shape[0] != h || e->shape[1] != w) {
            *rc = rr_batch_error(b, i, "tensor 'valid' is not U8 %dx%d (the image's height and width)", h, w);
            return NULL;
        }
        return e->data;
    }
    return NULL;
}

/* The foreground probabilities of two-class logits (2 x n floats). */
static float *probabilities(const float *logits, int64_t n)
{
    float *p = malloc((size_t)n * sizeof *p);
    if (!p) {
        rr_error("out of memory");
        return NULL;
    }
    for (int64_t k = 0; k < n; k++)
        p[k] = 1.0f / (1.0f + expf(logits[k] - logits[n + k]));
    return p;
}

/* What a run keeps from record to record: the polygons' file, and the
 * scene whose tiles are being stitched. */
typedef struct {
    const rr_decode_opts *o;
    rr_polygons *poly;    /* --vector, or NULL */
    long outputs;         /* masks begun (samples and scenes) */
    /* the scene */
    int active;           /* its tiles are coming */
    char *id, *sentence;
    int tiles, next;      /* its tile count, the index expected next */
    rr_stitch st;
    scene_out so;
    /* a context record's S x S foreground margins, until its first tile */
    float *gate;
    char *gate_id;
} decode_state;

/* The id of a scene from its tile's or context record's: without the
 * suffix ("-t3", "-ctx") when it has it. */
static char *scene_id(const char *id, const char *suffix)
{
    size_t n = strlen(id), k = strlen(suffix);
    return strndup(id, n > k && strcmp(id + n - k, suffix) == 0 ? n - k : n);
}

static void scene_drop(decode_state *ds)
{
    if (ds->active)
        scene_close(&ds->so, ds->id, ds->sentence, 0);
    free(ds->so.path);
    rr_stitch_free(&ds->st);
    free(ds->id);
    free(ds->sentence);
    ds->id = ds->sentence = NULL;
    ds->so.path = NULL;
    ds->active = 0;
}

/* A context record (the gated mode): its margins wait for its tiles. */
static int context_in(decode_state *ds, const rr_batch *b, int i, const float *logits, int64_t s)
{
    if (ds->active || ds->gate)
        return rr_batch_error(b, i, "a context record %s", ds->active ? "in the middle of a scene's tiles"
                                                                      : "after another, without its tiles");
    if (ds->o->model_size || ds->o->overlay)
        return rr_batch_error(b, i, "a context record: the gated mode has no %s",
                              ds->o->overlay ? "--overlay" : "--size model");
    int64_t n = s * s;
    if (!(ds->gate = malloc((size_t)n * sizeof *ds->gate)) ||
        !(ds->gate_id = scene_id(rr_record_meta(&b->recs[i], "id"), "-ctx")))
        return rr_error("out of memory");
    for (int64_t k = 0; k < n; k++)
        ds->gate[k] = logits[n + k] - logits[k];
    return 0;
}

/* The first tile of a scene: its outputs open. */
static int scene_begin(decode_state *ds, const rr_batch *b, int i, int tiles)
{
    const rr_decode_opts *o = ds->o;
    const rr_record *r = &b->recs[i];
    int w, h;
    rr_georef g;
    if (o->model_size || o->overlay)
        return rr_batch_error(b, i, "a tile: tiled scenes have no %s", o->overlay ? "--overlay" : "--size model");
    if (rr_batch_meta_int(b, i, "scene_width", &w) || rr_batch_meta_int(b, i, "scene_height", &h) || record_georef(b, i, &g))
        return -1;
    ds->id = scene_id(rr_record_meta(r, "id"), "-t1");
    const char *sentence = rr_record_meta(r, "sentence");
    ds->sentence = strdup(sentence ? sentence : "");
    if (!ds->id || !ds->sentence)
        return rr_error("out of memory");
    if (ds->gate && strcmp(ds->gate_id, ds->id))
        return rr_batch_error(b, i, "the context record of '%s' is followed by the tiles of '%s'", ds->gate_id,
                              ds->id);
    ds->active = 1;
    ds->tiles = tiles;
    ds->next = 1;
    rr_stitch_begin(&ds->st, w, h, scene_rows, &ds->so);
    if (ds->gate) {
        int rc = rr_stitch_gate(&ds->st, ds->gate, (int)o->model->cfg.image_size, o->gate_dilate, o->gate_threshold);
        free(ds->gate);
        free(ds->gate_id);
        ds->gate = NULL;
        ds->gate_id = NULL;
        if (rc)
            return -1;
    }
    if (scene_open(o, ds->poly, b, i, ds->id, w, h, &g, rr_record_meta(r, "nodata") != NULL, &ds->so)) {
        ds->active = 0;
        scene_close(&ds->so, ds->id, ds->sentence, 0);
        return -1;
    }
    return 0;
}

/* A tile: its logits (at its window's size, on the host) into the scene;
 * the last one finishes the scene. */
static int tile_in(decode_state *ds, const rr_batch *b, int i, const float *logits, int w, int h, FILE *out)
{
    const rr_record *r = &b->recs[i];
    int x, y, ww, wh, tile, tiles, rc = 0;
    char extra;
    const char *win = rr_record_meta(r, "window");
    if (sscanf(win, "%d %d %d %d %c", &x, &y, &ww, &wh, &extra) != 4)
        return rr_batch_error(b, i, "\"window\" is '%.40s', not four integers x y w h", win);
    if (ww != w || wh != h)
        return rr_batch_error(b, i, "the window is %dx%d, the record's image %dx%d", ww, wh, w, h);
    if (rr_batch_meta_int(b, i, "tile", &tile) || rr_batch_meta_int(b, i, "tiles", &tiles))
        return -1;
    if (!ds->active && tile != 1)
        return rr_batch_error(b, i, "tile %d of %d, and no scene's tile 1 before it", tile, tiles);
    if (ds->active && (tile != ds->next || tiles != ds->tiles))
        return rr_batch_error(b, i, "tile %d of %d, where tile %d of %d of '%s' was due", tile, tiles, ds->next,
                              ds->tiles, ds->id);
    if (tile == 1 && scene_begin(ds, b, i, tiles))
        return -1;
    const uint8_t *valid = record_valid(b, i, w, h, &rc);
    if (rc)
        return -1;
    size_t n = (size_t)w * h;
    float *margin = malloc(n * sizeof *margin);
    if (!margin)
        return rr_error("out of memory");
    for (size_t k = 0; k < n; k++)
        margin[k] = logits[n + k] - logits[k];
    rc = rr_stitch_add(&ds->st, x, y, w, h, margin, valid);
    free(margin);
    if (rc)
        return rr_batch_error(b, i, "%s", rr_errmsg());
    if (++ds->next <= ds->tiles)
        return 0;
    /* the scene's last tile */
    rc = rr_stitch_end(&ds->st);
    if (rc)
        rr_batch_error(b, i, "%s", rr_errmsg());
    ds->active = 0;
    rc = scene_close(&ds->so, ds->id, ds->sentence, !rc) || rc ? -1 : 0;
    if (!rc && !ds->o->logits)
        rc = write_json(out, ds->id, NULL, &ds->so, ds->tiles);
    scene_drop(ds);
    return rc;
}

/* A whole image's mask (the record's own size, or S x S at the model's
 * size) to its outputs: valid (at the record's size, or NULL) makes its
 * NoData pixels background. */
static int whole_out(decode_state *ds, const rr_batch *b, int i, const float *host, rr_image *mask,
                     const char *overlay_path, FILE *out)
{
    const rr_decode_opts *o = ds->o;
    const rr_record *r = &b->recs[i];
    int rc = 0, rw = mask->width, rh = mask->height; /* the record's image's size */
    int native = rr_record_find(r, "valid") || rr_record_meta(r, "geotransform");
    if (o->model_size && native &&
        (rr_batch_meta_int(b, i, "width", &rw) || rr_batch_meta_int(b, i, "height", &rh)))
        return -1;
    const uint8_t *valid = record_valid(b, i, rw, rh, &rc);
    uint8_t *vm = NULL;
    if (rc)
        return -1;
    if (valid) { /* at the mask's size: nearest */
        if (!(vm = malloc((size_t)mask->width * mask->height)))
            return rr_error("out of memory");
        for (int y = 0; y < mask->height; y++)
            for (int x = 0; x < mask->width; x++) {
                size_t k = (size_t)y * mask->width + x;
                vm[k] = valid[(size_t)((int64_t)y * rh / mask->height) * rw + (int64_t)x * rw / mask->width];
                mask->data[k] = mask->data[k] && vm[k];
            }
    }
    rr_georef g;
    scene_out so;
    float *prob = NULL;
    int64_t n = (int64_t)mask->width * mask->height;
    const char *id = rr_record_meta(r, "id"), *sentence = rr_record_meta(r, "sentence");
    int to_stdout = o->output && strcmp(o->output, "-") == 0;
    /* the georeferencing of the record's grid, scaled to the mask's */
    rc = record_georef(b, i, &g);
    if (!rc) {
        g = rr_georef_window(&g, 0, 0, (double)rw / mask->width, (double)rh / mask->height);
        if (ds->poly && !(prob = probabilities(host, n)))
            rc = -1;
    }
    if (!rc) {
        const rr_decode_opts to_none = {.model = o->model, .mask_format = o->mask_format};
        rc = scene_open(to_stdout ? &to_none : o, ds->poly, b, i, id, mask->width, mask->height, &g,
                        valid || rr_record_meta(r, "nodata"), &so);
        if (!rc)
            rc = scene_rows(&so, 0, mask->height, mask->data, prob, vm);
        rc = scene_close(&so, id, sentence ? sentence : "", !rc) || rc ? -1 : 0;
    }
    if (!rc && o->logits) {
        rr_record rec;
        rc = rr_batch_out(b, i, "logits", &rec);
        if (!rc)
            rc = rr_record_add(&rec, "logits", RR_F32, 3, (int64_t[]){2, mask->height, mask->width}, host);
        if (!rc)
            rc = rr_stream_write(out, &rec);
        rr_record_free(&rec);
    } else if (!rc && to_stdout) {
        for (int64_t k = 0; k < n; k++)
            mask->data[k] = mask->data[k] ? 255 : 0;
        rc = rr_image_write_png_stream(out, mask);
    } else if (!rc) {
        rc = write_json(out, id, overlay_path, &so, 0);
    }
    free(so.path);
    free(prob);
    free(vm);
    return rc;
}

/* Everything about sample i of the batch, whose S x S logits are `logits`
 * (1 x 2 x S x S, on the model's device). */
static int sample_out(decode_state *ds, rr_ctx *c, const rr_batch *b, int i, rr_tensor *logits, FILE *out)
{
    const rr_decode_opts *o = ds->o;
    const rr_record *r = &b->recs[i];
    int64_t s = o->model->cfg.image_size;
    const char *role = rr_record_meta(r, "role");
    int context = role && strcmp(role, "context") == 0, tile = rr_record_meta(r, "window") != NULL;
    int w = (int)s, h = (int)s;
    if ((!o->model_size || tile) && !context &&
        (rr_batch_meta_int(b, i, "width", &w) || rr_batch_meta_int(b, i, "height", &h)))
        return -1;
    if (!tile && !context && ds->active)
        return rr_batch_error(b, i, "a record of no tile, where tile %d of %d of '%s' was due", ds->next,
                              ds->tiles, ds->id);
    /* to the image's size; the same size is the identity, skipped */
    rr_tensor *lt = h != s || w != s ? rr_resize_bilinear(c, logits, h, w, 1) : logits;
    int64_t n = (int64_t)h * w;
    float *host = malloc((size_t)(2 * n) * sizeof *host);
    char *overlay_path = NULL;
    rr_image mask = {0};
    int rc = host ? 0 : rr_error("out of memory");
    if (!rc && (!lt || rr_to_host(host, lt)))
        rc = rr_batch_error(b, i, "upsampling the logits: %s", rr_errmsg());
    if (!rc && o->logits && (tile || context)) {
        /* the records' own logits, unstitched */
        rr_record rec;
        rc = rr_batch_out(b, i, "logits", &rec);
        if (!rc)
            rc = rr_record_add(&rec, "logits", RR_F32, 3, (int64_t[]){2, h, w}, host);
        if (!rc)
            rc = rr_stream_write(out, &rec);
        rr_record_free(&rec);
    } else if (!rc && context) {
        rc = context_in(ds, b, i, host, s);
    } else if (!rc && tile) {
        rc = tile_in(ds, b, i, host, w, h, out);
    } else if (!rc && ds->gate) {
        rc = rr_batch_error(b, i, "a whole image after a context record, where its tiles were due");
    } else if (!rc) {
        rc = rr_image_alloc(&mask, w, h, 1);
        if (!rc) {
            rr_decode_threshold(host, n, mask.data);
            if (o->overlay && !(overlay_path = sample_path(b, i, o->overlay, rr_record_meta(r, "id"), ".png",
                                                           o->force)))
                rc = -1;
        }
        if (!rc)
            rc = whole_out(ds, b, i, host, &mask, overlay_path, out);
        if (!rc && o->overlay)
            rc = write_overlay(o, b, i, &mask, overlay_path);
    }
    free(host);
    free(overlay_path);
    rr_image_free(&mask);
    return rc;
}

/* Record i starts a mask of its own (a whole image, or a scene's tile 1). */
static int starts_output(const rr_batch *b, int i)
{
    const rr_record *r = &b->recs[i];
    const char *role = rr_record_meta(r, "role"), *tile = rr_record_meta(r, "tile");
    if (role && strcmp(role, "context") == 0)
        return 0;
    return !rr_record_meta(r, "window") || (tile && strcmp(tile, "1") == 0);
}

int rr_decode_run(const rr_decode_opts *o, FILE *in, FILE *out)
{
    const rr_mrsnet *m = o->model;
    if (!(m->parts & RR_PART_DECODER))
        return rr_error("the model was loaded without its decoder");
    if ((o->outdir && rr_make_folder(o->outdir)) || (o->overlay && rr_make_folder(o->overlay)) ||
        (o->output && rr_make_parent(o->output)) || (o->vector && rr_make_parent(o->vector)))
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
    decode_state ds = {.o = o};
    if (!rc && o->vector && !(ds.poly = rr_polygons_open(o->vector, o->vector_wgs84, o->simplify)))
        rc = -1;
    rr_ctx c;
    rr_ctx_init(&c, m->params.store.device);
    long done = 0;
    double start = rr_batch_clock();
    int n = 0;
    while (!rc && (n = rr_batch_read(&b)) > 0) {
        for (int i = 0; i < n && !rc && o->output; i++)
            if (starts_output(&b, i) && ++ds.outputs > 1)
                rc = rr_batch_error(&b, i, "a second sample, and the output file holds one mask");
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
            rc = one ? sample_out(&ds, &c, &b, i, one, out) : -1;
        }
        rr_ctx_reset(&c);
        done += n;
        if (!rc && o->progress)
            o->progress(o->progress_arg, done, rr_batch_clock() - start);
    }
    if (n < 0)
        rc = -1;
    if (!rc && (ds.active || ds.gate))
        rc = ds.active ? rr_error("the stream ended after tile %d of %d of '%s'", ds.next - 1, ds.tiles, ds.id)
                       : rr_error("the stream ended after the context record of '%s', without its tiles",
                                  ds.gate_id);
    scene_drop(&ds);
    free(ds.gate);
    free(ds.gate_id);
    if (ds.poly && rr_polygons_close(ds.poly, !rc) && !rc)
        rc = -1;
    if (!rc && o->logits)
        rc = rr_stream_end(out, done); /* only a stream written in full ends with its mark */
    rr_batch_free(&b);
    rr_ctx_free(&c);
    for (int k = 0; k < 4; k++)
        free(host[k]);
    return rc;
}
