/* COCO masks against pycocotools (tests/golden/coco/masks.json, written
 * by tools/make_coco_goldens.py), and hand-made cases. */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "harness.h"
#include "io/coco_mask.h"

static cJSON *load_goldens(void)
{
    FILE *f = fopen("tests/golden/coco/masks.json", "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = malloc((size_t)n + 1);
    size_t got = fread(text, 1, (size_t)n, f);
    fclose(f);
    text[got] = '\0';
    cJSON *doc = cJSON_Parse(text);
    free(text);
    return doc;
}

/* Compares a row-major mask with the golden's rows of '0'/'1'. */
static void check_rows(const char *what, const uint8_t *mask, int h, int w, const cJSON *rows)
{
    int y = 0;
    const cJSON *row;
    cJSON_ArrayForEach(row, rows)
    {
        for (int x = 0; x < w; x++)
            if (mask[(size_t)y * w + x] != (row->valuestring[x] == '1')) {
                CHECK(0, "%s: pixel x=%d y=%d is %d", what, x, y, mask[(size_t)y * w + x]);
                return;
            }
        y++;
    }
    CHECK(y == h, "%s: %d rows, want %d", what, y, h);
}

/* The string of a mask, through rleEncode and rleToString. */
static char *mask_string(const uint8_t *mask, int h, int w)
{
    uint32_t *counts;
    size_t n;
    if (rr_rle_encode(mask, h, w, &counts, &n))
        return NULL;
    char *s = rr_rle_to_string(counts, n);
    free(counts);
    return s;
}

TEST(coco_polygons_match_pycocotools)
{
    cJSON *doc = load_goldens();
    CHECK(doc != NULL, "cannot read tests/golden/coco/masks.json");
    if (!doc)
        return;
    int cases = 0, polys = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(doc, "polygons"))
    {
        const char *note = cJSON_GetObjectItem(c, "note")->valuestring;
        int h = cJSON_GetObjectItem(c, "h")->valueint, w = cJSON_GetObjectItem(c, "w")->valueint;
        uint8_t *mask = calloc((size_t)h * w, 1);
        const cJSON *poly, *want = cJSON_GetObjectItem(c, "rles")->child;
        cJSON_ArrayForEach(poly, cJSON_GetObjectItem(c, "polygons"))
        {
            size_t n = (size_t)cJSON_GetArraySize(poly);
            double *xy = malloc(n * sizeof *xy);
            size_t i = 0;
            const cJSON *v;
            cJSON_ArrayForEach(v, poly) xy[i++] = v->valuedouble;
            uint32_t *counts;
            size_t nc;
            CHECK_OK(rr_rle_from_poly(xy, n / 2, h, w, &counts, &nc));
            char *s = rr_rle_to_string(counts, nc);
            CHECK(s && strcmp(s, want->valuestring) == 0, "%s: polygon %d: \"%s\", pycocotools \"%s\"", note,
                  polys, s, want->valuestring);
            CHECK_OK(rr_poly_paint(xy, n / 2, h, w, mask));
            free(s);
            free(counts);
            free(xy);
            want = want->next;
            polys++;
        }
        char *u = mask_string(mask, h, w);
        const char *want_union = cJSON_GetObjectItem(c, "union")->valuestring;
        CHECK(u && strcmp(u, want_union) == 0, "%s: union \"%s\", pycocotools \"%s\"", note, u, want_union);
        free(u);
        if (cJSON_GetObjectItem(c, "mask"))
            check_rows(note, mask, h, w, cJSON_GetObjectItem(c, "mask"));
        free(mask);
        cases++;
    }
    CHECK(cases >= 25 && polys >= 35, "%d cases, %d polygons", cases, polys);
    cJSON_Delete(doc);
}

TEST(coco_rles_match_pycocotools)
{
    cJSON *doc = load_goldens();
    CHECK(doc != NULL, "cannot read tests/golden/coco/masks.json");
    if (!doc)
        return;
    int cases = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(doc, "rles"))
    {
        int h = cJSON_GetObjectItem(c, "h")->valueint, w = cJSON_GetObjectItem(c, "w")->valueint;
        const cJSON *list = cJSON_GetObjectItem(c, "counts"), *v;
        const char *want = cJSON_GetObjectItem(c, "string")->valuestring;
        size_t n = (size_t)cJSON_GetArraySize(list), i = 0;
        uint32_t *counts = malloc(n * sizeof *counts);
        cJSON_ArrayForEach(v, list) counts[i++] = (uint32_t)v->valuedouble;
        /* list -> string (rleToString) */
        char *s = rr_rle_to_string(counts, n);
        CHECK(s && strcmp(s, want) == 0, "case %d (%dx%d): \"%.40s\", pycocotools \"%.40s\"", cases, h, w, s,
              want);
        free(s);
        /* string -> list (rleFrString) */
        uint32_t *back;
        size_t nb;
        CHECK_OK(rr_rle_from_string(want, &back, &nb));
        CHECK(nb == n && memcmp(back, counts, n * sizeof *counts) == 0, "case %d: decoded counts differ",
              cases);
        free(back);
        /* decode, and encode back (rleEncode) */
        uint8_t *mask = calloc((size_t)h * w, 1);
        CHECK_OK(rr_rle_paint(counts, n, h, w, mask));
        if (cJSON_GetObjectItem(c, "mask"))
            check_rows("rle", mask, h, w, cJSON_GetObjectItem(c, "mask"));
        char *again = mask_string(mask, h, w);
        CHECK(again && strcmp(again, want) == 0, "case %d: encode gives \"%.40s\"", cases, again);
        free(again);
        free(mask);
        free(counts);
        cases++;
    }
    CHECK(cases >= 15, "%d cases", cases);
    cJSON_Delete(doc);
}

TEST(coco_rle_hand_cases)
{
    /* 2x3 mask, column-major runs: zeros 1, ones 2, zeros 3 */
    uint32_t counts[] = {1, 2, 3};
    uint8_t mask[6] = {0};
    CHECK_OK(rr_rle_paint(counts, 3, 2, 3, mask));
    /* column-major pixels 1 and 2 are (y=1, x=0) and (y=0, x=1) */
    static const uint8_t want[6] = {0, 1, 0, 1, 0, 0};
    CHECK(memcmp(mask, want, 6) == 0, "mask %d%d%d/%d%d%d", mask[0], mask[1], mask[2], mask[3], mask[4],
          mask[5]);
    char *s = rr_rle_to_string(counts, 3);
    CHECK(s && strcmp(s, "123") == 0, "string \"%s\"", s);
    free(s);
    /* a delta against the count two before: 10, 40, 12, 38 -> 10 40 12 (38-40=-2) */
    uint32_t c4[] = {10, 40, 12, 38};
    s = rr_rle_to_string(c4, 4);
    /* 10 -> 58 ":"; 40 -> 5-bit groups 01000 (+0x20: more) and 00001 -> "X1";
     * 12 -> "<"; 38 - 40 = -2 -> 11110, sign bit set and nothing left -> "N" */
    CHECK(s && strcmp(s, ":X1<N") == 0, "string \"%s\"", s);
    free(s);
    uint32_t *got;
    size_t n;
    CHECK_OK(rr_rle_from_string(":X1<N", &got, &n));
    CHECK(n == 4 && got[0] == 10 && got[1] == 40 && got[2] == 12 && got[3] == 38, "decoded %zu counts", n);
    free(got);
    /* empty string: no counts */
    CHECK_OK(rr_rle_from_string("", &got, &n));
    CHECK(n == 0, "%zu counts from \"\"", n);
    free(got);
}

TEST(coco_rle_rejects_bad_input)
{
    uint32_t *got;
    size_t n;
    CHECK(rr_rle_from_string("12 3", &got, &n) == -1 && strstr(rr_errmsg(), "not a counts character"), "%s",
          rr_errmsg());
    CHECK(rr_rle_from_string("1h", &got, &n) == -1 && strstr(rr_errmsg(), "ends inside a count"), "%s",
          rr_errmsg());
    CHECK(rr_rle_from_string("0000N", &got, &n) == -1 && strstr(rr_errmsg(), "count 4 is -2"), "%s",
          rr_errmsg());
    CHECK(rr_rle_from_string("hhhhhhhhhhhhhhh0", &got, &n) == -1 && strstr(rr_errmsg(), "too long"), "%s",
          rr_errmsg());
    uint8_t mask[6] = {0};
    CHECK(rr_rle_paint((uint32_t[]){1, 2}, 2, 2, 3, mask) == -1 &&
              strstr(rr_errmsg(), "add up to 3, not 2x3"),
          "%s", rr_errmsg());
    CHECK(rr_rle_paint((uint32_t[]){1, 20}, 2, 2, 3, mask) == -1, "counts past the end accepted");
    CHECK(rr_rle_paint((uint32_t[]){6}, 1, 0, 3, mask) == -1 && strstr(rr_errmsg(), "bad mask size"), "%s",
          rr_errmsg());
    rr_rle r = {.h = 3, .w = 2, .counts = (uint32_t[]){6}, .n = 1};
    CHECK(rr_rle_paint_rle(&r, 2, 3, mask) == -1 && strstr(rr_errmsg(), "differs"), "%s", rr_errmsg());
    double xy[] = {0, 0, 1e9, 0, 0, 1};
    CHECK(rr_rle_from_poly(xy, 3, 4, 4, &got, &n) == -1 && strstr(rr_errmsg(), "coordinate 2"), "%s",
          rr_errmsg());
    /* far outside a small image: gigabytes of outline, and seconds, before */
    double far[] = {0, 0, 1e7, 1e7, 0, 1e7};
    CHECK(rr_rle_from_poly(far, 3, 1, 1, &got, &n) == -1 &&
              strstr(rr_errmsg(), "vertex 1 (1e+07, 1e+07) lies more than 4 outside the 1x1 image"),
          "%s", rr_errmsg());
    /* as far out as allowed: twice the width plus the height */
    double edge[] = {-10, -10, 2 + 10, 0, 0, 3 + 10};
    CHECK(rr_rle_from_poly(edge, 3, 3, 2, &got, &n) == 0, "%s", rr_errmsg());
    free(got);
}

TEST(coco_polygon_degenerate_cases)
{
    /* no points: an empty mask of one run */
    uint32_t *counts;
    size_t n;
    CHECK_OK(rr_rle_from_poly(NULL, 0, 3, 5, &counts, &n));
    CHECK(n == 1 && counts[0] == 15, "%zu counts", n);
    free(counts);
    /* a polygon of one repeated point (maskApi.c's 0/0 slope) is empty */
    double xy[] = {2.2, 1.1, 2.2, 1.1, 2.2, 1.1};
    CHECK_OK(rr_rle_from_poly(xy, 3, 4, 4, &counts, &n));
    CHECK(n == 1 && counts[0] == 16, "%zu counts", n);
    free(counts);
}
