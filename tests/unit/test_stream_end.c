/* How a stream ends (its end mark: the count, nothing after it, the
 * messages of a stream without it) and the check that a record's
 * floating-point tensors hold finite values. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "io/stream.h"

/* A tokens record with the given id. */
static void tokens_record(rr_record *rec, const char *id)
{
    rr_record_init(rec);
    CHECK_OK(rr_stream_tag(rec, "tokens", id));
    CHECK_OK(rr_record_add(rec, "input_ids", RR_I32, RR_SHAPE(3), (int32_t[]){101, 7, 102}));
}

/* What rr_stream_read makes of the bytes: the records it returned before
 * it stopped (in *records) and its last result; the message in rr_errmsg(). */
static int read_bytes(const char *buf, size_t len, int *records)
{
    FILE *f = len ? fmemopen((void *)buf, len, "rb") : fopen("/dev/null", "rb");
    rr_record r;
    rr_record_init(&r);
    int rc;
    *records = 0;
    while ((rc = rr_stream_read(f, &r, *records + 1)) == 1)
        (*records)++;
    CHECK(r.nentries == 0 && r.nmeta == 0, "the record was not emptied at the end");
    rr_record_free(&r);
    fclose(f);
    return rc;
}

/* n tokens records, then the end mark of `count` records (none when count
 * < 0), then `extra`. */
static char *stream_bytes(int n, long count, const char *extra, size_t *len)
{
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    for (int i = 0; i < n; i++) {
        rr_record rec;
        char id[16];
        snprintf(id, sizeof id, "%d", i + 1);
        tokens_record(&rec, id);
        CHECK_OK(rr_stream_write(f, &rec));
        rr_record_free(&rec);
    }
    if (count >= 0)
        CHECK_OK(rr_stream_end(f, count));
    if (extra)
        fputs(extra, f);
    fclose(f);
    return buf;
}

TEST(stream_end_mark_round_trip)
{
    for (int n = 0; n <= 3; n++) {
        size_t len;
        char *buf = stream_bytes(n, n, NULL, &len);
        int got, rc = read_bytes(buf, len, &got);
        CHECK(rc == 0 && got == n, "%d records: rc %d after %d: %s", n, rc, got, rr_errmsg());
        free(buf);
    }
    /* the mark is a record of the stream's format, with no tensors */
    rr_record mark;
    rr_record_init(&mark);
    size_t len;
    char *buf = stream_bytes(0, 12, NULL, &len);
    CHECK_OK(rr_safetensors_parse(buf, len, &mark));
    CHECK(mark.nentries == 0 && mark.nmeta == 3 && rr_stream_is_record(&mark) &&
              strcmp(rr_record_meta(&mark, "stage"), "end") == 0 && strcmp(rr_record_meta(&mark, "records"), "12") == 0,
          "the end mark's metadata");
    rr_record_free(&mark);
    free(buf);
}

TEST(stream_without_its_end_mark)
{
    const char *stopped = "without its end mark: the program writing it stopped early";
    char want[160];
    for (int n = 1; n <= 2; n++) {
        size_t len;
        char *buf = stream_bytes(n, -1, NULL, &len);
        int got, rc = read_bytes(buf, len, &got);
        snprintf(want, sizeof want, "stream ended after %d record%s %s", n, n == 1 ? "" : "s", stopped);
        CHECK(rc == RR_STREAM_UNENDED && got == n && strcmp(rr_errmsg(), want) == 0, "%d records: rc %d: %s", n, rc,
              rr_errmsg());
        free(buf);
    }
    int got, rc = read_bytes("", 0, &got);
    CHECK(rc == -1 && got == 0 &&
              strcmp(rr_errmsg(), "the stream is empty, without even its end mark: the program writing it stopped "
                                  "early") == 0,
          "empty: rc %d: %s", rc, rr_errmsg());
}

TEST(stream_end_mark_checked)
{
    static const struct {
        int records;
        long count;
        const char *extra, *message;
    } cases[] = {
        {2, 3, NULL, "the end mark counts 3 records, but 2 came before it: records were lost or added on the way"},
        {2, 1, NULL, "the end mark counts 1 record, but 2 came before it: records were lost or added on the way"},
        {0, 1, NULL, "the end mark counts 1 record, but 0 came before it: records were lost or added on the way"},
        {1, 1, "x", "data after the end mark of 1 record: an input holds one stream (HINT: rrsis-inspect --copy A B "
                    "joins streams into one)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        size_t len;
        char *buf = stream_bytes(cases[i].records, cases[i].count, cases[i].extra, &len);
        int got, rc = read_bytes(buf, len, &got);
        CHECK(rc == -1 && strcmp(rr_errmsg(), cases[i].message) == 0, "case %zu: rc %d: %s", i, rc, rr_errmsg());
        free(buf);
    }
    /* a second stream after the first: the first's end is the error */
    size_t len;
    char *one = stream_bytes(1, 1, NULL, &len), *two = malloc(2 * len);
    memcpy(two, one, len);
    memcpy(two + len, one, len);
    int got, rc = read_bytes(two, 2 * len, &got);
    CHECK(rc == -1 && got == 1 && strncmp(rr_errmsg(), "data after the end mark of 1 record", 35) == 0, "%s",
          rr_errmsg());
    free(one);
    free(two);
}

TEST(stream_end_mark_malformed)
{
    static const struct {
        const char *records; /* NULL: none */
        int tensor;
        const char *message;
    } cases[] = {
        {"three", 0, "the end mark's \"records\" is 'three', not a count"},
        {"-1", 0, "the end mark's \"records\" is '-1', not a count"},
        {"+0", 0, "the end mark's \"records\" is '+0', not a count"},
        {"", 0, "the end mark's \"records\" is '', not a count"},
        {"0 ", 0, "the end mark's \"records\" is '0 ', not a count"},
        {"99999999999999999999", 0, "the end mark's \"records\" is '99999999999999999999', not a count"},
        {NULL, 0, "the end mark has no \"records\""},
        {"0", 1, "the end mark holds tensors (1): it holds none"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        rr_record mark;
        rr_record_init(&mark);
        CHECK_OK(rr_record_set_meta(&mark, "format", RR_STREAM_FORMAT));
        CHECK_OK(rr_record_set_meta(&mark, "stage", "end"));
        if (cases[i].records)
            CHECK_OK(rr_record_set_meta(&mark, "records", cases[i].records));
        if (cases[i].tensor)
            CHECK_OK(rr_record_add(&mark, "x", RR_U8, RR_SHAPE(1), "\0"));
        char *buf = NULL;
        size_t len;
        FILE *f = open_memstream(&buf, &len);
        CHECK_OK(rr_stream_write(f, &mark));
        fclose(f);
        int got, rc = read_bytes(buf, len, &got);
        CHECK(rc == -1 && strcmp(rr_errmsg(), cases[i].message) == 0, "case %zu: rc %d: %s", i, rc, rr_errmsg());
        free(buf);
        rr_record_free(&mark);
    }
}

TEST(stream_end_mark_of_another_format_is_a_record)
{
    /* "stage" "end" in a record of another format (an older rrsis, or no
     * stream at all) marks nothing: it is a record, which the stage
     * check refuses */
    rr_record rec;
    rr_record_init(&rec);
    CHECK_OK(rr_record_set_meta(&rec, "format", "rrsis-stream/1"));
    CHECK_OK(rr_record_set_meta(&rec, "stage", "end"));
    CHECK(!rr_stream_is_record(&rec), "rrsis-stream/1 is this format");
    char *buf = NULL;
    size_t len;
    FILE *f = open_memstream(&buf, &len);
    CHECK_OK(rr_stream_write(f, &rec) || rr_stream_end(f, 1));
    fclose(f);
    int got, rc = read_bytes(buf, len, &got);
    CHECK(rc == 0 && got == 1, "rc %d after %d records: %s", rc, got, rr_errmsg());
    free(buf);
    rr_record_free(&rec);
}

/* rr_stream_check_finite on a record of one tensor of n values of dtype t,
 * whose element k is `bits` (k < 0: all zero); its message, or "" when the
 * record passes. */
static const char *check_one(rr_dtype t, int n, int k, uint64_t bits)
{
    static char msg[256];
    unsigned char data[64] = {0};
    size_t size = rr_dtype_size(t);
    if (k >= 0)
        memcpy(data + (size_t)k * size, &bits, size);
    rr_record rec;
    rr_record_init(&rec);
    CHECK_OK(rr_record_add(&rec, "visual.E3", t, RR_SHAPE(n), data));
    int rc = rr_stream_check_finite(&rec);
    snprintf(msg, sizeof msg, "%s", rc ? rr_errmsg() : "");
    rr_record_free(&rec);
    return msg;
}

static uint64_t f32_bits(float v)
{
    uint32_t u;
    memcpy(&u, &v, 4);
    return u;
}

static uint64_t f64_bits(double v)
{
    uint64_t u;
    memcpy(&u, &v, 8);
    return u;
}

TEST(stream_check_finite)
{
    static const struct {
        rr_dtype t;
        int k;
        uint64_t bits;
        const char *message;
    } cases[] = {
        {RR_F32, 5, 0x7fc00000u, "tensor 'visual.E3' holds NaN at element 5"},
        {RR_F32, 0, 0xffc00001u, "tensor 'visual.E3' holds NaN at element 0"},
        {RR_F32, 7, 0x7f800000u, "tensor 'visual.E3' holds +Inf at element 7"},
        {RR_F32, 2, 0xff800000u, "tensor 'visual.E3' holds -Inf at element 2"},
        {RR_F16, 3, 0x7e00u, "tensor 'visual.E3' holds NaN at element 3"},
        {RR_F16, 1, 0xfc00u, "tensor 'visual.E3' holds -Inf at element 1"},
        {RR_BF16, 6, 0x7f80u, "tensor 'visual.E3' holds +Inf at element 6"},
        {RR_BF16, 4, 0xffc1u, "tensor 'visual.E3' holds NaN at element 4"},
        {RR_F64, 1, 0x7ff8000000000000u, "tensor 'visual.E3' holds NaN at element 1"},
        {RR_F64, 0, 0xfff0000000000000u, "tensor 'visual.E3' holds -Inf at element 0"},
        /* finite extremes, and the same bits in integer tensors */
        {RR_F32, 3, 0, ""},
        {RR_F16, 3, 0x7bffu, ""}, /* 65504 */
        {RR_F16, 3, 0x8001u, ""}, /* the smallest negative subnormal */
        {RR_BF16, 3, 0xff7fu, ""},
        {RR_I32, 3, 0x7f800000u, ""},
        {RR_U16, 3, 0x7c00u, ""},
        {RR_I64, 3, 0x7ff8000000000000u, ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *got = check_one(cases[i].t, 8, cases[i].k, cases[i].bits);
        CHECK(strcmp(got, cases[i].message) == 0, "case %zu: got '%s', wanted '%s'", i, got, cases[i].message);
    }
    const char *got = check_one(RR_F32, 8, 1, f32_bits(FLT_MAX));
    CHECK(!*got, "FLT_MAX: %s", got);
    got = check_one(RR_F32, 8, 1, f32_bits(-0.0f));
    CHECK(!*got, "-0: %s", got);
    got = check_one(RR_F64, 4, 3, f64_bits(-INFINITY));
    CHECK(strcmp(got, "tensor 'visual.E3' holds -Inf at element 3") == 0, "%s", got);
    got = check_one(RR_F32, 0, -1, 0);
    CHECK(!*got, "an empty tensor: %s", got);
}

TEST(stream_check_finite_names_the_first)
{
    /* the first bad value of the first bad tensor in header order; "b"'s
     * data, after a U8 tensor of odd size, is unaligned */
    const char *header = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                         "\"odd\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[8,11]},"
                         "\"b\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[11,27]}}";
    size_t n = strlen(header);
    unsigned char blob[512] = {(unsigned char)n};
    memcpy(blob + 8, header, n);
    float a[2] = {1, 2}, b[4] = {0, INFINITY, NAN, 4};
    memcpy(blob + 8 + n, a, sizeof a);
    memset(blob + 8 + n + 8, 0xff, 3);
    memcpy(blob + 8 + n + 11, b, sizeof b);
    rr_record rec;
    rr_record_init(&rec);
    CHECK_OK(rr_safetensors_parse(blob, 8 + n + 27, &rec));
    CHECK(rr_stream_check_finite(&rec) < 0 && strcmp(rr_errmsg(), "tensor 'b' holds +Inf at element 1") == 0, "%s",
          rr_errmsg());
    rr_record_free(&rec);
}
