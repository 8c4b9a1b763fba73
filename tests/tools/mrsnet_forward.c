/* One forward of the C model against a forward of the PyTorch reference:
 * the files tools/reference/make_goldens.py --forward-only writes (weights
 * with the configuration in their metadata, inputs, and the reference's
 * stages, eval mode).  tests/cli/test_mrsnet_b.sh runs it for mrsnet-b at
 * 480x480.
 *
 *   mrsnet_forward [--sides FILE] WEIGHTS INPUTS STAGES [TOL]
 *
 * Runs the forward in eval mode (BatchNorm on its running statistics, no
 * dropout) with the trace, and compares every tensor of STAGES: the trace's
 * tensor of that name, or for "bn_running.NAME" the model's buffer NAME.
 * err = ||c - ref|| / ||ref|| (golden_rel_error); a tensor passes when err <=
 * max(TOL, 4 * its float32-vs-float64 difference when the stages' metadata
 * has one, f64_rel_diff).  TOL defaults to 1e-4.
 *
 * The PSR's phases (NAME.psr.P{s}) are compared modulo 2 pi: P = atan2(Im Z,
 * Re Z) jumps by 2 pi where Im Z changes sign with Re Z < 0, and where Im Z
 * is within float32 noise of 0 (mrsnet-b: inputs 1e-6 apart moved an Im Z
 * of -1.3e-6 to +2.8e-7) the two sides are equally right, yet the choice
 * moves everything downstream by ~1e-3.  An entry on
 * the other side of the cut than the reference's (a difference over pi) is
 * excused when both values are within PHASE_CUT_MARGIN of the cut and it is
 * not a self-conjugate bin (there P is exactly 0 or pi in both); those go to
 * the sides file (JSON: {NAME: [flat indices]}), for make_goldens.py
 * --phase-sides to put the reference on the C side, and the comparison
 * downstream is then done again on that reference.  Any other jump fails.
 *
 * Stdout: one row per tensor ("NAME ERR ok|FAIL [why]"), then a summary.
 * Exit status: 0 when every tensor passes, 1 when one fails, 2 when the
 * comparison cannot run, 3 when phases lie on the other side of the cut
 * (written to the sides file) and nothing else failed among the phases. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../unit/golden.h"
#include "error.h"
#include "io/safetensors.h"
#include "nn/mrsnet.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The float32-vs-float64 difference of name in the stages' metadata, or 0. */
static double f64_diff(const cJSON *diffs, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(diffs, name);
    return cJSON_IsNumber(v) ? v->valuedouble : 0.0;
}

/* tools/reference/mrsnet.py's PHASE_CUT_MARGIN: how close to atan2's cut
 * (radians) an entry must be, in both, for its side to be in doubt. */
#define PHASE_CUT_MARGIN 1e-3

/* 1 at the self-conjugate bins (0 or h/2 for even h, 0 or w/2 for even w) of
 * an h x w spectrum. */
static int selfconj(int64_t u, int64_t v, int64_t h, int64_t w)
{
    return (u == 0 || 2 * u == h) && (v == 0 || 2 * v == w);
}

/* The relative error of a phase tensor (..., h, w) with differences taken
 * modulo 2 pi; the flat indices of the entries across the cut within the
 * margin are appended to `sides`, the other jumps counted in *stray. */
static double phase_error(const float *got, const float *want, int64_t n, int64_t h, int64_t w, cJSON *sides,
                          int64_t *stray)
{
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++) {
        if (isnan(got[i]) || isnan(want[i]))
            return INFINITY;
        double d = (double)got[i] - want[i];
        if (fabs(d) > M_PI) {
            if (!selfconj(i / w % h, i % w, h, w) && M_PI - fabs(got[i]) <= PHASE_CUT_MARGIN &&
                M_PI - fabs(want[i]) <= PHASE_CUT_MARGIN)
                cJSON_AddItemToArray(sides, cJSON_CreateNumber((double)i));
            else
                (*stray)++;
            d -= copysign(2 * M_PI, d);
        }
        num += d * d;
        den += (double)want[i] * want[i];
    }
    return sqrt(num) / fmax(sqrt(den), 1e-12);
}

static int die(const char *what)
{
    fprintf(stderr, "mrsnet_forward: %s: %s\n", what, rr_errmsg());
    return 2;
}

int main(int argc, char **argv)
{
    const char *sides_path = NULL;
    if (argc > 2 && strcmp(argv[1], "--sides") == 0) {
        sides_path = argv[2];
        argc -= 2;
        argv += 2;
    }
    if (argc < 4 || argc > 5) {
        fprintf(stderr, "usage: mrsnet_forward [--sides FILE] WEIGHTS INPUTS STAGES [TOL]\n");
        return 2;
    }
    double tol = argc > 4 ? atof(argv[4]) : 1e-4;
    double t0 = now();
    rr_mrsnet m;
    if (rr_mrsnet_load(&m, argv[1], RR_PART_ALL, RR_CPU, 0, 0, NULL))
        return die("weights");
    rr_record in, st;
    rr_record_init(&in);
    rr_record_init(&st);
    if (rr_safetensors_load(argv[2], &in))
        return die("inputs");
    if (rr_safetensors_load(argv[3], &st))
        return die("stages");
    const char *meta = rr_record_meta(&st, "f64_rel_diff");
    cJSON *diffs = meta ? cJSON_Parse(meta) : NULL;

    rr_ctx c, scratch;
    rr_ctx_init(&c, RR_CPU);
    rr_ctx_init(&scratch, RR_CPU);
    c.training = 0; /* eval: BatchNorm on the running statistics, as the reference's eval() */
    rr_tensor *img = rr_record_to_tensor(&c, &in, "image", RR_F32);
    rr_tensor *ids = rr_record_to_tensor(&c, &in, "input_ids", RR_I32);
    rr_tensor *mask = rr_record_to_tensor(&c, &in, "attention_mask", RR_I32);
    if (!img || !ids || !mask)
        return die("inputs");
    rr_trace *tr = calloc(1, sizeof *tr);
    if (!tr) {
        rr_error("out of memory");
        return die("trace");
    }
    double t1 = now();
    if (!rr_mrsnet_fwd(&c, &m, img, ids, mask, tr))
        return die("forward");
    double t2 = now();
    fprintf(stderr, "mrsnet_forward: %s: load %.1f s, forward %.1f s (%lldx%lld, batch %lld)\n", m.cfg.name,
            t1 - t0, t2 - t1, (long long)img->shape[2], (long long)img->shape[3], (long long)img->shape[0]);

    cJSON *sides = cJSON_CreateObject();
    int64_t nsides = 0;
    int failed = 0, phase_failed = 0, n = rr_record_count(&st);
    double worst = 0;
    const char *worst_name = "";
    for (int i = 0; i < n; i++) {
        const rr_entry *e = rr_record_entry(&st, i);
        const rr_tensor *t;
        if (strncmp(e->name, "bn_running.", 11) == 0) {
            rr_param *p = rr_params_find(&m.params, e->name + 11);
            t = p ? p->t : NULL;
        } else {
            t = rr_trace_get(tr, e->name);
        }
        rr_tensor *ref = rr_entry_to_tensor(&scratch, e, RR_F32);
        char why[160] = "";
        double err = INFINITY;
        if (!t)
            snprintf(why, sizeof why, "not produced by the C model");
        else if (!ref)
            snprintf(why, sizeof why, "%s", rr_errmsg());
        else if (t->numel != ref->numel)
            snprintf(why, sizeof why, "%lld elements, the reference has %lld", (long long)t->numel,
                     (long long)ref->numel);
        else if (strstr(e->name, ".psr.P") && t->ndim >= 2) {
            cJSON *idx = cJSON_CreateArray();
            int64_t stray = 0;
            err = phase_error(rr_f32(t), rr_f32(ref), t->numel, t->shape[t->ndim - 2], t->shape[t->ndim - 1], idx,
                              &stray);
            int k = cJSON_GetArraySize(idx);
            if (stray)
                snprintf(why, sizeof why, "%lld entries jump by 2 pi away from atan2's cut (or at a "
                         "self-conjugate bin)", (long long)stray);
            else if (k)
                snprintf(why, sizeof why, "%d entries on the other side of atan2's cut (within %g of it)", k,
                         PHASE_CUT_MARGIN);
            if (k)
                cJSON_AddItemToObject(sides, e->name, idx);
            else
                cJSON_Delete(idx);
            nsides += k;
            if (stray)
                err = INFINITY;
        } else
            err = golden_rel_error(rr_f32(t), rr_f32(ref), t->numel);
        double lim = fmax(tol, 4 * f64_diff(diffs, e->name));
        int ok = err <= lim;
        failed += !ok;
        phase_failed += !ok && strstr(e->name, ".psr.P");
        if (!(err <= worst)) { /* NaN and inf count as the worst */
            worst = err;
            worst_name = e->name;
        }
        printf("%-48s %10.2e  %s%s%s\n", e->name, err, ok ? "ok" : "FAIL", *why ? ": " : "", why);
        rr_ctx_reset(&scratch);
    }
    int status = failed ? 1 : 0;
    if (nsides && !phase_failed) {
        /* Downstream of those entries the two forwards differ by design:
         * this comparison says nothing until the reference takes the same sides. */
        char *text = cJSON_PrintUnformatted(sides);
        FILE *f = sides_path && text ? fopen(sides_path, "w") : NULL;
        int wrote = f && fprintf(f, "%s\n", text) > 0;
        if (f && fclose(f))
            wrote = 0;
        free(text);
        if (sides_path && !wrote) {
            fprintf(stderr, "mrsnet_forward: cannot write %s\n", sides_path);
            status = 2;
        } else
            status = 3;
        printf("%lld phase entries on the other side of atan2's cut%s%s\n", (long long)nsides,
               sides_path ? ", listed in " : "", sides_path ? sides_path : "");
    }
    printf("%d of %d tensors within %.0e; worst %.2e (%s)\n", n - failed, n, tol, worst, worst_name);
    cJSON_Delete(diffs);
    cJSON_Delete(sides);
    free(tr);
    rr_ctx_free(&scratch);
    rr_ctx_free(&c);
    rr_record_free(&st);
    rr_record_free(&in);
    rr_mrsnet_free(&m);
    return status;
}
