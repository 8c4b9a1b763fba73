/* The last step of the losses, shared by both backends: the per-sample sums
 * (loss.h's stats layouts) to the loss and, for Dice, the gradient
 * coefficients (in place).  The CPU runs them on the host; CUDA in one
 * thread on the device, so the loss never leaves the device (doc/architecture.md, Devices).
 * Sums in double, in sample order: the same bits on both. */
#ifndef RR_OPS_LOSS_COMBINE_H
#define RR_OPS_LOSS_COMBINE_H

#include <math.h>
#include <stdint.h>

#include "../rng.h" /* RR_HD */

/* The smoothing constant of RMSIN's Dice (doc/training.md, Loss). */
#define DICE_EPS 1e-6

static inline RR_HD float rr_ce2_combine(const float *stats, int64_t B)
{
    double num = 0, den = 0;
    for (int64_t b = 0; b < B; b++) {
        num += stats[2 * b];
        den += stats[2 * b + 1];
    }
    return (float)(num / den);
}

static inline RR_HD float rr_dice_combine(float *stats, int64_t B, int fg_only_nonempty)
{
    int64_t nonempty = 0;
    for (int64_t b = 0; b < B; b++)
        nonempty += stats[(2 * b + 1) * 5 + 2] > 0;
    double loss = 0;
    for (int64_t b = 0; b < B; b++)
        for (int c = 0; c < 2; c++) {
            float *s = stats + (2 * b + c) * 5;
            /* the weight of (1 - Dice[b,c]) in the loss */
            double k = !fg_only_nonempty ? 1 : c == 1 && s[2] > 0 ? 1.0 / (double)nonempty : 0;
            double num = 2.0 * s[0] + DICE_EPS, den = (double)s[1] + s[2] + DICE_EPS;
            loss += k * (1 - num / den);
            /* d(1 - num/den)/dp_c = -(2 t_c den - num) / den^2 */
            s[3] = (float)(-2 * k / den);
            s[4] = (float)(k * num / (den * den));
        }
    return (float)loss;
}

/* BCE-with-logits of each sample's margin s against y, averaged; stores
 * dL/ds = (sigmoid(s) - y) / B in the stats' fourth column. */
static inline RR_HD float rr_presence_combine(float *stats, int64_t B)
{
    double loss = 0;
    for (int64_t b = 0; b < B; b++) {
        float *st = stats + 4 * b;
        double s = st[0], y = st[2];
        /* softplus(s) - y s, with softplus(s) = max(s, 0) + log1p(exp(-|s|)) */
        loss += (s > 0 ? s : 0) + log1p(exp(-fabs(s))) - y * s;
        st[3] = (float)((1 / (1 + exp(-s)) - y) / (double)B);
    }
    return (float)(loss / (double)B);
}

#endif
