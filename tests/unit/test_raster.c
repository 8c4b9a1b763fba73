/* The shared image reader (io/raster.h): TIFFs through GDAL give Pillow's
 * pixels, windows are the scene's pixels (also when read in bands of rows),
 * the option parsers, and the tiles' windows of rrsis-encode
 * (pipeline/encode.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gdal.h>

#include "harness.h"
#include "io/raster.h"
#include "pipeline/encode.h"

#define PIL "tests/golden/pil/"

/* An 8-bit RGB TIFF read by GDAL: the bytes Pillow's convert("RGB") gives. */
TEST(raster_tiff_as_pillow)
{
    const char *cases[][2] = {{PIL "rgb.tif", PIL "rgb.rgb.png"}, {PIL "rgb_lzw.tif", PIL "rgb_lzw.rgb.png"}};
    for (int c = 0; c < 2; c++) {
        rr_image got, want;
        uint8_t *valid;
        CHECK_OK(rr_raster_load(cases[c][0], NULL, &got, &valid));
        CHECK_OK(rr_image_load(cases[c][1], RR_IMAGE_RGB, &want));
        CHECK(valid == NULL, "%s: a valid mask without NoData", cases[c][0]);
        if (got.data && want.data) {
            CHECK(got.width == want.width && got.height == want.height && got.channels == 3, "%s: %dx%dx%d",
                  cases[c][0], got.width, got.height, got.channels);
            CHECK(memcmp(got.data, want.data, (size_t)want.width * want.height * 3) == 0, "%s: pixels differ",
                  cases[c][0]);
        }
        rr_image_free(&got);
        rr_image_free(&want);
    }
}

/* A window, at its size, holds the scene's pixels there; a PNG's too. */
TEST(raster_window)
{
    const char *files[] = {PIL "rgb.tif", PIL "rgb.rgb.png"};
    for (int f = 0; f < 2; f++) {
        rr_raster r;
        rr_image whole, win;
        CHECK_OK(rr_raster_open(&r, files[f], NULL));
        CHECK_OK(rr_raster_read(&r, 0, 0, r.width, r.height, r.width, r.height, &whole, NULL));
        int x = r.width / 3, y = r.height / 4, w = r.width / 2, h = r.height / 2;
        CHECK_OK(rr_raster_read(&r, x, y, w, h, w, h, &win, NULL));
        for (int i = 0; whole.data && win.data && i < h; i++)
            CHECK(memcmp(win.data + (size_t)i * w * 3, whole.data + ((size_t)(y + i) * whole.width + x) * 3,
                         (size_t)w * 3) == 0,
                  "%s: row %d of the window", files[f], i);
        rr_image_free(&win);
        CHECK(rr_raster_read(&r, x, y, r.width, h, r.width, h, &win, NULL) == -1 && strstr(rr_errmsg(), "outside"),
              "%s: a window past the edge: %s", files[f], rr_errmsg());
        rr_image_free(&whole);
        rr_image_free(&win);
        rr_raster_close(&r);
    }
}

TEST(raster_option_parsers)
{
    rr_raster_opts o = {0};
    CHECK(rr_raster_parse_bands(&o, "3,2,1") == 0 && o.nbands == 3 && o.band[0] == 3 && o.band[2] == 1, "3,2,1");
    CHECK(rr_raster_parse_bands(&o, "7") == 0 && o.nbands == 1 && o.band[0] == 7, "7");
    const char *bad_bands[] = {"", "1,2", "1,2,3,4", "0", "-1", "a", "1,,2", "1,2,3,", " 1", "1.5", "70000"};
    for (size_t i = 0; i < sizeof bad_bands / sizeof *bad_bands; i++)
        CHECK(rr_raster_parse_bands(&o, bad_bands[i]) == -1 && strstr(rr_errmsg(), "--bands: '"), "bands '%s'",
              bad_bands[i]);
    CHECK(rr_raster_parse_scale(&o, "-5.5,1e4") == 0 && o.fixed && o.min[2] == -5.5 && o.max[1] == 1e4, "scale");
    const char *bad_scale[] = {"", "1", "1,", ",1", "2,1", "1,1", "1,2,3", "x,2", "1,inf", "nan,2"};
    for (size_t i = 0; i < sizeof bad_scale / sizeof *bad_scale; i++)
        CHECK(rr_raster_parse_scale(&o, bad_scale[i]) == -1 && strstr(rr_errmsg(), "--scale: '"), "scale '%s'",
              bad_scale[i]);
}

/* Windows every tile - overlap pixels, the last moved back inside. */
TEST(encode_tile_starts)
{
    struct {
        int size, tile, overlap, n, starts[4];
    } cases[] = {
        {128, 48, 8, 3, {0, 40, 80}}, {96, 48, 0, 2, {0, 48}}, {97, 48, 0, 3, {0, 48, 49}},
        {48, 48, 0, 1, {0}},          {30, 48, 8, 1, {0}},     {100, 64, 32, 3, {0, 32, 36}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        int got[8] = {0};
        int n = rr_encode_tile_starts(cases[c].size, cases[c].tile, cases[c].overlap, got, 8);
        CHECK(n == cases[c].n, "size %d tile %d: %d windows", cases[c].size, cases[c].tile, n);
        for (int k = 0; k < n && k < cases[c].n; k++)
            CHECK(got[k] == cases[c].starts[k], "size %d tile %d: window %d at %d", cases[c].size, cases[c].tile,
                  k, got[k]);
    }
}

/* A window larger than one read of rows (1500 x 800 values: two bands of
 * rows): every pixel where it belongs, scaled by the fixed rule, the NoData
 * pixels 0 and marked. */
TEST(raster_rows_in_bands)
{
    enum { W = 1500, H = 800 };
    char path[] = "/tmp/rr_raster_rows_XXXXXX.tif";
    int fd = mkstemps(path, 4);
    CHECK(fd >= 0, "mkstemps");
    if (fd < 0)
        return;
    close(fd);
    GDALAllRegister();
    GDALDatasetH ds = GDALCreate(GDALGetDriverByName("GTiff"), path, W, H, 1, GDT_UInt16, NULL);
    uint16_t *v = malloc((size_t)W * H * sizeof *v);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            v[(size_t)y * W + x] = (uint16_t)((x * 7 + y * 13) % 4000);
    GDALRasterBandH b = ds ? GDALGetRasterBand(ds, 1) : NULL;
    CHECK(b && GDALSetRasterNoDataValue(b, 0) == CE_None &&
              GDALRasterIO(b, GF_Write, 0, 0, W, H, v, W, H, GDT_UInt16, 0, 0) == CE_None,
          "writing %s", path);
    if (ds)
        GDALClose(ds);
    rr_raster_opts o = {0};
    rr_raster r;
    rr_image im = {0};
    uint8_t *valid = NULL;
    CHECK_OK(rr_raster_parse_scale(&o, "0,4000"));
    CHECK_OK(rr_raster_open(&r, path, &o));
    CHECK_OK(rr_raster_read(&r, 0, 0, W, H, W, H, &im, &valid));
    long bad = 0;
    for (size_t p = 0; im.data && valid && p < (size_t)W * H; p++) {
        int want = v[p] ? (int)floor(v[p] / 4000.0 * 255 + 0.5) : 0;
        bad += im.data[3 * p] != want || im.data[3 * p + 2] != want || valid[p] != (v[p] != 0);
    }
    CHECK(im.data && valid && bad == 0, "%ld pixels differ", bad);
    rr_image_free(&im);
    free(valid);
    rr_raster_close(&r);
    free(v);
    unlink(path);
}
