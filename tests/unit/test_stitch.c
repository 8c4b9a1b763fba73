/* The stitching of tiles into a scene (pipeline/stitch.h): the ramp
 * weights on exact small cases, the bands of rows handed on, NoData, the
 * gate, and tiles out of order. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "pipeline/stitch.h"

/* What the callback saw: the whole scene (small here) and its calls. */
typedef struct {
    int width, height, calls, next_y;
    uint8_t mask[64 * 64], valid[64 * 64];
    float prob[64 * 64];
} seen;

static int keep_rows(void *arg, int y, int n, const uint8_t *mask, const float *prob, const uint8_t *valid)
{
    seen *s = arg;
    CHECK(y == s->next_y, "rows from %d, expected from %d", y, s->next_y);
    size_t at = (size_t)y * s->width, len = (size_t)n * s->width;
    memcpy(s->mask + at, mask, len);
    memcpy(s->valid + at, valid, len);
    memcpy(s->prob + at, prob, len * sizeof *prob);
    s->calls++;
    s->next_y = y + n;
    return 0;
}

static void fill(float *a, int n, float v)
{
    for (int i = 0; i < n; i++)
        a[i] = v;
}

/* Two 4 x 2 tiles over a 6 x 2 scene, overlapping in columns 2 and 3:
 * margins +1 and -1.5.  Column weights min(i + 1, 4 - i): 1 2 2 1.  Column
 * 2: A's weight 2, B's 1: (2 - 1.5) / 3 > 0; column 3: (1 - 3) / 3 < 0. */
TEST(stitch_ramp_weights)
{
    seen s = {.width = 6, .height = 2};
    rr_stitch st;
    float a[8], b[8];
    fill(a, 8, 1.0f);
    fill(b, 8, -1.5f);
    CHECK_OK(rr_stitch_begin(&st, 6, 2, keep_rows, &s));
    CHECK_OK(rr_stitch_add(&st, 0, 0, 4, 2, a, NULL));
    CHECK_OK(rr_stitch_add(&st, 2, 0, 4, 2, b, NULL));
    CHECK_OK(rr_stitch_end(&st));
    rr_stitch_free(&st);
    const uint8_t want[6] = {1, 1, 1, 0, 0, 0};
    const float margin[6] = {1, 1, 0.5f / 3, -2.0f / 3, -1.5f, -1.5f};
    for (int y = 0; y < 2; y++)
        for (int x = 0; x < 6; x++) {
            int i = y * 6 + x;
            CHECK(s.mask[i] == want[x] && s.valid[i], "(%d, %d): mask %d", x, y, s.mask[i]);
            float p = 1.0f / (1.0f + expf(-margin[x]));
            CHECK(fabsf(s.prob[i] - p) < 1e-6f, "(%d, %d): prob %g, expected %g", x, y, s.prob[i], p);
        }
    CHECK(s.next_y == 2, "rows to %d", s.next_y);
}

/* Two rows of 2 x 2 tiles over 2 x 5 rows (overlap 1 row): rows above a new
 * row of tiles go out when it starts, the rest at the end; uncovered rows
 * are background; a NoData pixel is never foreground. */
TEST(stitch_bands_and_nodata)
{
    seen s = {.width = 2, .height = 5};
    rr_stitch st;
    float a[4];
    uint8_t valid[4] = {1, 0, 1, 1};
    fill(a, 4, 2.0f);
    CHECK_OK(rr_stitch_begin(&st, 2, 5, keep_rows, &s));
    CHECK_OK(rr_stitch_add(&st, 0, 0, 2, 2, a, valid));
    CHECK(s.calls == 0, "%d calls before the second row of tiles", s.calls);
    CHECK_OK(rr_stitch_add(&st, 0, 1, 2, 2, a, NULL));
    CHECK(s.calls == 1 && s.next_y == 1, "after the second row: %d calls, rows to %d", s.calls, s.next_y);
    CHECK_OK(rr_stitch_end(&st));
    rr_stitch_free(&st);
    const uint8_t want[10] = {1, 0, 1, 1, 1, 1, 0, 0, 0, 0};
    for (int i = 0; i < 10; i++)
        CHECK(s.mask[i] == want[i], "pixel %d: %d", i, s.mask[i]);
    CHECK(!s.valid[1] && s.valid[0] && s.prob[9] == 0, "valid %d %d, uncovered prob %g", s.valid[0], s.valid[1],
          s.prob[9]);
}

/* The gate: a 2 x 2 context whose top-left is sure (+9) and the rest not
 * (-9), over a 5 x 5 scene of foreground tiles, threshold 0.4.  Undilated,
 * the upsampled gate is >= 0.4 where the bilinear weight of the top-left
 * is about >= 0.4 (none is near it); dilated by 1 it is open everywhere. */
TEST(stitch_gate)
{
    float ctx[4] = {9, -9, -9, -9}, a[25];
    fill(a, 25, 3.0f);
    for (int dilate = 0; dilate < 2; dilate++) {
        seen s = {.width = 5, .height = 5};
        rr_stitch st;
        CHECK_OK(rr_stitch_begin(&st, 5, 5, keep_rows, &s));
        CHECK_OK(rr_stitch_gate(&st, ctx, 2, dilate, 0.4f));
        CHECK_OK(rr_stitch_add(&st, 0, 0, 5, 5, a, NULL));
        CHECK_OK(rr_stitch_end(&st));
        rr_stitch_free(&st);
        for (int y = 0; y < 5; y++)
            for (int x = 0; x < 5; x++) {
                double p0 = 1 / (1 + exp(-9.0)), p1 = 1 / (1 + exp(9.0));
                double wx = 1 - x / 4.0, wy = 1 - y / 4.0, g = wx * wy * p0 + (1 - wx * wy) * p1;
                int want = dilate || g >= 0.4;
                CHECK(s.mask[y * 5 + x] == want, "dilate %d, (%d, %d): %d", dilate, x, y, s.mask[y * 5 + x]);
            }
    }
}

TEST(stitch_rejects_bad_tiles)
{
    seen s = {.width = 4, .height = 4};
    rr_stitch st;
    float a[4] = {0};
    CHECK_OK(rr_stitch_begin(&st, 4, 4, keep_rows, &s));
    CHECK(rr_stitch_add(&st, 3, 0, 2, 2, a, NULL) == -1 && strstr(rr_errmsg(), "not inside the scene of 4x4"),
          "a window past the edge: %s", rr_errmsg());
    CHECK_OK(rr_stitch_add(&st, 0, 2, 2, 2, a, NULL));
    CHECK(rr_stitch_add(&st, 0, 0, 2, 2, a, NULL) == -1 && strstr(rr_errmsg(), "raster order"),
          "a tile above the last: %s", rr_errmsg());
    rr_stitch_free(&st);
}
