#include "stage.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../cli.h"
#include "../error.h"

int rr_batch_init(rr_batch *b, FILE *in, const char *stage, int cap)
{
    memset(b, 0, sizeof *b);
    rr_ctx_init(&b->host, RR_CPU);
    if (cap < 1)
        return rr_error("a batch holds at least one record, not %d", cap);
    if (!(b->recs = calloc((size_t)cap, sizeof *b->recs)))
        return rr_error("out of memory");
    for (int i = 0; i < cap; i++)
        rr_record_init(&b->recs[i]);
    b->in = in;
    b->stage = stage;
    b->cap = cap;
    b->first = 1;
    return 0;
}

void rr_batch_free(rr_batch *b)
{
    for (int i = 0; b->recs && i < b->cap; i++)
        rr_record_free(&b->recs[i]);
    free(b->recs);
    rr_ctx_free(&b->host);
    memset(b, 0, sizeof *b);
}

int rr_batch_read(rr_batch *b)
{
    b->first += b->n;
    b->n = 0;
    rr_ctx_reset(&b->host);
    while (b->n < b->cap && !b->ended) {
        long recno = b->first + b->n;
        int r = rr_stream_read(b->in, &b->recs[b->n], recno);
        if (r < 0)
            return -1;
        if (r == 0) {
            b->ended = 1; /* the end mark: nothing is read after it */
            break;
        }
        if (rr_stream_expect_stage(&b->recs[b->n], b->stage, recno))
            return -1;
        const char *id = rr_record_meta(&b->recs[b->n], "id");
        if (!id || !*id)
            return rr_error("record %ld: no \"id\" in the metadata", recno);
        if (b->model && rr_stage_check_model(b, b->n, b->model))
            return -1;
        if (rr_stream_check_finite(&b->recs[b->n]))
            return rr_batch_error(b, b->n, "%s", rr_errmsg());
        b->n++;
    }
    return b->n;
}

int rr_batch_error(const rr_batch *b, int i, const char *fmt, ...)
{
    char id[64], msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return rr_error("record %ld (id '%s'): %s", b->first + i,
                    rr_printable(rr_record_meta(&b->recs[i], "id"), id, sizeof id), msg);
}

static char *shape_str(int ndim, const int64_t *shape, char *buf, size_t n)
{
    int len = snprintf(buf, n, "%s", ndim ? "" : "a scalar");
    for (int d = 0; d < ndim && (size_t)len < n; d++)
        len += shape[d] < 0 ? snprintf(buf + len, n - (size_t)len, d ? "xN" : "N")
                            : snprintf(buf + len, n - (size_t)len, d ? "x%lld" : "%lld", (long long)shape[d]);
    return buf;
}

int rr_batch_tensor(rr_batch *b, int i, const char *name, rr_dtype want, int ndim, int64_t *shape, void *dst)
{
    const rr_record *rec = &b->recs[i];
    const rr_entry *e = NULL;
    for (int k = 0; k < rec->nentries && !e; k++)
        if (strcmp(rec->entries[k].name, name) == 0)
            e = &rec->entries[k];
    if (!e)
        return rr_batch_error(b, i, "no tensor '%s'", name);
    int fits = e->ndim == ndim;
    for (int d = 0; d < ndim && fits; d++)
        fits = shape[d] < 0 || shape[d] == e->shape[d];
    if (!fits) {
        char got[128], expected[128];
        return rr_batch_error(b, i, "tensor '%s' is %s, expected %s (what the model takes)", name,
                              shape_str(e->ndim, e->shape, got, sizeof got),
                              shape_str(ndim, shape, expected, sizeof expected));
    }
    memcpy(shape, e->shape, (size_t)ndim * sizeof *shape);
    if (!dst)
        return 0;
    rr_tensor *t = rr_entry_to_tensor(&b->host, e, want);
    if (!t)
        return rr_batch_error(b, i, "tensor '%s': %s", name, rr_errmsg());
    memcpy(dst, t->data, rr_tensor_bytes(t));
    return 0;
}

const char *rr_batch_meta(const rr_batch *b, int i, const char *key)
{
    const char *v = rr_record_meta(&b->recs[i], key);
    if (!v)
        rr_batch_error(b, i, "no \"%s\" in the metadata", key);
    return v;
}

int rr_batch_meta_int(const rr_batch *b, int i, const char *key, int *out)
{
    const char *v = rr_batch_meta(b, i, key);
    if (!v)
        return -1;
    char *end, q[64];
    long x = strtol(v, &end, 10);
    if (end == v || *end || x < 1 || x > 1000000)
        return rr_batch_error(b, i, "\"%s\" is '%s', not a size in pixels", key, rr_printable(v, q, sizeof q));
    *out = (int)x;
    return 0;
}

int rr_batch_out(const rr_batch *b, int i, const char *stage, rr_record *out)
{
    const rr_record *in = &b->recs[i];
    rr_record_init(out);
    for (int k = 0; k < in->nmeta; k++)
        if (rr_record_set_meta(out, in->meta[k].key, in->meta[k].value))
            return -1;
    return rr_record_set_meta(out, "stage", stage);
}

int rr_batch_carry(const rr_batch *b, int i, const char *name, rr_record *out)
{
    const rr_record *in = &b->recs[i];
    for (int k = 0; k < in->nentries; k++)
        if (strcmp(in->entries[k].name, name) == 0)
            return rr_record_add(out, name, in->entries[k].dtype, in->entries[k].ndim, in->entries[k].shape,
                                 in->entries[k].data);
    return 0;
}

int rr_stage_set_model(rr_record *rec, const rr_mrsnet *m)
{
    char hex[17];
    snprintf(hex, sizeof hex, "%016" PRIx64, m->identity);
    return rr_record_set_meta(rec, "model", hex) || rr_record_set_meta(rec, "model_file", m->file);
}

/* " (name)" of a weight file, or "" when unknown. */
static const char *file_note(const char *file, char *buf, size_t n)
{
    char q[128];
    if (!file || !*file)
        return "";
    snprintf(buf, n, " (%s)", rr_printable(file, q, sizeof q));
    return buf;
}

int rr_stage_check_model(const rr_batch *b, int i, const rr_mrsnet *m)
{
    char hex[17], made_q[24], f[2][160];
    snprintf(hex, sizeof hex, "%016" PRIx64, m->identity);
    const char *made = rr_record_meta(&b->recs[i], "model");
    if (!made)
        return rr_batch_error(b, i, "no \"model\" in the metadata: the stream does not say which model made it "
                                    "(rrsis-encode names it; encode the samples again)");
    if (strcmp(made, hex) == 0)
        return 0;
    return rr_batch_error(b, i, "the stream was made by model %.8s%s, this program runs model %.8s%s: "
                                "give it the model that encoded the stream",
                          rr_printable(made, made_q, sizeof made_q),
                          file_note(rr_record_meta(&b->recs[i], "model_file"), f[0], sizeof f[0]), hex,
                          file_note(m->file, f[1], sizeof f[1]));
}

double rr_batch_clock(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

void rr_stage_check(int ninputs, const char *model, const char *device)
{
    if (ninputs > 1)
        rr_cli_usage_error("one input at most, got %d", ninputs);
    if (!model || !*model)
        rr_cli_usage_error("no model: give -m MODEL (or set RRSIS_MODEL)");
    if (strcmp(device, "auto") && strcmp(device, "cpu") && strcmp(device, "cuda"))
        rr_cli_usage_error("--device: '%s' is not auto, cpu or cuda", device);
}

void rr_stage_open(rr_stage_cli *s, const char *path, const char *model, int part, const char *device,
                   int allow_unused, int verbose)
{
    s->path = path;
    s->in = rr_cli_open_read(path);
    rr_device d;
    if (rr_device_parse(device, &d) || rr_mrsnet_load(&s->model, model, part, d, 0, allow_unused ? RR_LOAD_ALLOW_UNUSED : 0, NULL))
        rr_cli_die_lib();
    rr_progress_init(&s->progress, stderr, isatty(STDERR_FILENO), verbose);
    if (verbose)
        fprintf(stderr, "%s: model %s (%s) on %s\n", rr_cli_prog(), model, s->model.cfg.name,
                rr_device_describe(s->model.params.store.device));
}

void rr_stage_close(rr_stage_cli *s, int rc)
{
    rr_progress_end(&s->progress);
    if (rc)
        rr_cli_die("%s%s%s", s->in == stdin ? "" : s->path, s->in == stdin ? "" : ": ", rr_errmsg());
    rr_mrsnet_free(&s->model);
    if (s->in != stdin)
        fclose(s->in);
}

void rr_stage_progress(void *progress, long records, double seconds)
{
    rr_progress_update(progress, "%s: %ld record%s, %.1f s, %.2f records/s", rr_cli_prog(), records,
                       records == 1 ? "" : "s", seconds, seconds > 0 ? (double)records / seconds : 0.0);
}
