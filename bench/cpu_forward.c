/* CPU speed of the C implementation: two cases, each timed
 * after warm-up runs, the median of the timed runs printed.
 *
 *   b-infer     mrsnet-b inference at 480x480, batch 1: rr_mrsnet_fwd in eval
 *               mode, without the tape (the logits B x 2 x 480 x 480).
 *   nano-train  a mrsnet-nano training step at batch 8, 128x128: the gradients
 *               zeroed, rr_mrsnet_fwd in training mode with the tape (the
 *               configuration's dropout and DropPath on, BatchNorm on batch
 *               statistics), rr_mrsnet_loss, rr_backward.  No optimizer step.
 *
 * Each case has its context, reset after every run (its memory is kept, as in
 * a real loop).  Seeded random weights and inputs; the sentence is "the white
 * plane on the left" (8 ids, 12 pads).  bench/cpu_forward.py times the same in
 * the PyTorch reference; bench/cpu-forward.sh runs both and prints the ratios.
 *
 *   build/cpu/bench/cpu_forward [--threads N] [--runs N] [--warmup N]
 *                               [--case b-infer|nano-train] [--configs DIR]
 *
 * Stdout: one line per case, "CASE MEDIAN_S MIN_S MAX_S RUNS PEAK_RSS_MIB"
 * (seconds; the process's peak resident memory so far, getrusage's
 * ru_maxrss, so run one case per process to read it per case); progress on
 * stderr.  Run from the repository root. */
#include <cblas.h>
#include <omp.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "error.h"
#include "nn/mrsnet.h"
#include "tape.h"

static const char help[] =
    "Usage: cpu_forward [OPTION]...\n"
    "Times mrsnet-b inference at 480x480 (batch 1) and a mrsnet-nano training step\n"
    "(batch 8, forward + loss + backward) on the CPU; prints the median seconds.\n"
    "\n"
    "  --threads N    threads for OpenMP and OpenBLAS (default: every online CPU)\n"
    "  --runs N       timed runs per case (default 5)\n"
    "  --warmup N     untimed runs first (default 2: the arenas reach their size in the second)\n"
    "  --case NAME    only b-infer or nano-train\n"
    "  --configs DIR  where mrsnet-b.json and mrsnet-nano.json are (default share/configs)\n"
    "      --help     display this help and exit\n"
    "      --version  output version information and exit\n";

#define NTOK 20
/* [CLS] the white plane on the left [SEP], then [PAD]s */
static const int32_t sentence[] = {101, 1996, 2317, 4946, 2006, 1996, 2187, 102};

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static long minor_faults(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_minflt;
}

/* The peak resident memory of the process so far, MiB. */
static double peak_rss_mib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0; /* KiB on Linux */
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct {
    rr_mrsnet m;
    rr_tensor *img, *ids, *mask, *target; /* in `in`, never reset */
    rr_ctx in, step;
    int train;
} bench_case;

/* The model, inputs (normal image, the sentence per sample, a box as the
 * target) and the step's context. */
static int setup(bench_case *bc, const char *config, int batch, int train)
{
    rr_config cfg;
    if (rr_config_load(&cfg, config))
        return -1;
    memset(bc, 0, sizeof *bc);
    bc->train = train;
    if (rr_mrsnet_init(&bc->m, &cfg, RR_PART_ALL, RR_CPU, 2401, train))
        return -1;
    int64_t s = cfg.image_size, npix = (int64_t)batch * s * s;
    float *img = malloc((size_t)npix * 3 * sizeof *img);
    int32_t *ids = calloc((size_t)batch * NTOK, sizeof *ids), *mask = calloc((size_t)batch * NTOK, sizeof *mask);
    int32_t *target = calloc((size_t)npix, sizeof *target);
    if (!img || !ids || !mask || !target)
        return rr_error("out of memory");
    rr_rng rng = {.seed = 2402};
    for (int64_t i = 0; i < npix * 3; i++)
        img[i] = rr_rng_normal(&rng);
    for (int b = 0; b < batch; b++) {
        for (size_t t = 0; t < sizeof sentence / sizeof *sentence; t++) {
            ids[b * NTOK + t] = sentence[t];
            mask[b * NTOK + t] = 1;
        }
        for (int64_t y = s / 4; y < s / 2; y++)
            for (int64_t x = s / 8; x < s / 3; x++)
                target[(b * s + y) * s + x] = 1;
    }
    rr_ctx_init(&bc->in, RR_CPU);
    rr_ctx_init(&bc->step, RR_CPU);
    bc->img = rr_from_host(&bc->in, RR_F32, RR_SHAPE(batch, 3, s, s), img);
    bc->ids = rr_from_host(&bc->in, RR_I32, RR_SHAPE(batch, NTOK), ids);
    bc->mask = rr_from_host(&bc->in, RR_I32, RR_SHAPE(batch, NTOK), mask);
    bc->target = rr_from_host(&bc->in, RR_I32, RR_SHAPE(batch, s, s), target);
    free(img);
    free(ids);
    free(mask);
    free(target);
    if (!bc->img || !bc->ids || !bc->mask || !bc->target)
        return -1;
    rr_ctx_grad(&bc->step, train);
    bc->step.training = train;
    return 0;
}

/* One timed unit of work: inference, or zero_grad + forward + loss + backward. */
static int step(bench_case *bc)
{
    rr_ctx *c = &bc->step;
    if (bc->train)
        rr_params_zero_grad(&bc->m.params);
    rr_tensor *logits = rr_mrsnet_fwd(c, &bc->m, bc->img, bc->ids, bc->mask, NULL);
    int rc = logits ? 0 : -1;
    if (!rc && bc->train) {
        rr_tensor *loss = rr_mrsnet_loss(c, &bc->m, logits, bc->target, NULL);
        rc = loss ? rr_backward(c, loss) : -1;
    }
    rr_ctx_reset(c);
    return rc;
}

static void teardown(bench_case *bc)
{
    rr_ctx_free(&bc->step);
    rr_ctx_free(&bc->in);
    rr_mrsnet_free(&bc->m);
}

static void run_case(const char *name, const char *config, int batch, int train, int warmup, int runs)
{
    bench_case bc;
    if (setup(&bc, config, batch, train))
        rr_cli_die("%s: %s", name, rr_errmsg());
    fprintf(stderr, "cpu_forward: %s: model and inputs made, process peak %.0f MiB\n", name, peak_rss_mib());
    double *t = malloc((size_t)runs * sizeof *t);
    if (!t)
        rr_cli_die("out of memory");
    for (int i = 0; i < warmup + runs; i++) {
        double t0 = clock_s(CLOCK_MONOTONIC), cpu0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
        long f0 = minor_faults();
        if (step(&bc))
            rr_cli_die("%s: %s", name, rr_errmsg());
        double dt = clock_s(CLOCK_MONOTONIC) - t0, cpu = clock_s(CLOCK_PROCESS_CPUTIME_ID) - cpu0;
        fprintf(stderr,
                "cpu_forward: %s %s %d: %.3f s (CPU time %.3f s, %ld page faults; arena peak %.0f MiB, "
                "process peak %.0f MiB)\n",
                name, i < warmup ? "warm-up" : "run", i < warmup ? i + 1 : i - warmup + 1, dt, cpu, minor_faults() - f0,
                bc.step.data.peak / 1048576.0, peak_rss_mib());
        if (i >= warmup)
            t[i - warmup] = dt;
    }
    qsort(t, (size_t)runs, sizeof *t, cmp_double);
    double med = runs % 2 ? t[runs / 2] : 0.5 * (t[runs / 2 - 1] + t[runs / 2]);
    printf("%s %.4f %.4f %.4f %d %.0f\n", name, med, t[0], t[runs - 1], runs, peak_rss_mib());
    fflush(stdout);
    free(t);
    teardown(&bc);
}

int main(int argc, char **argv)
{
    rr_cli_init(argv);
    static const struct option opts[] = {{"threads", required_argument, NULL, 't'},
                                         {"runs", required_argument, NULL, 'r'},
                                         {"warmup", required_argument, NULL, 'w'},
                                         {"case", required_argument, NULL, 'c'},
                                         {"configs", required_argument, NULL, 'd'},
                                         RR_CLI_COMMON_OPTIONS,
                                         {NULL, 0, NULL, 0}};
    long threads = sysconf(_SC_NPROCESSORS_ONLN), runs = 5, warmup = 2;
    const char *only = NULL, *dir = "share/configs";
    int opt;
    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (opt) {
        case 't': threads = rr_cli_long("--threads", optarg, 1, 1024); break;
        case 'r': runs = rr_cli_long("--runs", optarg, 1, 1000); break;
        case 'w': warmup = rr_cli_long("--warmup", optarg, 0, 1000); break;
        case 'c':
            if (strcmp(optarg, "b-infer") && strcmp(optarg, "nano-train"))
                rr_cli_usage_error("--case: '%s' is neither b-infer nor nano-train", optarg);
            only = optarg;
            break;
        case 'd': dir = optarg; break;
        default: rr_cli_common_option(opt, help);
        }
    }
    if (optind < argc)
        rr_cli_usage_error("unexpected argument '%s'", argv[optind]);
    omp_set_num_threads((int)threads);
    openblas_set_num_threads((int)threads);
    fprintf(stderr, "cpu_forward: %ld threads (OpenBLAS kernels %s), %ld warm-up + %ld timed runs per case\n",
            threads, openblas_get_corename(), warmup, runs);
    char path[4096];
    if (!only || !strcmp(only, "b-infer")) {
        snprintf(path, sizeof path, "%s/mrsnet-b.json", dir);
        run_case("b-infer", path, 1, 0, (int)warmup, (int)runs);
    }
    if (!only || !strcmp(only, "nano-train")) {
        snprintf(path, sizeof path, "%s/mrsnet-nano.json", dir);
        run_case("nano-train", path, 8, 1, (int)warmup, (int)runs);
    }
    return 0;
}
