/* safetensors files and tensor streams: round trips, every validation
 * failure with its message, truncation at every byte, atomic saves. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "io/safetensors.h"
#include "io/stream.h"

/* A fresh temporary folder per test. */
static char *make_tmp(char *dir)
{
    strcpy(dir, "/tmp/rr_st_XXXXXX");
    return mkdtemp(dir);
}

/* The number of files in a (flat) folder; with rm, removes them and the folder. */
static int dir_files(const char *dir, int rm)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    while (d && (e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        n++;
        char path[300];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (rm)
            CHECK(unlink(path) == 0, "unlink %s: %s", path, strerror(errno));
    }
    if (d)
        closedir(d);
    if (rm)
        CHECK(rmdir(dir) == 0, "rmdir %s: %s", dir, strerror(errno));
    return n;
}

static void fill_random(void *p, size_t n, uint64_t seed)
{
    for (size_t i = 0; i < n; i++)
        ((unsigned char *)p)[i] = (unsigned char)rr_rand64(seed, i);
}

/* One tensor of every dtype, odd shapes (a scalar, an empty one, 5-D), and
 * metadata that needs escaping. */
static void sample_record(rr_record *rec, uint64_t seed)
{
    static const int64_t shapes[][6] = {
        /* ndim, dims */
        {2, 3, 5}, {0}, {1, 7}, {3, 2, 0, 4}, {5, 1, 2, 1, 3, 2}, {1, 1}, {2, 4, 3},
    };
    char name[32];
    for (int t = 0; t < RR_NDTYPES; t++) {
        const int64_t *s = shapes[t % 7];
        int64_t n = rr_shape_numel((int)s[0], s + 1);
        size_t bytes = (size_t)n * rr_dtype_size((rr_dtype)t);
        unsigned char *data = malloc(bytes + 1);
        fill_random(data, bytes, seed + (uint64_t)t);
        snprintf(name, sizeof name, "layer.%d.%s", t, rr_dtype_name((rr_dtype)t));
        CHECK_OK(rr_record_add(rec, name, (rr_dtype)t, (int)s[0], s + 1, data));
        free(data);
    }
    CHECK_OK(rr_stream_tag(rec, "encoded", "sample \"7\"\n\tnaïve \\ \x01"));
    CHECK_OK(rr_record_set_meta(rec, "config", "{\"dim\": 96}"));
}

static void check_same(const rr_record *a, const rr_record *b, const char *what)
{
    CHECK(a->nentries == b->nentries, "%s: %d entries, expected %d", what, b->nentries, a->nentries);
    CHECK(a->nmeta == b->nmeta, "%s: %d metadata keys, expected %d", what, b->nmeta, a->nmeta);
    for (int i = 0; i < a->nentries; i++) {
        const rr_entry *x = &a->entries[i], *y = rr_record_find(b, x->name);
        if (!y) {
            CHECK(0, "%s: %s missing", what, x->name);
            continue;
        }
        CHECK(x->dtype == y->dtype && x->ndim == y->ndim && x->nbytes == y->nbytes, "%s: %s header differs",
              what, x->name);
        for (int d = 0; d < x->ndim && d < y->ndim; d++)
            CHECK(x->shape[d] == y->shape[d], "%s: %s dim %d", what, x->name, d);
        CHECK(x->nbytes != y->nbytes || memcmp(x->data, y->data, x->nbytes) == 0, "%s: %s data differs", what,
              x->name);
    }
    for (int i = 0; i < a->nmeta; i++) {
        const char *v = rr_record_meta(b, a->meta[i].key);
        CHECK(v && strcmp(v, a->meta[i].value) == 0, "%s: metadata %s", what, a->meta[i].key);
    }
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = malloc(1 << 20);
    *len = fread(buf, 1, 1 << 20, f);
    fclose(f);
    return buf;
}

TEST(safetensors_file_round_trip_all_dtypes)
{
    char dir[64], path[96];
    if (!make_tmp(dir)) {
        CHECK(0, "mkdtemp: %s", strerror(errno));
        return;
    }
    snprintf(path, sizeof path, "%s/w.safetensors", dir);
    rr_record a, b;
    rr_record_init(&a);
    rr_record_init(&b);
    sample_record(&a, 11);
    CHECK_OK(rr_safetensors_save(path, &a));
    CHECK_OK(rr_safetensors_load(path, &b));
    CHECK(b.map != NULL, "the file was not mapped");
    check_same(&a, &b, "mmap load");
    /* every tensor starts aligned to its element size */
    for (int i = 0; i < b.nentries; i++)
        CHECK((uintptr_t)b.entries[i].data % rr_dtype_size(b.entries[i].dtype) == 0, "%s unaligned",
              b.entries[i].name);
    /* writing the loaded record again gives the same bytes */
    char path2[96];
    snprintf(path2, sizeof path2, "%s/w2.safetensors", dir);
    CHECK_OK(rr_safetensors_save(path2, &b));
    size_t n1 = 0, n2 = 0;
    char *f1 = slurp(path, &n1), *f2 = slurp(path2, &n2);
    CHECK(f1 && f2 && n1 == n2 && memcmp(f1, f2, n1) == 0, "re-saved file differs (%zu vs %zu bytes)", n1, n2);
    free(f1);
    free(f2);
    rr_record_free(&a);
    rr_record_free(&b);
    dir_files(dir, 1);
}

TEST(safetensors_header_layout)
{
    rr_record rec;
    rr_record_init(&rec);
    CHECK_OK(rr_record_add(&rec, "b", RR_U8, RR_SHAPE(3), "xyz"));
    CHECK_OK(rr_record_add(&rec, "a", RR_F32, RR_SHAPE(2), (float[]){1, 2}));
    CHECK_OK(rr_record_add(&rec, "c", RR_F32, RR_SHAPE(1, 1), (float[]){3}));
    CHECK_OK(rr_record_set_meta(&rec, "k", "v"));
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    CHECK_OK(rr_stream_write(f, &rec));
    fclose(f);
    const char *want = "{\"__metadata__\":{\"k\":\"v\"},"
                       "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                       "\"c\":{\"dtype\":\"F32\",\"shape\":[1,1],\"data_offsets\":[8,12]},"
                       "\"b\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[12,15]}}";
    size_t n = (size_t)(unsigned char)buf[0] | (size_t)(unsigned char)buf[1] << 8;
    CHECK(n % 8 == 0 && n >= strlen(want) && n < strlen(want) + 8, "header length %zu", n);
    CHECK(memcmp(buf + 8, want, strlen(want)) == 0, "header %.*s", (int)n, buf + 8);
    for (size_t i = strlen(want); i < n && n < len; i++)
        if (buf[8 + i] != ' ') {
            CHECK(0, "padding byte %zu is %d", i, buf[8 + i]);
            break;
        }
    CHECK(len == 8 + n + 15, "blob of %zu bytes", len);
    CHECK(len == 8 + n + 15 && memcmp(buf + len - 3, "xyz", 3) == 0, "data order");
    free(buf);
    rr_record_free(&rec);
}

/* The records written as a stream, with its end mark when `end`. */
static char *stream_of(const rr_record *recs, int n, int end, size_t *len)
{
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    for (int i = 0; i < n; i++)
        CHECK_OK(rr_stream_write(f, &recs[i]));
    if (end)
        CHECK_OK(rr_stream_end(f, n));
    fclose(f);
    return buf;
}

TEST(stream_round_trip)
{
    rr_record w[3], r;
    for (int i = 0; i < 3; i++) {
        rr_record_init(&w[i]);
        sample_record(&w[i], 100 + (uint64_t)i);
    }
    rr_record_set_meta(&w[2], "id", "third");
    size_t len;
    char *buf = stream_of(w, 3, 1, &len);
    FILE *f = fmemopen(buf, len, "rb");
    rr_record_init(&r);
    for (int i = 0; i < 3; i++) {
        CHECK(rr_stream_read(f, &r, i + 1) == 1, "record %d: %s", i + 1, rr_errmsg());
        check_same(&w[i], &r, "stream");
    }
    CHECK(strcmp(rr_record_meta(&r, "id"), "third") == 0, "last id");
    CHECK(rr_stream_read(f, &r, 4) == 0, "no clean end: %s", rr_errmsg());
    CHECK(r.nentries == 0, "record not emptied at the end");
    fclose(f);
    free(buf);
    rr_record_free(&r);
    for (int i = 0; i < 3; i++)
        rr_record_free(&w[i]);
}

/* A blob: header length, header text, then `data` zero bytes. */
static char *blob(const char *header, size_t hlen, size_t data, size_t *len)
{
    *len = 8 + hlen + data;
    char *b = calloc(1, *len);
    for (int i = 0; i < 8; i++)
        b[i] = (char)((uint64_t)hlen >> (8 * i));
    memcpy(b + 8, header, hlen);
    return b;
}

#define T(dt, shape, a, b) "{\"dtype\":\"" dt "\",\"shape\":" shape ",\"data_offsets\":[" a "," b "]}"

static const struct {
    const char *header;
    size_t data;
    const char *message; /* NULL: accepted */
} cases[] = {
    {"{\"a\":", 0, "header is not valid JSON (error at byte 5)"},
    {"[1, 2]", 0, "header is not a JSON object"},
    {"{} x", 0, "header has more after its JSON object (byte 3)"},
    {"{\"a\":3}", 0, "tensor 'a': not an object"},
    {"{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "tensor 'a': missing 'dtype'"},
    {"{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, "tensor 'a': missing 'shape'"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, "tensor 'a': missing 'data_offsets'"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":1}}", 4,
     "tensor 'a': unexpected field 'x' (expected dtype, shape, data_offsets)"},
    {"{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
     "tensor 'a': duplicate field 'dtype'"},
    {"{\"a\":{\"dtype\":5,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "tensor 'a': dtype is not a string"},
    {"{\"a\":" T("F8_E4M3", "[1]", "0", "1") "}", 1, "tensor 'a': unknown dtype 'F8_E4M3'"},
    {"{\"a\":" T("F32", "3", "0", "4") "}", 4, "tensor 'a': shape is not an array"},
    {"{\"a\":" T("F32", "[1,1,1,1,1,1]", "0", "4") "}", 4, "tensor 'a': shape has 6 dimensions, at most 5 are supported"},
    {"{\"a\":" T("F32", "[1,-1]", "0", "4") "}", 4, "tensor 'a': shape[1] is not a non-negative integer"},
    {"{\"a\":" T("F32", "[1.5]", "0", "4") "}", 4, "tensor 'a': shape[0] is not a non-negative integer"},
    {"{\"a\":" T("F32", "[\"1\"]", "0", "4") "}", 4, "tensor 'a': shape[0] is not a non-negative integer"},
    {"{\"a\":" T("F32", "[4294967296,4294967296,4294967296]", "0", "4") "}", 4, "tensor 'a': shape too large"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4,
     "tensor 'a': data_offsets is not an array of two integers"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":{}}}", 4,
     "tensor 'a': data_offsets is not an array of two integers"},
    {"{\"a\":" T("F32", "[1]", "-4", "0") "}", 4, "tensor 'a': data_offsets[0] is not a non-negative integer"},
    {"{\"a\":" T("F32", "[1]", "0", "1e300") "}", 4, "tensor 'a': data_offsets[1] is not a non-negative integer"},
    {"{\"a\":" T("F32", "[1]", "0", "true") "}", 4, "tensor 'a': data_offsets[1] is not a non-negative integer"},
    {"{\"a\":" T("F32", "[0]", "8", "4") "}", 8, "tensor 'a': data_offsets [8, 4] end before they begin"},
    {"{\"a\":" T("F32", "[2,3]", "0", "20") "}", 20,
     "tensor 'a': shape [2, 3] of F32 is 24 bytes but data_offsets [0, 20] span 20"},
    {"{\"a\":" T("F32", "[1]", "4", "8") "}", 8,
     "tensor 'a': data_offsets [4, 8] do not start the data section at 0 (tensors must be contiguous)"},
    {"{\"a\":" T("F32", "[1]", "0", "4") ",\"b\":" T("F32", "[1]", "8", "12") "}", 12,
     "tensor 'b': data_offsets [8, 12] leave a gap after tensor 'a' [0, 4] (tensors must be contiguous)"},
    {"{\"a\":" T("F32", "[2]", "0", "8") ",\"b\":" T("F32", "[2]", "4", "12") "}", 12,
     "tensor 'b': data_offsets [4, 12] overlap tensor 'a' [0, 8] (tensors must be contiguous)"},
    {"{\"a\":" T("F32", "[2]", "0", "8") ",\"b\":" T("F32", "[0]", "4", "4") "}", 8,
     "tensor 'b': data_offsets [4, 4] overlap tensor 'a' [0, 8] (tensors must be contiguous)"},
    {"{\"a\":" T("F32", "[2]", "0", "8") "}", 4, "the header describes 8 data bytes but 4 follow it"},
    {"{\"a\":" T("F32", "[2]", "0", "8") "}", 9, "the header describes 8 data bytes but 9 follow it"},
    {"{\"a\":" T("F32", "[2]", "0", "8") ",\"a\":" T("F32", "[0]", "8", "8") "}", 8, "duplicate tensor name 'a'"},
    {"{\"\":" T("F32", "[2]", "0", "8") "}", 8, "a tensor has an empty name"},
    {"{\"a\\nb\":3}", 0, "tensor 'a\\x0ab': not an object"},
    {"{\"\xff\":3}", 0, "header is not valid UTF-8 (byte 2)"},
    {"{\"\xed\xa0\x80\":3}", 0, "header is not valid UTF-8 (byte 2)"}, /* a surrogate */
    {"{\"__metadata__\":[1]}", 0, "__metadata__ is not an object"},
    {"{\"__metadata__\":{\"k\":1}}", 0, "__metadata__: the value of 'k' is not a string"},
    {"{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", 0, "__metadata__: duplicate key 'k'"},
    {"{\"__metadata__\":{},\"__metadata__\":{}}", 0, "duplicate key '__metadata__'"},
    {"", 0, "header is not valid JSON (error at byte 0)"},
    /* accepted */
    {"{}", 0, NULL},
    {"{\"__metadata__\":{\"format\":\"rrsis-stream/1\"}}  \n ", 0, NULL},
    {"{\"z\":" T("U8", "[0]", "0", "0") ",\"a\":" T("F32", "[2]", "0", "8") ",\"y\":" T("I8", "[0,5]", "8", "8") "}", 8,
     NULL},
    {"{\"a\":" T("F32", "[2.0]", "0.0", "8") "}", 8, NULL},
    {"{\"a\\u00e9\\n\":" T("BOOL", "[]", "0", "1") "}", 1, NULL},
};

TEST(safetensors_rejects_bad_headers)
{
    rr_record rec;
    rr_record_init(&rec);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        size_t len;
        char *b = blob(cases[i].header, strlen(cases[i].header), cases[i].data, &len);
        int rc = rr_safetensors_parse(b, len, &rec);
        if (cases[i].message)
            CHECK(rc < 0 && strcmp(rr_errmsg(), cases[i].message) == 0,
                  "case %zu (%s): got \"%s\", expected \"%s\"", i, cases[i].header, rc < 0 ? rr_errmsg() : "accepted",
                  cases[i].message);
        else
            CHECK(rc == 0, "case %zu (%s) rejected: %s", i, cases[i].header, rr_errmsg());
        CHECK(rc == 0 || rec.nentries + rec.nmeta == 0, "case %zu: record not emptied", i);
        /* the same blob as a stream record: the same message, numbered;
         * extra trailing bytes are the start of a next record there */
        FILE *f = fmemopen(b, len, "rb");
        int r = rr_stream_read(f, &rec, 3);
        if (cases[i].message && !strstr(cases[i].message, "follow it")) {
            char want[512];
            snprintf(want, sizeof want, "record 3: %s", cases[i].message);
            CHECK(r < 0 && strcmp(rr_errmsg(), want) == 0, "stream case %zu: got \"%s\"", i,
                  r < 0 ? rr_errmsg() : "accepted");
        } else if (!cases[i].message) {
            CHECK(r == 1, "stream case %zu rejected: %s", i, rr_errmsg());
        }
        fclose(f);
        free(b);
    }
    /* a NUL byte inside the header */
    size_t len;
    char *b = blob("{\"a\0\":3}", 8, 0, &len);
    CHECK(rr_safetensors_parse(b, len, &rec) < 0 && strcmp(rr_errmsg(), "header has a NUL byte (byte 3)") == 0,
          "NUL: %s", rr_errmsg());
    /* header lengths */
    b[0] = 9;
    CHECK(rr_safetensors_parse(b, len, &rec) < 0 &&
              strcmp(rr_errmsg(), "header length 9 runs past the end (8 bytes follow the length)") == 0,
          "past the end: %s", rr_errmsg());
    memcpy(b, "\x01\xe1\xf5\x05\0\0\0\0", 8); /* 100000001 */
    CHECK(rr_safetensors_parse(b, len, &rec) < 0 &&
              strcmp(rr_errmsg(), "header length 100000001 is over the limit of 100000000 bytes") == 0,
          "too long: %s", rr_errmsg());
    CHECK(rr_safetensors_parse(b, 7, &rec) < 0 &&
              strcmp(rr_errmsg(), "7 bytes, too short for the 8-byte header length") == 0,
          "short: %s", rr_errmsg());
    free(b);
    rr_record_free(&rec);
}

TEST(stream_truncated_at_every_offset)
{
    rr_record w[2], r;
    for (int i = 0; i < 2; i++) {
        rr_record_init(&w[i]);
        CHECK_OK(rr_stream_tag(&w[i], "tokens", i ? "b" : "a"));
        CHECK_OK(rr_record_add(&w[i], "ids", RR_I32, RR_SHAPE(5), (int32_t[]){101, 7, 8, 102, 0}));
        CHECK_OK(rr_record_add(&w[i], "mask", RR_U8, RR_SHAPE(5), "\1\1\1\1\0"));
    }
    /* the records end at len1 and len2, the end mark at len */
    size_t len, len1, len2;
    free(stream_of(w, 1, 0, &len1));
    free(stream_of(w, 2, 0, &len2));
    char *buf = stream_of(w, 2, 1, &len);
    rr_record_init(&r);
    for (size_t cut = 0; cut <= len; cut++) {
        /* fmemopen wants a non-empty buffer: read an empty file instead */
        FILE *f = cut ? fmemopen(buf, cut, "rb") : fopen("/dev/null", "rb");
        int got = 0, rc;
        while ((rc = rr_stream_read(f, &r, got + 1)) == 1)
            got++;
        fclose(f);
        int want_records = cut >= len2 ? 2 : cut >= len1 ? 1 : 0;
        CHECK(got == want_records, "cut %zu: %d records", cut, got);
        char want[128];
        if (cut == len)
            CHECK(rc == 0, "cut %zu: rc %d: %s", cut, rc, rr_errmsg());
        else if (cut == 0)
            CHECK(rc == -1 && strcmp(rr_errmsg(), "the stream is empty, without even its end mark: the program "
                                                  "writing it stopped early") == 0,
                  "cut 0: rc %d: %s", rc, rr_errmsg());
        else if (cut == len1 || cut == len2) {
            snprintf(want, sizeof want, "stream ended after %d record%s without its end mark: the program writing it "
                     "stopped early", got, got == 1 ? "" : "s");
            CHECK(rc == RR_STREAM_UNENDED && strcmp(rr_errmsg(), want) == 0, "cut %zu: rc %d: %s", cut, rc,
                  rr_errmsg());
        } else {
            snprintf(want, sizeof want, "record %d: truncated: ", want_records + 1);
            CHECK(rc == -1 && strncmp(rr_errmsg(), want, strlen(want)) == 0, "cut %zu: rc %d: %s", cut, rc,
                  rr_errmsg());
        }
    }
    /* the three kinds of truncation, word for word */
    FILE *f = fmemopen(buf, len1 + 3, "rb");
    CHECK(rr_stream_read(f, &r, 1) == 1 && rr_stream_read(f, &r, 2) < 0 &&
              strcmp(rr_errmsg(), "record 2: truncated: expected 8 header-length bytes, got 3") == 0,
          "%s", rr_errmsg());
    fclose(f);
    f = fmemopen(buf, 20, "rb");
    CHECK(rr_stream_read(f, &r, 1) < 0 && strncmp(rr_errmsg(), "record 1: truncated: expected ", 30) == 0 &&
              strstr(rr_errmsg(), " header bytes, got 12"),
          "%s", rr_errmsg());
    fclose(f);
    f = fmemopen(buf, len1 - 4, "rb");
    CHECK(rr_stream_read(f, &r, 1) < 0 && strcmp(rr_errmsg(), "record 1: truncated: expected 25 data bytes, got 21") == 0,
          "%s", rr_errmsg());
    fclose(f);
    free(buf);
    rr_record_free(&r);
    for (int i = 0; i < 2; i++)
        rr_record_free(&w[i]);
}

TEST(stream_garbage_is_one_message)
{
    /* a huge claimed header length, a huge claimed tensor: messages, not allocations */
    rr_record r;
    rr_record_init(&r);
    char junk[100];
    fill_random(junk, sizeof junk, 5);
    memcpy(junk, "\xff\xff\xff\xff\xff\xff\xff\x7f", 8);
    FILE *f = fmemopen(junk, sizeof junk, "rb");
    CHECK(rr_stream_read(f, &r, 1) < 0 &&
              strcmp(rr_errmsg(), "record 1: header length 9223372036854775807 is over the limit of 100000000 bytes") == 0,
          "%s", rr_errmsg());
    fclose(f);
    const char *h = "{\"a\":" T("F32", "[1000000000000]", "0", "4000000000000") "}";
    size_t len;
    char *b = blob(h, strlen(h), 100, &len);
    f = fmemopen(b, len, "rb");
    CHECK(rr_stream_read(f, &r, 1) < 0 &&
              strcmp(rr_errmsg(), "record 1: truncated: expected 4000000000000 data bytes, got 100") == 0,
          "%s", rr_errmsg());
    fclose(f);
    free(b);
    rr_record_free(&r);
}

TEST(stream_expect_stage_messages)
{
    rr_record rec;
    rr_record_init(&rec);
    CHECK(rr_stream_expect_stage(&rec, "encoded", 2) < 0 &&
              strncmp(rr_errmsg(), "record 2: no \"format\" in the metadata: not an rrsis stream (HINT: ", 66) == 0,
          "%s", rr_errmsg());
    CHECK_OK(rr_record_set_meta(&rec, "format", "rrsis-stream/9"));
    CHECK(rr_stream_expect_stage(&rec, "encoded", 2) < 0 &&
              strncmp(rr_errmsg(),
                      "record 2: stream format 'rrsis-stream/9' is not supported, this program reads "
                      "'rrsis-stream/2' (HINT: ",
                      101) == 0,
          "%s", rr_errmsg());
    CHECK_OK(rr_record_set_meta(&rec, "format", RR_STREAM_FORMAT));
    CHECK(rr_stream_expect_stage(&rec, "encoded", 2) < 0 &&
              strcmp(rr_errmsg(), "record 2: no \"stage\" in the metadata") == 0,
          "%s", rr_errmsg());
    CHECK_OK(rr_stream_tag(&rec, "tokens", "x"));
    CHECK(rr_stream_expect_stage(&rec, "encoded", 2) < 0 &&
              strncmp(rr_errmsg(), "record 2: stage is 'tokens', expected 'encoded' (HINT: ", 55) == 0,
          "%s", rr_errmsg());
    CHECK_OK(rr_stream_expect_stage(&rec, "tokens", 2));
    CHECK(strcmp(rr_record_meta(&rec, "id"), "x") == 0 && rec.nmeta == 3, "tag replaced values");
    rr_record_free(&rec);
}

TEST(record_add_rejects_bad_entries)
{
    rr_record rec;
    rr_record_init(&rec);
    CHECK_OK(rr_record_add(&rec, "a", RR_F32, RR_SHAPE(2), NULL));
    CHECK(rr_record_add(&rec, "a", RR_F32, RR_SHAPE(2), NULL) < 0 &&
              strcmp(rr_errmsg(), "duplicate tensor name 'a'") == 0,
          "%s", rr_errmsg());
    CHECK(rr_record_add(&rec, "", RR_F32, RR_SHAPE(2), NULL) < 0 &&
              strcmp(rr_errmsg(), "a tensor has an empty name") == 0,
          "%s", rr_errmsg());
    CHECK(rr_record_add(&rec, "__metadata__", RR_F32, RR_SHAPE(2), NULL) < 0 &&
              strcmp(rr_errmsg(), "'__metadata__' is reserved and cannot name a tensor") == 0,
          "%s", rr_errmsg());
    CHECK(rr_record_add(&rec, "b\xc3", RR_F32, RR_SHAPE(2), NULL) < 0 &&
              strcmp(rr_errmsg(), "tensor name is not valid UTF-8 (byte 1)") == 0,
          "%s", rr_errmsg());
    CHECK(rr_record_add(&rec, "b", RR_F32, 6, (int64_t[]){1, 1, 1, 1, 1, 1}, NULL) < 0 &&
              strcmp(rr_errmsg(), "tensor 'b': 6 dimensions (at most 5)") == 0,
          "%s", rr_errmsg());
    CHECK(rr_record_set_meta(&rec, "k", "\xff") < 0 &&
              strcmp(rr_errmsg(), "metadata value is not valid UTF-8 (byte 0)") == 0,
          "%s", rr_errmsg());
    CHECK(rec.nentries == 1 && rec.nmeta == 0, "a rejected entry was kept");
    const rr_entry *e = rr_record_find(&rec, "a");
    CHECK(e && ((float *)e->data)[0] == 0 && ((float *)e->data)[1] == 0, "NULL data is not zero-filled");
    CHECK(rr_record_find(&rec, "nope") == NULL && strcmp(rr_errmsg(), "no tensor 'nope'") == 0, "%s", rr_errmsg());
    CHECK(rr_record_meta(&rec, "nope") == NULL, "absent metadata");
    rr_record_free(&rec);
}

TEST(record_to_tensor_converts)
{
    rr_ctx *c = test_ctx();
    rr_record rec;
    rr_record_init(&rec);
    uint16_t h[3] = {rr_f32_to_f16(1.5f), rr_f32_to_f16(-2.0f), rr_f32_to_f16(65504.0f)};
    uint16_t bf[3] = {rr_f32_to_bf16(3.0f), rr_f32_to_bf16(-0.5f), rr_f32_to_bf16(384.0f)};
    CHECK_OK(rr_record_add(&rec, "h", RR_F16, RR_SHAPE(3), h));
    CHECK_OK(rr_record_add(&rec, "bf", RR_BF16, RR_SHAPE(3), bf));
    CHECK_OK(rr_record_add(&rec, "d", RR_F64, RR_SHAPE(3), (double[]){0.25, -1e10, 7}));
    CHECK_OK(rr_record_add(&rec, "l", RR_I64, RR_SHAPE(3), (int64_t[]){-5, 1LL << 40, 3}));
    CHECK_OK(rr_record_add(&rec, "ok", RR_I64, RR_SHAPE(1, 3), (int64_t[]){-5, 2147483647, 3}));
    CHECK_OK(rr_record_add(&rec, "m", RR_BOOL, RR_SHAPE(3), "\0\1\2"));
    CHECK_OK(rr_record_add(&rec, "e", RR_U16, RR_SHAPE(0, 2), NULL));
    static const struct {
        const char *name;
        float want[3];
    } f32[] = {
        {"h", {1.5f, -2, 65504}}, {"bf", {3, -0.5f, 384}},
        {"d", {0.25f, -1e10f, 7}}, {"l", {-5, 1099511627776.0f, 3}}, {"m", {0, 1, 1}},
    };
    for (size_t i = 0; i < sizeof f32 / sizeof *f32; i++) {
        rr_tensor *t = rr_record_to_tensor(c, &rec, f32[i].name, RR_F32);
        CHECK(t && t->dtype == RR_F32 && t->numel == 3 && strcmp(t->name, f32[i].name) == 0, "%s: %s",
              f32[i].name, rr_errmsg());
        for (int k = 0; t && k < 3; k++)
            CHECK(rr_f32(t)[k] == f32[i].want[k], "%s[%d] = %g", f32[i].name, k, rr_f32(t)[k]);
    }
    rr_tensor *t = rr_record_to_tensor(c, &rec, "ok", RR_I32);
    CHECK(t && t->dtype == RR_I32 && t->ndim == 2 && rr_i32(t)[1] == 2147483647 && rr_i32(t)[0] == -5, "I64 to I32");
    t = rr_record_to_tensor(c, &rec, "e", RR_I32);
    CHECK(t && t->numel == 0 && t->shape[0] == 0 && t->shape[1] == 2, "empty U16 to I32: %s", rr_errmsg());
    CHECK(rr_record_to_tensor(c, &rec, "l", RR_I32) == NULL &&
              strcmp(rr_errmsg(), "tensor 'l': value 1099511627776 at index 1 does not fit in I32") == 0,
          "%s", rr_errmsg());
    CHECK(rr_record_to_tensor(c, &rec, "h", RR_I32) == NULL &&
              strcmp(rr_errmsg(), "tensor 'h' is F16, expected an integer dtype") == 0,
          "%s", rr_errmsg());
    CHECK(rr_record_to_tensor(c, &rec, "h", RR_U8) == NULL &&
              strcmp(rr_errmsg(), "tensor 'h': can only be read as F32 or I32, not U8") == 0,
          "%s", rr_errmsg());
    CHECK(rr_record_to_tensor(c, &rec, "zz", RR_F32) == NULL && strcmp(rr_errmsg(), "no tensor 'zz'") == 0, "%s",
          rr_errmsg());
    rr_record_free(&rec);

    /* a file written by someone else: a U8 first, so the F16 after it is unaligned */
    const char *hdr = "{\"u\":" T("U8", "[1]", "0", "1") ",\"h\":" T("F16", "[2]", "1", "5") "}";
    size_t len;
    char *b = blob(hdr, strlen(hdr), 5, &len);
    uint16_t two[2] = {rr_f32_to_f16(0.5f), rr_f32_to_f16(-8.0f)};
    memcpy(b + len - 4, two, 4);
    CHECK_OK(rr_safetensors_parse(b, len, &rec));
    t = rr_record_to_tensor(c, &rec, "h", RR_F32);
    CHECK(t && rr_f32(t)[0] == 0.5f && rr_f32(t)[1] == -8.0f, "unaligned F16: %s", rr_errmsg());
    rr_record_free(&rec);
    free(b);

    /* a tensor back into a record */
    rr_tensor *x = test_randn(c, 3, RR_SHAPE(3, 7));
    CHECK_OK(rr_record_add_tensor(&rec, "x", x));
    CHECK(memcmp(rr_record_find(&rec, "x")->data, x->data, 21 * 4) == 0, "rr_record_add_tensor data");
    rr_record_free(&rec);
}

TEST(safetensors_save_is_atomic)
{
    char dir[64], path[96];
    if (!make_tmp(dir)) {
        CHECK(0, "mkdtemp: %s", strerror(errno));
        return;
    }
    snprintf(path, sizeof path, "%s/m.safetensors", dir);
    rr_record rec, back;
    rr_record_init(&rec);
    rr_record_init(&back);
    CHECK_OK(rr_record_add(&rec, "w", RR_F32, RR_SHAPE(2), (float[]){1, 2}));
    mode_t old = umask(022);
    CHECK_OK(rr_safetensors_save(path, &rec));
    CHECK_OK(rr_record_set_meta(&rec, "config", "{}"));
    CHECK_OK(rr_safetensors_save(path, &rec)); /* replaces */
    umask(old);
    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0644, "mode %o", (unsigned)st.st_mode & 0777);
    CHECK_OK(rr_safetensors_load(path, &back));
    CHECK(rr_record_meta(&back, "config") != NULL, "the second save did not replace the file");
    CHECK(dir_files(dir, 0) == 1, "a temporary file was left behind");
    snprintf(path, sizeof path, "%s/no/such/m.safetensors", dir);
    CHECK(rr_safetensors_save(path, &rec) < 0 && strstr(rr_errmsg(), path) == rr_errmsg() &&
              strstr(rr_errmsg(), ": No such file or directory"),
          "%s", rr_errmsg());
    /* through a symbolic link: the file it points to is replaced, the link stays */
    char link[96];
    snprintf(link, sizeof link, "%s/link", dir);
    CHECK(symlink("m.safetensors", link) == 0, "symlink: %s", strerror(errno));
    CHECK_OK(rr_safetensors_save(link, &rec));
    struct stat lst;
    CHECK(lstat(link, &lst) == 0 && S_ISLNK(lst.st_mode), "the link was replaced");
    /* a device is written in place, never renamed over */
    if (stat("/dev/full", &st) == 0 && S_ISCHR(st.st_mode)) {
        CHECK(rr_safetensors_save("/dev/full", &rec) < 0 &&
                  strcmp(rr_errmsg(), "/dev/full: write error: No space left on device") == 0,
              "%s", rr_errmsg());
        CHECK(stat("/dev/full", &st) == 0 && S_ISCHR(st.st_mode), "/dev/full was replaced");
    }
    /* load errors name the file */
    CHECK(rr_safetensors_load(path, &back) < 0 && strstr(rr_errmsg(), "m.safetensors: No such file or directory"),
          "%s", rr_errmsg());
    snprintf(path, sizeof path, "%s/short", dir);
    FILE *f = fopen(path, "wb");
    fputs("abc", f);
    fclose(f);
    char want[200];
    snprintf(want, sizeof want, "%s: 3 bytes, too short for the 8-byte header length", path);
    CHECK(rr_safetensors_load(path, &back) < 0 && strcmp(rr_errmsg(), want) == 0, "%s", rr_errmsg());
    rr_record_free(&rec);
    rr_record_free(&back);
    dir_files(dir, 1);
}

TEST(safetensors_load_from_a_pipe)
{
    rr_record rec, back;
    rr_record_init(&rec);
    rr_record_init(&back);
    CHECK_OK(rr_record_add(&rec, "w", RR_F64, RR_SHAPE(3), (double[]){1, 2, 3}));
    int fd[2];
    CHECK(pipe(fd) == 0, "pipe");
    FILE *w = fdopen(fd[1], "wb");
    CHECK_OK(rr_stream_write(w, &rec));
    fclose(w);
    char path[32];
    snprintf(path, sizeof path, "/dev/fd/%d", fd[0]);
    CHECK_OK(rr_safetensors_load(path, &back));
    CHECK(back.map == NULL && back.buf != NULL, "a pipe was mapped?");
    check_same(&rec, &back, "pipe");
    close(fd[0]);
    rr_record_free(&rec);
    rr_record_free(&back);
}

TEST(printable_cuts_and_escapes)
{
    char buf[12];
    CHECK(strcmp(rr_printable("a\nb", buf, sizeof buf), "a\\x0ab") == 0, "%s", buf);
    CHECK(strcmp(rr_printable("0123456789ab", buf, sizeof buf), "01234567...") == 0, "%s", buf);
    CHECK(strcmp(rr_printable("0123456789a", buf, sizeof buf), "0123456789a") == 0, "%s", buf);
    CHECK(strcmp(rr_printable("0123456\xc3\xa9xyz", buf, sizeof buf), "0123456...") == 0, "%s", buf);
}
