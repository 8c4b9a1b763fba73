/* The pieces of streams that know their model: the digest of a record's
 * tensors (io/checksum.h), and what a file looks like from its first bytes
 * (io/sniff.h).  The programs' behaviour: tests/cli/test_stream_model.sh. */
#include <string.h>

#include "harness.h"
#include "io/checksum.h"
#include "io/sniff.h"

/* A record of tensors a, b and (with optimizer) optimizer.m, in that order
 * or reversed; b's first value is b0. */
static void record_of(rr_record *rec, int reversed, float b0, int optimizer)
{
    float a[6] = {1, 2, 3, 4, 5, 6}, b[3] = {b0, 8, 9}, m[2] = {0.5f, 0.25f};
    rr_record_init(rec);
    for (int k = 0; k < 2; k++)
        if ((k == 0) != reversed)
            CHECK_OK(rr_record_add(rec, "a", RR_F32, 2, (int64_t[]){2, 3}, a));
        else
            CHECK_OK(rr_record_add(rec, "b", RR_F32, 1, (int64_t[]){3}, b));
    if (optimizer)
        CHECK_OK(rr_record_add(rec, "optimizer.m", RR_F32, 1, (int64_t[]){2}, m));
}

static uint64_t digest_of(const rr_record *rec, const char *skip)
{
    uint64_t d = 0;
    CHECK_OK(rr_record_digest(rec, skip, &d));
    return d;
}

TEST(record_digest_is_of_the_tensors_alone)
{
    rr_record r, reversed, changed, with_opt;
    record_of(&r, 0, 7, 0);
    record_of(&reversed, 1, 7, 0);
    record_of(&changed, 0, 7.5f, 0);
    record_of(&with_opt, 0, 7, 1);
    uint64_t d = digest_of(&r, NULL);
    CHECK(digest_of(&reversed, NULL) == d, "the order of the tensors changes the digest");
    CHECK(digest_of(&changed, NULL) != d, "one changed value leaves the digest as it was");
    CHECK(digest_of(&with_opt, NULL) != d, "one more tensor leaves the digest as it was");
    CHECK(digest_of(&with_opt, "optimizer.") == d, "the skipped tensor changes the digest");
    /* from the stored checksums as from the data */
    CHECK_OK(rr_record_add_checksums(&changed));
    rr_record_free(&r);
    record_of(&r, 0, 7.5f, 0);
    CHECK(digest_of(&changed, NULL) == digest_of(&r, NULL), "stored checksums give another digest");
    rr_record_free(&r);
    rr_record_free(&reversed);
    rr_record_free(&changed);
    rr_record_free(&with_opt);
}

TEST(sniff_names_what_a_file_looks_like)
{
    static const struct {
        const char *bytes;
        size_t n;
        const char *kind; /* the start of rr_sniff's answer, or NULL */
    } cases[] = {
        {"\x89PNG\r\n\x1a\n", 8, "a PNG image"},
        {"\xff\xd8\xff\xe0\0\x10JF", 8, "a JPEG image"},
        {"II*\0\x08\0\0\0", 8, "a TIFF image"},
        {"MM\0*\0\0\0\x08", 8, "a TIFF image"},
        {"\x1f\x8b\x08\0\0\0\0\0", 8, "gzip"},
        {"PK\x03\x04\x14\0\0\0", 8, "a zip archive"},
        {"  {\"name", 8, "JSON"},
        {"[1, 2, 3", 8, "JSON"},
        {"airport ", 8, "text"},
        {"caf\xc3\xa9 au", 8, "text"},
        /* a safetensors header length (zero bytes) is none of these */
        {"\x10\x01\0\0\0\0\0\0", 8, NULL},
        {"\x1f\x8b\0\0\0\0\0\0", 8, NULL},
        {"text\0\0\0\0", 8, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *got = rr_sniff((const unsigned char *)cases[i].bytes, cases[i].n);
        CHECK(cases[i].kind ? got && strncmp(got, cases[i].kind, strlen(cases[i].kind)) == 0 : !got,
              "case %zu: '%s', wanted '%s'", i, got ? got : "(none)", cases[i].kind ? cases[i].kind : "(none)");
    }
    CHECK(rr_not_a((const unsigned char *)"\x89PNG\r\n\x1a\n", 8, "an rrsis stream") < 0 &&
              strcmp(rr_errmsg(), "not an rrsis stream: it looks like a PNG image") == 0,
          "%s", rr_errmsg());
    CHECK(rr_not_a((const unsigned char *)"\x10\x01\0\0\0\0\0\0", 8, "an rrsis stream") == 0, "a length is sniffed");
}
