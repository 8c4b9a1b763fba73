#include "trainer.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../dist/dist.h"
#include "../error.h"
#include "../io/atomic.h"
#include "../io/folder.h"
#include "../io/progress.h"
#include "../eval/metrics.h"
#include "../nn/mrsnet.h"
#include "../ops/binary.h"
#include "../tape.h"
#include "adamw.h"
#include "checkpoint.h"
#include "clip.h"
#include "loader.h"

/* The streams derived from the seed (rr_rand64(seed, tag)). */
enum { TAG_INIT = 0, TAG_DATA = 1, TAG_DROPOUT = 2 };
/* Values per micro-batch in the readback buffer: loss, CE, Dice, presence. */
enum { NLOSS = 4 };
/* Dropout draws of one micro-batch, at most: its stream starts at
 * (its place in the run) << DROPOUT_SHIFT. */
enum { DROPOUT_SHIFT = 36 };

/* ---- options --------------------------------------------------------------- */

static const char *const metric_names[RR_NMETRICS] = {"oiou", "miou", "p50",  "p60",  "p70",  "p80",
                                                      "p90",  "ciou", "giou", "nacc", "tacc", "loss"};

int rr_metric_parse(const char *name, rr_metric *out)
{
    for (int k = 0; k < RR_NMETRICS; k++)
        if (strcmp(name, metric_names[k]) == 0) {
            *out = (rr_metric)k;
            return 0;
        }
    return -1;
}

const char *rr_metric_name(rr_metric m) { return metric_names[m]; }

void rr_train_defaults(rr_train_opts *o)
{
    memset(o, 0, sizeof *o);
    o->epochs = 40;
    o->batch = 8;
    o->accum = 1;
    o->lr = 6e-4;
    o->schedule = RR_SCHED_COSINE;
    o->backbone_lr_mult = 1.0;
    o->weight_decay = 0.01;
    o->seed = 2401;
    o->best_metric = RR_METRIC_OIOU;
    o->threads = 2;
    o->device = RR_CPU;
    o->log_every = 10;
    o->ckpt_every = 1000;
    o->max_bad_steps = 5;
    o->check_every = 100;
}

/* The training options as the checkpoint's "training" JSON holds them. */
typedef enum { F_INT, F_DOUBLE, F_U64, F_BOOL, F_SCHED, F_METRIC } ftype;
typedef struct {
    const char *key, *flag;
    ftype type;
    size_t off;
    unsigned bit;
} field;

#define FIELD(key, flag, type, member, bit) {key, flag, type, offsetof(rr_train_opts, member), bit}
static const field fields[] = {
    FIELD("epochs", "--epochs", F_INT, epochs, RR_OPT_EPOCHS),
    FIELD("batch", "--batch", F_INT, batch, RR_OPT_BATCH),
    FIELD("accum", "--accum", F_INT, accum, RR_OPT_ACCUM),
    FIELD("lr", "--lr", F_DOUBLE, lr, RR_OPT_LR),
    FIELD("schedule", "--schedule", F_SCHED, schedule, RR_OPT_SCHEDULE),
    FIELD("warmup_epochs", "--warmup-epochs", F_DOUBLE, warmup_epochs, RR_OPT_WARMUP),
    FIELD("backbone_lr_mult", "--backbone-lr-mult", F_DOUBLE, backbone_lr_mult, RR_OPT_BACKBONE_LR_MULT),
    FIELD("weight_decay", "--weight-decay", F_DOUBLE, weight_decay, RR_OPT_WEIGHT_DECAY),
    FIELD("clip", "--clip", F_DOUBLE, clip, RR_OPT_CLIP),
    FIELD("seed", "--seed", F_U64, seed, RR_OPT_SEED),
    FIELD("random_erase", "--random-erase", F_BOOL, random_erase, RR_OPT_RANDOM_ERASE),
    FIELD("best_metric", "--best-metric", F_METRIC, best_metric, RR_OPT_BEST_METRIC),
};
#define NFIELDS (int)(sizeof fields / sizeof fields[0])

/* The shortest %g form of v that reads back to the same bits. */
static void fmt_double(char *buf, size_t n, double v)
{
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, n, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}

/* A field's value as text: a JSON value (strings quoted) that reads back to
 * the same bits. */
static void field_text(const field *f, const rr_train_opts *o, char *buf, size_t n, int quoted)
{
    const char *p = (const char *)o + f->off;
    const char *q = quoted ? "\"" : "";
    switch (f->type) {
    case F_INT: snprintf(buf, n, "%d", *(const int *)p); break;
    case F_DOUBLE: fmt_double(buf, n, *(const double *)p); break;
    case F_U64: snprintf(buf, n, "%s%" PRIu64 "%s", q, *(const uint64_t *)p, q); break;
    case F_BOOL: snprintf(buf, n, "%s", *(const int *)p ? "true" : "false"); break;
    case F_SCHED: snprintf(buf, n, "%s%s%s", q, rr_sched_name(*(const rr_sched_kind *)p), q); break;
    case F_METRIC: snprintf(buf, n, "%s%s%s", q, rr_metric_name(*(const rr_metric *)p), q); break;
    }
}

/* Sets a field from its JSON value; -1 when the value has the wrong type. */
static int field_set(const field *f, rr_train_opts *o, const cJSON *v)
{
    char *p = (char *)o + f->off, *end;
    switch (f->type) {
    case F_INT:
        if (!cJSON_IsNumber(v) || v->valuedouble != (double)(int)v->valuedouble)
            return -1;
        *(int *)p = (int)v->valuedouble;
        return 0;
    case F_DOUBLE:
        if (!cJSON_IsNumber(v))
            return -1;
        *(double *)p = v->valuedouble;
        return 0;
    case F_U64:
        if (!cJSON_IsString(v) || !*v->valuestring)
            return -1;
        *(uint64_t *)p = strtoull(v->valuestring, &end, 10);
        return *end ? -1 : 0;
    case F_BOOL:
        if (!cJSON_IsBool(v))
            return -1;
        *(int *)p = cJSON_IsTrue(v);
        return 0;
    case F_SCHED: return cJSON_IsString(v) ? rr_sched_parse(v->valuestring, (rr_sched_kind *)p) : -1;
    case F_METRIC: return cJSON_IsString(v) ? rr_metric_parse(v->valuestring, (rr_metric *)p) : -1;
    }
    return -1;
}

/* ---- the run --------------------------------------------------------------- */

typedef struct {
    rr_train_opts o;        /* with a resumed run's options merged in */
    char *train_path, *val_path; /* absolute */
    char *saved[2];         /* a resumed run's manifests, when not given */
    char last[PATH_MAX], best[PATH_MAX], logpath[PATH_MAX];
    int lock_fd;
    rr_manifest train, val;
    uint64_t fingerprint;   /* of the training manifest */
    rr_config cfg;
    rr_mrsnet m;
    int have_model;
    rr_adamw opt;
    rr_gradnorm gn;
    /* What an update reads back, in one copy (doc/architecture.md, Devices): on the device, the
     * gradients' sum of squares (a double) and then loss, CE and Dice of each
     * micro-batch (floats); rb_host is its copy. */
    void *rb, *rb_host;
    size_t rb_bytes;
    rr_ctx c;
    rr_ctx keep;            /* copies of the BatchNorm statistics, restored on a skipped update */
    rr_tensor **buf, **buf_copy;
    int nbuf;
    rr_loader_opts lopts;
    rr_loader *loader;
    FILE *log;
    char *training;         /* the options JSON */
    rr_train_state st;
    rr_schedule sched;
    int64_t per_epoch;      /* updates per epoch */
    int64_t micro_used;     /* micro-batches per epoch that updates use */
    int64_t total, end;     /* updates of the run; where this invocation stops */
    int64_t last_val;       /* the step of the last validation in this invocation */
    int rank, ranks;        /* this process among the ranks (dist/dist.h); 0 of 1 alone */
    int64_t micro;          /* micro-batches of an update, all ranks: ranks x accum */
    int64_t micro_epoch;    /* micro-batches of an epoch (those no update uses included) */
    float *flat;            /* the trainable gradients (gn's order) summed over micro-batches and ranks, */
    int64_t nflat;          /* when there is more than one micro-batch or a launcher (else NULL) */
    float *losses;          /* every rank's losses (NLOSS x accum each), rank order */
    const rr_bn_stats *bn; /* the model's BatchNorms (nn/params.h) */
    int nbn;
    float *bn_prev, *bn_mine, *bn_all; /* running statistics: before the update, this rank's terms, every rank's */
    int64_t nbn_floats;
    void *hash_buf;         /* a host copy of one weight, to hash */
    int64_t saved_at;       /* the step of the last checkpoint written in this invocation */
    /* validation buffers */
    float *logits;
    uint8_t *pred;
    rr_iou *iou;
    /* progress */
    double t_begin, train_time, line_time, ema_loss;
    int64_t line_steps, line_images, steps_here;
    double line_loss, waited;
    rr_progress pg;         /* the bar on a terminal, and the notes */
} run;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void json_num(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, "%.9g", v);
    else
        fputs("null", f);
}

static void note(run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(run *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    rr_progress_vnote(&r->pg, fmt, ap);
    va_end(ap);
}

static void hms(double s, char *buf, size_t n)
{
    long t = isfinite(s) && s > 0 ? (long)(s + 0.5) : 0;
    snprintf(buf, n, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
}

/* ---- set-up ---------------------------------------------------------------- */

static int read_manifest(const char *path, rr_manifest *m)
{
    rr_findings f = {0};
    int rc = rr_manifest_read(path, m, NULL);
    if (rc == 0) {
        long n = rr_manifest_check(m, RR_CHECK_FILES, &f);
        if (n < 0)
            rc = rr_error("out of memory");
        else if (n > 0)
            rc = rr_error("%s:%ld: %s%s", path, f.v[0].line, f.v[0].msg,
                          n > 1 ? " (and more: rrsis-score --check lists them)" : "");
    }
    rr_findings_free(&f);
    return rc;
}

/* The fingerprint of a manifest's samples: ids and sentences, in order. */
static uint64_t fingerprint(const rr_manifest *m)
{
    uint64_t h = rr_hash64(0, &m->n, sizeof m->n);
    for (size_t i = 0; i < m->n; i++) {
        h = rr_hash64(h, m->samples[i].id, strlen(m->samples[i].id) + 1);
        h = rr_hash64(h, m->samples[i].sentence, strlen(m->samples[i].sentence) + 1);
    }
    return h;
}

static char *training_json(const run *r)
{
    cJSON *o = cJSON_CreateObject();
    int ok = o != NULL;
    for (int i = 0; ok && i < NFIELDS; i++) {
        char v[64];
        field_text(&fields[i], &r->o, v, sizeof v, 1);
        ok = cJSON_AddRawToObject(o, fields[i].key, v) != NULL;
    }
    char fp[17];
    snprintf(fp, sizeof fp, "%016" PRIx64, r->fingerprint);
    ok = ok && cJSON_AddNumberToObject(o, "ranks", r->ranks) && cJSON_AddStringToObject(o, "train", r->train_path) &&
         cJSON_AddStringToObject(o, "val", r->val_path) &&
         cJSON_AddNumberToObject(o, "train_samples", (double)r->train.n) &&
         cJSON_AddStringToObject(o, "train_fingerprint", fp) &&
         (r->o.init ? cJSON_AddStringToObject(o, "init", r->o.init) : cJSON_AddNullToObject(o, "init"));
    char *s = ok ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (!s)
        rr_error("out of memory");
    return s;
}

/* The run's micro-batches per update, its ranks x its accum, are kept: a
 * resumed run with another number of ranks shares them out anew (a run
 * written before ranks were recorded had one). */
static int merge_accum(run *r, const cJSON *j, int accum)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "ranks");
    int ranks = cJSON_IsNumber(v) && v->valuedouble >= 1 && v->valuedouble <= 1e6 ? (int)v->valuedouble : 1;
    int64_t micro = (int64_t)ranks * accum;
    if (micro % r->ranks)
        return rr_error("the run takes %" PRId64 " micro-batches per update (%d rank%s x --accum %d), which %d ranks "
                        "cannot share",
                        micro, ranks, ranks > 1 ? "s" : "", accum, r->ranks);
    if ((r->o.given & RR_OPT_ACCUM) && r->o.accum * (int64_t)r->ranks != micro)
        return rr_error("--accum %d differs from the run's: it takes %" PRId64 " micro-batches per update (%d rank%s x "
                        "--accum %d), --accum %" PRId64 " with %d rank%s",
                        r->o.accum, micro, ranks, ranks > 1 ? "s" : "", accum, micro / r->ranks, r->ranks,
                        r->ranks > 1 ? "s" : "");
    r->o.accum = (int)(micro / r->ranks);
    return 0;
}

/* A resumed run: the checkpoint's training options, and its manifests
 * unless others are given.  An option given with another value is an
 * error. */
static int merge_saved(run *r, const char *json)
{
    cJSON *j = cJSON_Parse(json);
    int rc = cJSON_IsObject(j) ? 0 : rr_error("the training options are not a JSON object");
    for (int i = 0; i < NFIELDS && rc == 0; i++) {
        const field *f = &fields[i];
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, f->key);
        rr_train_opts saved = r->o;
        if (field_set(f, &saved, v)) {
            rc = rr_error("training option '%s' is missing or invalid", f->key);
        } else if (f->bit == RR_OPT_ACCUM) {
            rc = merge_accum(r, j, saved.accum);
        } else if (r->o.given & f->bit) {
            char a[64], b[64];
            field_text(f, &r->o, a, sizeof a, 0);
            field_text(f, &saved, b, sizeof b, 0);
            if (strcmp(a, b) != 0)
                rc = rr_error("%s %s differs from the run's %s: a resumed run keeps its training options", f->flag,
                              a, b);
        } else {
            field_set(f, &r->o, v); /* parsed above: cannot fail */
        }
    }
    const char *keys[] = {"train", "val"};
    const char **paths[] = {&r->o.train, &r->o.val};
    for (int k = 0; k < 2 && rc == 0; k++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, keys[k]);
        if (!cJSON_IsString(v))
            rc = rr_error("training option '%s' is missing", keys[k]);
        else if (!*paths[k] && !(*paths[k] = r->saved[k] = strdup(v->valuestring)))
            rc = rr_error("out of memory");
    }
    const cJSON *fp = cJSON_GetObjectItemCaseSensitive(j, "train_fingerprint");
    if (rc == 0 && !cJSON_IsString(fp))
        rc = rr_error("training option 'train_fingerprint' is missing");
    if (rc == 0)
        r->fingerprint = strtoull(fp->valuestring, NULL, 16);
    cJSON_Delete(j);
    return rc;
}

static int lock_rundir(run *r)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/lock", r->o.rundir);
    r->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (r->lock_fd < 0)
        return rr_error("%s: %s", path, strerror(errno));
    if (flock(r->lock_fd, LOCK_EX | LOCK_NB) != 0)
        return rr_error("%s: %s", r->o.rundir,
                        errno == EWOULDBLOCK ? "another rrsis-train is running in this folder" : strerror(errno));
    return 0;
}

/* Temporary files of checkpoint writes that a kill interrupted (io/atomic.h). */
static void remove_stale(const run *r)
{
    rr_atomic_remove_stale(r->o.rundir, "last.safetensors");
    rr_atomic_remove_stale(r->o.rundir, "best.safetensors");
}

static char *absolute(const char *path)
{
    char *p = realpath(path, NULL);
    if (!p)
        rr_error("%s: %s", path, strerror(errno));
    return p;
}

static int build_model(run *r)
{
    if (rr_mrsnet_init(&r->m, &r->cfg, RR_PART_ALL, r->o.device, rr_rand64(r->o.seed, TAG_INIT), 1))
        return -1;
    r->have_model = 1;
    rr_adamw_opts ao = RR_ADAMW_DEFAULTS;
    ao.weight_decay = r->o.weight_decay;
    if (rr_adamw_init(&r->opt, &r->m.params, &ao, r->o.backbone_lr_mult) || rr_gradnorm_init(&r->gn, &r->m.params))
        return -1;
    rr_ctx_init(&r->keep, r->o.device);
    r->rb_bytes = sizeof(double) + (size_t)r->o.accum * NLOSS * sizeof(float);
    r->rb = rr_dev_malloc(r->o.device, r->rb_bytes);
    r->rb_host = malloc(r->rb_bytes);
    if (!r->rb || !r->rb_host)
        return r->rb ? rr_error("out of memory") : -1;
    /* zeros: the presence slots stay 0 when the term is not weighted */
    if (rr_dev_memset0(r->o.device, r->rb, r->rb_bytes))
        return -1;
    r->buf = calloc((size_t)r->m.params.n + 1, sizeof *r->buf);
    r->buf_copy = calloc((size_t)r->m.params.n + 1, sizeof *r->buf_copy);
    if (!r->buf || !r->buf_copy)
        return rr_error("out of memory");
    for (int i = 0; i < r->m.params.n; i++)
        if (r->m.params.items[i].kind & RR_PARAM_BUFFER) {
            r->buf[r->nbuf] = r->m.params.items[i].t;
            if (!(r->buf_copy[r->nbuf++] = rr_new_like(&r->keep, r->m.params.items[i].t)))
                return -1;
        }
    return 0;
}

static int load_init(run *r)
{
    rr_record rec;
    rr_record_init(&rec);
    int unused = 0;
    char *missing = NULL;
    size_t mlen = 0;
    FILE *mf = open_memstream(&missing, &mlen);
    int rc = mf ? rr_safetensors_load(r->o.init, &rec) : rr_error("out of memory");
    if (!rc && (rr_mrsnet_verify_file(&rec) || rr_params_load(&r->m.params, &rec, 1, mf, &unused) ||
                (!r->o.allow_unused && rr_mrsnet_check_unused(&r->m, &rec))))
        rc = rr_error_prefix("%s: ", r->o.init);
    if (mf)
        fclose(mf);
    if (!rc) {
        int nmissing = 0;
        for (size_t i = 0; i < mlen; i++)
            nmissing += missing[i] == '\n';
        note(r, "init: %s: %d of %d tensors loaded, %d missing (kept their initial values), %d unused", r->o.init,
             r->m.params.n - nmissing, r->m.params.n, nmissing, unused);
    }
    free(missing);
    rr_record_free(&rec);
    return rc;
}

/* The configuration of a new run: --config, else --init's metadata. */
static int new_config(run *r)
{
    if (r->o.config)
        return rr_config_load(&r->cfg, r->o.config);
    if (!r->o.init)
        return rr_error("no model configuration: give --config (or --init with a weight file that has one)");
    rr_record rec;
    rr_record_init(&rec);
    int rc = rr_safetensors_load(r->o.init, &rec);
    const char *json = rc ? NULL : rr_record_meta(&rec, "config");
    if (!rc && !json)
        rc = rr_error("%s: no model configuration in the metadata; give --config", r->o.init);
    if (!rc && rr_config_parse(&r->cfg, json, strlen(json)))
        rc = rr_error_prefix("%s: config: ", r->o.init);
    rr_record_free(&rec);
    return rc;
}

static int same_config(const rr_config *a, const rr_config *b)
{
    char *x = rr_config_to_json(a), *y = rr_config_to_json(b);
    int same = x && y && strcmp(x, y) == 0;
    free(x);
    free(y);
    return same;
}

/* ---- sums across micro-batches and ranks ------------------------------------- */

/* Micro-batch a's gradients (computed from zero) into the flat sum: copied
 * for the first, added after, so that the sum runs in micro-batch order;
 * summed across ranks in rank order (dist.h), it is the sum one process
 * makes of all the update's micro-batches in turn.  The gradients are
 * zeroed for the next micro-batch. */
static int add_grads(run *r, int a)
{
    int64_t off = 0;
    for (int i = 0; i < r->gn.n; i++) {
        rr_tensor *g = r->gn.grads[i];
        if (RR_BACKEND(g->device, rr_scale_f32, rr_f32(g), r->flat + off, g->numel, 1.0f, a > 0))
            return -1;
        off += g->numel;
    }
    rr_params_zero_grad(&r->m.params);
    return 0;
}

/* The summed gradients back where the norm and AdamW read them. */
static int unpack_grads(run *r)
{
    int64_t off = 0;
    for (int i = 0; i < r->gn.n; i++) {
        rr_tensor *g = r->gn.grads[i];
        if (rr_dev_memcpy(g->device, g->data, r->o.device, r->flat + off, rr_tensor_bytes(g)))
            return -1;
        off += g->numel;
    }
    return 0;
}

/* Copies the running statistics of every BatchNorm, mean then variance of
 * each, to host memory x (to_host) or back from it. */
static int bn_copy(run *r, float *x, int to_host)
{
    for (int i = 0; i < r->nbn; i++) {
        rr_tensor *t[2] = {r->bn[i].mean, r->bn[i].var};
        for (int k = 0; k < 2; k++) {
            size_t bytes = rr_tensor_bytes(t[k]);
            if (to_host ? rr_dev_memcpy(RR_CPU, x, t[k]->device, t[k]->data, bytes)
                        : rr_dev_memcpy(t[k]->device, t[k]->data, RR_CPU, x, bytes))
                return -1;
            x += t[k]->numel;
        }
    }
    return 0;
}

/* BatchNorm's running statistics across ranks.  In training a BatchNorm
 * normalises with the batch's statistics, so the running ones change
 * nothing a rank computes: each rank starts its update from zero ones, and
 * ends it holding its own term of the update (momentum x the batch's
 * statistic: (1 - momentum) x 0 + t is t, exactly); bn_end replays every
 * rank's terms in rank order on the statistics of before, the float
 * operations of the kernels in their order.  With accum 1 per rank those
 * are the bits of one process updating them micro-batch after micro-batch;
 * with more, each rank's accum updates are folded into one term, rounded
 * otherwise.  The variances start at -0.0, which no update leaves (it adds
 * momentum x a variance, >= +0.0, and -0.0 + +0.0 is +0.0): a BatchNorm still
 * at -0.0 was not run (a module built for its weights' names, as RMSIN's
 * last visual branch) and its statistics are left as they were. */
static int bn_begin(run *r)
{
    if (r->ranks == 1 || bn_copy(r, r->bn_prev, 1))
        return r->ranks == 1 ? 0 : -1;
    for (int i = 0; i < r->nbn; i++)
        if (rr_dev_memset0(r->o.device, r->bn[i].mean->data, rr_tensor_bytes(r->bn[i].mean)) ||
            rr_fill(r->bn[i].var, -0.0f))
            return -1;
    return 0;
}

static int not_run(float first_variance) { return first_variance == 0 && signbit(first_variance); }

static int bn_end(run *r)
{
    if (r->ranks == 1)
        return 0;
    if (bn_copy(r, r->bn_mine, 1) ||
        rr_dist_gather(r->bn_mine, r->bn_all, (size_t)r->nbn_floats * sizeof *r->bn_mine))
        return -1;
    float *x = r->bn_prev;
    for (int i = 0; i < r->nbn; i++) {
        float keep = 1 - r->bn[i].momentum; /* as the kernels round it */
        int64_t ch = r->bn[i].mean->numel, at = x - r->bn_prev;
        for (int p = 0; p < r->ranks; p++) {
            const float *terms = r->bn_all + (size_t)p * r->nbn_floats + at; /* rank p's: means, variances */
            if (not_run(terms[ch]))
                continue;
            for (int64_t j = 0; j < 2 * ch; j++) {
                float v = x[j];
                for (int a = 0; a < r->o.accum; a++)
                    v = keep * v;
                x[j] = v + terms[j];
            }
        }
        x += 2 * ch;
    }
    return bn_copy(r, r->bn_prev, 0);
}

/* A digest of every weight and running statistic. */
static int weights_hash(run *r, uint64_t *h)
{
    *h = 0;
    for (int i = 0; i < r->m.params.n; i++) {
        rr_tensor *t = r->m.params.items[i].t;
        if (rr_to_host(r->hash_buf, t))
            return -1;
        *h = rr_hash64(*h, r->hash_buf, rr_tensor_bytes(t));
    }
    return 0;
}

/* Every rank has the same weights (when there are several). */
static int check_same(run *r, const char *when)
{
    uint64_t h;
    if (r->ranks == 1)
        return 0;
    if (weights_hash(r, &h))
        return -1;
    char what[96];
    snprintf(what, sizeof what, "the weights %s", when);
    return rr_dist_same(h, what);
}

/* The buffers of the sums: the flat gradients, every rank's losses, the
 * BatchNorm statistics; then the first comparison of the weights. */
static int setup_sums(run *r)
{
    const rr_train_opts *o = &r->o;
    for (int i = 0; i < r->gn.n; i++)
        r->nflat += r->gn.grads[i]->numel;
    if ((o->accum > 1 || rr_dist_on()) && !(r->flat = rr_dev_malloc(o->device, (size_t)r->nflat * sizeof *r->flat)))
        return -1;
    r->bn = r->m.params.bn_stats;
    r->nbn = r->m.params.nbn_stats;
    for (int i = 0; i < r->nbn; i++)
        r->nbn_floats += 2 * r->bn[i].mean->numel;
    size_t biggest = 0;
    for (int i = 0; i < r->m.params.n; i++)
        if (rr_tensor_bytes(r->m.params.items[i].t) > biggest)
            biggest = rr_tensor_bytes(r->m.params.items[i].t);
    r->losses = malloc((size_t)r->micro * NLOSS * sizeof *r->losses);
    r->bn_prev = malloc(((size_t)r->nbn_floats + 1) * sizeof *r->bn_prev);
    r->bn_mine = malloc(((size_t)r->nbn_floats + 1) * sizeof *r->bn_mine);
    r->bn_all = malloc(((size_t)r->nbn_floats * r->ranks + 1) * sizeof *r->bn_all);
    r->hash_buf = malloc(biggest + 1);
    if (!r->losses || !r->bn_prev || !r->bn_mine || !r->bn_all || !r->hash_buf)
        return rr_error("out of memory");
    return check_same(r, "at the start");
}

static int setup(run *r)
{
    const rr_train_opts *o = &r->o;
    if (r->rank == 0) { /* the others only read the folder (a resumed run's checkpoint) */
        if (rr_make_folder(o->rundir) || lock_rundir(r))
            return -1;
        remove_stale(r);
    }
    snprintf(r->last, sizeof r->last, "%s/last.safetensors", o->rundir);
    snprintf(r->best, sizeof r->best, "%s/best.safetensors", o->rundir);
    snprintf(r->logpath, sizeof r->logpath, "%s/log.jsonl", o->rundir);
    rr_checkpoint ck = {0};
    rr_record_init(&ck.rec);
    int rc = 0;
    if (o->resume) {
        if (access(r->last, F_OK) != 0)
            rc = rr_error("%s: no checkpoint to resume (%s)", r->last, strerror(errno));
        if (!rc)
            rc = rr_checkpoint_open(&ck, r->last);
        if (!rc && (rc = merge_saved(r, ck.training)))
            rr_error_prefix("%s: ", r->last);
        r->cfg = ck.cfg;
        if (!rc && o->config) {
            rr_config given;
            rc = rr_config_load(&given, o->config);
            if (!rc && !same_config(&given, &ck.cfg))
                rc = rr_error("%s differs from the configuration of the run in %s", o->config, r->last);
        }
        r->st = ck.state;
    } else {
        if (access(r->last, F_OK) == 0)
            rc = rr_error("%s already holds a run (--resume continues it)", o->rundir);
        if (!rc)
            rc = new_config(r);
        r->st = (rr_train_state){.best = NAN, .best_step = -1};
    }
    if (!rc && (!o->train || !o->val))
        rc = rr_error("give --train and --val");
    if (!rc && (!(r->train_path = absolute(o->train)) || !(r->val_path = absolute(o->val))))
        rc = -1;
    if (!rc)
        rc = read_manifest(r->train_path, &r->train);
    if (!rc)
        rc = read_manifest(r->val_path, &r->val);
    if (!rc && o->resume && fingerprint(&r->train) != r->fingerprint)
        rc = rr_error("%s: these are not the training samples of the run in %s (ids or sentences differ)",
                      r->train_path, r->last);
    r->fingerprint = fingerprint(&r->train);
    if (!rc)
        rc = build_model(r);
    if (!rc && o->resume && rr_checkpoint_restore(&ck, &r->m, &r->opt))
        rc = rr_error_prefix("%s: ", r->last);
    if (!rc && o->init)
        rc = load_init(r);
    rr_checkpoint_close(&ck);
    if (rc)
        return -1;

    r->micro = (int64_t)r->ranks * o->accum;
    r->micro_epoch = rr_loader_batches(r->train.n, o->batch, 1);
    r->per_epoch = r->micro_epoch / r->micro;
    if (r->per_epoch < 1)
        return rr_error("%s: %zu samples make no update of %d x %d samples%s", r->train_path, r->train.n, o->batch,
                        (int)r->micro, r->ranks > 1 ? " (ranks x accum micro-batches)" : "");
    r->micro_used = r->per_epoch * r->micro;
    r->total = (int64_t)o->epochs * r->per_epoch;
    r->end = o->max_steps > 0 && o->max_steps < r->total ? o->max_steps : r->total;
    r->sched = (rr_schedule){o->schedule, o->lr, r->total, (int64_t)llround(o->warmup_epochs * r->per_epoch), 0.9};
    if (r->sched.warmup > r->total)
        r->sched.warmup = r->total;
    if (!(r->training = training_json(r)))
        return -1;

    rr_ctx_init(&r->c, o->device);
    rr_ctx_grad(&r->c, 1);
    r->c.training = 1;
    r->c.seed = rr_rand64(o->seed, TAG_DROPOUT);

    r->lopts = (rr_loader_opts){.size = r->cfg.image_size,
                                .max_len = r->cfg.text.max_len,
                                .vocab = o->vocab,
                                .batch = o->batch,
                                .shuffle = 1,
                                .drop_last = 1,
                                .repeat = 1,
                                .random_erase = o->random_erase,
                                .seed = rr_rand64(o->seed, TAG_DATA),
                                .threads = o->threads,
                                .depth = o->threads + 2,
                                .ranks = r->ranks,
                                .rank = r->rank,
                                .group = o->accum,
                                .raster = o->raster};
    memcpy(r->lopts.mean, r->cfg.pixel_mean, sizeof r->lopts.mean);
    memcpy(r->lopts.std, r->cfg.pixel_std, sizeof r->lopts.std);
    size_t px = (size_t)r->cfg.image_size * r->cfg.image_size;
    r->logits = malloc((size_t)o->batch * 2 * px * sizeof *r->logits);
    r->pred = malloc(px);
    r->iou = malloc((r->val.n + 1) * sizeof *r->iou);
    if (!r->logits || !r->pred || !r->iou)
        return rr_error("out of memory");

    /* a resumed run's log goes on from where its checkpoint was written; a
     * new run's starts afresh (a run that failed before its first
     * checkpoint may have left one) */
    struct stat sb;
    if (r->rank > 0) /* rank 0 alone writes the log */
        r->log = fopen("/dev/null", "w");
    else if (o->resume && stat(r->logpath, &sb) == 0 && sb.st_size > r->st.log_bytes &&
             truncate(r->logpath, (off_t)r->st.log_bytes) != 0)
        return rr_error("%s: %s", r->logpath, strerror(errno));
    else
        r->log = fopen(r->logpath, o->resume ? "a" : "w");
    if (!r->log)
        return rr_error("%s: %s", r->rank > 0 ? "/dev/null" : r->logpath, strerror(errno));
    return setup_sums(r);
}

/* ---- checkpoints, validation ----------------------------------------------- */

static int save_last(run *r)
{
    if (fflush(r->log) != 0)
        return rr_error("%s: %s", r->logpath, strerror(errno));
    r->st.log_bytes = ftell(r->log);
    r->st.rng_offset = r->c.rng_offset;
    r->st.seconds += now() - r->t_begin;
    r->t_begin = now();
    if (r->rank == 0 && rr_checkpoint_save(r->last, &r->m, &r->opt, &r->st, r->training))
        return -1;
    r->saved_at = r->st.step;
    return 0;
}

typedef struct {
    rr_rmsin_metrics rm;
    rr_gres_metrics gm;
    double loss;
} val_result;

static double metric_value(const val_result *v, rr_metric m)
{
    switch (m) {
    case RR_METRIC_OIOU: return v->rm.oiou;
    case RR_METRIC_MIOU: return v->rm.miou;
    case RR_METRIC_CIOU: return v->gm.ciou;
    case RR_METRIC_GIOU: return v->gm.giou;
    case RR_METRIC_NACC: return v->gm.nacc;
    case RR_METRIC_TACC: return v->gm.tacc;
    case RR_METRIC_LOSS: return v->loss;
    default: return v->rm.prec[m - RR_METRIC_P50];
    }
}

/* The per-sample counts (r->iou, slot = sample) and per-batch losses of
 * every rank, merged: each slot was filled by one rank (the others' are
 * zero), so the sums are exact. */
static int merge_val(run *r, double *batch_loss, int64_t nbatch)
{
    size_t n = r->val.n;
    int64_t *x = calloc(5 * n + 1, sizeof *x);
    int rc = x ? 0 : rr_error("out of memory");
    for (size_t i = 0; i < n && !rc; i++) {
        const rr_iou *u = &r->iou[i];
        int64_t v[5] = {u->inter, u->uni, u->pred, u->gt, u->no_target};
        memcpy(x + 5 * i, v, sizeof v);
    }
    if (!rc && !(rc = rr_dist_merge_i64(x, 5 * n)))
        rc = rr_dist_merge_f64(batch_loss, (size_t)nbatch);
    for (size_t i = 0; i < n && !rc; i++)
        r->iou[i] = (rr_iou){x[5 * i], x[5 * i + 1], x[5 * i + 2], x[5 * i + 3], (int)x[5 * i + 4]};
    free(x);
    return rc;
}

/* One pass over the validation set in eval mode (no dropout, BatchNorm on
 * its running statistics), scored at the network's input size as the
 * reference's train.py evaluate does; across ranks, each takes every
 * ranks-th batch.  1 when *stop interrupted it (alone: across ranks the
 * stop waits for the next update). */
static int validate(run *r, val_result *v)
{
    rr_loader_opts lo = r->lopts;
    lo.shuffle = lo.drop_last = lo.repeat = lo.random_erase = 0;
    lo.group = 1;
    int64_t nbatch = rr_loader_batches(r->val.n, lo.batch, 0);
    double *batch_loss = calloc((size_t)nbatch + 1, sizeof *batch_loss);
    rr_loader *l = batch_loss ? rr_loader_open(&r->val, &lo, 0, 0) : NULL;
    if (!l) {
        if (!batch_loss)
            rr_error("out of memory");
        free(batch_loss);
        return -1;
    }
    memset(r->iou, 0, (r->val.n + 1) * sizeof *r->iou);
    rr_ctx *c = &r->c;
    rr_ctx_grad(c, 0);
    c->training = 0;
    int64_t S = r->cfg.image_size, L = r->cfg.text.max_len;
    size_t px = (size_t)(S * S), k = 0;
    double loss_sum = 0;
    rr_batch *b;
    int rc, stopped = 0;
    while ((rc = rr_loader_next(l, &b)) == 0) {
        if (r->o.stop && *r->o.stop && !rr_dist_on()) {
            stopped = 1;
            break;
        }
        int64_t n = b->n;
        rr_tensor *img = rr_from_host(c, RR_F32, RR_SHAPE(n, 3, S, S), b->image);
        rr_tensor *ids = rr_from_host(c, RR_I32, RR_SHAPE(n, L), b->ids);
        rr_tensor *mask = rr_from_host(c, RR_I32, RR_SHAPE(n, L), b->mask);
        rr_tensor *tgt = rr_from_host(c, RR_U8, RR_SHAPE(n, S, S), b->target);
        rr_tensor *logits = img && ids && mask ? rr_mrsnet_fwd(c, &r->m, img, ids, mask, NULL) : NULL;
        rr_tensor *loss = logits && tgt ? rr_mrsnet_loss(c, &r->m, logits, tgt, NULL) : NULL;
        float lv;
        if (!loss || rr_to_host(&lv, loss) || rr_to_host(r->logits, logits)) {
            rc = rr_error_prefix("validation: ");
            break;
        }
        batch_loss[b->index] = (double)lv * (double)n;
        for (int64_t i = 0; i < n; i++) {
            const float *l0 = r->logits + (size_t)i * 2 * px, *l1 = l0 + px;
            for (size_t p = 0; p < px; p++)
                r->pred[p] = l1[p] > l0[p]; /* argmax; class 0 on a tie */
            r->iou[b->sample[i]] = rr_iou_count(r->pred, b->target + (size_t)i * px, px,
                                                r->val.samples[b->sample[i]].type == RR_TYPE_NONE);
        }
        rr_loader_release(l, b);
        rr_ctx_reset(c);
    }
    rr_ctx_reset(c);
    rr_loader_close(l);
    rr_ctx_grad(c, 1);
    c->training = 1;
    if (rc >= 0 && !stopped && (rc = merge_val(r, batch_loss, nbatch)) == 0) {
        for (int64_t j = 0; j < nbatch; j++) /* in batch order, as one process adds them */
            loss_sum += batch_loss[j];
        k = r->val.n;
    }
    free(batch_loss);
    if (rc < 0)
        return -1;
    if (stopped)
        return 1;
    if (rr_rmsin_compute(r->iou, NULL, k, &v->rm))
        return rr_error("out of memory");
    rr_gres_compute(r->iou, NULL, k, &v->gm);
    v->loss = loss_sum / (double)k;
    return 0;
}

/* Validates, logs, keeps the best weights, writes the checkpoint.  1 when
 * *stop interrupted it. */
static int validate_and_save(run *r)
{
    double t0 = now();
    val_result v;
    int rc = validate(r, &v);
    if (rc)
        return rc;
    r->last_val = r->st.step;
    double x = metric_value(&v, r->o.best_metric);
    int lower = r->o.best_metric == RR_METRIC_LOSS;
    int better = isfinite(x) && (isnan(r->st.best) || (lower ? x < r->st.best : x > r->st.best));
    if (better) {
        r->st.best = x;
        r->st.best_step = r->st.step;
    }
    fprintf(r->log, "{\"type\": \"val\", \"step\": %" PRId64 ", \"epoch\": %" PRId64 ", \"samples\": %ld",
            r->st.step, (r->st.step - 1) / r->per_epoch, v.rm.n);
    fputs(", \"loss\": ", r->log);
    json_num(r->log, v.loss);
    static const char *const pk[RR_NTHRESH] = {"p50", "p60", "p70", "p80", "p90"};
    for (int j = 0; j < RR_NTHRESH; j++) {
        fprintf(r->log, ", \"%s\": ", pk[j]);
        json_num(r->log, v.rm.prec[j]);
    }
    const char *keys[] = {"oiou", "miou", "ciou", "giou", "nacc", "tacc"};
    double vals[] = {v.rm.oiou, v.rm.miou, v.gm.ciou, v.gm.giou, v.gm.nacc, v.gm.tacc};
    for (int j = 0; j < 6; j++) {
        fprintf(r->log, ", \"%s\": ", keys[j]);
        json_num(r->log, vals[j]);
    }
    fprintf(r->log, ", \"best\": %s, \"seconds\": %.3f}\n", better ? "true" : "false", now() - t0);
    note(r, "val step %" PRId64 ": loss %.4f  oIoU %.2f  mIoU %.2f  P@0.5 %.2f  cIoU %.2f  gIoU %.2f  N-acc %.2f"
            "  (%s %.4g%s, %.1fs)",
         r->st.step, v.loss, v.rm.oiou, v.rm.miou, v.rm.prec[0], v.gm.ciou, v.gm.giou, v.gm.nacc,
         rr_metric_name(r->o.best_metric), x, better ? ", best so far" : "", now() - t0);
    if (better && r->rank == 0 && rr_checkpoint_save(r->best, &r->m, NULL, &r->st, r->training))
        return -1;
    return save_last(r);
}

/* ---- the loop -------------------------------------------------------------- */

/* The next micro-batch of this rank (the loader leaves out those beyond
 * the last full update of an epoch). */
static int next_batch(run *r, rr_batch **b)
{
    int rc = rr_loader_next(r->loader, b);
    return rc ? (rc < 0 ? -1 : rr_error("the training loader ended")) : 0;
}

/* The losses in the readback buffer (device or host copy): after the sum of
 * squares, loss, CE, Dice and presence (0 when not weighted) of micro-batch a
 * at NLOSS a + 0..3. */
static float *rb_losses(void *rb) { return (float *)((char *)rb + sizeof(double)); }

/* Forward, loss and backward of micro-batch a of an update: the loss and its
 * terms go to their places in the readback buffer, device to device, so
 * nothing waits for the device here.  A loss that is not finite gives
 * gradients that are not finite either, and the update is skipped. */
static int micro_step(run *r, const rr_batch *b, int a)
{
    rr_ctx *c = &r->c;
    int64_t S = r->cfg.image_size, L = r->cfg.text.max_len, n = b->n;
    /* the same draws whichever rank, or which place in an update, takes it */
    c->rng_offset = (uint64_t)(b->epoch * r->micro_epoch + b->index) << DROPOUT_SHIFT;
    rr_tensor *img = rr_from_host(c, RR_F32, RR_SHAPE(n, 3, S, S), b->image);
    rr_tensor *ids = rr_from_host(c, RR_I32, RR_SHAPE(n, L), b->ids);
    rr_tensor *mask = rr_from_host(c, RR_I32, RR_SHAPE(n, L), b->mask);
    rr_tensor *tgt = rr_from_host(c, RR_U8, RR_SHAPE(n, S, S), b->target);
    rr_tensor *logits = img && ids && mask ? rr_mrsnet_fwd(c, &r->m, img, ids, mask, NULL) : NULL;
    rr_loss_terms t = {0};
    rr_tensor *loss = logits && tgt ? rr_mrsnet_loss(c, &r->m, logits, tgt, &t) : NULL;
    rr_tensor *parts[NLOSS] = {loss, t.ce, t.dice, t.presence};
    float *v = rb_losses(r->rb) + NLOSS * a;
    int rc = loss ? 0 : -1;
    for (int k = 0; k < NLOSS && !rc; k++)
        if (parts[k])
            rc = rr_dev_memcpy(r->o.device, v + k, parts[k]->device, parts[k]->data, sizeof *v);
    if (!rc)
        rc = rr_backward(c, loss);
    rr_ctx_reset(c);
    return rc;
}

static int copy_buffers(run *r, int restore)
{
    for (int i = 0; i < r->nbuf; i++) {
        rr_tensor *dst = restore ? r->buf[i] : r->buf_copy[i], *src = restore ? r->buf_copy[i] : r->buf[i];
        if (rr_dev_memcpy(dst->device, dst->data, src->device, src->data, rr_tensor_bytes(src)))
            return -1;
    }
    return 0;
}

static void progress(run *r, double loss, double lr)
{
    const rr_train_opts *o = &r->o;
    int64_t step = r->st.step;
    double per_step = r->steps_here ? r->train_time / (double)r->steps_here : 0;
    char left[32];
    hms(per_step * (double)(r->end - step), left, sizeof left);
    r->line_loss += loss;
    r->line_steps++;
    r->ema_loss = r->steps_here == 1 ? loss : 0.9 * r->ema_loss + 0.1 * loss;
    if (o->tty) {
        double ips = r->line_time > 0 ? (double)r->line_images / r->line_time : 0;
        int width = 20, fill = (int)((double)width * (double)step / (double)r->end);
        char bar[32];
        for (int i = 0; i < width; i++)
            bar[i] = i < fill ? '#' : '.';
        bar[width] = 0;
        rr_progress_force(&r->pg,
                          "step %" PRId64 "/%" PRId64 " [%s] epoch %" PRId64 "/%d loss %.4f lr %.3g %.1f img/s %s left",
                          step, r->end, bar, (step - 1) / r->per_epoch + 1, o->epochs, r->ema_loss, lr, ips, left);
    } else if (step % o->log_every == 0 || step == r->end) {
        note(r, "step %" PRId64 "/%" PRId64 " epoch %" PRId64 "/%d loss %.4f lr %.3g %.1f img/s %s left", step, r->end,
             (step - 1) / r->per_epoch + 1, o->epochs, r->line_loss / (double)r->line_steps, lr,
             r->line_time > 0 ? (double)r->line_images / r->line_time : 0, left);
        r->line_loss = 0;
        r->line_steps = 0;
        r->line_images = 0;
        r->line_time = 0;
    }
}

/* One update.  1 when it was skipped (a NaN or an Inf). */
static int update(run *r)
{
    const rr_train_opts *o = &r->o;
    double t0 = now(), sum[NLOSS] = {0};
    int finite = 1, images = 0;
    if (copy_buffers(r, 0) || bn_begin(r))
        return -1;
    for (int a = 0; a < o->accum; a++) {
        rr_batch *b;
        if (next_batch(r, &b) || micro_step(r, b, a) || (r->flat && add_grads(r, a)))
            return -1;
        images += b->n;
        /* where the next update starts: the round after this one */
        int64_t next = (b->index / r->micro + 1) * r->micro;
        r->st.epoch = next < r->micro_used ? b->epoch : b->epoch + 1;
        r->st.batch = next < r->micro_used ? next : 0;
        rr_loader_release(r->loader, b);
    }
    images *= r->ranks;
    if (r->flat && (rr_dist_sum_f32(o->device, r->flat, r->nflat) || unpack_grads(r)))
        return -1;
    /* the update's one copy to the host: the gradients' sum of squares and
     * the losses; then every rank's losses */
    if (rr_gradnorm_sumsq(&r->gn, r->rb) || rr_dev_memcpy(RR_CPU, r->rb_host, o->device, r->rb, r->rb_bytes) ||
        rr_dist_gather(rb_losses(r->rb_host), r->losses, (size_t)o->accum * NLOSS * sizeof *r->losses) || bn_end(r))
        return -1;
    double sumsq;
    memcpy(&sumsq, r->rb_host, sizeof sumsq);
    for (int64_t a = 0; a < r->micro; a++) { /* rank order: the order of the micro-batches */
        finite &= isfinite(r->losses[NLOSS * a]) != 0;
        for (int k = 0; k < NLOSS; k++)
            sum[k] += r->losses[NLOSS * a + k];
    }
    double norm = finite ? fabs(1.0 / (double)r->micro) * sqrt(sumsq) : NAN, lr = rr_schedule_lr(&r->sched, r->st.step);
    int skip = !finite || !isfinite(norm);
    if (skip) {
        if (copy_buffers(r, 1))
            return -1;
        r->st.bad_streak++;
    } else {
        double coef = rr_clip_coef(norm, o->clip);
        if (rr_adamw_step(&r->opt, lr, (float)(coef / (double)r->micro)))
            return -1;
        r->st.bad_streak = 0;
    }
    rr_params_zero_grad(&r->m.params);
    r->st.step++;
    r->st.images += images;
    double dt = now() - t0;
    r->train_time += dt;
    r->line_time += dt;
    r->line_images += images;
    r->steps_here++;
    for (int k = 0; k < NLOSS; k++)
        sum[k] /= (double)r->micro;
    fprintf(r->log, "{\"type\": \"%s\", \"step\": %" PRId64 ", \"epoch\": %" PRId64 ", \"loss\": ",
            skip ? "skip" : "step", r->st.step, (r->st.step - 1) / r->per_epoch);
    json_num(r->log, sum[0]);
    fputs(", \"ce\": ", r->log);
    json_num(r->log, sum[1]);
    fputs(", \"dice\": ", r->log);
    json_num(r->log, sum[2]);
    if (r->cfg.loss.presence_weight > 0) {
        fputs(", \"presence\": ", r->log);
        json_num(r->log, sum[3]);
    }
    fputs(", \"lr\": ", r->log);
    json_num(r->log, lr);
    fputs(", \"grad_norm\": ", r->log);
    json_num(r->log, norm);
    double waited = rr_loader_waited(r->loader);
    fprintf(r->log, ", \"images\": %d, \"seconds\": %.4f, \"data_wait\": %.4f}\n", images, dt,
            waited - r->waited);
    r->waited = waited;
    fflush(r->log); /* readable as it grows (tail -f, plot_log.py) */
    if (skip)
        note(r, "step %" PRId64 ": %s is not finite; update skipped (%" PRId64 " in a row)", r->st.step,
             finite ? "the gradient norm" : "the loss", r->st.bad_streak);
    else
        progress(r, sum[0], lr);
    return skip;
}

static void log_event(run *r, const char *type, const char *extra)
{
    time_t t = time(NULL);
    char when[32];
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
    fprintf(r->log, "{\"type\": \"%s\", \"step\": %" PRId64 ", \"time\": \"%s\"%s}\n", type, r->st.step, when, extra);
    fflush(r->log);
}

static int loop(run *r)
{
    const rr_train_opts *o = &r->o;
    char extra[512];
    snprintf(extra, sizeof extra,
             ", \"resumed\": %s, \"model\": \"%s\", \"parameters\": %" PRId64 ", \"train_samples\": %zu, "
             "\"val_samples\": %zu, \"updates_per_epoch\": %" PRId64 ", \"total\": %" PRId64 ", \"device\": \"%s\", "
             "\"ranks\": %d",
             o->resume ? "true" : "false", r->cfg.name, rr_params_count(&r->m.params, NULL), r->train.n, r->val.n,
             r->per_epoch, r->total, rr_device_name(o->device), r->ranks);
    log_event(r, "start", extra);
    char on[48] = "";
    if (rr_dist_on())
        snprintf(on, sizeof on, " x %d rank%s", r->ranks, r->ranks > 1 ? "s" : "");
    note(r, "%s %s: %" PRId64 " parameters; %zu training samples, %" PRId64 " updates of %d x %d%s per epoch, %" PRId64
            " updates in all%s; %zu validation samples",
         o->resume ? "resuming" : "training", r->cfg.name, rr_params_count(&r->m.params, NULL), r->train.n,
         r->per_epoch, o->batch, o->accum, on, r->total, o->max_steps ? " (this run stops at max-steps)" : "",
         r->val.n);
    if (o->resume)
        note(r, "resuming at step %" PRId64 " (epoch %" PRId64 ", batch %" PRId64 ")", r->st.step, r->st.epoch,
             r->st.batch);
    r->t_begin = now();
    r->last_val = r->saved_at = -1;
    if (r->st.step < r->end && !(r->loader = rr_loader_open(&r->train, &r->lopts, r->st.epoch, r->st.batch)))
        return -1;
    if (o->started)
        o->started();
    const char *reason = NULL;
    while (r->st.step < r->end) {
        int stop = o->stop && *o->stop;
        if (rr_dist_agree(r->st.step, &stop)) /* a signal to any rank stops them all here */
            return -1;
        if (stop) {
            reason = "signal";
            break;
        }
        int rc = update(r);
        if (rc < 0)
            return rr_error_prefix("step %" PRId64 ": ", r->st.step + 1);
        if (o->check_every && r->st.step % o->check_every == 0 && check_same(r, "after this update"))
            return rr_error_prefix("step %" PRId64 ": ", r->st.step);
        if (rc == 1 && r->st.bad_streak >= o->max_bad_steps) {
            log_event(r, "end", ", \"reason\": \"bad_steps\"");
            rr_progress_end(&r->pg);
            int have = access(r->last, F_OK) == 0;
            return rr_error("%" PRId64 " updates in a row had a NaN or an Inf (steps %" PRId64 " to %" PRId64
                            "); stopping. %s%s",
                            r->st.bad_streak, r->st.step - r->st.bad_streak + 1, r->st.step,
                            have ? "The last checkpoint is as it was: " : "No checkpoint was written",
                            have ? r->last : "");
        }
        if (rc == 1) /* no validation or checkpoint of a skipped update: the last one stays the last good one */
            continue;
        int epoch_end = r->st.step % r->per_epoch == 0;
        int saved = 0;
        if (o->val_every ? r->st.step % o->val_every == 0 : epoch_end) {
            if ((rc = validate_and_save(r)) < 0)
                return -1;
            saved = rc == 0;
        }
        if (!saved && o->ckpt_every && r->st.step % o->ckpt_every == 0 && save_last(r))
            return -1;
    }
    if (reason) {
        /* a signal during a checkpoint's write: that one is the last */
        note(r, "stopping at step %" PRId64 " on a signal%s%s", r->st.step,
             r->saved_at == r->st.step ? "; written: " : "; writing ", r->last);
        if (r->saved_at != r->st.step && save_last(r))
            return -1;
    } else {
        reason = r->st.step >= r->total ? "done" : "max_steps";
        int rc = r->last_val == r->st.step ? 0 : validate_and_save(r);
        if (rc < 0 || (rc == 1 && save_last(r)))
            return -1;
    }
    char end[64];
    snprintf(end, sizeof end, ", \"reason\": \"%s\"", reason);
    log_event(r, "end", end);
    char took[32];
    hms(r->st.seconds, took, sizeof took);
    if (isnan(r->st.best))
        note(r, "%s at step %" PRId64 " after %s of training; no best %s yet", reason, r->st.step, took,
             rr_metric_name(o->best_metric));
    else
        note(r, "%s at step %" PRId64 " after %s of training; best %s %.4g at step %" PRId64 " (%s)", reason,
             r->st.step, took, rr_metric_name(o->best_metric), r->st.best, r->st.best_step, r->best);
    return 0;
}

static void teardown(run *r)
{
    rr_loader_close(r->loader);
    if (r->log)
        fclose(r->log);
    rr_ctx_free(&r->c);
    rr_ctx_free(&r->keep);
    if (r->rb)
        rr_dev_free(r->o.device, r->rb);
    free(r->rb_host);
    if (r->have_model) {
        rr_gradnorm_free(&r->gn);
        rr_adamw_free(&r->opt);
        rr_mrsnet_free(&r->m);
    }
    rr_manifest_free(&r->train);
    rr_manifest_free(&r->val);
    free(r->buf);
    free(r->buf_copy);
    free(r->training);
    free(r->train_path);
    free(r->val_path);
    free(r->logits);
    free(r->pred);
    free(r->iou);
    free(r->saved[0]);
    free(r->saved[1]);
    if (r->flat)
        rr_dev_free(r->o.device, r->flat);
    free(r->losses);
    free(r->bn_prev);
    free(r->bn_mine);
    free(r->bn_all);
    free(r->hash_buf);
    if (r->lock_fd >= 0)
        close(r->lock_fd);
}

int rr_train(const rr_train_opts *o)
{
    run *r = calloc(1, sizeof *r);
    if (!r)
        return rr_error("out of memory");
    r->o = *o;
    r->lock_fd = -1;
    r->rank = rr_dist_rank();
    r->ranks = rr_dist_size();
    rr_progress_init(&r->pg, r->rank == 0 ? o->progress : NULL, o->tty, 0); /* rank 0 alone speaks */
    int rc = setup(r);
    if (!rc)
        rc = loop(r);
    if (rc && r->ranks > 1)
        rr_error_prefix("rank %d: ", r->rank);
    rr_progress_end(&r->pg);
    teardown(r);
    free(r);
    return rc;
}

int rr_train_check(const char *path, FILE *out)
{
    rr_checkpoint ck;
    if (rr_checkpoint_open(&ck, path)) {
        rr_checkpoint_close(&ck);
        return -1;
    }
    const rr_train_state *s = &ck.state;
    fprintf(out,
            "{\"format\": \"%s\", \"model\": \"%s\", \"step\": %" PRId64 ", \"epoch\": %" PRId64 ", \"batch\": %" PRId64
            ", \"images\": %" PRId64 ", \"seconds\": %.3f, \"best\": ",
            RR_CHECKPOINT_FORMAT, ck.cfg.name, s->step, s->epoch, s->batch, s->images, s->seconds);
    json_num(out, s->best);
    fprintf(out, ", \"best_step\": %" PRId64 ", \"tensors\": %d, \"training\": %s}\n", s->best_step,
            rr_record_count(&ck.rec), ck.training);
    rr_checkpoint_close(&ck);
    return 0;
}
