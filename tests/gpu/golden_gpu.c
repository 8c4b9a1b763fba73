/* golden_gpu: the whole network on the GPU (tests/gpu/README).
 *
 *   golden_gpu parity [--tf32] [--dir DIR]
 *       mrsnet-nano against the PyTorch goldens (tests/unit/golden.c, the
 *       comparison tests/unit/test_mrsnet_golden.c runs on the CPU): every
 *       stage within 1e-4, every gradient within 1e-3, with TF32 off; run
 *       twice, and the two runs' gradients must be the same bits.  --tf32
 *       runs with TF32 on and reports only (tolerances 1e-2 and 5e-2).
 *   golden_gpu forward [--config FILE] [--size S] [--batch B] [--runs N]
 *       a forward of mrsnet-b (the default configuration; seeded weights) at
 *       its 480x480, timed: one warm-up, then N runs (default 5), each from
 *       the inputs on the device to the logits back on the host; the
 *       activation arena may not allocate after the first timed run.
 *   golden_gpu train [--config FILE] [--steps N] [--batch B] [--lr X]
 *       N (default 20) training steps of mrsnet-nano in process on fixed
 *       synthetic batches: forward, loss, backward, gradient norm, AdamW;
 *       in epochs of 5 steps, the 5th at a last, partial batch (B - 1),
 *       each followed by a validation forward at batch B + 1.  The losses
 *       and logits must stay finite, and after the first epoch nothing may
 *       allocate: no arena block, no cuFFT plan or work area (the three
 *       batch sizes have sized them all).  The summary names the way the
 *       fault slots were made (RRSIS_FAULT_SLOTS).
 * Every mode takes --device cuda (the default) or cpu, and --seed N.
 * Without a usable GPU, --device cuda prints "golden_gpu: no CUDA device: "
 * and the CUDA runtime's reason, and exits 1.  The last line is a summary; exit status 0 on success. */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../unit/golden.h"
#include "rr.h"
#include "nn/mrsnet.h"
#include "train/adamw.h"
#include "train/clip.h"
#include "ops/fft_plans.h"
#include "synth_batch.h"

static void die(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "golden_gpu: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

typedef struct {
    const char *mode, *dir, *config;
    rr_device dev;
    int tf32, size, batch, runs, steps;
    double lr;
    uint64_t seed;
} opts;

/* ---- parity ------------------------------------------------------------------- */

typedef struct {
    int rows, failed, print;
    double worst_stage, worst_grad;
    char worst_stage_name[192], worst_grad_name[192];
    uint64_t hash; /* of every parameter gradient and the logits */
    int hash_ok;
} parity;

static void parity_row(void *user, const char *name, double err, double tol, const char *why)
{
    parity *p = user;
    int ok = err <= tol, grad = strncmp(name, "grad", 4) == 0;
    p->rows++;
    p->failed += !ok;
    if (grad && !(err <= p->worst_grad) && strcmp(name, "gradient count")) {
        p->worst_grad = err;
        snprintf(p->worst_grad_name, sizeof p->worst_grad_name, "%s", name);
    } else if (!grad && !(err <= p->worst_stage) && strcmp(name, "gradient count")) {
        p->worst_stage = err;
        snprintf(p->worst_stage_name, sizeof p->worst_stage_name, "%s", name);
    }
    if (p->print)
        printf("golden %-52s %10.2e  %s%s%s\n", name, err, ok ? "ok" : "FAIL", *why ? ": " : "", why);
}

/* FNV-1a over bytes. */
static uint64_t fnv(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

static uint64_t hash_tensor(uint64_t h, const rr_tensor *t, int *ok)
{
    size_t n = rr_tensor_bytes(t);
    void *buf = malloc(n + 1);
    if (!buf || rr_to_host(buf, t)) {
        *ok = 0;
    } else {
        h = fnv(h, buf, n);
    }
    free(buf);
    return h;
}

static void parity_after(void *user, rr_mrsnet *m, rr_ctx *c, rr_tensor *logits)
{
    parity *p = user;
    uint64_t h = 0xcbf29ce484222325ull;
    int ok = 1;
    for (int i = 0; i < m->params.n; i++)
        if (m->params.items[i].t->grad)
            h = hash_tensor(h, m->params.items[i].t->grad, &ok);
    h = hash_tensor(h, logits, &ok);
    p->hash = h;
    p->hash_ok = ok;
}

static int run_parity(const opts *o)
{
    golden_opts g = GOLDEN_DEFAULTS;
    if (o->tf32) {
        g.stage_tol = 1e-2;
        g.grad_tol = 5e-2;
    }
    parity p[2];
    memset(p, 0, sizeof p);
    p[0].print = 1;
    g.row = parity_row;
    g.after = parity_after;
    double t0 = now();
    int rc[2];
    for (int run = 0; run < 2; run++) {
        g.user = &p[run];
        rc[run] = golden_mrsnet_run(o->dir, o->dev, &g);
        if (rc[run] < 0)
            die("parity: %s", rr_errmsg());
    }
    int same = p[0].hash_ok && p[1].hash_ok && p[0].hash == p[1].hash;
    if (!same)
        printf("FAIL: the gradients of two runs differ (not deterministic)\n");
    printf("golden_gpu: parity on %s, TF32 %s%s: %d tensors, %d over tolerance; worst stage %.2e (%s), worst "
           "gradient %.2e (%s); two runs %s; %.1f s\n",
           rr_device_describe(o->dev), o->tf32 ? "on" : "off", o->tf32 ? " (informational tolerances)" : "",
           p[0].rows, rc[0], p[0].worst_stage, p[0].worst_stage_name, p[0].worst_grad, p[0].worst_grad_name,
           same ? "bit-identical" : "DIFFER", now() - t0);
    return rc[0] == 0 && rc[1] == 0 && same ? 0 : 1;
}

/* ---- configuration ----------------------------------------------------------- */

static void load_config(const opts *o, rr_config *cfg, const char *fallback)
{
    const char *path = o->config ? o->config : fallback;
    if (path) {
        if (rr_config_load(cfg, path))
            die("%s", rr_errmsg());
    } else {
        rr_config_default(cfg);
    }
}

static int finite_all(const rr_tensor *t, int *ok)
{
    float *h = malloc((size_t)t->numel * sizeof *h + 4);
    *ok = 0;
    if (!h || rr_to_host(h, t)) {
        free(h);
        return -1;
    }
    *ok = 1;
    for (int64_t i = 0; i < t->numel; i++)
        if (!isfinite(h[i]))
            *ok = 0;
    free(h);
    return 0;
}

/* The GEMM mode of a timed run on CUDA: TF32 unless RRSIS_TF32=0 (device.cu). */
static const char *tf32_note(const opts *o)
{
    const char *s = getenv("RRSIS_TF32");
    if (o->dev != RR_CUDA)
        return "";
    return s && !strcmp(s, "0") ? ", TF32 off" : ", TF32 on";
}

/* ---- forward ------------------------------------------------------------------ */

static int run_forward(const opts *o)
{
    rr_config cfg;
    load_config(o, &cfg, NULL); /* mrsnet-b unless --config */
    if (o->size)
        cfg.image_size = o->size;
    int S = cfg.image_size, B = o->batch ? o->batch : 1, runs = o->runs ? o->runs : 5;
    double t0 = now();
    rr_mrsnet m;
    if (rr_mrsnet_init(&m, &cfg, RR_PART_ALL, o->dev, o->seed, 0))
        die("model: %s", rr_errmsg());
    double t_init = now() - t0;
    rr_ctx in, c;
    rr_ctx_init(&in, o->dev);
    rr_ctx_init(&c, o->dev);
    synth_batch b;
    if (synth_batch_make(&in, &cfg, B, S, o->seed + 1, &b))
        die("inputs: %s", rr_errmsg());
    float *host = malloc((size_t)B * cfg.num_classes * S * S * sizeof *host);
    double best = INFINITY, sum = 0;
    long mallocs_after_warmup = 0; /* after run 1 */
    int finite = 1;
    for (int run = 0; run <= runs; run++) { /* run 0: the warm-up */
        rr_ctx_reset(&c);
        double t = now();
        rr_tensor *logits = rr_mrsnet_fwd(&c, &m, b.img, b.ids, b.mask, NULL);
        if (!logits || !host || rr_to_host(host, logits))
            die("forward: %s", host ? rr_errmsg() : "out of memory");
        t = now() - t;
        for (int64_t i = 0; i < logits->numel; i++)
            finite &= isfinite(host[i]) != 0;
        if (run == 0) {
            printf("forward: warm-up %.1f ms\n", t * 1e3);
            continue;
        }
        /* the reset before run 1 merges the warm-up's blocks into one: count from after it */
        if (run == 1)
            mallocs_after_warmup = c.data.mallocs + c.meta.mallocs + rr_fft_plans_table()->allocs;
        printf("forward: run %d %.1f ms\n", run, t * 1e3);
        sum += t;
        if (t < best)
            best = t;
    }
    long extra = c.data.mallocs + c.meta.mallocs + rr_fft_plans_table()->allocs - mallocs_after_warmup;
    double mean = sum / runs;
    printf("golden_gpu: forward of %s (%.1f M parameters) at %dx%d, batch %d, on %s%s: %.1f ms mean, %.1f ms best "
           "of %d (%.1f images/s); activations peak %.0f MiB; %ld allocations (arena, cuFFT) after the first run; logits %s; "
           "model built in %.1f s\n",
           cfg.name, rr_params_count(&m.params, NULL) / 1e6, S, S, B, rr_device_describe(o->dev), tf32_note(o),
           mean * 1e3, best * 1e3, runs, B / mean, c.data.peak / 1048576.0, extra, finite ? "finite" : "NOT FINITE",
           t_init);
    free(host);
    rr_ctx_free(&c);
    rr_ctx_free(&in);
    rr_mrsnet_free(&m);
    return finite && extra == 0 ? 0 : 1;
}

/* ---- train -------------------------------------------------------------------- */

/* Device allocations so far: the arenas' blocks and cuFFT's plans and work area. */
static long allocations(const rr_ctx *c, const rr_mrsnet *m, const rr_adamw *opt)
{
    const rr_arena *a[] = {&c->data, &c->meta, &m->params.store.data, &m->params.store.meta, &opt->store.data,
                           &opt->store.meta};
    long n = rr_fft_plans_table()->allocs;
    for (size_t i = 0; i < sizeof a / sizeof *a; i++)
        n += a[i]->mallocs;
    return n;
}

/* The loop runs in epochs of EPOCH steps, as rrsis-train does: EPOCH - 1
 * steps at the training batch B, one at the last, partial batch, then a
 * validation forward (eval mode, no tape, the same context) at its own batch
 * size.  Three batch sizes, so three sets of activations and of cuFFT plans:
 * from the second epoch on nothing may allocate. */
#define EPOCH 5

static int run_train(const opts *o)
{
    rr_config cfg;
    load_config(o, &cfg, "share/configs/mrsnet-nano.json");
    int S = cfg.image_size, B = o->batch ? o->batch : 4, steps = o->steps ? o->steps : 20;
    int P = B > 1 ? B - 1 : 1, V = B + 1; /* the last partial batch, the validation batch */
    rr_mrsnet m;
    if (rr_mrsnet_init(&m, &cfg, RR_PART_ALL, o->dev, o->seed, 1))
        die("model: %s", rr_errmsg());
    rr_adamw opt;
    rr_gradnorm gn;
    if (rr_adamw_init(&opt, &m.params, &RR_ADAMW_DEFAULTS, 1.0) || rr_gradnorm_init(&gn, &m.params))
        die("optimizer: %s", rr_errmsg());
    rr_ctx in, c;
    rr_ctx_init(&in, o->dev);
    rr_ctx_init(&c, o->dev);
    c.seed = o->seed;
    synth_batch full, part, val;
    if (synth_batch_make(&in, &cfg, B, S, o->seed + 1, &full) || synth_batch_make(&in, &cfg, P, S, o->seed + 2, &part) ||
        synth_batch_make(&in, &cfg, V, S, o->seed + 3, &val))
        die("inputs: %s", rr_errmsg());
    float *host = malloc((size_t)V * cfg.num_classes * S * S * sizeof *host);
    if (!host)
        die("out of memory");
    /* Counted from the end of the first epoch (every batch size seen), or
     * from step 2 in a run shorter than an epoch. */
    int base_step = steps > EPOCH ? EPOCH : 2;
    double lr = o->lr > 0 ? o->lr : 1e-3, first = NAN, last = NAN, t_steps = 0;
    long base = 0, h2d = 0, d2h = 0;
    int finite = 1, timed = 0, counted = 0;
    for (int s = 1; s <= steps; s++) {
        int partial = s % EPOCH == 0;
        const synth_batch *b = partial ? &part : &full;
        long h2d0, d2h0, h2d1, d2h1;
        rr_dev_transfers(&h2d0, &d2h0);
        double t = now();
        rr_ctx_reset(&c);
        rr_ctx_grad(&c, 1);
        c.training = 1;
        rr_params_zero_grad(&m.params);
        rr_tensor *logits = rr_mrsnet_fwd(&c, &m, b->img, b->ids, b->mask, NULL);
        rr_tensor *loss = logits ? rr_mrsnet_loss(&c, &m, logits, b->target, NULL) : NULL;
        double norm = NAN;
        float l = NAN;
        if (!loss || rr_backward(&c, loss) || rr_gradnorm_compute(&gn, 1.0, &norm) ||
            rr_adamw_step(&opt, lr, 1.0f) || rr_to_host(&l, loss))
            die("step %d (batch %d): %s", s, partial ? P : B, rr_errmsg());
        t = now() - t;
        rr_dev_transfers(&h2d1, &d2h1);
        if (s > base_step) {
            h2d += h2d1 - h2d0;
            d2h += d2h1 - d2h0;
            counted++;
        }
        finite &= isfinite(l) && isfinite(norm);
        if (s == 1)
            first = l;
        last = l;
        if (s > 1 && !partial) {
            t_steps += t;
            timed++;
        }
        printf("train: step %2d batch %d loss %.6f grad norm %.4g %.1f ms\n", s, partial ? P : B, l, norm, t * 1e3);
        if (partial) { /* the end of an epoch: validation */
            rr_ctx_reset(&c);
            rr_ctx_grad(&c, 0);
            c.training = 0;
            rr_tensor *vl = rr_mrsnet_fwd(&c, &m, val.img, val.ids, val.mask, NULL);
            if (!vl || rr_to_host(host, vl))
                die("validation after step %d (batch %d): %s", s, V, rr_errmsg());
            for (int64_t i = 0; i < vl->numel; i++)
                finite &= isfinite(host[i]) != 0;
            printf("train: validation batch %d after step %d\n", V, s);
        }
        if (s == base_step)
            base = allocations(&c, &m, &opt);
    }
    long extra = steps >= base_step ? allocations(&c, &m, &opt) - base : 0;
    /* Copies between host and device in the counted steps: the inputs are on
     * the device already, so none in, and two out: the gradient norm and the
     * loss (rrsis-train reads both in one copy). */
    int copies_ok = o->dev != RR_CUDA || (h2d == 0 && d2h == 2L * counted);
    int pfinite = 1;
    for (int i = 0; i < m.params.n && pfinite; i++) {
        int ok;
        if (finite_all(m.params.items[i].t, &ok) || !ok)
            pfinite = 0;
    }
    double per = timed ? t_steps / timed : NAN;
    const char *slots = "-";
#ifdef RR_WITH_CUDA
    if (o->dev == RR_CUDA)
        slots = rr_cuda_fault_slots_way();
#endif
    printf("golden_gpu: %d training steps of %s (batch %d, every %dth step at %d, validation at batch %d after it; %dx%d) on %s%s: loss "
           "%.4f -> %.4f, %.1f ms/step (%.1f images/s) at batch %d after the first; %ld allocations (arenas, cuFFT) "
           "after step %d; %ld copies to the device and %ld to the host in steps %d-%d%s; fault slots %s; losses %s, "
           "weights %s\n",
           steps, cfg.name, B, EPOCH, P, V, S, S, rr_device_describe(o->dev), tf32_note(o), first, last, per * 1e3,
           B / per, B, extra, base_step, h2d, d2h, base_step + 1, steps, copies_ok ? "" : " (EXPECTED 0 and 2 per step)", slots,
           finite ? "finite" : "NOT FINITE", pfinite ? "finite" : "NOT FINITE");
    free(host);
    rr_gradnorm_free(&gn);
    rr_adamw_free(&opt);
    rr_ctx_free(&c);
    rr_ctx_free(&in);
    rr_mrsnet_free(&m);
    return finite && pfinite && extra == 0 && copies_ok ? 0 : 1;
}

static void usage(FILE *f)
{
    fprintf(f, "Usage: golden_gpu parity [--tf32] [--dir DIR]\n"
               "       golden_gpu forward [--config FILE] [--size S] [--batch B] [--runs N]\n"
               "       golden_gpu train [--config FILE] [--steps N] [--batch B] [--lr X]\n"
               "Common: --device cuda|cpu (default cuda), --seed N.  See tests/gpu/README.\n");
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    opts o = {.dir = "tests/golden/mrsnet-nano/", .dev = RR_CUDA, .seed = 2401};
    if (argc < 2 || !strcmp(argv[1], "--help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    o.mode = argv[1];
    if (strcmp(o.mode, "parity") && strcmp(o.mode, "forward") && strcmp(o.mode, "train")) {
        fprintf(stderr, "golden_gpu: unknown mode '%s'\n", o.mode);
        usage(stderr);
        return 2;
    }
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--tf32")) {
            o.tf32 = 1;
            continue;
        }
        if (!v) {
            fprintf(stderr, "golden_gpu: unknown argument or missing value: '%s'\n", a);
            return 2;
        }
        i++;
        if (!strcmp(a, "--device")) {
            if (!strcmp(v, "cpu"))
                o.dev = RR_CPU;
            else if (!strcmp(v, "cuda"))
                o.dev = RR_CUDA;
            else {
                fprintf(stderr, "golden_gpu: --device: '%s' is not cuda or cpu\n", v);
                return 2;
            }
        } else if (!strcmp(a, "--dir")) {
            o.dir = v;
        } else if (!strcmp(a, "--config")) {
            o.config = v;
        } else if (!strcmp(a, "--size")) {
            o.size = atoi(v);
        } else if (!strcmp(a, "--batch")) {
            o.batch = atoi(v);
        } else if (!strcmp(a, "--runs")) {
            o.runs = atoi(v);
        } else if (!strcmp(a, "--steps")) {
            o.steps = atoi(v);
        } else if (!strcmp(a, "--lr")) {
            o.lr = atof(v);
        } else if (!strcmp(a, "--seed")) {
            o.seed = strtoull(v, NULL, 0);
        } else {
            fprintf(stderr, "golden_gpu: unknown argument '%s'\n", a);
            return 2;
        }
    }
    if (o.dev == RR_CUDA && !rr_cuda_available()) {
        fprintf(stderr, "golden_gpu: no CUDA device: %s\n", rr_cuda_unavailable_reason());
        return 1;
    }
#ifdef RR_WITH_CUDA
    if (o.dev == RR_CUDA && !strcmp(o.mode, "parity")) /* an fp32 comparison: TF32 only when asked */
        rr_cuda_set_tf32(o.tf32);
#endif
    if (!strcmp(o.mode, "parity"))
        return run_parity(&o);
    if (!strcmp(o.mode, "forward"))
        return run_forward(&o);
    return run_train(&o);
}
