#include "harness.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TESTS 1024
#define MAX_OPS 256

static struct {
    const char *name;
    test_fn fn;
} tests[MAX_TESTS];
static int ntests;

typedef struct {
    const char *op;
    double fwd, bwd; /* worst relative errors; -1: not checked */
    int failed;
    const char *no_backward;
} op_row;
static op_row ops[MAX_OPS];
static int nops;

static const char *current;
static int current_failed;
static rr_ctx *current_ctx;

void test_register(const char *name, test_fn fn)
{
    if (ntests == MAX_TESTS) {
        fprintf(stderr, "harness: too many tests\n");
        exit(2);
    }
    tests[ntests].name = name;
    tests[ntests++].fn = fn;
}

void test_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    if (!current_failed)
        printf("FAIL: %s: ", current);
    else
        printf("      also: ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf(" (%s:%d)\n", file, line);
    current_failed = 1;
}

rr_ctx *test_ctx(void)
{
    if (!current_ctx) {
        current_ctx = malloc(sizeof *current_ctx);
        rr_ctx_init(current_ctx, RR_CPU);
    }
    return current_ctx;
}

rr_tensor *test_uniform(rr_ctx *c, uint64_t seed, float lo, float hi, int ndim, const int64_t *shape)
{
    rr_tensor *t = rr_new(c, RR_F32, ndim, shape);
    rr_rng r = {seed, 0};
    for (int64_t i = 0; t && i < t->numel; i++)
        rr_f32(t)[i] = lo + (hi - lo) * rr_rng_uniform(&r);
    return t;
}

rr_tensor *test_randn(rr_ctx *c, uint64_t seed, int ndim, const int64_t *shape)
{
    rr_tensor *t = rr_new(c, RR_F32, ndim, shape);
    rr_rng r = {seed, 0};
    for (int64_t i = 0; t && i < t->numel; i++)
        rr_f32(t)[i] = rr_rng_normal(&r);
    return t;
}

void test_fill_randn(rr_tensor *t, uint64_t seed, float std)
{
    rr_rng r = {seed, 0};
    for (int64_t i = 0; i < t->numel; i++)
        rr_f32(t)[i] = std * rr_rng_normal(&r);
}

rr_tensor *test_flat_concat(rr_ctx *c, int n, rr_tensor *const *ts)
{
    rr_tensor *flat[8];
    if (n > 8 || !ts[0])
        return NULL;
    for (int i = 0; i < n; i++)
        flat[i] = rr_reshape(c, ts[i], RR_SHAPE(ts[0]->shape[0], -1));
    return rr_concat(c, n, flat, 1);
}

double rel_error(const float *got, const double *want, int64_t n)
{
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = (double)got[i] - want[i];
        if (isnan(got[i]) || isnan(want[i]))
            return INFINITY; /* NaN never passes */
        num += d * d;
        den += want[i] * want[i];
    }
    return sqrt(num) / fmax(sqrt(den), 1e-12);
}

double rel_error_f(const float *got, const float *want, int64_t n)
{
    double *w = malloc((size_t)(n ? n : 1) * sizeof *w);
    for (int64_t i = 0; i < n; i++)
        w[i] = want[i];
    double e = rel_error(got, w, n);
    free(w);
    return e;
}

static int op_index(const char *op)
{
    for (int i = 0; i < nops; i++)
        if (strcmp(ops[i].op, op) == 0)
            return i;
    if (nops == MAX_OPS) {
        fprintf(stderr, "harness: too many ops\n");
        exit(2);
    }
    ops[nops].op = op;
    ops[nops].fwd = ops[nops].bwd = -1;
    return nops++;
}

void note_no_backward(const char *op, const char *why) { ops[op_index(op)].no_backward = why; }

void check_forward(const char *op, const rr_tensor *got, const double *want, double tol)
{
    int k = op_index(op);
    if (!got) {
        test_fail(__FILE__, __LINE__, "%s forward: %s", op, rr_errmsg());
        ops[k].failed = 1;
        return;
    }
    double e = rel_error(rr_f32(got), want, got->numel);
    if (e > ops[k].fwd)
        ops[k].fwd = e;
    if (!(e <= tol)) {
        ops[k].failed = 1;
        test_fail(__FILE__, __LINE__, "%s forward: relative error %.3g > %.3g", op, e, tol);
    }
}

/* sum(out * w) in double. */
static double weighted_sum(const rr_tensor *out, const float *w)
{
    double s = 0;
    for (int64_t i = 0; i < out->numel; i++)
        s += (double)rr_f32(out)[i] * w[i];
    return s;
}

void check_gradient(const char *op, grad_fn f, const void *arg, int nin, rr_tensor *const *in, double tol)
{
    check_gradient_h(op, f, arg, nin, in, tol, 1e-2);
}

void check_gradient_h(const char *op, grad_fn f, const void *arg, int nin, rr_tensor *const *in,
                      double tol, double h)
{
    int k = op_index(op);
    rr_ctx g, e;
    rr_ctx_init(&g, RR_CPU);
    rr_ctx_init(&e, RR_CPU);
    rr_ctx_grad(&g, 1);
    g.training = e.training = 1;
    for (int i = 0; i < nin; i++)
        if (in[i]) /* optional inputs (a bias) may be NULL */
            in[i]->grad = NULL;

    rr_tensor *out = f(&g, in, arg);
    if (!out) {
        test_fail(__FILE__, __LINE__, "%s: forward failed: %s", op, rr_errmsg());
        ops[k].failed = 1;
        goto done;
    }
    rr_tensor *w = test_randn(&g, 977, out->ndim, out->shape);
    if (rr_backward_from(&g, out, w) != 0) {
        test_fail(__FILE__, __LINE__, "%s: backward failed: %s", op, rr_errmsg());
        ops[k].failed = 1;
        goto done;
    }
    for (int i = 0; i < nin; i++) {
        rr_tensor *x = in[i];
        if (!x || !x->requires_grad)
            continue;
        int64_t n = x->numel, m = n <= 400 ? n : 400;
        float *ana = malloc((size_t)m * sizeof *ana);
        double *num = malloc((size_t)m * sizeof *num);
        rr_rng pick = {31 + (uint64_t)i, 0};
        for (int64_t j = 0; j < m; j++) {
            int64_t idx = m == n ? j : (int64_t)(rr_rng_next(&pick) % (uint64_t)n);
            ana[j] = x->grad ? rr_f32(x->grad)[idx] : 0.0f;
            float *p = &rr_f32(x)[idx], keep = *p;
            double l[2];
            for (int s = 0; s < 2; s++) {
                *p = keep + (float)(s ? -h : h);
                e.rng_offset = 0; /* the same dropout draw as the taped run */
                rr_tensor *o = f(&e, in, arg);
                l[s] = o ? weighted_sum(o, rr_f32(w)) : NAN;
                rr_ctx_reset(&e);
            }
            *p = keep;
            num[j] = (l[0] - l[1]) / (2 * h);
        }
        double err = rel_error(ana, num, m);
        if (err > ops[k].bwd)
            ops[k].bwd = err;
        if (!(err <= tol)) {
            ops[k].failed = 1;
            test_fail(__FILE__, __LINE__, "%s backward, input %d: relative error %.3g > %.3g", op, i,
                      err, tol);
        }
        free(ana);
        free(num);
    }
done:
    for (int i = 0; i < nin; i++)
        if (in[i]) /* optional inputs (a bias) may be NULL */
            in[i]->grad = NULL;
    rr_ctx_free(&g);
    rr_ctx_free(&e);
}

static int cmp_ops(const void *a, const void *b)
{
    return strcmp(((const op_row *)a)->op, ((const op_row *)b)->op);
}

static void print_table(void)
{
    if (!nops)
        return;
    qsort(ops, (size_t)nops, sizeof ops[0], cmp_ops);
    printf("\n%-24s %12s %12s  %s\n", "op", "forward", "backward", "status");
    for (int i = 0; i < nops; i++) {
        char f[32] = "-", b[32] = "-";
        if (ops[i].fwd >= 0)
            snprintf(f, sizeof f, "%.2e", ops[i].fwd);
        if (ops[i].bwd >= 0)
            snprintf(b, sizeof b, "%.2e", ops[i].bwd);
        else if (ops[i].no_backward)
            snprintf(b, sizeof b, "n/a");
        printf("%-24s %12s %12s  %s%s%s\n", ops[i].op, f, b, ops[i].failed ? "FAIL" : "ok",
               ops[i].no_backward ? ": " : "", ops[i].no_backward ? ops[i].no_backward : "");
    }
    printf("\n");
}

int main(int argc, char **argv)
{
    /* Optional filter: run only tests whose names contain argv[1]. */
    const char *filter = argc > 1 ? argv[1] : NULL;
    int failed = 0, run = 0;
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (int i = 0; i < ntests; i++) {
        if (filter && !strstr(tests[i].name, filter))
            continue;
        current = tests[i].name;
        current_failed = 0;
        rr_error_clear();
        tests[i].fn();
        if (current_ctx) {
            rr_ctx_free(current_ctx);
            free(current_ctx);
            current_ctx = NULL;
        }
        run++;
        if (current_failed)
            failed++;
        else
            printf("PASS: %s\n", current);
    }
    print_table();
    fprintf(stderr, "unit: %d tests, %d failed\n", run, failed);
    return failed ? 1 : 0;
}
