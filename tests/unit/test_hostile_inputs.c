/* Inputs that must neither hang nor fool the library: files that are no
 * regular file or pipe, endless lines, image headers over the pixel limit
 * (RRSIS_MAX_PIXELS), and JSON escapes a C string cannot carry.  The
 * programs' side is tests/cli/test_hostile_inputs.sh. */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "io/image.h"
#include "io/manifest.h"
#include "io/reader.h"
#include "text/utf8.h"

#define IMG "tests/golden/pil/bilinear_rgb_64x64_64x64.in.png"

TEST(json_bad_escape_finds_nul_and_lone_surrogates)
{
    static const struct {
        const char *json;
        long at;
        const char *what;
    } cases[] = {
        {"{\"s\": \"x\\u0000y\"}", 8, "\\u0000 (NUL)"},
        {"{\"s\": \"x\\ud800y\"}", 8, "lone surrogate \\ud800"},
        {"{\"s\": \"\\uDFFF\"}", 7, "lone surrogate \\uDFFF"},
        {"{\"s\": \"\\ud800\\u0041\"}", 7, "lone surrogate \\ud800"},
        {"{\"s\": \"\\ud800\\ud800\\udc00\"}", 7, "lone surrogate \\ud800"},
        {"{\"s\\u0000\": 1}", 3, "\\u0000 (NUL)"},
        {"{\"s\": \"\\ud800", 7, "lone surrogate \\ud800"}, /* cut before the low half */
        /* valid: a pair, other escapes, an escaped backslash before "u0000" */
        {"{\"s\": \"\\ud83d\\ude80 \\u00e9 \\\\u0000 \\\"\\u0000\"}", 37, "\\u0000 (NUL)"},
        {"{\"s\": \"\\ud83d\\ude80 \\u00e9 \\\\u0000 \\n\"}", -1, NULL},
        {"{\"u0000\": \"\\\\\", \"t\": \"\\\\ud800\"}", -1, NULL},
        {"{\"s\": \"\\u00\"}", -1, NULL}, /* malformed: the parser's to say */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char what[32] = "";
        long at = rr_json_bad_escape(cases[i].json, strlen(cases[i].json), what);
        CHECK(at == cases[i].at, "%s: at %ld, wanted %ld", cases[i].json, at, cases[i].at);
        if (cases[i].what)
            CHECK(strcmp(what, cases[i].what) == 0, "%s: '%s'", cases[i].json, what);
    }
}

TEST(line_read_keeps_nul_bytes_and_stops_at_the_cap)
{
    char text[] = "a\0b\nlast";
    FILE *f = fmemopen(text, sizeof text - 1, "r");
    char *line = NULL;
    size_t cap = 0;
    CHECK(rr_line_read(f, &line, &cap) == 4 && memcmp(line, "a\0b\n", 5) == 0, "first line");
    CHECK(rr_line_read(f, &line, &cap) == 4 && strcmp(line, "last") == 0, "a last line without newline");
    CHECK(rr_line_read(f, &line, &cap) == -1, "the end");
    fclose(f);
    /* one byte more than the cap, no newline: an error, not endless growth */
    size_t n = RR_LINE_MAX + 1;
    char *big = malloc(n);
    memset(big, 'x', n);
    f = fmemopen(big, n, "r");
    CHECK(rr_line_read(f, &line, &cap) == -2 && strcmp(rr_errmsg(), "a line longer than 16 MiB") == 0, "%s",
          rr_errmsg());
    CHECK(cap <= RR_LINE_MAX + 1, "grew to %zu bytes", cap);
    fclose(f);
    /* exactly the cap is a line */
    big[RR_LINE_MAX - 1] = '\n';
    f = fmemopen(big, RR_LINE_MAX, "r");
    CHECK(rr_line_read(f, &line, &cap) == (ssize_t)RR_LINE_MAX, "a line of RR_LINE_MAX bytes: %s", rr_errmsg());
    fclose(f);
    free(big);
    free(line);
}

TEST(file_open_takes_regular_files_only_here)
{
    FILE *f = rr_file_open(IMG);
    CHECK(f != NULL, "a regular file refused: %s", rr_errmsg());
    if (f)
        fclose(f);
    CHECK(rr_file_open("/dev/null") == NULL &&
              strcmp(rr_errmsg(), "/dev/null: a character device, not a regular file or a pipe") == 0,
          "%s", rr_errmsg());
    CHECK(rr_file_open("tests") == NULL && strcmp(rr_errmsg(), "tests: a directory, not a regular file or a pipe") == 0,
          "%s", rr_errmsg());
    CHECK(rr_file_open("tests/no-such-file") == NULL &&
              strcmp(rr_errmsg(), "tests/no-such-file: No such file or directory") == 0,
          "%s", rr_errmsg());
}

TEST(image_pixel_limit_from_the_environment)
{
    rr_image im;
    int w, h;
    CHECK(rr_image_max_pixels() == RR_IMAGE_DEFAULT_PIXELS, "default %ld", rr_image_max_pixels());
    setenv("RRSIS_MAX_PIXELS", "4095", 1);
    CHECK(rr_image_load(IMG, RR_IMAGE_RGB, &im) == -1 && im.data == NULL, "a 64x64 image over 4095 pixels loaded");
    CHECK(strcmp(rr_errmsg(), IMG ": image of 64x64 pixels (12288 bytes decoded) is over the limit of 4095 pixels "
                              "(--max-pixels or RRSIS_MAX_PIXELS raises it)") == 0,
          "%s", rr_errmsg());
    CHECK(rr_image_info(IMG, &w, &h, NULL) == -1 && strstr(rr_errmsg(), "over the limit of 4095"), "info: %s",
          rr_errmsg());
    CHECK(rr_mask_load(IMG, &im) == -1 && strstr(rr_errmsg(), "over the limit of 4095"), "mask: %s", rr_errmsg());
    setenv("RRSIS_MAX_PIXELS", "4096", 1);
    CHECK_OK(rr_image_load(IMG, RR_IMAGE_RGB, &im));
    rr_image_free(&im);
    static const char *const bad[] = {"0", "-1", "1e6", "1073741825", "12x"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        setenv("RRSIS_MAX_PIXELS", bad[i], 1);
        CHECK(rr_image_load(IMG, RR_IMAGE_RGB, &im) == -1 && strstr(rr_errmsg(), "RRSIS_MAX_PIXELS: '") &&
                  strstr(rr_errmsg(), "is not a pixel count from 1 to 1073741824"),
              "%s: %s", bad[i], rr_errmsg());
    }
    unsetenv("RRSIS_MAX_PIXELS");
    CHECK_OK(rr_image_load(IMG, RR_IMAGE_RGB, &im));
    rr_image_free(&im);
}

/* One manifest line through rr_manifest_read_stream: its finding. */
static const char *manifest_finding(const char *line, char *buf, size_t n)
{
    FILE *f = fmemopen((void *)line, strlen(line), "r");
    rr_manifest m;
    rr_findings fs = {0};
    int rc = rr_manifest_read_stream(f, "m.jsonl", ".", &m, &fs);
    snprintf(buf, n, "%s", rc == 0 ? "(read)" : fs.n ? fs.v[0].msg : rr_errmsg());
    rr_findings_free(&fs);
    rr_manifest_free(&m);
    fclose(f);
    return buf;
}

TEST(manifest_refuses_escapes_and_sizes_over_the_limit)
{
#define LINE(W, H, SENTENCE)                                                                              \
    "{\"id\": \"a\", \"split\": \"test\", \"image\": \"a.png\", \"width\": " W ", \"height\": " H \
    ", \"sentence\": \"" SENTENCE "\", \"lang\": \"en\", \"type\": \"none\", \"category\": null, \"mask\": null}\n"
    char buf[512];
    CHECK(strcmp(manifest_finding(LINE("64", "64", "x"), buf, sizeof buf), "(read)") == 0, "%s", buf);
    CHECK(strcmp(manifest_finding(LINE("64", "64", "x\\u0000y"), buf, sizeof buf),
                 "\\u0000 (NUL) at column 89: not a character a string may hold") == 0,
          "%s", buf);
    CHECK(strcmp(manifest_finding(LINE("64", "64", "\\ud800"), buf, sizeof buf),
                 "lone surrogate \\ud800 at column 88: not a character a string may hold") == 0,
          "%s", buf);
    CHECK(strcmp(manifest_finding(LINE("30000", "30000", "x"), buf, sizeof buf),
                 "30000x30000 is over the limit of 268435456 pixels an image may have (--max-pixels or RRSIS_MAX_PIXELS raises it)") ==
              0,
          "%s", buf);
    setenv("RRSIS_MAX_PIXELS", "4095", 1);
    CHECK(strstr(manifest_finding(LINE("64", "64", "x"), buf, sizeof buf), "64x64 is over the limit of 4095 pixels"),
          "%s", buf);
    unsetenv("RRSIS_MAX_PIXELS");
#undef LINE
}
