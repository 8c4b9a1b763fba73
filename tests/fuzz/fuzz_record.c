/* libFuzzer target: arbitrary bytes as a tensor stream (through fmemopen,
 * to its end mark or an error) and as one safetensors blob.  Beyond "no crash, no leak, no undefined
 * behaviour", every record that is accepted must survive a write and a
 * read back unchanged, and convert to a tensor. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/stream.h"

static rr_ctx ctx;
static int ctx_ready;

static void same_or_abort(const rr_record *a, const rr_record *b)
{
    if (a->nentries != b->nentries || a->nmeta != b->nmeta)
        abort();
    for (int i = 0; i < a->nentries; i++) {
        const rr_entry *x = &a->entries[i], *y = rr_record_find(b, x->name);
        if (!y || x->dtype != y->dtype || x->ndim != y->ndim || x->nbytes != y->nbytes ||
            memcmp(x->shape, y->shape, (size_t)x->ndim * sizeof *x->shape) != 0 ||
            memcmp(x->data, y->data, x->nbytes) != 0)
            abort();
    }
    for (int i = 0; i < a->nmeta; i++) {
        const char *v = rr_record_meta(b, a->meta[i].key);
        if (!v || strcmp(v, a->meta[i].value) != 0)
            abort();
    }
}

static void exercise(const rr_record *rec)
{
    for (int i = 0; i < rr_record_count(rec); i++) {
        const rr_entry *e = rr_record_entry(rec, i);
        if (!rr_entry_to_tensor(&ctx, e, RR_F32))
            abort(); /* every numeric dtype converts */
        rr_entry_to_tensor(&ctx, e, RR_I32); /* may refuse, must not crash */
    }
    rr_ctx_reset(&ctx);
    rr_stream_expect_stage(rec, "tokens", 1);
    rr_stream_check_finite(rec);

    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f || rr_stream_write(f, rec) < 0)
        abort();
    fclose(f);
    rr_record back;
    rr_record_init(&back);
    if (rr_safetensors_parse(buf, len, &back) < 0)
        abort();
    same_or_abort(rec, &back);
    rr_record_free(&back);
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ctx_ready) {
        rr_ctx_init(&ctx, RR_CPU);
        ctx_ready = 1;
    }
    rr_record rec;
    rr_record_init(&rec);
    if (size > 0) { /* fmemopen refuses an empty buffer */
        FILE *f = fmemopen((void *)data, size, "rb");
        if (!f)
            abort();
        for (long n = 1; n <= 64 && rr_stream_read(f, &rec, n) == 1; n++)
            exercise(&rec);
        fclose(f);
    }
    if (rr_safetensors_parse(data, size, &rec) == 0)
        exercise(&rec);
    rr_record_free(&rec);
    return 0;
}
