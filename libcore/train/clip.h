/* The global gradient norm, and clipping by it (torch.nn.utils.
 * clip_grad_norm_ with the L2 norm).
 *
 * The norm is over the gradients of the parameters the optimizer updates
 * (not frozen ones, not buffers), summed in double in a fixed order, so it
 * is the same bits on every run and every thread count.  It doubles as the
 * finiteness check of a step: it is NaN or Inf exactly when some gradient
 * element is (a square of a finite float cannot overflow a double).
 * Clipping itself is folded into the optimizer's gradient scale
 * (rr_adamw_step's gscale), so no gradient is rewritten. */
#ifndef RR_TRAIN_CLIP_H
#define RR_TRAIN_CLIP_H

#include <stdint.h>

#include "../nn/params.h"
#include "../ops/backend.h"

typedef struct {
    rr_device device;
    int n;
    rr_tensor **grads;
    double *sums; /* n sums of squares and their total, on the device */
} rr_gradnorm;

/* For the trainable (not frozen, not buffer) parameters of p. */
int rr_gradnorm_init(rr_gradnorm *g, const rr_params *p);
void rr_gradnorm_free(rr_gradnorm *g);
/* The sum of the squares of every gradient element into *out, one double in
 * the device's memory: no copy, no wait (the trainer reads it with the
 * losses, in the step's one copy to the host).  The norm is its root. */
int rr_gradnorm_sumsq(rr_gradnorm *g, double *out);
/* ||scale * gradients||_2 into *norm (host memory): rr_gradnorm_sumsq and
 * one copy. */
int rr_gradnorm_compute(rr_gradnorm *g, double scale, double *norm);

/* The factor clip_grad_norm_ multiplies the gradients by:
 * min(1, max_norm / (norm + 1e-6)); 1 when max_norm <= 0 (no clipping). */
double rr_clip_coef(double norm, double max_norm);

/* *out (device memory, like x) = the sum of x[i]^2 in double, in an order
 * fixed by n alone. */
RR_KERNEL(rr_sumsq_f32, (const float *x, int64_t n, double *out));
/* *out (device memory, like x) = x[0] + ... + x[n-1], added in that order. */
RR_KERNEL(rr_sum_f64, (const double *x, int64_t n, double *out));

#endif
