/* The whole network against the PyTorch reference, on any device: the
 * golden tensors of mrsnet-nano (tests/golden/mrsnet-nano/, written by
 * `make goldens`) compared with a forward, loss and backward of the C model.
 * tests/unit/test_mrsnet_golden.c runs it on the CPU, tests/gpu/golden_gpu.c
 * on CUDA; this file has no dependency on the unit-test harness.
 *
 * Every compared tensor is reported through a callback with its relative
 * error (norm of the difference over the norm of the reference; NaN never
 * passes) and its tolerance:
 *   stages (names as the trace's) and BatchNorm's running statistics
 *   ("bn_running.PARAM")                                  stage_tol (1e-4)
 *   the gradients of the loss with respect to the stages
 *   ("grad.NAME") and every parameter's gradient            grad_tol (1e-3)
 *   a parameter whose gradient is zero in exact arithmetic (grads' metadata
 *   "null_grads" and "unused"): |g| / |whole gradient|      null_tol (1e-5)
 * and a row "gradient count" that fails when the goldens do not hold one
 * gradient for every trainable parameter. */
#ifndef RR_TEST_GOLDEN_H
#define RR_TEST_GOLDEN_H

#include "rr.h"
#include "nn/mrsnet.h"

typedef struct {
    double stage_tol, grad_tol, null_tol;
    /* One compared tensor: why is "" or a reason (a missing tensor, a size
     * mismatch, what the error measures). */
    void (*row)(void *user, const char *name, double err, double tol, const char *why);
    /* Optional: called after the backward, before anything is freed, with
     * the model, the step's context and the logits. */
    void (*after)(void *user, rr_mrsnet *m, rr_ctx *c, rr_tensor *logits);
    void *user;
} golden_opts;

#define GOLDEN_DEFAULTS ((golden_opts){.stage_tol = 1e-4, .grad_tol = 1e-3, .null_tol = 1e-5})

/* Loads the goldens of dir ("tests/golden/mrsnet-nano/", with the slash),
 * builds the model on device d with the golden weights and dropout off,
 * runs the forward (training mode: BatchNorm on batch statistics), the loss
 * and the backward, and reports every compared tensor through o->row.
 * Returns the number of rows over their tolerance, or -1 with a message
 * (rr_errmsg) when the comparison could not run. */
int golden_mrsnet_run(const char *dir, rr_device d, const golden_opts *o);

/* ||got - want|| / max(||want||, 1e-12) in double; INFINITY when either
 * holds a NaN. */
double golden_rel_error(const float *got, const float *want, int64_t n);

#endif
