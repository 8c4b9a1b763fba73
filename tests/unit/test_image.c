/* Image and mask I/O and Pillow-exact resizing, against Pillow's own
 * results (tests/golden/pil/, written by tools/make_pil_goldens.py). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "io/image.h"
#include "io/resize_pil.h"

#define PIL "tests/golden/pil/"

/* The non-comment lines of a golden index, split at spaces into at most
 * 4 fields each. */
typedef struct {
    char f[4][128];
} golden_line;

static int read_index(const char *path, golden_line *out, int max)
{
    FILE *in = fopen(path, "r");
    if (!in)
        return -1;
    char buf[512];
    int n = 0;
    while (n < max && fgets(buf, sizeof buf, in)) {
        if (buf[0] == '#' || buf[0] == '\n')
            continue;
        memset(&out[n], 0, sizeof out[n]);
        if (sscanf(buf, "%127s %127s %127s %127s", out[n].f[0], out[n].f[1], out[n].f[2], out[n].f[3]) >= 3)
            n++;
    }
    fclose(in);
    return n;
}

/* 0 when equal; otherwise reports the first difference and the count. */
static long compare_images(const char *what, const rr_image *got, const rr_image *want)
{
    if (got->width != want->width || got->height != want->height || got->channels != want->channels) {
        test_fail(__FILE__, __LINE__, "%s: got %dx%dx%d, want %dx%dx%d", what, got->width, got->height,
                  got->channels, want->width, want->height, want->channels);
        return -1;
    }
    size_t n = (size_t)got->width * got->height * got->channels;
    long diff = 0;
    size_t first = 0;
    for (size_t i = 0; i < n; i++)
        if (got->data[i] != want->data[i] && !diff++)
            first = i;
    if (diff) {
        size_t px = first / got->channels;
        test_fail(__FILE__, __LINE__, "%s: %ld of %zu bytes differ; first at x=%zu y=%zu c=%zu: %d, want %d",
                  what, diff, n, px % got->width, px / got->width, first % got->channels, got->data[first],
                  want->data[first]);
    }
    return diff;
}

static char tmp_dir[64];

/* The tests remove their files; the folder goes at exit. */
static void remove_tmp_dir(void) { rmdir(tmp_dir); }

/* A fresh file name in a private temporary folder. */
static const char *tmp_path(const char *name)
{
    static char path[128];
    if (!tmp_dir[0]) {
        snprintf(tmp_dir, sizeof tmp_dir, "/tmp/rr_test_image_XXXXXX");
        if (!mkdtemp(tmp_dir))
            return NULL;
        atexit(remove_tmp_dir);
    }
    snprintf(path, sizeof path, "%s/%s", tmp_dir, name);
    return path;
}

static int read_bytes(const char *path, uint8_t **buf, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    *buf = malloc(*n ? *n : 1);
    size_t got = fread(*buf, 1, *n, f);
    fclose(f);
    return got == *n ? 0 : -1;
}

static int write_bytes(const char *path, const void *buf, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t put = fwrite(buf, 1, n, f);
    return fclose(f) == 0 && put == n ? 0 : -1;
}

TEST(pil_resize_matches_pillow)
{
    golden_line cases[64];
    int n = read_index(PIL "cases.txt", cases, 64);
    CHECK(n >= 30, "%s: %d cases", PIL "cases.txt", n);
    for (int i = 0; i < n; i++) {
        char path[256];
        rr_image in, want, got;
        const char *name = cases[i].f[0];
        int w = atoi(cases[i].f[2]), h = atoi(cases[i].f[3]);
        snprintf(path, sizeof path, PIL "%s.in.png", name);
        CHECK_OK(rr_image_load(path, RR_IMAGE_STORED, &in));
        snprintf(path, sizeof path, PIL "%s.out.png", name);
        CHECK_OK(rr_image_load(path, RR_IMAGE_STORED, &want));
        int rc = strcmp(cases[i].f[1], "bilinear") == 0 ? rr_pil_resize_bilinear(&in, w, h, &got)
                                                        : rr_pil_resize_nearest(&in, w, h, &got);
        CHECK(rc == 0, "%s: %s", name, rr_errmsg());
        if (rc == 0)
            compare_images(name, &got, &want);
        rr_image_free(&in);
        rr_image_free(&want);
        rr_image_free(&got);
    }
}

TEST(pil_decode_matches_pillow)
{
    golden_line cases[64];
    int n = read_index(PIL "decode.txt", cases, 64);
    CHECK(n >= 20, "%s: %d cases", PIL "decode.txt", n);
    for (int i = 0; i < n; i++) {
        char path[256];
        rr_image got, want;
        const char *mode = cases[i].f[1];
        rr_image_mode m = strcmp(mode, "rgb") == 0    ? RR_IMAGE_RGB
                          : strcmp(mode, "gray") == 0 ? RR_IMAGE_GRAY
                                                      : RR_IMAGE_INDEX;
        snprintf(path, sizeof path, PIL "%s", cases[i].f[0]);
        CHECK_OK(rr_image_load(path, m, &got));
        snprintf(path, sizeof path, PIL "%s", cases[i].f[2]);
        CHECK_OK(rr_image_load(path, RR_IMAGE_STORED, &want));
        char what[300];
        snprintf(what, sizeof what, "%s as %s", cases[i].f[0], mode);
        if (got.data && want.data)
            compare_images(what, &got, &want);
        rr_image_free(&got);
        rr_image_free(&want);
    }
}

TEST(image_stored_channels_and_info)
{
    static const struct {
        const char *file;
        int channels;
    } cases[] = {{"gray4.png", 1},    {"graya8.png", 1},
                 {"palette2.png", 3}, {"rgba8.png", 3},
                 {"rgb16.png", 3},    {"gray.jpg", 1},
                 {"rgb420.jpg", 3},   {"rgb_lzw.tif", 3},
                 {"mask.tif", 1},     {"bilinear_rgb_800x801_480x480.in.png", 3}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char path[256];
        snprintf(path, sizeof path, PIL "%s", cases[i].file);
        rr_image im;
        int w = 0, h = 0, ch = 0;
        CHECK_OK(rr_image_load(path, RR_IMAGE_STORED, &im));
        CHECK_OK(rr_image_info(path, &w, &h, &ch));
        CHECK(im.channels == cases[i].channels, "%s: %d channels", cases[i].file, im.channels);
        CHECK(w == im.width && h == im.height && ch == im.channels, "%s: info %dx%dx%d, load %dx%dx%d",
              cases[i].file, w, h, ch, im.width, im.height, im.channels);
        rr_image_free(&im);
    }
}

TEST(png_write_round_trip)
{
    for (int ch = 1; ch <= 3; ch += 2) {
        rr_image im, back;
        CHECK_OK(rr_image_alloc(&im, 37, 23, ch));
        rr_rng r = {(uint64_t)ch, 0};
        for (size_t i = 0; i < (size_t)37 * 23 * ch; i++)
            im.data[i] = (uint8_t)rr_rng_next(&r);
        const char *path = tmp_path("round.png");
        CHECK_OK(rr_image_write_png(path, &im));
        CHECK_OK(rr_image_load(path, RR_IMAGE_STORED, &back));
        if (back.data)
            compare_images("round trip", &back, &im);
        unlink(path);
        rr_image_free(&im);
        rr_image_free(&back);
    }
    /* a mask is written 0/255 and read back 0/1 */
    rr_image mask, gray, back;
    CHECK_OK(rr_image_alloc(&mask, 9, 5, 1));
    for (int i = 0; i < 45; i++)
        mask.data[i] = i % 3 == 0;
    const char *path = tmp_path("mask.png");
    CHECK_OK(rr_mask_write_png(path, &mask));
    CHECK_OK(rr_image_load(path, RR_IMAGE_STORED, &gray));
    for (int i = 0; gray.data && i < 45; i++)
        CHECK(gray.data[i] == (i % 3 == 0 ? 255 : 0), "pixel %d is %d", i, gray.data[i]);
    CHECK_OK(rr_mask_load(path, &back));
    if (back.data)
        compare_images("mask round trip", &back, &mask);
    unlink(path);
    rr_image_free(&mask);
    rr_image_free(&gray);
    rr_image_free(&back);
}

TEST(png_write_errors)
{
    rr_image im;
    CHECK_OK(rr_image_alloc(&im, 3, 3, 1));
    CHECK(rr_image_write_png("/nonexistent-dir/x.png", &im) == -1, "write into a missing folder");
    CHECK(strstr(rr_errmsg(), "/nonexistent-dir/x.png: No such file"), "message: %s", rr_errmsg());
    FILE *full = fopen("/dev/full", "wb");
    if (full) { /* a full disk, through the stream variant: nothing to remove */
        CHECK(rr_image_write_png_stream(full, &im) == -1 && strstr(rr_errmsg(), "No space left"),
              "write to a full disk: %s", rr_errmsg());
        fclose(full);
    }
    im.channels = 2;
    CHECK(rr_image_write_png(tmp_path("two.png"), &im) == -1, "2 channels accepted");
    CHECK(access(tmp_path("two.png"), F_OK) != 0, "a failed write left a file");
    im.channels = 1;
    rr_image_free(&im);
    CHECK(rr_image_alloc(&im, 4, 4, 2) == -1 && strstr(rr_errmsg(), "2 channels"), "alloc: %s", rr_errmsg());
    CHECK(rr_image_alloc(&im, 0, 4, 1) == -1, "alloc of 0 pixels");
}

/* Writes a gray PNG of the given values and loads it as a mask. */
static void mask_case(const char *what, const uint8_t *vals, const uint8_t *want, int n)
{
    rr_image im, mask;
    CHECK_OK(rr_image_alloc(&im, n, 1, 1));
    memcpy(im.data, vals, (size_t)n);
    const char *path = tmp_path("m.png");
    CHECK_OK(rr_image_write_png(path, &im));
    CHECK_OK(rr_mask_load(path, &mask));
    for (int i = 0; mask.data && i < n; i++)
        CHECK(mask.data[i] == want[i], "%s: value %d gives %d", what, vals[i], mask.data[i]);
    unlink(path);
    rr_image_free(&im);
    rr_image_free(&mask);
}

TEST(mask_load_rules)
{
    mask_case("0/1", (uint8_t[]){0, 1, 1, 0}, (uint8_t[]){0, 1, 1, 0}, 4);
    mask_case("0/255", (uint8_t[]){0, 255, 255, 0}, (uint8_t[]){0, 1, 1, 0}, 4);
    mask_case(">127", (uint8_t[]){0, 1, 127, 128, 200}, (uint8_t[]){0, 0, 0, 1, 1}, 5);
    /* a palette mask gives its indices, whatever the palette's colours */
    rr_image m, want;
    CHECK_OK(rr_mask_load(PIL "palette1.png", &m));
    CHECK_OK(rr_image_load(PIL "palette1.raw.png", RR_IMAGE_STORED, &want));
    if (m.data && want.data)
        compare_images("palette mask", &m, &want);
    rr_image_free(&m);
    rr_image_free(&want);
    /* a 0/255 TIFF mask, as RefSegRS */
    CHECK_OK(rr_mask_load(PIL "mask.tif", &m));
    CHECK_OK(rr_image_load(PIL "mask.gray.png", RR_IMAGE_STORED, &want));
    for (int i = 0; m.data && want.data && i < m.width * m.height; i++)
        CHECK(m.data[i] == (want.data[i] > 127), "mask.tif pixel %d", i);
    rr_image_free(&m);
    rr_image_free(&want);
}

/* Decoding every prefix (stepped) of a file must fail cleanly. */
static void truncations_fail(const char *file, size_t keep_tail, const char *expect)
{
    uint8_t *buf;
    size_t n;
    CHECK(read_bytes(file, &buf, &n) == 0, "cannot read %s", file);
    int failures = 0, tries = 0;
    for (size_t cut = 0; cut + keep_tail < n; cut += 1 + n / 97) {
        rr_image im;
        tries++;
        if (rr_image_decode(buf, cut, RR_IMAGE_RGB, &im) == 0) {
            rr_image_free(&im);
            continue;
        }
        failures++;
        if (cut > 64)
            CHECK(strstr(rr_errmsg(), expect), "%s cut at %zu: %s", file, cut, rr_errmsg());
    }
    CHECK(failures == tries, "%s: %d of %d truncations decoded", file, tries - failures, tries);
    /* and one truncated file on disk: the message names it */
    const char *path = tmp_path("cut");
    write_bytes(path, buf, n / 2);
    rr_image im;
    CHECK(rr_image_load(path, RR_IMAGE_RGB, &im) == -1, "%s: half a file loaded", file);
    CHECK(strncmp(rr_errmsg(), path, strlen(path)) == 0 && strstr(rr_errmsg(), expect), "message: %s",
          rr_errmsg());
    unlink(path);
    free(buf);
}

TEST(truncated_images_fail_cleanly)
{
    /* a PNG whose IEND chunk (12 bytes) alone is missing is still whole */
    truncations_fail(PIL "bilinear_rgb_97x61_41x29.in.png", 12, "truncated PNG");
    truncations_fail(PIL "rgb420.jpg", 0, "truncated JPEG");
    truncations_fail(PIL "rgb_lzw.tif", 0, "TIFF");
}

TEST(bad_files_fail_cleanly)
{
    rr_image im;
    int w, h;
    CHECK(rr_image_load(PIL "no-such-file.png", RR_IMAGE_RGB, &im) == -1, "missing file loaded");
    CHECK(strcmp(rr_errmsg(), PIL "no-such-file.png: No such file or directory") == 0, "message: %s",
          rr_errmsg());
    CHECK(rr_image_info(PIL "no-such-file.png", &w, &h, NULL) == -1, "info of a missing file");
    CHECK(rr_image_load(PIL "cases.txt", RR_IMAGE_RGB, &im) == -1, "a text file loaded");
    CHECK(strcmp(rr_errmsg(), PIL "cases.txt: not a PNG, JPEG or TIFF image") == 0, "message: %s",
          rr_errmsg());
    CHECK(rr_image_load("tests/golden", RR_IMAGE_RGB, &im) == -1, "a folder loaded");
    CHECK(strstr(rr_errmsg(), "tests/golden: a directory, not a regular file or a pipe"), "message: %s", rr_errmsg());
    const char *path = tmp_path("empty.png");
    write_bytes(path, "", 0);
    CHECK(rr_image_load(path, RR_IMAGE_RGB, &im) == -1 && strstr(rr_errmsg(), "empty file"), "message: %s",
          rr_errmsg());
    unlink(path);
    CHECK(im.data == NULL, "a failed load left data");
    /* a PNG signature followed by garbage, a JPEG SOI followed by garbage */
    uint8_t junk[64] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 1, 2, 3};
    CHECK(rr_image_decode(junk, sizeof junk, RR_IMAGE_RGB, &im) == -1 && strstr(rr_errmsg(), "PNG"), "%s",
          rr_errmsg());
    uint8_t jjunk[64] = {0xff, 0xd8, 0xff, 0xe0, 0, 3, 9, 9};
    CHECK(rr_image_decode(jjunk, sizeof jjunk, RR_IMAGE_RGB, &im) == -1 && strstr(rr_errmsg(), "JPEG"), "%s",
          rr_errmsg());
    uint8_t tjunk[64] = {'I', 'I', 42, 0, 200, 0, 0, 0};
    CHECK(rr_image_decode(tjunk, sizeof tjunk, RR_IMAGE_RGB, &im) == -1 && strstr(rr_errmsg(), "TIFF"), "%s",
          rr_errmsg());
}

/* Random byte changes to valid files: the decoders may succeed or fail,
 * but must not crash or read out of bounds (the ASan build checks). */
TEST(mutated_images_never_crash)
{
    static const char *const files[] = {PIL "palette4.png", PIL "rgb444.jpg", PIL "rgb.tif", PIL "gray2.png"};
    rr_rng r = {99, 0};
    for (size_t f = 0; f < sizeof files / sizeof *files; f++) {
        uint8_t *buf, *copy;
        size_t n;
        CHECK(read_bytes(files[f], &buf, &n) == 0, "cannot read %s", files[f]);
        copy = malloc(n);
        for (int t = 0; t < 150; t++) {
            memcpy(copy, buf, n);
            int flips = 1 + (int)(rr_rng_next(&r) % 4);
            for (int k = 0; k < flips; k++)
                copy[8 + rr_rng_next(&r) % (n - 8)] = (uint8_t)rr_rng_next(&r);
            rr_image im;
            if (rr_image_decode(copy, n, RR_IMAGE_RGB, &im) == 0)
                rr_image_free(&im);
            else
                CHECK(rr_errmsg()[0], "%s: a failure without a message", files[f]);
        }
        free(copy);
        free(buf);
    }
}

TEST(resize_rejects_bad_sizes)
{
    rr_image in, out;
    CHECK_OK(rr_image_alloc(&in, 5, 5, 3));
    CHECK(rr_pil_resize_bilinear(&in, 0, 4, &out) == -1 && strstr(rr_errmsg(), "must be positive"), "%s",
          rr_errmsg());
    CHECK(rr_pil_resize_nearest(&in, 4, -1, &out) == -1 && strstr(rr_errmsg(), "must be positive"), "%s",
          rr_errmsg());
    rr_image_free(&in);
    CHECK(rr_pil_resize_bilinear(&in, 4, 4, &out) == -1 && strstr(rr_errmsg(), "empty input"), "%s",
          rr_errmsg());
}

TEST(resize_nearest_rgb_is_per_pixel)
{
    /* NEAREST moves whole pixels: on RGB it equals the gray result of
     * each channel (the goldens are gray). */
    rr_image rgb, plane, out, pout;
    CHECK_OK(rr_image_alloc(&rgb, 53, 31, 3));
    CHECK_OK(rr_image_alloc(&plane, 53, 31, 1));
    rr_rng r = {5, 0};
    for (int i = 0; i < 53 * 31 * 3; i++)
        rgb.data[i] = (uint8_t)rr_rng_next(&r);
    CHECK_OK(rr_pil_resize_nearest(&rgb, 480, 17, &out));
    for (int c = 0; c < 3; c++) {
        for (int i = 0; i < 53 * 31; i++)
            plane.data[i] = rgb.data[i * 3 + c];
        CHECK_OK(rr_pil_resize_nearest(&plane, 480, 17, &pout));
        for (int i = 0; pout.data && out.data && i < 480 * 17; i++)
            if (out.data[i * 3 + c] != pout.data[i]) {
                CHECK(0, "channel %d pixel %d differs", c, i);
                break;
            }
        rr_image_free(&pout);
    }
    rr_image_free(&rgb);
    rr_image_free(&plane);
    rr_image_free(&out);
}
