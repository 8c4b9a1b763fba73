#include "loss.h"

#include <math.h>

#include "../tape.h"
#include "check.h"
#include "loss_combine.h"

static inline int32_t target_at(const void *t, int i32, int64_t i)
{
    return i32 ? ((const int32_t *)t)[i] : ((const uint8_t *)t)[i];
}

static int check_target(const char *op, const void *t, int i32, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        if (target_at(t, i32, i) != 0 && target_at(t, i32, i) != 1)
            return rr_error("%s: target value %d at index %lld is not 0 or 1", op, target_at(t, i32, i),
                            (long long)i);
    return 0;
}

/* Softmax over the two logits of pixel i of a sample (x points at class 0;
 * class 1 is n further): p1 = sigmoid(x1 - x0). */
static inline void softmax2(const float *x, int64_t n, int64_t i, float *p0, float *p1)
{
    float d = x[n + i] - x[i];
    *p1 = 1.0f / (1.0f + expf(-d));
    *p0 = 1.0f / (1.0f + expf(d));
}

int rr_ce2_fwd_cpu(const float *logits, const void *target, int target_i32, int64_t B, int64_t n, float w0,
                   float w1, float *stats, float *loss)
{
    if (check_target("cross_entropy", target, target_i32, B * n))
        return -1;
#pragma omp parallel for
    for (int64_t b = 0; b < B; b++) {
        const float *x = logits + b * 2 * n;
        double num = 0, den = 0;
        for (int64_t i = 0; i < n; i++) {
            int t = target_at(target, target_i32, b * n + i);
            float x0 = x[i], x1 = x[n + i], m = fmaxf(x0, x1);
            /* log-sum-exp with the max taken out: one of the exps is 1 */
            float lse = m + log1pf(expf(-fabsf(x0 - x1)));
            float w = t ? w1 : w0;
            num += w * (lse - (t ? x1 : x0));
            den += w;
        }
        stats[2 * b] = (float)num;
        stats[2 * b + 1] = (float)den;
    }
    *loss = rr_ce2_combine(stats, B);
    return 0;
}

int rr_ce2_bwd_cpu(const float *logits, const void *target, int target_i32, int64_t B, int64_t n, float w0,
                   float w1, const float *stats, const float *dloss, float *dlogits)
{
    double den = 0;
    for (int64_t b = 0; b < B; b++)
        den += stats[2 * b + 1];
    float g = (float)(dloss[0] / den);
#pragma omp parallel for if (B * n > 16384)
    for (int64_t k = 0; k < B * n; k++) {
        int64_t b = k / n, i = k % n;
        const float *x = logits + b * 2 * n;
        float *dx = dlogits + b * 2 * n;
        int t = target_at(target, target_i32, k);
        float p0, p1, gw = g * (t ? w1 : w0);
        softmax2(x, n, i, &p0, &p1);
        dx[i] += gw * (p0 - (t == 0));
        dx[n + i] += gw * (p1 - (t == 1));
    }
    return 0;
}

int rr_dice_fwd_cpu(const float *logits, const void *target, int target_i32, int64_t B, int64_t n,
                    int fg_only_nonempty, float *stats, float *loss)
{
    if (check_target("dice", target, target_i32, B * n))
        return -1;
#pragma omp parallel for
    for (int64_t b = 0; b < B; b++) {
        const float *x = logits + b * 2 * n;
        double inter[2] = {0}, psum[2] = {0}, tsum[2] = {0};
        for (int64_t i = 0; i < n; i++) {
            int t = target_at(target, target_i32, b * n + i);
            float p[2];
            softmax2(x, n, i, &p[0], &p[1]);
            for (int c = 0; c < 2; c++) {
                int tc = t == c;
                inter[c] += tc ? p[c] : 0.0f;
                psum[c] += p[c];
                tsum[c] += tc;
            }
        }
        for (int c = 0; c < 2; c++) {
            float *s = stats + (2 * b + c) * 5;
            s[0] = (float)inter[c];
            s[1] = (float)psum[c];
            s[2] = (float)tsum[c];
        }
    }
    *loss = rr_dice_combine(stats, B, fg_only_nonempty);
    return 0;
}

int rr_dice_bwd_cpu(const float *logits, const void *target, int target_i32, int64_t B, int64_t n,
                    const float *stats, const float *dloss, float *dlogits)
{
#pragma omp parallel for if (B * n > 16384)
    for (int64_t k = 0; k < B * n; k++) {
        int64_t b = k / n, i = k % n;
        const float *x = logits + b * 2 * n, *s = stats + b * 10;
        float *dx = dlogits + b * 2 * n;
        int t = target_at(target, target_i32, k);
        float p0, p1;
        softmax2(x, n, i, &p0, &p1);
        /* dL/dp_c, then through the softmax: dL/dx_j = p_j (g_j - sum_c g_c p_c) */
        float g0 = dloss[0] * (s[3] * (t == 0) + s[4]), g1 = dloss[0] * (s[8] * (t == 1) + s[9]);
        float dot = g0 * p0 + g1 * p1;
        dx[i] += p0 * (g0 - dot);
        dx[n + i] += p1 * (g1 - dot);
    }
    return 0;
}

int rr_presence_fwd_cpu(const float *logits, const void *target, int target_i32, int64_t B, int64_t n,
                        float *stats, float *loss)
{
    if (check_target("presence", target, target_i32, B * n))
        return -1;
#pragma omp parallel for
    for (int64_t b = 0; b < B; b++) {
        const float *x = logits + b * 2 * n;
        float best = -INFINITY;
        int64_t at = 0;
        int y = 0;
        for (int64_t i = 0; i < n; i++) {
            float d = x[n + i] - x[i];
            if (d > best)
                best = d, at = i;
            y |= target_at(target, target_i32, b * n + i);
        }
        stats[4 * b] = best;
        stats[4 * b + 1] = (float)at;
        stats[4 * b + 2] = (float)y;
    }
    *loss = rr_presence_combine(stats, B);
    return 0;
}

int rr_presence_bwd_cpu(int64_t B, int64_t n, const float *stats, const float *dloss, float *dlogits)
{
    for (int64_t b = 0; b < B; b++) {
        int64_t at = (int64_t)stats[4 * b + 1];
        float g = dloss[0] * stats[4 * b + 3];
        dlogits[b * 2 * n + n + at] += g;
        dlogits[b * 2 * n + at] -= g;
    }
    return 0;
}

typedef struct {
    rr_tensor *stats;
    float w[2];
} loss_saved;

/* Checks the shapes and dtypes; sets the batch and the pixels per sample. */
static int check_inputs(const char *op, const rr_tensor *logits, const rr_tensor *target, int64_t *B,
                        int64_t *n)
{
    char s1[64], s2[64];
    if (rr_check_f32(op, logits))
        return -1;
    if (!target) /* the "input missing" message */
        return rr_check_dtype(op, target, RR_U8);
    if (target->dtype != RR_U8 && target->dtype != RR_I32)
        return rr_error("%s: target must be U8 or I32, got %s", op, rr_dtype_name(target->dtype));
    if (rr_check_same_device(op, logits, target))
        return -1;
    if (logits->ndim != 4 || logits->shape[1] != 2 || target->ndim != 3 ||
        target->shape[0] != logits->shape[0] || target->shape[1] != logits->shape[2] ||
        target->shape[2] != logits->shape[3])
        return rr_error("%s: expected logits Bx2xHxW and target BxHxW, got %s and %s", op,
                        rr_shape_str(logits, s1, sizeof s1), rr_shape_str(target, s2, sizeof s2));
    if (logits->numel == 0)
        return rr_error("%s: empty logits %s", op, rr_shape_str(logits, s1, sizeof s1));
    *B = logits->shape[0];
    *n = logits->shape[2] * logits->shape[3];
    return 0;
}

/* Records a loss on the tape, its stats saved for the backward; out or NULL. */
static rr_tensor *record(rr_ctx *c, const char *op, rr_backward_fn bw, rr_tensor *out, rr_tensor *logits,
                         rr_tensor *target, const loss_saved *s)
{
    int err;
    rr_node *nd = rr_tape_record(c, op, bw, out, 2, (rr_tensor *[]){logits, target}, sizeof *s, &err);
    if (err)
        return NULL;
    if (nd)
        *(loss_saved *)nd->saved = *s;
    return out;
}

static int ce_backward(rr_ctx *c, rr_node *n)
{
    const loss_saved *s = n->saved;
    rr_tensor *x = n->in[0], *t = n->in[1], *gx = rr_grad_of(c, x);
    if (!gx)
        return -1;
    return RR_BACKEND(x->device, rr_ce2_bwd, rr_f32(x), t->data, t->dtype == RR_I32, x->shape[0],
                      x->shape[2] * x->shape[3], s->w[0], s->w[1], rr_f32(s->stats), rr_f32(n->out->grad),
                      rr_f32(gx));
}

rr_tensor *rr_cross_entropy2(rr_ctx *c, rr_tensor *logits, rr_tensor *target, const float weight[2])
{
    int64_t B, n;
    if (check_inputs("cross_entropy", logits, target, &B, &n))
        return NULL;
    loss_saved s = {rr_new(c, RR_F32, RR_SHAPE(B, 2)), {weight[0], weight[1]}};
    rr_tensor *out = rr_new(c, RR_F32, 0, (int64_t[1]){0});
    if (!s.stats || !out ||
        RR_BACKEND(logits->device, rr_ce2_fwd, rr_f32(logits), target->data, target->dtype == RR_I32, B, n,
                   s.w[0], s.w[1], rr_f32(s.stats), rr_f32(out)))
        return NULL;
    return record(c, "cross_entropy", ce_backward, out, logits, target, &s);
}

static int dice_backward(rr_ctx *c, rr_node *n)
{
    const loss_saved *s = n->saved;
    rr_tensor *x = n->in[0], *t = n->in[1], *gx = rr_grad_of(c, x);
    if (!gx)
        return -1;
    return RR_BACKEND(x->device, rr_dice_bwd, rr_f32(x), t->data, t->dtype == RR_I32, x->shape[0],
                      x->shape[2] * x->shape[3], rr_f32(s->stats), rr_f32(n->out->grad), rr_f32(gx));
}

rr_tensor *rr_dice(rr_ctx *c, rr_tensor *logits, rr_tensor *target, int fg_only_nonempty)
{
    int64_t B, n;
    if (check_inputs("dice", logits, target, &B, &n))
        return NULL;
    loss_saved s = {rr_new(c, RR_F32, RR_SHAPE(B, 2, 5)), {0, 0}};
    rr_tensor *out = rr_new(c, RR_F32, 0, (int64_t[1]){0});
    if (!s.stats || !out ||
        RR_BACKEND(logits->device, rr_dice_fwd, rr_f32(logits), target->data, target->dtype == RR_I32, B, n,
                   fg_only_nonempty, rr_f32(s.stats), rr_f32(out)))
        return NULL;
    return record(c, "dice", dice_backward, out, logits, target, &s);
}

static int presence_backward(rr_ctx *c, rr_node *n)
{
    const loss_saved *s = n->saved;
    rr_tensor *x = n->in[0], *gx = rr_grad_of(c, x);
    if (!gx)
        return -1;
    return RR_BACKEND(x->device, rr_presence_bwd, x->shape[0], x->shape[2] * x->shape[3], rr_f32(s->stats),
                      rr_f32(n->out->grad), rr_f32(gx));
}

rr_tensor *rr_presence2(rr_ctx *c, rr_tensor *logits, rr_tensor *target)
{
    int64_t B, n;
    if (check_inputs("presence", logits, target, &B, &n))
        return NULL;
    if (n > (int64_t)1 << 24) {
        rr_error("presence: %lld pixels per sample, more than 2^24", (long long)n);
        return NULL;
    }
    loss_saved s = {rr_new(c, RR_F32, RR_SHAPE(B, 4)), {0, 0}};
    rr_tensor *out = rr_new(c, RR_F32, 0, (int64_t[1]){0});
    if (!s.stats || !out ||
        RR_BACKEND(logits->device, rr_presence_fwd, rr_f32(logits), target->data, target->dtype == RR_I32, B, n,
                   rr_f32(s.stats), rr_f32(out)))
        return NULL;
    return record(c, "presence", presence_backward, out, logits, target, &s);
}
