#include "stream.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../error.h"
#include "sniff.h"

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

/* One record: 1, or 0 at the end of the input exactly at a record
 * boundary, or -1 with a message. */
static int read_record(FILE *f, rr_record *rec, long recno)
{
    rr_record_free(rec);
    unsigned char len[8];
    size_t got = fread(len, 1, sizeof len, f);
    if (got == 0 && !ferror(f))
        return 0;
    if (got < sizeof len)
        return short_read(f, recno, "header-length", sizeof len, got);
    /* an input that is something else altogether (an image, a text) is
     * said to be, rather than a record with an absurd length (a truncated
     * stream's length has zero bytes, which none of those begins with) */
    const char *what = recno == 1 ? "an rrsis stream" : NULL;
    uint64_t n;
    if (rr_safetensors_header_len(len, what, &n) < 0)
        return what && rr_sniff(len, 8) ? -1 : rr_error_prefix("record %ld: ", recno);

    char *header, *data;
    if (read_bytes(f, n, &header, &got) < 0)
        return rr_error_prefix("record %ld: ", recno);
    if (got < n) {
        free(header);
        return what && !ferror(f) && rr_not_a(len, 8, what) ? -1 : short_read(f, recno, "header", n, got);
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

static const char *plural(long n) { return n == 1 ? "" : "s"; }

static int is_end_mark(const rr_record *rec)
{
    const char *stage = rr_record_meta(rec, "stage");
    return rr_stream_is_record(rec) && stage && strcmp(stage, "end") == 0;
}

/* The end mark after `before` records: its count, and nothing after it. */
static int check_end(FILE *f, const rr_record *rec, long before)
{
    char q[64];
    const char *v = rr_record_meta(rec, "records");
    if (rec->nentries)
        return rr_error("the end mark holds tensors (%d): it holds none", rec->nentries);
    if (!v)
        return rr_error("the end mark has no \"records\"");
    char *end;
    errno = 0;
    long count = strtol(v, &end, 10);
    if (!*v || *end || v[0] < '0' || v[0] > '9' || errno)
        return rr_error("the end mark's \"records\" is '%s', not a count", rr_printable(v, q, sizeof q));
    if (count != before)
        return rr_error("the end mark counts %ld record%s, but %ld came before it: records were lost or added on "
                        "the way",
                        count, plural(count), before);
    if (getc(f) != EOF)
        return rr_error("data after the end mark of %ld record%s: an input holds one stream (HINT: rrsis-inspect "
                        "--copy A B joins streams into one)",
                        before, plural(before));
    if (ferror(f))
        return rr_error("read error after the end mark: %s", strerror(errno));
    return 0;
}

int rr_stream_read(FILE *f, rr_record *rec, long recno)
{
    int r = read_record(f, rec, recno);
    if (r == 0 && recno == 1)
        return rr_error("the stream is empty, without even its end mark: the program writing it stopped early");
    if (r == 0) {
        rr_error("stream ended after %ld record%s without its end mark: the program writing it stopped early",
                 recno - 1, plural(recno - 1));
        return RR_STREAM_UNENDED;
    }
    if (r < 0 || !is_end_mark(rec))
        return r;
    r = check_end(f, rec, recno - 1);
    rr_record_free(rec);
    return r;
}

int rr_stream_write(FILE *f, const rr_record *rec) { return rr_safetensors_write(f, rec); }

int rr_stream_end(FILE *f, long records)
{
    rr_record rec;
    rr_record_init(&rec);
    char n[24];
    snprintf(n, sizeof n, "%ld", records);
    int rc = rr_record_set_meta(&rec, "format", RR_STREAM_FORMAT) || rr_record_set_meta(&rec, "stage", "end") ||
                     rr_record_set_meta(&rec, "records", n) || rr_stream_write(f, &rec)
                 ? -1
                 : 0;
    rr_record_free(&rec);
    return rc;
}

int rr_stream_is_record(const rr_record *rec)
{
    const char *format = rr_record_meta(rec, "format");
    return format && strcmp(format, RR_STREAM_FORMAT) == 0;
}

int rr_stream_check_finite(const rr_record *rec)
{
    for (int k = 0; k < rec->nentries; k++) {
        const rr_entry *e = &rec->entries[k];
        uint64_t bits;
        int64_t i = rr_first_nonfinite(e->data, e->dtype, (int64_t)(e->nbytes / rr_dtype_size(e->dtype)), &bits);
        if (i < 0)
            continue;
        /* the sign is the top bit, the mantissa the bits under the exponent:
         * all zero for an infinity */
        int top = (int)(8 * rr_dtype_size(e->dtype)) - 1;
        uint64_t mantissa = bits & ~rr_exponent_bits(e->dtype) & ~((uint64_t)1 << top);
        char q[64];
        return rr_error("tensor '%s' holds %s at element %lld", rr_printable(e->name, q, sizeof q),
                        mantissa ? "NaN" : bits >> top ? "-Inf" : "+Inf", (long long)i);
    }
    return 0;
}

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
