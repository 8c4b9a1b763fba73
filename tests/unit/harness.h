/* The unit-test harness: self-registering tests, checks, and the op table.
 *
 *   TEST(arena_reuses_memory) { CHECK(x == 1, "x is %d", x); }
 *
 * Op tests call check_forward (against a naive implementation written in
 * the test) and check_gradient (against central finite differences); both
 * record the op's worst relative error for the table printed at the end.
 * Each test prints "PASS: name" or "FAIL: name: why" (tests/run.sh counts). */
#ifndef RR_TEST_HARNESS_H
#define RR_TEST_HARNESS_H

#include <stdio.h>

#include "rr.h"

typedef void (*test_fn)(void);
void test_register(const char *name, test_fn fn);

#define TEST(name)                                                                   \
    static void name(void);                                                          \
    __attribute__((constructor)) static void register_##name(void) { test_register(#name, name); } \
    static void name(void)

/* Marks the running test failed (it goes on, so that one run shows all). */
void test_fail(const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
#define CHECK(cond, ...)                                                 \
    do {                                                                 \
        if (!(cond))                                                     \
            test_fail(__FILE__, __LINE__, __VA_ARGS__);                  \
    } while (0)
/* A library call that must succeed: fails the test with rr_errmsg(). */
#define CHECK_OK(expr) CHECK((expr) == 0, "%s: %s", #expr, rr_errmsg())
#define CHECK_NOTNULL(expr) CHECK((expr) != NULL, "%s: %s", #expr, rr_errmsg())

/* A fresh CPU context for a test, freed by the harness after the test. */
rr_ctx *test_ctx(void);
/* A tensor of standard normal values (seeded by `seed`). */
rr_tensor *test_randn(rr_ctx *c, uint64_t seed, int ndim, const int64_t *shape);
/* Uniform values in [lo, hi). */
rr_tensor *test_uniform(rr_ctx *c, uint64_t seed, float lo, float hi, int ndim, const int64_t *shape);

/* Fills an F32 tensor (a parameter, say) with std times the standard normal
 * values test_randn(seed) would hold. */
void test_fill_randn(rr_tensor *t, uint64_t seed, float std);
/* n tensors of the same first dimension B, each flattened to B x -1 and
 * concatenated: one output of a module with several (at most 8). */
rr_tensor *test_flat_concat(rr_ctx *c, int n, rr_tensor *const *ts);

/* ||got - want|| / max(||want||, 1e-12), in double. */
double rel_error(const float *got, const double *want, int64_t n);
double rel_error_f(const float *got, const float *want, int64_t n);

/* Forward check: got against a naive result; records the error for `op`. */
void check_forward(const char *op, const rr_tensor *got, const double *want, double tol);

/* A function of tensors to differentiate: builds its output with ops. */
typedef rr_tensor *(*grad_fn)(rr_ctx *c, rr_tensor *const *in, const void *arg);

/* Gradient check: for every input with requires_grad set, the tape's
 * gradient of L = sum(f(in) * W), W a fixed random tensor, against central
 * differences (step h, L accumulated in double) on every element (at most
 * 400 sampled ones for a big input).  Records the worst error for `op`. */
void check_gradient(const char *op, grad_fn f, const void *arg, int nin, rr_tensor *const *in,
                    double tol);
/* Same with an explicit step (ops with a kink need a small one). */
void check_gradient_h(const char *op, grad_fn f, const void *arg, int nin, rr_tensor *const *in,
                      double tol, double h);

/* Runs a test's op-table bookkeeping without a check: marks an op as
 * having no backward (integer outputs, say) so the table says so. */
void note_no_backward(const char *op, const char *why);

#endif
