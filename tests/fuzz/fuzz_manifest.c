/* libFuzzer target: arbitrary bytes as a dataset manifest (JSON Lines,
 * through fmemopen), read both ways (collecting findings, and stopping at
 * the first bad line).  Beyond "no crash, no leak, no undefined
 * behaviour", every sample that is accepted must be written back as a line
 * that reads back to the same line, and its RLE or polygon mask must paint
 * (small images only: a mask is width x height bytes).  PNG masks are not
 * loaded: the fuzzer would name files of this machine. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/manifest.h"

#define MASK_MAX_PIXELS (1 << 16)

static char *sample_line(const rr_sample *s, size_t *len)
{
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    if (!f || rr_sample_write(f, s) < 0)
        abort();
    fclose(f);
    return buf;
}

/* The sample written, read back and written again gives the same line. */
static void round_trip(const rr_sample *s)
{
    size_t len;
    char *line = sample_line(s, &len);
    FILE *in = fmemopen(line, len, "r");
    rr_manifest back;
    if (!in || rr_manifest_read_stream(in, "back", "dir", &back, NULL) < 0 || back.n != 1)
        abort();
    fclose(in);
    size_t len2;
    char *line2 = sample_line(&back.samples[0], &len2);
    if (len != len2 || memcmp(line, line2, len) != 0)
        abort();
    free(line2);
    rr_manifest_free(&back);
    free(line);
}

static void exercise(const rr_manifest *m)
{
    for (size_t i = 0; i < m->n; i++) {
        const rr_sample *s = &m->samples[i];
        round_trip(s);
        if (!s->mask.png && (long)s->width * s->height <= MASK_MAX_PIXELS) {
            rr_image mask;
            if (rr_sample_mask(s, &mask) == 0)
                rr_image_free(&mask);
        }
    }
    rr_findings f = {0};
    if (rr_manifest_check(m, 0, &f) < 0)
        abort();
    rr_findings_free(&f);
    for (rr_field field = RR_FIELD_SPLIT; field <= RR_FIELD_LANG; field++) {
        rr_counts c;
        if (rr_manifest_count(m, field, &c) < 0)
            abort();
        long total = 0;
        for (size_t k = 0; k < c.n; k++)
            total += c.v[k].n;
        if (total != (long)m->n)
            abort();
        rr_counts_free(&c);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) /* fmemopen refuses an empty buffer */
        return 0;
    for (int collect = 0; collect < 2; collect++) {
        FILE *in = fmemopen((void *)data, size, "r");
        if (!in)
            abort();
        rr_manifest m;
        rr_findings f = {0};
        int rc = rr_manifest_read_stream(in, "fuzz", "dir", &m, collect ? &f : NULL);
        fclose(in);
        if (rc == 0 && f.n)
            abort(); /* success means no finding */
        exercise(&m);
        rr_manifest_free(&m);
        rr_findings_free(&f);
    }
    return 0;
}
