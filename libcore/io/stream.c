#include "stream.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../error.h"

/* Reads up to want bytes into a new buffer that grows as the data arrives,
 * so that a header claiming terabytes costs nothing on a short input.
 * *got < want at the end of the input or on a read error. */
static int read_bytes(FILE *f, size_t want, char **out, size_t *got)
{
    size_t cap = 0, n = 0;
    char *b = malloc(1); /* never NULL data, even for an empty record */
    while (b && n < want) {
        if (n == cap) {
            cap = cap ? cap * 2 : 1 << 16;
            if (cap > want)
                cap = want;
            char *nb = realloc(b, cap);
            if (!nb)
                free(b);
            b = nb;
            continue;
        }
        size_t r = fread(b + n, 1, cap - n, f);
        n += r;
        if (n < cap)
            break;
    }
    if (!b)
        return rr_error("out of memory for %zu bytes", want);
    *out = b;
    *got = n;
    return 0;
}

static int short_read(FILE *f, long recno, const char *what, size_t want, size_t got)
{
    if (ferror(f))
        return rr_error("record %ld: read error: %s", recno, strerror(errno));
    return rr_error("record %ld: truncated: expected %zu %s bytes, got %zu", recno, want, what, got);
}

int rr_stream_read(FILE *f, rr_record *rec, long recno)
{
    rr_record_free(rec);
    unsigned char len[8];
    size_t got = fread(len, 1, sizeof len, f);
    if (got == 0 && !ferror(f))
        return 0;
    if (got < sizeof len)
        return short_read(f, recno, "header-length", sizeof len, got);
    uint64_t n;
    if (rr_safetensors_header_len(len, &n) < 0)
        return rr_error_prefix("record %ld: ", recno);

    char *header, *data;
    if (read_bytes(f, n, &header, &got) < 0)
        return rr_error_prefix("record %ld: ", recno);
    if (got < n) {
        free(header);
        return short_read(f, recno, "header", n, got);
    }
    size_t data_len;
    int rc = rr_safetensors_parse_header(header, n, rec, &data_len);
    free(header);
    if (rc < 0)
        return rr_error_prefix("record %ld: ", recno);

    if (read_bytes(f, data_len, &data, &got) < 0) {
        rr_record_free(rec);
        return rr_error_prefix("record %ld: ", recno);
    }
    if (got < data_len) {
        free(data);
        rr_record_free(rec);
        return short_read(f, recno, "data", data_len, got);
    }
    rec->buf = data;
    rr_record_bind(rec, data);
    return 1;
}

int rr_stream_write(FILE *f, const rr_record *rec) { return rr_safetensors_write(f, rec); }

int rr_stream_tag(rr_record *rec, const char *stage, const char *id)
{
    if (rr_record_set_meta(rec, "format", RR_STREAM_FORMAT) < 0 || rr_record_set_meta(rec, "stage", stage) < 0 ||
        rr_record_set_meta(rec, "id", id) < 0)
        return -1;
    return 0;
}

#define PIPELINE_HINT "HINT: the stages come from rrsis-tokenize | rrsis-encode | rrsis-fuse | rrsis-decode"

int rr_stream_expect_stage(const rr_record *rec, const char *stage, long recno)
{
    char q[96];
    const char *format = rr_record_meta(rec, "format"), *got = rr_record_meta(rec, "stage");
    if (!format)
        return rr_error("record %ld: no \"format\" in the metadata: not an rrsis stream (%s; rrsis-inspect "
                        "shows what a stream holds)",
                        recno, PIPELINE_HINT);
    if (strcmp(format, RR_STREAM_FORMAT) != 0)
        return rr_error("record %ld: stream format '%s' is not supported, this program reads '%s' (HINT: "
                        "write the stream with programs of the same rrsis version)",
                        recno, rr_printable(format, q, sizeof q), RR_STREAM_FORMAT);
    if (!got)
        return rr_error("record %ld: no \"stage\" in the metadata", recno);
    if (strcmp(got, stage) != 0)
        return rr_error("record %ld: stage is '%s', expected '%s' (%s)", recno, rr_printable(got, q, sizeof q),
                        stage, PIPELINE_HINT);
    return 0;
}
