/* The stage functions of rrsis-encode, rrsis-fuse and rrsis-decode
 * (libcore/pipeline/), run in-process through temporary files, against the
 * whole forward in one call (rr_mrsnet_fwd) on the same inputs: the logits
 * and the masks must be equal bit for bit, at the model's size and at the
 * images' own sizes.  Then the streams they refuse, and the overlays.
 *
 * The model is the golden mrsnet-nano (random weights) with the foreground
 * bias of its last layer lowered, so that its masks are neither empty nor
 * full and a threshold that went wrong would show. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/input.h"
#include "harness.h"
#include "io/overlay.h"
#include "ops/ops.h"
#include "pipeline/decode.h"
#include "pipeline/encode.h"
#include "pipeline/fuse.h"

#define WEIGHTS "tests/golden/mrsnet-nano/weights.safetensors"

/* The golden model, its foreground logit lowered by the median margin of
 * its masks on the images below (they would all be foreground otherwise). */
static int load_model(rr_mrsnet *m)
{
    if (rr_mrsnet_load(m, WEIGHTS, RR_PART_ALL, RR_CPU, 0, 0, NULL))
        return -1;
    rr_param *bias = rr_params_find(&m->params, "classifier.conv1_1.bias");
    if (!bias)
        return -1;
    rr_param_make_writable(bias); /* loaded in place in the file's read-only mapping */
    rr_f32(bias->t)[1] -= 0.27f;
    return 0;
}

/* An image with a gradient and a bright rectangle. */
static int write_image(const char *path, int w, int h, int seed)
{
    rr_image im;
    if (rr_image_alloc(&im, w, h, 3))
        return -1;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++) {
                int inside = x > w / 4 && x < w / 2 && y > h / 3 && y < 2 * h / 3;
                im.data[((size_t)y * w + x) * 3 + c] =
                    (uint8_t)(inside ? 230 - 40 * c : (x * (3 + seed) + y * (5 - c) + 17 * seed) % 200);
            }
    int rc = rr_image_write_png(path, &im);
    rr_image_free(&im);
    return rc;
}

static int write_tokens(FILE *f, const char *id, const char *image, const int32_t *ids, int n)
{
    rr_record rec;
    rr_record_init(&rec);
    int32_t mask[32];
    for (int i = 0; i < n; i++)
        mask[i] = ids[i] != 0;
    int64_t shape[1] = {n};
    int rc = rr_stream_tag(&rec, "tokens", id) || rr_record_set_meta(&rec, "sentence", "the red court") ||
             (image && rr_record_set_meta(&rec, "image", image)) ||
             rr_record_add(&rec, "input_ids", RR_I32, 1, shape, ids) ||
             rr_record_add(&rec, "attention_mask", RR_I32, 1, shape, mask) || rr_stream_write(f, &rec);
    rr_record_free(&rec);
    return rc ? -1 : 0;
}

/* Reads every record of a stream into recs (at most max); returns the count or -1. */
static int read_all(FILE *f, rr_record *recs, int max)
{
    rewind(f);
    int n = 0, r;
    while (n < max && (r = rr_stream_read(f, &recs[n], n + 1)) == 1)
        n++;
    return r < 0 ? -1 : n;
}

#define NSAMPLE 3

static const int sizes[NSAMPLE][2] = {{128, 128}, {150, 97}, {61, 140}};
static const int32_t ids20[2][20] = {
    {101, 1996, 2417, 2457, 2006, 1996, 2187, 102},
    {101, 2035, 2630, 5093, 102},
};
/* A shorter sentence runs through the text encoder and backbone on its own. */
static const int32_t ids12[12] = {101, 1996, 2312, 4049, 102};

/* The in-process forward of samples [lo, hi) (one call, as the stages group
 * them), and its logits at the model's size and at each image's size. */
static void reference(rr_ctx *c, const rr_mrsnet *m, char paths[][64], int lo, int hi, int n_l,
                      rr_tensor **at_model, rr_tensor **at_image)
{
    int g = hi - lo, s = m->cfg.image_size;
    float *img = malloc((size_t)g * 3 * s * s * sizeof *img);
    int32_t ids[NSAMPLE * 20], mask[NSAMPLE * 20];
    for (int k = lo; k < hi; k++) {
        rr_image rgb;
        CHECK_OK(rr_image_load(paths[k], RR_IMAGE_RGB, &rgb));
        CHECK_OK(rr_input_image(&rgb, s, m->cfg.pixel_mean, m->cfg.pixel_std, img + (size_t)(k - lo) * 3 * s * s));
        rr_image_free(&rgb);
        const int32_t *src = k < 2 ? ids20[k] : ids12;
        for (int i = 0; i < n_l; i++) {
            ids[(k - lo) * n_l + i] = src[i];
            mask[(k - lo) * n_l + i] = src[i] != 0;
        }
    }
    rr_tensor *logits = rr_mrsnet_fwd(c, m, rr_from_host(c, RR_F32, RR_SHAPE(g, 3, s, s), img),
                                      rr_from_host(c, RR_I32, RR_SHAPE(g, n_l), ids),
                                      rr_from_host(c, RR_I32, RR_SHAPE(g, n_l), mask), NULL);
    CHECK_NOTNULL(logits);
    free(img);
    for (int k = lo; k < hi && logits; k++) {
        rr_tensor *one = rr_tensor_wrap(&c->meta, RR_CPU, RR_F32, 4, (int64_t[]){1, 2, s, s},
                                        rr_f32(logits) + (size_t)(k - lo) * 2 * s * s);
        at_model[k] = one;
        int w = sizes[k][0], h = sizes[k][1];
        at_image[k] = w == s && h == s ? one : rr_resize_bilinear(c, one, h, w, 1);
    }
}

/* 1 when the logits record holds exactly the reference's values. */
static int same_floats(const rr_record *rec, const rr_tensor *want)
{
    const rr_entry *e = rr_record_find(rec, "logits");
    return e && e->dtype == RR_F32 && e->nbytes == rr_tensor_bytes(want) && !memcmp(e->data, want->data, e->nbytes);
}

TEST(pipeline_matches_forward)
{
    rr_mrsnet m;
    CHECK_OK(load_model(&m));
    char dir[] = "/tmp/rr_pipeline_XXXXXX", paths[NSAMPLE][64], masks[80];
    CHECK(mkdtemp(dir) != NULL, "mkdtemp failed");
    FILE *tokens = tmpfile(), *encoded = tmpfile(), *fused = tmpfile(), *native = tmpfile(), *square = tmpfile();
    for (int k = 0; k < NSAMPLE; k++) {
        char id[8];
        snprintf(paths[k], sizeof paths[k], "%s/im%d.png", dir, k);
        snprintf(id, sizeof id, "s%d", k);
        CHECK_OK(write_image(paths[k], sizes[k][0], sizes[k][1], k));
        CHECK_OK(k < 2 ? write_tokens(tokens, id, paths[k], ids20[k], 20)
                       : write_tokens(tokens, id, paths[k], ids12, 12));
    }
    CHECK_OK(rr_stream_end(tokens, NSAMPLE));
    snprintf(masks, sizeof masks, "%s/masks", dir);

    /* the stages: one batch that holds the three records (two runs: 20 and 12 ids) */
    rewind(tokens);
    CHECK_OK(rr_encode_run(&(rr_encode_opts){.model = &m, .batch = 4}, tokens, encoded));
    rewind(encoded);
    CHECK_OK(rr_fuse_run(&(rr_fuse_opts){.model = &m, .batch = 4}, encoded, fused));
    rewind(fused);
    CHECK_OK(rr_decode_run(&(rr_decode_opts){.model = &m, .batch = 4, .logits = 1, .outdir = masks}, fused, native));
    rewind(fused);
    CHECK_OK(rr_decode_run(&(rr_decode_opts){.model = &m, .batch = 2, .logits = 1, .model_size = 1}, fused, square));

    rr_ctx c;
    rr_ctx_init(&c, RR_CPU);
    rr_tensor *at_model[NSAMPLE] = {0}, *at_image[NSAMPLE] = {0};
    reference(&c, &m, paths, 0, 2, 20, at_model, at_image);
    reference(&c, &m, paths, 2, 3, 12, at_model, at_image);

    rr_record got[NSAMPLE + 1], got_sq[NSAMPLE + 1];
    for (int k = 0; k <= NSAMPLE; k++) {
        rr_record_init(&got[k]);
        rr_record_init(&got_sq[k]);
    }
    CHECK(read_all(native, got, NSAMPLE + 1) == NSAMPLE, "the native-size logits stream: %s", rr_errmsg());
    CHECK(read_all(square, got_sq, NSAMPLE + 1) == NSAMPLE, "the model-size logits stream: %s", rr_errmsg());
    long fg = 0, total = 0;
    for (int k = 0; k < NSAMPLE && at_image[k]; k++) {
        char id[8], path[96];
        snprintf(id, sizeof id, "s%d", k);
        CHECK(strcmp(rr_record_meta(&got[k], "id"), id) == 0, "record %d is '%s'", k, rr_record_meta(&got[k], "id"));
        CHECK(strcmp(rr_record_meta(&got[k], "stage"), "logits") == 0, "stage");
        CHECK(same_floats(&got[k], at_image[k]), "sample %d: the logits at %dx%d differ from the forward's", k,
              sizes[k][0], sizes[k][1]);
        CHECK(same_floats(&got_sq[k], at_model[k]), "sample %d: the logits at the model's size differ", k);
        /* the mask file against the forward's logits, thresholded */
        int64_t n = (int64_t)sizes[k][0] * sizes[k][1];
        uint8_t *want = malloc((size_t)n);
        rr_decode_threshold(rr_f32(at_image[k]), n, want);
        rr_image mask;
        snprintf(path, sizeof path, "%s/%s.png", masks, id);
        CHECK_OK(rr_mask_load(path, &mask));
        CHECK(mask.width == sizes[k][0] && mask.height == sizes[k][1], "sample %d: mask %dx%d", k, mask.width,
              mask.height);
        CHECK(mask.data && memcmp(mask.data, want, (size_t)n) == 0, "sample %d: the mask differs", k);
        for (int64_t i = 0; i < n; i++)
            fg += want[i];
        total += n;
        rr_image_free(&mask);
        free(want);
        unlink(path);
    }
    CHECK(fg > total / 10 && fg < total * 9 / 10, "%ld of %ld pixels are foreground: a weak test", fg, total);
    for (int k = 0; k <= NSAMPLE; k++) {
        rr_record_free(&got[k]);
        rr_record_free(&got_sq[k]);
    }
    for (int k = 0; k < NSAMPLE; k++)
        unlink(paths[k]);
    rmdir(masks);
    rmdir(dir);
    fclose(tokens);
    fclose(encoded);
    fclose(fused);
    fclose(native);
    fclose(square);
    rr_ctx_free(&c);
    rr_mrsnet_free(&m);
}

/* Runs a stage on the bytes of `in` and checks its message holds `want`. */
static void expect_failure(const char *what, int (*run)(const rr_mrsnet *, FILE *, FILE *), const rr_mrsnet *m,
                           FILE *in, const char *want)
{
    FILE *out = tmpfile();
    rewind(in);
    int rc = run(m, in, out);
    CHECK(rc == -1 && strstr(rr_errmsg(), want), "%s: rc %d, message '%s', wanted '%s'", what, rc, rr_errmsg(), want);
    fclose(out);
}

static int run_encode(const rr_mrsnet *m, FILE *in, FILE *out)
{
    return rr_encode_run(&(rr_encode_opts){.model = m, .batch = 2}, in, out);
}
static int run_fuse(const rr_mrsnet *m, FILE *in, FILE *out)
{
    return rr_fuse_run(&(rr_fuse_opts){.model = m, .batch = 2}, in, out);
}
static int run_decode_one(const rr_mrsnet *m, FILE *in, FILE *out)
{
    return rr_decode_run(&(rr_decode_opts){.model = m, .batch = 1, .output = "-", .model_size = 1}, in, out);
}

TEST(pipeline_rejects_bad_streams)
{
    rr_mrsnet m;
    CHECK_OK(load_model(&m));
    FILE *tokens = tmpfile(), *noimage = tmpfile(), *encoded = tmpfile(), *small = tmpfile();
    CHECK_OK(write_tokens(tokens, "a", "/nonexistent/x.png", ids20[0], 20) || rr_stream_end(tokens, 1));
    CHECK_OK(write_tokens(noimage, "a", NULL, ids20[0], 20) || rr_stream_end(noimage, 1));

    expect_failure("wrong stage", run_fuse, &m, tokens, "record 1: stage is 'tokens', expected 'encoded'");
    expect_failure("missing file", run_encode, &m, tokens, "record 1 (id 'a'): /nonexistent/x.png");
    expect_failure("no image", run_encode, &m, noimage, "record 1 (id 'a'): no \"image\" in the metadata");

    /* truncated: the first record whole, the second cut short */
    FILE *two = tmpfile();
    CHECK_OK(write_tokens(two, "a", "/x.png", ids20[0], 20));
    long whole = ftell(two);
    CHECK_OK(write_tokens(two, "b", "/x.png", ids20[1], 20));
    fflush(two);
    char *buf = malloc((size_t)whole + 40);
    rewind(two);
    CHECK(fread(buf, 1, (size_t)whole + 40, two) == (size_t)whole + 40, "short read");
    fclose(two);
    FILE *cut = fmemopen(buf, (size_t)whole + 40, "rb");
    expect_failure("truncated", run_encode, &m, cut, "record 2: truncated");
    fclose(cut);
    free(buf);

    /* an encoded record of another model's input size */
    rr_record rec;
    rr_record_init(&rec);
    int32_t mask[20] = {1, 1};
    CHECK_OK(rr_stream_tag(&rec, "encoded", "x") || rr_stage_set_model(&rec, &m) ||
             rr_record_add(&rec, "image", RR_F32, 3, (int64_t[]){3, 64, 64}, NULL) ||
             rr_record_add(&rec, "L", RR_F32, 2, (int64_t[]){m.cfg.text.hidden_size, 20}, NULL) ||
             rr_record_add(&rec, "attention_mask", RR_I32, 1, (int64_t[]){20}, mask) || rr_stream_write(small, &rec) ||
             rr_stream_end(small, 1));
    expect_failure("image size", run_fuse, &m, small, "tensor 'image' is 3x64x64, expected 3x128x128");
    rr_record_free(&rec);

    /* one output file, two samples */
    rr_record_init(&rec);
    CHECK_OK(rr_stream_tag(&rec, "fused", "x") || rr_stage_set_model(&rec, &m));
    for (int k = 1; k <= 4; k++) {
        int64_t shape[3];
        char name[3] = {'D', (char)('0' + k), 0};
        rr_fuse_shape(&m.cfg, k, shape);
        CHECK_OK(rr_record_add(&rec, name, RR_F32, 3, shape, NULL));
    }
    CHECK_OK(rr_stream_write(encoded, &rec) || rr_stream_write(encoded, &rec) || rr_stream_end(encoded, 2));
    rr_record_free(&rec);
    expect_failure("one output", run_decode_one, &m, encoded, "record 2 (id 'x'): a second sample");

    fclose(tokens);
    fclose(noimage);
    fclose(encoded);
    fclose(small);
    rr_mrsnet_free(&m);
}

TEST(decode_threshold_is_strict)
{
    /* class 0's scores, then class 1's: a tie and a NaN are background */
    const float logits[8] = {0.0f, 1.0f, -2.0f, NAN, 0.5f, 1.0f, -1.0f, 0.0f};
    uint8_t mask[4];
    rr_decode_threshold(logits, 4, mask);
    CHECK(mask[0] == 1 && mask[1] == 0 && mask[2] == 1 && mask[3] == 0, "mask %d %d %d %d", mask[0], mask[1],
          mask[2], mask[3]);
}

TEST(overlay_tints_outlines_and_writes)
{
    rr_image rgb, mask, a, q;
    CHECK_OK(rr_image_alloc(&rgb, 64, 64, 3));
    CHECK_OK(rr_image_alloc(&mask, 64, 64, 1));
    memset(rgb.data, 100, 64 * 64 * 3);
    for (int y = 40; y < 50; y++)
        for (int x = 20; x < 30; x++)
            mask.data[y * 64 + x] = 1;
    CHECK_OK(rr_overlay_draw(&rgb, &mask, "A"));
    const uint8_t *inside = rgb.data + (45 * 64 + 25) * 3, *edge = rgb.data + (40 * 64 + 25) * 3,
                  *outside = rgb.data + (60 * 64 + 5) * 3, *band = rgb.data + (1 * 64 + 60) * 3;
    CHECK(inside[0] > 150 && inside[1] < 100 && inside[2] < 100, "inside %d %d %d", inside[0], inside[1], inside[2]);
    CHECK(edge[0] == 255 && edge[1] == 220 && edge[2] == 0, "outline %d %d %d", edge[0], edge[1], edge[2]);
    CHECK(outside[0] == 100 && outside[1] == 100, "outside %d %d", outside[0], outside[1]);
    CHECK(band[0] == 40, "the caption band %d", band[0]);
    /* 'A': the top row of its 5x7 glyph is .###. at (2, 2) */
    CHECK(rgb.data[(2 * 64 + 2) * 3] == 40 && rgb.data[(2 * 64 + 3) * 3] == 255 &&
              rgb.data[(2 * 64 + 5) * 3] == 255 && rgb.data[(2 * 64 + 6) * 3] == 40,
          "the glyph of 'A'");
    rr_image_free(&rgb);

    /* a character outside ASCII (one UTF-8 sequence) is drawn as one '?' */
    CHECK_OK(rr_image_alloc(&a, 64, 64, 3));
    CHECK_OK(rr_image_alloc(&q, 64, 64, 3));
    memset(mask.data, 0, 64 * 64);
    CHECK_OK(rr_overlay_draw(&a, &mask, "\xc3\xa9t\xc3\xa9"));
    CHECK_OK(rr_overlay_draw(&q, &mask, "?t?"));
    CHECK(memcmp(a.data, q.data, 64 * 64 * 3) == 0, "UTF-8 is not drawn as '?'");
    /* 64 x 40: one line of 10 characters fits in the top half; the rest is cut to "..." */
    rr_image cut, fits, cut_mask;
    CHECK_OK(rr_image_alloc(&cut, 64, 40, 3));
    CHECK_OK(rr_image_alloc(&fits, 64, 40, 3));
    CHECK_OK(rr_image_alloc(&cut_mask, 64, 40, 1));
    CHECK_OK(rr_overlay_draw(&cut, &cut_mask, "aaaa bbbb cccc dddd"));
    CHECK_OK(rr_overlay_draw(&fits, &cut_mask, "aaaa bb..."));
    CHECK(memcmp(cut.data, fits.data, 64 * 40 * 3) == 0, "a long text is not cut to one line ending in ...");
    rr_image_free(&cut);
    rr_image_free(&fits);
    rr_image_free(&cut_mask);
    rr_image small;
    CHECK_OK(rr_image_alloc(&small, 8, 8, 1));
    CHECK(rr_overlay_draw(&a, &small, NULL) == -1, "a mask of another size is accepted");
    rr_image_free(&small);
    rr_image_free(&a);
    rr_image_free(&q);
    rr_image_free(&mask);
}
