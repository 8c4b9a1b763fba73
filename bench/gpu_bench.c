/* gpu_bench: our side of the GPU benchmark (bench/gpu.sh runs it
 * beside bench/gpu_torch.py, the PyTorch reference, and compares them).
 *
 *   gpu_bench train [--config FILE] [--size S] [--batch B] [--warmup W] [--steps N]
 *       training steps on a fixed synthetic batch (default mrsnet-b,
 *       480x480, batch 8, 2 warm-up and 5 timed steps), in process: the
 *       gradients zeroed, rr_mrsnet_fwd in training mode (dropout, DropPath
 *       and batch-statistics BatchNorm as configured), rr_mrsnet_loss,
 *       rr_backward, the global gradient norm (the trainer's finiteness
 *       check) and AdamW (the groups of doc/training.md, lr 1e-5), then the loss read back
 *       to the host, which waits for the GPU.  This is rrsis-train's update
 *       (train/trainer.c) without its data loader, logging and checkpoints,
 *       so that both sides time the same work on the same in-memory batch.
 *   gpu_bench infer [--config FILE] [--size S] [--batch B] [--warmup W] [--runs N]
 *       inference (default batch 1, 3 warm-up and 10 timed runs): eval mode,
 *       no tape, rr_mrsnet_fwd, the logits copied to the host.
 *   gpu_bench flops [--config FILE] [--size S] [--batch B] [--gpu NAME]
 *       the network's FLOPs per part (nn/flops.h), and the peak rates of the
 *       GPU NAME (default: the CUDA device's name, when there is one).
 * Common: --device cuda|cpu (default cuda), --seed N (default 2401).
 *
 * The last line of train and infer is machine-readable:
 *   gpu_bench: RESULT side=ours mode=train config=mrsnet-b size=480 batch=8 steps=5
 *     ms_median=... ms_mean=... ms_best=... ips=... peak_mib=... reserved_mib=...
 *     device_mib=... flops=... finite=1 tf32=1
 * ms_* are per step (per forward for infer); ips images per second from the
 * median; peak_mib the sum of the arenas' peaks on the device (weights and
 * their gradients, AdamW's moments, the step's activations, the inputs; the
 * counterpart of torch.cuda.max_memory_allocated), reserved_mib the arenas'
 * blocks (of max_memory_reserved), device_mib the growth of the device's used
 * memory from before the model to the end (cudaMemGetInfo; cuBLAS and cuFFT
 * workspaces included; -1 without CUDA); flops the counted FLOPs of one step
 * (3 x forward for train; nn/flops.h).  Run from the repository root. */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef RR_WITH_CUDA
#include <cuda_runtime_api.h>
#endif

#include "rr.h"
#include "nn/flops.h"
#include "nn/mrsnet.h"
#include "train/adamw.h"
#include "train/clip.h"
#include "../tests/gpu/synth_batch.h"

static void die(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "gpu_bench: ");
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
    const char *mode, *config, *gpu;
    rr_device dev;
    int size, batch, warmup, steps;
    uint64_t seed;
} opts;

/* ---- memory ------------------------------------------------------------------- */

static size_t arena_reserved(const rr_arena *a)
{
    size_t n = 0;
    for (const rr_arena_block *b = a->head; b; b = b->next)
        n += b->size;
    return n;
}

/* Used device memory (bytes), or -1 without CUDA. */
static double device_used(rr_device d)
{
#ifdef RR_WITH_CUDA
    size_t free_b = 0, total = 0;
    if (d == RR_CUDA && cudaMemGetInfo(&free_b, &total) == cudaSuccess)
        return (double)(total - free_b);
#endif
    (void)d;
    return -1;
}

static void device_init(rr_device d)
{
#ifdef RR_WITH_CUDA
    if (d == RR_CUDA)
        cudaFree(0); /* the context, before the baseline of device_used */
#endif
    (void)d;
}

/* ---- configuration ----------------------------------------------------------- */

static void load_config(const opts *o, rr_config *cfg)
{
    if (o->config) {
        if (rr_config_load(cfg, o->config))
            die("%s", rr_errmsg());
    } else {
        rr_config_default(cfg); /* mrsnet-b */
    }
    if (o->size) {
        cfg->image_size = o->size;
        if (rr_config_check(cfg))
            die("--size %d: %s", o->size, rr_errmsg());
    }
}

/* ---- timing ------------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct {
    double median, mean, best;
} stats;

static stats summarise(double *t, int n)
{
    stats s = {NAN, NAN, NAN};
    if (n < 1)
        return s;
    double sum = 0;
    for (int i = 0; i < n; i++)
        sum += t[i];
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    s.median = n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
    s.mean = sum / n;
    s.best = t[0];
    return s;
}

static int tf32_on(const opts *o)
{
    const char *s = getenv("RRSIS_TF32");
    return o->dev == RR_CUDA && !(s && !strcmp(s, "0"));
}

static void result(const opts *o, const rr_config *cfg, int B, int n, stats st, double peak, double reserved,
                   double dev_used, int64_t flops, int finite)
{
    const double mib = 1048576.0;
    printf("gpu_bench: DEVICE %s\n", rr_device_describe(o->dev));
    printf("gpu_bench: RESULT side=ours mode=%s config=%s size=%d batch=%d steps=%d ms_median=%.3f ms_mean=%.3f "
           "ms_best=%.3f ips=%.3f peak_mib=%.1f reserved_mib=%.1f device_mib=%.1f flops=%lld finite=%d tf32=%d\n",
           o->mode, cfg->name, cfg->image_size, B, n, st.median * 1e3, st.mean * 1e3, st.best * 1e3, B / st.median,
           peak / mib, reserved / mib, dev_used < 0 ? -1.0 : dev_used / mib, (long long)flops, finite, tf32_on(o));
}

/* ---- train -------------------------------------------------------------------- */

static int run_train(const opts *o)
{
    rr_config cfg;
    load_config(o, &cfg);
    int S = cfg.image_size, B = o->batch ? o->batch : 8, W = o->warmup >= 0 ? o->warmup : 2,
        N = o->steps ? o->steps : 5;
    rr_flops fl;
    if (rr_flops_count(&cfg, B, &fl))
        die("flops: %s", rr_errmsg());
    device_init(o->dev);
    double base = device_used(o->dev), t0 = now();
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
    synth_batch b;
    if (synth_batch_make(&in, &cfg, B, S, o->seed + 1, &b))
        die("inputs: %s", rr_errmsg());
    fprintf(stderr, "gpu_bench: %s (%.1f M parameters) on %s, built in %.1f s\n", cfg.name,
            rr_params_count(&m.params, NULL) / 1e6, rr_device_describe(o->dev), now() - t0);
    double *t = calloc((size_t)N, sizeof *t);
    if (!t)
        die("out of memory");
    int finite = 1;
    for (int s = 0; s < W + N; s++) {
        double ts = now();
        rr_ctx_reset(&c);
        rr_ctx_grad(&c, 1);
        c.training = 1;
        rr_params_zero_grad(&m.params);
        rr_tensor *logits = rr_mrsnet_fwd(&c, &m, b.img, b.ids, b.mask, NULL);
        rr_tensor *loss = logits ? rr_mrsnet_loss(&c, &m, logits, b.target, NULL) : NULL;
        double norm = NAN;
        float l = NAN;
        if (!loss || rr_backward(&c, loss) || rr_gradnorm_compute(&gn, 1.0, &norm) ||
            rr_adamw_step(&opt, 1e-5, 1.0f) || rr_to_host(&l, loss))
            die("step %d: %s", s + 1, rr_errmsg());
        ts = now() - ts;
        finite &= isfinite(l) && isfinite(norm);
        if (s >= W)
            t[s - W] = ts;
        fprintf(stderr, "gpu_bench: train %s %d: loss %.5f, gradient norm %.4g, %.1f ms\n",
                s < W ? "warm-up" : "step", s < W ? s + 1 : s - W + 1, l, norm, ts * 1e3);
    }
    double dev_used = device_used(o->dev);
    double peak = (double)c.data.peak + (double)in.data.peak + (double)m.params.store.data.peak +
                  (double)opt.store.data.peak + ((double)gn.n + 1) * sizeof(double);
    double reserved = (double)arena_reserved(&c.data) + (double)arena_reserved(&in.data) +
                      (double)arena_reserved(&m.params.store.data) + (double)arena_reserved(&opt.store.data) +
                      ((double)gn.n + 1) * sizeof(double);
    fprintf(stderr, "gpu_bench: arena peaks MiB: step %.1f, inputs %.1f, weights and gradients %.1f, AdamW %.1f\n",
            c.data.peak / 1048576.0, in.data.peak / 1048576.0, m.params.store.data.peak / 1048576.0,
            opt.store.data.peak / 1048576.0);
    stats st = summarise(t, N);
    result(o, &cfg, B, N, st, peak, reserved, dev_used < 0 || base < 0 ? -1 : dev_used - base, fl.train_step,
           finite);
    free(t);
    rr_gradnorm_free(&gn);
    rr_adamw_free(&opt);
    rr_ctx_free(&c);
    rr_ctx_free(&in);
    rr_mrsnet_free(&m);
    return finite ? 0 : 1;
}

/* ---- infer -------------------------------------------------------------------- */

static int run_infer(const opts *o)
{
    rr_config cfg;
    load_config(o, &cfg);
    int S = cfg.image_size, B = o->batch ? o->batch : 1, W = o->warmup >= 0 ? o->warmup : 3,
        N = o->steps ? o->steps : 10;
    rr_flops fl;
    if (rr_flops_count(&cfg, B, &fl))
        die("flops: %s", rr_errmsg());
    device_init(o->dev);
    double base = device_used(o->dev), t0 = now();
    rr_mrsnet m;
    if (rr_mrsnet_init(&m, &cfg, RR_PART_ALL, o->dev, o->seed, 0))
        die("model: %s", rr_errmsg());
    rr_ctx in, c;
    rr_ctx_init(&in, o->dev);
    rr_ctx_init(&c, o->dev);
    synth_batch b;
    if (synth_batch_make(&in, &cfg, B, S, o->seed + 1, &b))
        die("inputs: %s", rr_errmsg());
    fprintf(stderr, "gpu_bench: %s (%.1f M parameters) on %s, built in %.1f s\n", cfg.name,
            rr_params_count(&m.params, NULL) / 1e6, rr_device_describe(o->dev), now() - t0);
    float *host = malloc((size_t)B * cfg.num_classes * S * S * sizeof *host);
    double *t = calloc((size_t)N, sizeof *t);
    if (!host || !t)
        die("out of memory");
    int finite = 1;
    for (int s = 0; s < W + N; s++) {
        double ts = now();
        rr_ctx_reset(&c);
        rr_tensor *logits = rr_mrsnet_fwd(&c, &m, b.img, b.ids, b.mask, NULL);
        if (!logits || rr_to_host(host, logits))
            die("forward %d: %s", s + 1, rr_errmsg());
        ts = now() - ts;
        for (int64_t i = 0; i < logits->numel; i++)
            finite &= isfinite(host[i]) != 0;
        if (s >= W)
            t[s - W] = ts;
        fprintf(stderr, "gpu_bench: infer %s %d: %.2f ms\n", s < W ? "warm-up" : "run", s < W ? s + 1 : s - W + 1,
                ts * 1e3);
    }
    double dev_used = device_used(o->dev);
    double peak = (double)c.data.peak + (double)in.data.peak + (double)m.params.store.data.peak;
    double reserved = (double)arena_reserved(&c.data) + (double)arena_reserved(&in.data) +
                      (double)arena_reserved(&m.params.store.data);
    stats st = summarise(t, N);
    result(o, &cfg, B, N, st, peak, reserved, dev_used < 0 || base < 0 ? -1 : dev_used - base, fl.forward, finite);
    free(t);
    free(host);
    rr_ctx_free(&c);
    rr_ctx_free(&in);
    rr_mrsnet_free(&m);
    return finite ? 0 : 1;
}

/* ---- flops -------------------------------------------------------------------- */

static int run_flops(const opts *o)
{
    rr_config cfg;
    load_config(o, &cfg);
    int B = o->batch ? o->batch : 1;
    rr_flops f;
    if (rr_flops_count(&cfg, B, &f))
        die("flops: %s", rr_errmsg());
    double g = 2e9 * B; /* FLOPs -> GMAC per image */
    printf("%s at %dx%d: forward GMAC per image (FLOPs = 2 x MACs; doc/network.md, Parameters and cost)\n", cfg.name,
           cfg.image_size, cfg.image_size);
    printf("  %-26s %10.3f\n", "Swin (embed+blocks+merges)", f.swin / g);
    printf("  %-26s %10.3f\n", "  patch embed", f.patch_embed / g);
    for (int i = 0; i < 4; i++) {
        char label[32];
        snprintf(label, sizeof label, "  blocks, stage %d", i + 1);
        printf("  %-26s %10.3f\n", label, f.swin_stage[i] / g);
    }
    printf("  %-26s %10.3f\n", "  patch merging x3", f.merges / g);
    printf("  %-26s %10.3f\n", "IFIM x4 (with gates)", f.ifim / g);
    printf("  %-26s %10.3f\n", "  PSR", f.ifim_psr / g);
    printf("  %-26s %10.3f\n", "  CSR", f.ifim_csr / g);
    printf("  %-26s %10.3f\n", "  CMA", f.ifim_cma / g);
    printf("  %-26s %10.3f\n", "  AFF", f.ifim_aff / g);
    printf("  %-26s %10.3f\n", "  tanh gates", f.ifim_gate / g);
    printf("  %-26s %10.3f\n", "  PWAM (LAVT's fusion)", f.ifim_pwam / g);
    printf("  %-26s %10.3f\n", "  IIM's visual branch", f.ifim_visual / g);
    printf("  %-26s %10.3f\n", "HFIM (or CIM)", f.hfim / g);
    printf("  %-26s %10.3f\n", "  local", f.hfim_local / g);
    printf("  %-26s %10.3f\n", "  global", f.hfim_global / g);
    printf("  %-26s %10.3f\n", "  frequency", f.hfim_freq / g);
    printf("  %-26s %10.3f\n", "  fusion", f.hfim_fuse / g);
    printf("  %-26s %10.3f\n", "  CIM (RMSIN's)", f.hfim_cim / g);
    printf("  %-26s %10.3f\n", "decoder (with ARC)", f.decoder / g);
    printf("  %-26s %10.3f\n", "  conv1_4/1_3/1_2", f.decoder_conv / g);
    printf("  %-26s %10.3f\n", "  ARC convs", f.decoder_arc / g);
    printf("  %-26s %10.3f\n", "  routing", f.decoder_routing / g);
    printf("  %-26s %10.3f\n", "  conv1_1", f.decoder_head / g);
    printf("  %-26s %10.3f\n", "BERT", f.bert / g);
    printf("  %-26s %10.3f  (%.4g GFLOP)\n", "forward", f.forward / g, f.forward / 1e9 / B);
    printf("  %-26s %10.3f  (%.4g GFLOP; 3 x forward)\n", "training step", f.train_step / g,
           f.train_step / 1e9 / B);
    printf("  %-26s %10.3f  GFLOP (FFTs, ARC kernel synthesis; in no total)\n", "not counted",
           f.not_counted / 1e9 / B);
    const char *name = o->gpu;
    if (!name && o->dev == RR_CUDA && rr_cuda_available())
        name = rr_device_describe(RR_CUDA);
    const rr_gpu_peak *p = rr_gpu_peak_find(name);
    if (p)
        printf("peak of %s: FP32 %.1f, TF32 %.1f, BF16 %.1f TFLOP/s dense (%s)\n", p->card, p->fp32, p->tf32,
               p->bf16, p->source);
    printf("gpu_bench: FLOPS config=%s size=%d batch=%d forward=%lld train_step=%lld swin=%lld ifim=%lld hfim=%lld "
           "decoder=%lld bert=%lld not_counted=%lld peak_fp32=%.1f peak_tf32=%.1f peak_bf16=%.1f\n",
           cfg.name, cfg.image_size, B, (long long)f.forward, (long long)f.train_step, (long long)f.swin,
           (long long)f.ifim, (long long)f.hfim, (long long)f.decoder, (long long)f.bert, (long long)f.not_counted,
           p ? p->fp32 : 0, p ? p->tf32 : 0, p ? p->bf16 : 0);
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f, "Usage: gpu_bench train [--config FILE] [--size S] [--batch B] [--warmup W] [--steps N]\n"
               "       gpu_bench infer [--config FILE] [--size S] [--batch B] [--warmup W] [--runs N]\n"
               "       gpu_bench flops [--config FILE] [--size S] [--batch B] [--gpu NAME]\n"
               "Common: --device cuda|cpu (default cuda), --seed N.  See bench/gpu.sh.\n");
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    opts o = {.dev = RR_CUDA, .seed = 2401, .warmup = -1};
    if (argc < 2 || !strcmp(argv[1], "--help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    o.mode = argv[1];
    if (strcmp(o.mode, "train") && strcmp(o.mode, "infer") && strcmp(o.mode, "flops")) {
        fprintf(stderr, "gpu_bench: unknown mode '%s'\n", o.mode);
        usage(stderr);
        return 2;
    }
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            fprintf(stderr, "gpu_bench: unknown argument or missing value: '%s'\n", a);
            return 2;
        }
        i++;
        if (!strcmp(a, "--device")) {
            if (!strcmp(v, "cpu"))
                o.dev = RR_CPU;
            else if (!strcmp(v, "cuda"))
                o.dev = RR_CUDA;
            else {
                fprintf(stderr, "gpu_bench: --device: '%s' is not cuda or cpu\n", v);
                return 2;
            }
        } else if (!strcmp(a, "--config")) {
            o.config = v;
        } else if (!strcmp(a, "--gpu")) {
            o.gpu = v;
        } else if (!strcmp(a, "--size")) {
            o.size = atoi(v);
        } else if (!strcmp(a, "--batch")) {
            o.batch = atoi(v);
        } else if (!strcmp(a, "--warmup")) {
            o.warmup = atoi(v);
        } else if (!strcmp(a, "--steps") || !strcmp(a, "--runs")) {
            o.steps = atoi(v);
        } else if (!strcmp(a, "--seed")) {
            o.seed = strtoull(v, NULL, 0);
        } else {
            fprintf(stderr, "gpu_bench: unknown argument '%s'\n", a);
            return 2;
        }
    }
    if (o.batch < 0 || o.steps < 0 || o.size < 0) {
        fprintf(stderr, "gpu_bench: --batch, --steps and --size must be positive\n");
        return 2;
    }
    if (!strcmp(o.mode, "flops"))
        return run_flops(&o);
    if (o.dev == RR_CUDA && !rr_cuda_available()) {
        fprintf(stderr, "gpu_bench: no CUDA device: %s\n", rr_cuda_unavailable_reason());
        return 1;
    }
    return !strcmp(o.mode, "train") ? run_train(&o) : run_infer(&o);
}
