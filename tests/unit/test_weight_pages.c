/* A weight file's pages stay out of the process once its checksums are
 * checked (io/safetensors.h, rr_record_release_pages): a program keeps
 * resident the tensors it uses, not the whole file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "io/checksum.h"
#include "io/safetensors.h"

/* Resident file-backed memory of this process, bytes (/proc/self/status). */
static long rss_file(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "RssFile: %ld kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb * 1024;
}

TEST(checked_weight_pages_are_let_go)
{
    enum { N = 16, FLOATS = 1 << 20 }; /* 16 tensors of 4 MiB */
    char dir[] = "/tmp/rr_pages_XXXXXX", path[64];
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    snprintf(path, sizeof path, "%s/w.safetensors", dir);
    float *x = malloc((size_t)FLOATS * sizeof *x);
    CHECK(x != NULL, "out of memory");
    rr_record rec, back;
    rr_record_init(&rec);
    rr_record_init(&back);
    for (int i = 0; i < N; i++) {
        char name[16];
        for (int j = 0; j < FLOATS; j++)
            x[j] = (float)(i + j);
        snprintf(name, sizeof name, "t%d", i);
        CHECK_OK(rr_record_add(&rec, name, RR_F32, RR_SHAPE(FLOATS), x));
    }
    CHECK_OK(rr_record_add_checksums(&rec));
    CHECK_OK(rr_safetensors_save(path, &rec));
    rr_record_free(&rec);
    long before = rss_file();
    CHECK_OK(rr_safetensors_load(path, &back));
    long mapped = rss_file();
    CHECK_OK(rr_record_verify_checksums(&back, 1));
    long checked = rss_file();
    /* 64 MiB were read; at most a tensor or two may still be mapped */
    CHECK(mapped - before < (8 << 20), "loading mapped %ld MiB", (mapped - before) >> 20);
    CHECK(checked - before < (16 << 20), "checking left %ld MiB mapped", (checked - before) >> 20);
    /* the data reads back as it was: the pages come again from the file */
    const rr_entry *e5 = rr_record_find(&back, "t5");
    CHECK(e5 != NULL, "t5 is missing");
    const float *t5 = e5->data;
    CHECK(t5[0] == 5.0f && t5[FLOATS - 1] == (float)(5 + FLOATS - 1), "t5 reads %g .. %g", t5[0], t5[FLOATS - 1]);
    rr_record_free(&back);
    free(x);
    unlink(path);
    rmdir(dir);
}
