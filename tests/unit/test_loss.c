/* The MRSNet loss terms: weighted cross-entropy, Dice and presence on
 * 2-class logits. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static const float ce_weight[2] = {0.9f, 1.1f}; /* doc/training.md, Loss */

typedef struct {
    int dice, fg_only, presence;
} loss_arg;

static rr_tensor *apply_loss(rr_ctx *c, rr_tensor *const *in, const void *arg)
{
    const loss_arg *l = arg;
    return l->presence ? rr_presence2(c, in[0], in[1])
           : l->dice   ? rr_dice(c, in[0], in[1], l->fg_only)
                       : rr_cross_entropy2(c, in[0], in[1], ce_weight);
}

static int tgt(const rr_tensor *t, int64_t i) { return t->dtype == RR_I32 ? rr_i32(t)[i] : rr_u8(t)[i]; }

/* Naive, in double, straight from the formulas of doc/training.md, Loss; x holds the
 * logits (B, 2, n) in double so that the test can differentiate it finely. */
static double naive_ce(const double *x, const rr_tensor *t, int64_t B, int64_t n)
{
    double num = 0, den = 0;
    for (int64_t b = 0; b < B; b++)
        for (int64_t i = 0; i < n; i++) {
            double x0 = x[b * 2 * n + i], x1 = x[b * 2 * n + n + i];
            int c = tgt(t, b * n + i);
            double nll = log(exp(x0) + exp(x1)) - (c ? x1 : x0);
            num += ce_weight[c] * nll;
            den += ce_weight[c];
        }
    return num / den;
}

static double naive_dice(const double *x, const rr_tensor *t, int64_t B, int64_t n, int fg_only)
{
    int64_t nonempty = 0;
    double sum = 0, fg = 0;
    for (int64_t b = 0; b < B; b++)
        for (int c = 0; c < 2; c++) {
            double inter = 0, ps = 0, ts = 0;
            for (int64_t i = 0; i < n; i++) {
                double x0 = x[b * 2 * n + i], x1 = x[b * 2 * n + n + i];
                double p = exp(c ? x1 : x0) / (exp(x0) + exp(x1));
                int tc = tgt(t, b * n + i) == c;
                inter += p * tc;
                ps += p;
                ts += tc;
            }
            double dice = (2 * inter + 1e-6) / (ps + ts + 1e-6);
            sum += 1 - dice;
            if (c == 1 && ts > 0) {
                fg += 1 - dice;
                nonempty++;
            }
        }
    return fg_only ? (nonempty ? fg / (double)nonempty : 0) : sum;
}

/* Mean over samples of BCE-with-logits(max margin, target not empty). */
static double naive_presence(const double *x, const rr_tensor *t, int64_t B, int64_t n)
{
    double sum = 0;
    for (int64_t b = 0; b < B; b++) {
        double s = -INFINITY;
        int y = 0;
        for (int64_t i = 0; i < n; i++) {
            s = fmax(s, x[b * 2 * n + n + i] - x[b * 2 * n + i]);
            y |= tgt(t, b * n + i);
        }
        double p = 1 / (1 + exp(-s));
        sum += -(y ? log(p) : log(1 - p));
    }
    return sum / (double)B;
}

static double naive_loss(const loss_arg *l, const double *x, const rr_tensor *t, int64_t B, int64_t n)
{
    return l->presence ? naive_presence(x, t, B, n)
           : l->dice   ? naive_dice(x, t, B, n, l->fg_only)
                       : naive_ce(x, t, B, n);
}

/* The float loss's finite differences are coarse (its rounding over a step
 * of h); this checks the tape's gradient against the naive loss's central
 * differences in double as well. */
static void check_gradient_double(const char *name, const loss_arg *l, rr_tensor *x, rr_tensor *t)
{
    int64_t B = x->shape[0], n = x->shape[2] * x->shape[3];
    rr_ctx g;
    rr_ctx_init(&g, RR_CPU);
    rr_ctx_grad(&g, 1);
    rr_tensor *loss = apply_loss(&g, (rr_tensor *[]){x, t}, l);
    CHECK_OK(rr_backward(&g, loss));
    enum { STEP = 7 }; /* every 7th logit: both classes, every sample */
    int64_t m = (x->numel + STEP - 1) / STEP;
    double *xd = malloc((size_t)x->numel * sizeof *xd), *num = malloc((size_t)m * sizeof *num);
    float *ana = malloc((size_t)m * sizeof *ana);
    for (int64_t i = 0; i < x->numel; i++)
        xd[i] = rr_f32(x)[i];
    for (int64_t j = 0; j < m; j++) {
        int64_t i = j * STEP;
        double keep = xd[i], h = 1e-5;
        xd[i] = keep + h;
        double up = naive_loss(l, xd, t, B, n);
        xd[i] = keep - h;
        num[j] = (up - naive_loss(l, xd, t, B, n)) / (2 * h);
        xd[i] = keep;
        ana[j] = x->grad ? rr_f32(x->grad)[i] : NAN;
    }
    double e = rel_error(ana, num, m);
    free(ana);
    CHECK(e < 1e-5, "%s: gradient against double differences: relative error %.3g", name, e);
    x->grad = NULL;
    free(xd);
    free(num);
    rr_ctx_free(&g);
}

TEST(loss_cross_entropy_and_dice)
{
    rr_ctx *c = test_ctx();
    for (int i32 = 0; i32 < 2; i32++)
        for (int kind = 0; kind < 4; kind++) {
            loss_arg arg = {kind == 1 || kind == 2, kind == 2, kind == 3};
            rr_tensor *x = test_randn(c, 60 + i32, RR_SHAPE(3, 2, 15, 15));
            rr_tensor *t = rr_new(c, i32 ? RR_I32 : RR_U8, RR_SHAPE(3, 15, 15));
            rr_rng r = {70 + (uint64_t)i32, 0};
            for (int64_t i = 0; i < t->numel; i++) {
                /* sample 1 has no foreground: the fg-only Dice skips it,
                   presence wants it absent */
                int v = i / 225 == 1 ? 0 : rr_rng_uniform(&r) < 0.3f;
                if (i32)
                    rr_i32(t)[i] = v;
                else
                    rr_u8(t)[i] = (uint8_t)v;
            }
            const char *name = arg.presence ? "presence" : arg.dice ? "dice" : "cross_entropy";
            rr_tensor *l = apply_loss(c, (rr_tensor *[]){x, t}, &arg);
            CHECK(l && l->numel == 1 && l->ndim == 0, "%s: a 0-dimensional loss", name);
            double *xd = malloc((size_t)x->numel * sizeof *xd);
            for (int64_t i = 0; i < x->numel; i++)
                xd[i] = rr_f32(x)[i];
            double want = naive_loss(&arg, xd, t, 3, 225);
            free(xd);
            check_forward(name, l, &want, 1e-5);
            x->requires_grad = 1;
            /* a step larger than usual: the loss is a mean of 675 pixels, and
             * its float rounding dominates the differences of a small step */
            check_gradient_h(name, apply_loss, &arg, 2, (rr_tensor *[]){x, t}, 1e-2, 5e-2);
            check_gradient_double(name, &arg, x, t);
        }
}

/* 1x2x1x2 logits (0.5, -1) for class 0 and (1.5, 2) for class 1, target
 * (0, 1); the expected values were computed with Python's math module. */
TEST(loss_hand_computed)
{
    rr_ctx *c = test_ctx();
    rr_tensor *x = rr_from_host(c, RR_F32, RR_SHAPE(2, 2, 1, 2), (float[]){0.5f, -1, 1.5f, 2, 3, -2, 0, 1});
    rr_tensor *t = rr_from_host(c, RR_U8, RR_SHAPE(2, 1, 2), (uint8_t[]){0, 1, 0, 0});
    rr_tensor *x1 = rr_from_host(c, RR_F32, RR_SHAPE(1, 2, 1, 2), rr_f32(x));
    rr_tensor *t1 = rr_from_host(c, RR_U8, RR_SHAPE(1, 1, 2), rr_u8(t));
    rr_tensor *ce = rr_cross_entropy2(c, x1, t1, ce_weight), *dice = rr_dice(c, x1, t1, 0);
    /* the second sample has an empty target: the fg-only Dice is sample 0's 1 - Dice[0,1] */
    rr_tensor *fg = rr_dice(c, x, t, 1);
    CHECK(ce && fabs(rr_f32(ce)[0] - 0.6176908027) < 1e-6, "cross_entropy %.9f, want 0.6176908027",
          ce ? rr_f32(ce)[0] : NAN);
    CHECK(dice && fabs(rr_f32(dice)[0] - 0.8814739865) < 1e-6, "dice %.9f, want 0.8814739865",
          dice ? rr_f32(dice)[0] : NAN);
    CHECK(fg && fabs(rr_f32(fg)[0] - (1 - 0.7099140430)) < 1e-6, "fg-only dice %.9f, want 0.2900859570",
          fg ? rr_f32(fg)[0] : NAN);
    /* presence: both samples' largest margin is 3 (pixel 1); sample 0 has a
       target, sample 1 none: (softplus(3) - 3 + softplus(3)) / 2, and the
       gradient (sigmoid(3) - y) / 2 on pixel 1's class-1 logit only */
    rr_ctx g;
    rr_ctx_init(&g, RR_CPU);
    rr_ctx_grad(&g, 1);
    x->requires_grad = 1;
    rr_tensor *pr = rr_presence2(&g, x, t);
    CHECK(pr && fabs(rr_f32(pr)[0] - 1.5485873516) < 1e-6, "presence %.9f, want 1.5485873516",
          pr ? rr_f32(pr)[0] : NAN);
    CHECK_OK(rr_backward(&g, pr));
    const float want[8] = {0, 0.0237129366f, 0, -0.0237129366f, 0, -0.4762870634f, 0, 0.4762870634f};
    CHECK(x->grad && rel_error_f(rr_f32(x->grad), want, 8) < 1e-6, "presence gradient");
    x->grad = NULL;
    x->requires_grad = 0;
    /* ties: the first pixel of the largest margin takes the gradient */
    rr_tensor *flat = rr_zeros(&g, RR_F32, RR_SHAPE(1, 2, 2, 2)), *none = rr_zeros(&g, RR_U8, RR_SHAPE(1, 2, 2));
    flat->requires_grad = 1;
    rr_tensor *pf = rr_presence2(&g, flat, none);
    CHECK_OK(rr_backward(&g, pf));
    const float first[8] = {-0.5f, 0, 0, 0, 0.5f, 0, 0, 0};
    CHECK(flat->grad && rel_error_f(rr_f32(flat->grad), first, 8) < 1e-6, "presence gradient on a tie");
    rr_ctx_free(&g);
}

TEST(loss_rejects_bad_inputs)
{
    rr_ctx *c = test_ctx();
    rr_tensor *x = rr_zeros(c, RR_F32, RR_SHAPE(2, 2, 3, 3)), *t = rr_zeros(c, RR_U8, RR_SHAPE(2, 3, 3));
    rr_u8(t)[10] = 2;
    CHECK(rr_cross_entropy2(c, x, t, ce_weight) == NULL, "a target of 2 must fail");
    CHECK(strstr(rr_errmsg(), "cross_entropy: target value 2 at index 10 is not 0 or 1") != NULL, "message: %s",
          rr_errmsg());
    CHECK(rr_dice(c, x, t, 0) == NULL, "a target of 2 must fail");
    CHECK(strstr(rr_errmsg(), "dice: target value 2") != NULL, "message: %s", rr_errmsg());
    CHECK(rr_presence2(c, x, t) == NULL, "a target of 2 must fail");
    CHECK(strstr(rr_errmsg(), "presence: target value 2 at index 10 is not 0 or 1") != NULL, "message: %s",
          rr_errmsg());
    rr_tensor *t2 = rr_zeros(c, RR_U8, RR_SHAPE(2, 3, 4));
    CHECK(rr_dice(c, x, t2, 0) == NULL, "a 2x3x4 target for 2x2x3x3 logits must fail");
    CHECK(strstr(rr_errmsg(), "dice: expected logits Bx2xHxW and target BxHxW, got 2x2x3x3 and 2x3x4") != NULL,
          "message: %s", rr_errmsg());
    rr_tensor *x3 = rr_zeros(c, RR_F32, RR_SHAPE(2, 3, 3, 3)), *tf = rr_zeros(c, RR_F32, RR_SHAPE(2, 3, 3));
    CHECK(rr_cross_entropy2(c, x3, t, ce_weight) == NULL, "3 classes must fail");
    CHECK(rr_cross_entropy2(c, x, tf, ce_weight) == NULL, "an F32 target must fail");
    CHECK(strstr(rr_errmsg(), "cross_entropy: target must be U8 or I32, got F32") != NULL, "message: %s",
          rr_errmsg());
}
