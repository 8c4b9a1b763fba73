/* Dataset manifests: reading, writing, the checks and their line numbers. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "io/manifest.h"

static char dir[64];

/* The tests remove their files; the folder goes at exit. */
static void remove_dir(void) { rmdir(dir); }

/* A file in a private temporary folder, written with `text`. */
static const char *put(const char *name, const char *text)
{
    static char path[160];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/rr_test_manifest_XXXXXX");
        if (!mkdtemp(dir))
            return NULL;
        atexit(remove_dir);
    }
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (text) {
        FILE *f = fopen(path, "wb");
        if (f) {
            fputs(text, f);
            fclose(f);
        }
    }
    return path;
}

/* A w x h image (or 0/1 mask) with a square of ones in it, as PNG. */
static void put_png(const char *name, int w, int h, int channels, int mask)
{
    rr_image im;
    if (rr_image_alloc(&im, w, h, channels))
        return;
    for (int y = h / 4; y < h / 2; y++)
        for (int x = w / 4; x < w / 2; x++)
            for (int c = 0; c < channels; c++)
                im.data[((size_t)y * w + x) * channels + c] = mask ? 1 : (uint8_t)(50 * c + x);
    if (mask)
        rr_mask_write_png(put(name, NULL), &im);
    else
        rr_image_write_png(put(name, NULL), &im);
    rr_image_free(&im);
}

static void remove_files(const char *const *names)
{
    for (; *names; names++)
        unlink(put(*names, NULL));
}

/* 10x8 images; the RLE "size" is [h, w] = [8, 10]. */
static const char good[] =
    "{\"id\": \"a\", \"split\": \"train\", \"image\": \"img.png\", \"width\": 10, \"height\": 8, "
    "\"sentence\": \"the red car\", \"lang\": \"en\", \"type\": \"single\", \"category\": \"car\", "
    "\"mask\": {\"png\": \"mask.png\"}}\n"
    "\n"
    "{\"id\": \"b\", \"split\": \"test\", \"image\": \"img.png\", \"width\": 10, \"height\": 8, "
    "\"sentence\": \"所有的车\", \"lang\": \"zh\", \"type\": \"multi\", \"category\": \"car\", "
    "\"mask\": {\"union\": [{\"rle\": {\"size\": [8, 10], \"counts\": [2, 3, 75]}}, "
    "{\"union\": [{\"rle\": {\"size\": [8, 10], \"counts\": \"R23;\"}}]}, "
    "{\"polygons\": [[7, 5, 9.5, 5, 9.5, 7.25]]}]}}\r\n"
    "{\"id\": \"c\", \"split\": \"val\", \"image\": \"img.png\", \"width\": 10, \"height\": 8, "
    "\"sentence\": \"the ship\", \"lang\": \"en\", \"type\": \"none\", \"category\": null, \"mask\": null, "
    "\"extra\": [1, 2]}\n"
    "{\"id\": \"d\", \"split\": \"testA\", \"image\": \"img.png\", \"width\": 10, \"height\": 8, "
    "\"sentence\": \"a plane\", \"lang\": \"en\", \"type\": \"none\", \"category\": \"airplane\", "
    "\"mask\": {\"rle\": {\"size\": [8, 10], \"counts\": \"`2\"}}}\n";

TEST(manifest_reads_a_good_one)
{
    put_png("img.png", 10, 8, 3, 0);
    put_png("mask.png", 10, 8, 1, 1);
    const char *path = put("good.jsonl", good);
    rr_manifest m;
    rr_findings f = {0};
    CHECK_OK(rr_manifest_read(path, &m, &f));
    CHECK(f.n == 0, "%zu findings; first: %s", f.n, f.n ? f.v[0].msg : "");
    CHECK(m.n == 4, "%zu samples", m.n);
    CHECK(rr_manifest_check(&m, RR_CHECK_FILES | RR_CHECK_MASKS, &f) == 0, "check: %s",
          f.n ? f.v[0].msg : "");
    if (m.n == 4) {
        const rr_sample *a = &m.samples[0], *b = &m.samples[1], *c = &m.samples[2];
        CHECK(a->line == 1 && b->line == 3 && c->line == 4, "lines %ld %ld %ld", a->line, b->line, c->line);
        CHECK(strcmp(a->image, "img.png") == 0 && strcmp(a->image_path, put("img.png", NULL)) == 0,
              "paths %s %s", a->image, a->image_path);
        CHECK(strcmp(a->mask.png_path, put("mask.png", NULL)) == 0, "mask path %s", a->mask.png_path);
        CHECK(a->width == 10 && a->height == 8 && a->type == RR_TYPE_SINGLE, "fields of a");
        CHECK(strcmp(b->sentence, "所有的车") == 0 && strcmp(b->lang, "zh") == 0 && b->type == RR_TYPE_MULTI,
              "fields of b");
        CHECK(b->mask.nrle == 2 && b->mask.npoly == 1 && b->mask.polys[0].n == 3, "b's mask parts");
        CHECK(c->type == RR_TYPE_NONE && !c->mask.png && !c->mask.nrle && !c->mask.npoly, "c's null mask");
        CHECK(c->category == NULL, "c's null category");
        /* b's mask: the union of an RLE list, an RLE string and a triangle */
        rr_image mb;
        CHECK_OK(rr_sample_mask(b, &mb));
        uint8_t want[80] = {0};
        want[2 * 10 + 0] = want[3 * 10 + 0] = want[4 * 10 + 0] = 1; /* column-major 2..4: x=0, y=2..4 */
        uint32_t *counts;
        size_t n;
        CHECK_OK(rr_rle_from_string("R23;", &counts, &n));
        rr_rle_paint(counts, n, 8, 10, want);
        free(counts);
        rr_poly_paint((double[]){7, 5, 9.5, 5, 9.5, 7.25}, 3, 8, 10, want);
        CHECK(mb.data && memcmp(mb.data, want, 80) == 0, "b's union differs");
        rr_image_free(&mb);
        /* a null mask is all zeros at the image's size */
        rr_image mc;
        CHECK_OK(rr_sample_mask(c, &mc));
        CHECK(mc.width == 10 && mc.height == 8 && mc.channels == 1, "c's mask %dx%d", mc.width, mc.height);
        rr_image_free(&mc);
    }
    rr_counts cnt;
    CHECK_OK(rr_manifest_count(&m, RR_FIELD_SPLIT, &cnt));
    CHECK(cnt.n == 4 && strcmp(cnt.v[0].key, "test") == 0 && strcmp(cnt.v[1].key, "testA") == 0, "splits");
    rr_counts_free(&cnt);
    CHECK_OK(rr_manifest_count(&m, RR_FIELD_TYPE, &cnt));
    CHECK(cnt.n == 3 && strcmp(cnt.v[0].key, "multi") == 0 && cnt.v[1].n == 2 &&
              strcmp(cnt.v[1].key, "none") == 0,
          "types");
    rr_counts_free(&cnt);
    CHECK_OK(rr_manifest_count(&m, RR_FIELD_CATEGORY, &cnt));
    CHECK(cnt.n == 3 && strcmp(cnt.v[0].key, "") == 0 && strcmp(cnt.v[2].key, "car") == 0 && cnt.v[2].n == 2,
          "categories");
    rr_counts_free(&cnt);
    CHECK_OK(rr_manifest_count(&m, RR_FIELD_LANG, &cnt));
    CHECK(cnt.n == 2 && cnt.v[0].n == 3 && cnt.v[1].n == 1, "languages");
    rr_counts_free(&cnt);
    rr_manifest_free(&m);
    rr_findings_free(&f);
    remove_files((const char *const[]){"img.png", "mask.png", "good.jsonl", NULL});
}

TEST(manifest_write_round_trip)
{
    put_png("img.png", 10, 8, 3, 0);
    put_png("mask.png", 10, 8, 1, 1);
    rr_manifest m, m2, m3;
    CHECK_OK(rr_manifest_read(put("good.jsonl", good), &m, NULL));
    /* written twice through a read: the same bytes, and the same samples */
    const char *p2 = strdup(put("two.jsonl", NULL));
    CHECK_OK(rr_manifest_write(p2, &m));
    CHECK_OK(rr_manifest_read(p2, &m2, NULL));
    const char *p3 = strdup(put("three.jsonl", NULL));
    CHECK_OK(rr_manifest_write(p3, &m2));
    CHECK_OK(rr_manifest_read(p3, &m3, NULL));
    FILE *a = fopen(p2, "rb"), *b = fopen(p3, "rb");
    char ta[4096] = "", tb[4096] = "";
    if (a && b) {
        size_t na = fread(ta, 1, sizeof ta - 1, a), nb = fread(tb, 1, sizeof tb - 1, b);
        ta[na] = tb[nb] = '\0';
    }
    if (a)
        fclose(a);
    if (b)
        fclose(b);
    CHECK(ta[0] && strcmp(ta, tb) == 0, "second write differs:\n%s\n%s", ta, tb);
    const char *first_line =
        "{\"id\":\"a\",\"split\":\"train\",\"image\":\"img.png\",\"width\":10,\"height\":8,"
        "\"sentence\":\"the red car\",\"lang\":\"en\",\"type\":\"single\",\"category\":\"car\","
        "\"mask\":{\"png\":\"mask.png\"}}\n";
    CHECK(strncmp(ta, first_line, strlen(first_line)) == 0, "first line:\n%.300s", ta);
    CHECK(m2.n == m.n, "%zu samples after a round trip", m2.n);
    for (size_t i = 0; i < m.n && i < m2.n; i++) {
        rr_image x, y;
        CHECK_OK(rr_sample_mask(&m.samples[i], &x));
        CHECK_OK(rr_sample_mask(&m2.samples[i], &y));
        CHECK(x.data && y.data && memcmp(x.data, y.data, 80) == 0, "sample %zu's mask changed", i);
        CHECK(strcmp(m.samples[i].sentence, m2.samples[i].sentence) == 0, "sample %zu's sentence", i);
        rr_image_free(&x);
        rr_image_free(&y);
    }
    /* polygon coordinates survive exactly */
    CHECK(m2.n > 1 && m2.samples[1].mask.polys[0].xy[5] == 7.25, "polygon coordinate");
    CHECK(rr_manifest_write("/nonexistent-dir/m.jsonl", &m) == -1 && strstr(rr_errmsg(), "No such file"),
          "%s", rr_errmsg());
    rr_manifest_free(&m);
    rr_manifest_free(&m2);
    rr_manifest_free(&m3);
    unlink(p2);
    unlink(p3);
    remove_files((const char *const[]){"img.png", "mask.png", "good.jsonl", NULL});
    free((void *)p2);
    free((void *)p3);
}

/* The findings of the manifest `bad` below: each line has one problem. */
static const struct {
    long line;
    const char *msg;
} findings_expected[] = {
    {2, "malformed JSON at column 20"},
    {3, "invalid UTF-8 at column"},
    {4, "missing \"width\""},
    {5, "\"width\" must be a positive integer, not a string"},
    {6, "unknown split \"dev\" (known: train, val, test, testA, testB)"},
    {7, "unknown type \"several\""},
    {8, "a single sample needs a mask, not null"},
    {9, "mask RLE is 8x10 (width x height) but the image is 10x8"},
    {11, "duplicate id \"a\" (first on line 1)"},
    {12, "image " /* DIR/absent.png: No such file or directory */},
    {13, "is 10x8 but the manifest says 7x5"},
    {14, "mask "},
    {15, "empty mask on a single sample"},
    {16, "a none sample's mask has 3 pixels"},
    {17, "polygon 0 has 5 numbers, not pairs"},
    {18, "not a counts character"},
    {19, "id \"x/y\" cannot name a file"},
    {20, "text after the JSON object"},
    {21, "a line must be a JSON object, not an array"},
    {22, "unknown mask key \"polygon\""},
    {27, "a mask object has one key, not \"png\" and \"rle\" (use union)"},
    {28, "mask \"union\" must be a non-empty list of masks"},
    {29, "a mask must be an object, not null"},
    {23, "corrupt or truncated PNG"},
    {24, "\"height\" must be an integer from 1 to 1000000, not 8.5"},
    {25, "RLE counts add up to 79, not height x width = 80"},
    {26, "\"sentence\" is empty"},
};

// clang-format off
#define HEAD(id, split) "{\"id\": \"" id "\", \"split\": \"" split "\", \"image\": \"img.png\", "
#define TAIL(type, mask) \
    "\"sentence\": \"s\", \"lang\": \"en\", \"type\": \"" type "\", \"category\": \"c\", \"mask\": " mask "}\n"
#define SIZE "\"width\": 10, \"height\": 8, "
#define RLE3 "{\"rle\": {\"size\": [8, 10], \"counts\": [0, 3, 77]}}"

/* One line each, numbered as the findings above expect. */
static const char bad[] =
    /* 1: fine */
    HEAD("a", "train") SIZE TAIL("single", RLE3)
    /* 2 */
    "{\"id\": \"b\", \"split\"\n"
    /* 3 */
    HEAD("c", "train") SIZE "\"sentence\": \"\xff\xfe\", \"lang\": \"en\"}\n"
    /* 4 */
    HEAD("d", "train") "\"height\": 8, " TAIL("single", RLE3)
    /* 5 */
    HEAD("e", "train") "\"width\": \"10\", \"height\": 8, " TAIL("single", RLE3)
    /* 6 */
    HEAD("f", "dev") SIZE TAIL("single", RLE3)
    /* 7 */
    HEAD("g", "train") SIZE TAIL("several", RLE3)
    /* 8 */
    HEAD("h", "train") SIZE TAIL("single", "null")
    /* 9 */
    HEAD("i", "train") SIZE TAIL("single", "{\"rle\": {\"size\": [10, 8], \"counts\": [80]}}")
    /* 10: blank */
    "   \n"
    /* 11 */
    HEAD("a", "train") SIZE TAIL("single", RLE3)
    /* 12 */
    "{\"id\": \"l\", \"split\": \"val\", \"image\": \"absent.png\", " SIZE TAIL("single", RLE3)
    /* 13 */
    HEAD("m", "val") "\"width\": 7, \"height\": 5, "
    TAIL("single", "{\"rle\": {\"size\": [5, 7], \"counts\": [1, 1, 33]}}")
    /* 14 */
    HEAD("n", "val") SIZE TAIL("single", "{\"png\": \"small.png\"}")
    /* 15 */
    HEAD("o", "val") SIZE TAIL("single", "{\"polygons\": [[20, 20, 30, 20, 30, 30]]}")
    /* 16 */
    HEAD("p", "test") SIZE TAIL("none", RLE3)
    /* 17 */
    HEAD("q", "test") SIZE TAIL("single", "{\"polygons\": [[1, 1, 5, 5, 1]]}")
    /* 18 */
    HEAD("r", "test") SIZE TAIL("single", "{\"rle\": {\"size\": [8, 10], \"counts\": \"a b\"}}")
    /* 19 */
    HEAD("x/y", "test") SIZE TAIL("single", RLE3)
    /* 20 */
    HEAD("s", "test") SIZE "\"sentence\": \"s\", \"lang\": \"en\", \"type\": \"single\", \"category\": \"c\", "
    "\"mask\": " RLE3 "} {}\n"
    /* 21 */
    "[1, 2]\n"
    /* 22 */
    HEAD("t", "test") SIZE TAIL("single", "{\"polygon\": [[1, 1, 5, 5, 1, 5]]}")
    /* 23 */
    "{\"id\": \"u\", \"split\": \"val\", \"image\": \"cut.png\", " SIZE TAIL("single", RLE3)
    /* 24 */
    HEAD("v", "test") "\"width\": 10, \"height\": 8.5, " TAIL("single", RLE3)
    /* 25 */
    HEAD("w", "test") SIZE TAIL("single", "{\"rle\": {\"size\": [8, 10], \"counts\": [0, 3, 76]}}")
    /* 26 */
    HEAD("z", "test") SIZE "\"sentence\": \"\", \"lang\": \"en\", \"type\": \"none\", \"category\": \"\", "
    "\"mask\": null}\n"
    /* 27 */
    HEAD("z1", "test") SIZE TAIL("single", "{\"png\": \"m.png\", \"rle\": {}}")
    /* 28 */
    HEAD("z2", "test") SIZE TAIL("single", "{\"union\": []}")
    /* 29 */
    HEAD("z3", "test") SIZE TAIL("single", "{\"union\": [" RLE3 ", null]}");
// clang-format on

TEST(manifest_findings_have_line_numbers)
{
    put_png("img.png", 10, 8, 3, 0);
    put_png("small.png", 9, 8, 1, 1);
    /* a PNG cut in half */
    FILE *in = fopen("tests/golden/pil/bilinear_rgb_97x61_41x29.in.png", "rb");
    char buf[4096];
    size_t n = in ? fread(buf, 1, sizeof buf, in) : 0;
    if (in)
        fclose(in);
    FILE *out = fopen(put("cut.png", NULL), "wb");
    if (out) {
        fwrite(buf, 1, n / 2, out);
        fclose(out);
    }
    const char *path = put("bad.jsonl", bad);
    rr_manifest m;
    rr_findings f = {0};
    CHECK(rr_manifest_read(path, &m, &f) == -1, "a bad manifest read without error");
    char want[256];
    snprintf(want, sizeof want, "%s:2: malformed JSON at column 20 (and ", path);
    CHECK(strncmp(rr_errmsg(), want, strlen(want)) == 0, "message: %s", rr_errmsg());
    long found = rr_manifest_check(&m, RR_CHECK_FILES | RR_CHECK_MASKS | RR_CHECK_IMAGES, &f);
    CHECK(found == 7, "check found %ld", found);
    size_t nwant = sizeof findings_expected / sizeof *findings_expected;
    for (size_t i = 0; i < nwant; i++) {
        int hit = 0;
        for (size_t k = 0; k < f.n; k++)
            hit |= f.v[k].line == findings_expected[i].line && strstr(f.v[k].msg, findings_expected[i].msg);
        CHECK(hit, "no finding \"%s\" on line %ld", findings_expected[i].msg, findings_expected[i].line);
    }
    CHECK(f.n == nwant, "%zu findings, want %zu", f.n, nwant);
    if (f.n != nwant)
        for (size_t k = 0; k < f.n; k++)
            printf("      finding %ld: %s\n", f.v[k].line, f.v[k].msg);
    /* the valid lines were kept */
    CHECK(m.n == 8, "%zu samples kept", m.n);
    rr_manifest_free(&m);
    rr_findings_free(&f);
    /* without a findings list, reading stops at the first bad line */
    CHECK(rr_manifest_read(path, &m, NULL) == -1, "read without findings");
    snprintf(want, sizeof want, "%s:2: malformed JSON at column 20", path);
    CHECK(strcmp(rr_errmsg(), want) == 0, "message: %s", rr_errmsg());
    CHECK(m.n == 1, "%zu samples before the first bad line", m.n);
    rr_manifest_free(&m);
    remove_files((const char *const[]){"img.png", "small.png", "cut.png", "bad.jsonl", NULL});
}

TEST(manifest_missing_file)
{
    rr_manifest m;
    CHECK(rr_manifest_read("/nonexistent-dir/m.jsonl", &m, NULL) == -1, "a missing manifest read");
    CHECK(strcmp(rr_errmsg(), "/nonexistent-dir/m.jsonl: No such file or directory") == 0, "message: %s",
          rr_errmsg());
    rr_manifest_free(&m);
    /* an empty manifest is fine, and has no counts */
    CHECK_OK(rr_manifest_read(put("empty.jsonl", ""), &m, NULL));
    rr_counts c;
    CHECK_OK(rr_manifest_count(&m, RR_FIELD_SPLIT, &c));
    CHECK(m.n == 0 && c.n == 0, "%zu samples", m.n);
    CHECK(rr_manifest_check(&m, RR_CHECK_FILES | RR_CHECK_MASKS, NULL) == 0, "findings in an empty manifest");
    rr_counts_free(&c);
    rr_manifest_free(&m);
    unlink(put("empty.jsonl", NULL));
}

TEST(manifest_sample_write_builds_lines)
{
    /* what rrsis-synth does: fill a sample in memory and write it */
    rr_rle rle = {.h = 2, .w = 3, .counts = (uint32_t[]){1, 2, 3}, .n = 3};
    rr_sample s = {.id = "syn_000001",
                   .split = "train",
                   .image = "images/000001.png",
                   .width = 3,
                   .height = 2,
                   .sentence = "the car \"left\"",
                   .lang = "en",
                   .type = RR_TYPE_SINGLE,
                   .category = "car",
                   .mask = {.rles = &rle, .nrle = 1}};
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    CHECK_OK(rr_sample_write(f, &s));
    fclose(f);
    const char *want =
        "{\"id\":\"syn_000001\",\"split\":\"train\",\"image\":\"images/000001.png\",\"width\":3,"
        "\"height\":2,\"sentence\":\"the car \\\"left\\\"\",\"lang\":\"en\",\"type\":\"single\","
        "\"category\":\"car\",\"mask\":{\"rle\":{\"size\":[2,3],\"counts\":[1,2,3]}}}\n";
    CHECK(text && strcmp(text, want) == 0, "wrote\n%s", text);
    free(text);
    s.id = NULL;
    f = open_memstream(&text, &len);
    CHECK(rr_sample_write(f, &s) == -1 && strstr(rr_errmsg(), "NULL field"), "%s", rr_errmsg());
    fclose(f);
    free(text);
}
