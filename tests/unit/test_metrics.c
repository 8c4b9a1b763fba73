/* The metrics of rrsis-score (libcore/eval/metrics.h): hand-computed cases
 * for every metric and every empty/non-empty combination of prediction and
 * ground truth under both protocols; numpy's summation order; a few hundred
 * random masks scored again by a separate, straightforward implementation
 * written here; and the stream records' prediction masks (eval/score.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval/metrics.h"
#include "eval/score.h"
#include "harness.h"

/* A mask from a string of '0' and '1'. */
static size_t from_str(const char *s, uint8_t *m)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i++)
        m[i] = s[i] == '1';
    return n;
}

static rr_iou iou_of(const char *pred, const char *gt, int no_target)
{
    uint8_t p[64], g[64];
    size_t n = from_str(pred, p);
    size_t ng = from_str(gt, g);
    if (n != ng)
        test_fail(__FILE__, __LINE__, "masks of %zu and %zu pixels", n, ng);
    return rr_iou_count(p, g, n, no_target);
}

#define NEAR(a, b) (fabs((a) - (b)) <= 1e-12 * fmax(1.0, fabs(b)))
#define BOTH_NAN_OR_NEAR(a, b) ((isnan(a) && isnan(b)) || NEAR(a, b))

/* Each combination of an empty or non-empty prediction and ground truth,
 * on a targeted and a no-target sample: I, U, both IoUs, the outcome. */
TEST(metrics_empty_nonempty_combinations)
{
    static const struct {
        const char *pred, *gt;
        int no_target;
        long i, u;
        double rmsin, gres;
        rr_gres_outcome o;
    } c[] = {
        /* targeted samples */
        {"0000", "1100", 0, 0, 2, 0.0, 0.0, RR_GRES_FP},    /* empty pred, truth */
        {"0110", "1100", 0, 1, 3, 1 / 3.0, 1 / 3.0, RR_GRES_TN},
        {"0011", "1100", 0, 0, 4, 0.0, 0.0, RR_GRES_TN},    /* disjoint */
        {"1100", "1100", 0, 2, 2, 1.0, 1.0, RR_GRES_TN},
        {"0000", "0000", 0, 0, 0, 0.0, 0.0, RR_GRES_FP},    /* truth lost (resize), pred empty */
        {"0100", "0000", 0, 0, 1, 0.0, 0.0, RR_GRES_TN},    /* truth lost, pred not */
        /* no-target samples */
        {"0000", "0000", 1, 0, 0, 0.0, 1.0, RR_GRES_TP},    /* the right answer: 0 under rmsin */
        {"0110", "0000", 1, 0, 2, 0.0, 0.0, RR_GRES_FN},
        {"0000", "1000", 1, 0, 1, 0.0, 1.0, RR_GRES_TP},    /* a broken manifest: the flag decides */
        {"1100", "1000", 1, 1, 2, 0.5, 0.0, RR_GRES_FN},
    };
    for (size_t k = 0; k < sizeof c / sizeof c[0]; k++) {
        rr_iou s = iou_of(c[k].pred, c[k].gt, c[k].no_target);
        CHECK(s.inter == c[k].i && s.uni == c[k].u, "case %zu: I %lld U %lld", k, (long long)s.inter,
              (long long)s.uni);
        CHECK(rr_iou_rmsin(&s) == c[k].rmsin, "case %zu: rmsin IoU %.17g", k, rr_iou_rmsin(&s));
        CHECK(rr_iou_gres(&s) == c[k].gres, "case %zu: gres IoU %.17g", k, rr_iou_gres(&s));
        CHECK(rr_gres_classify(&s) == c[k].o, "case %zu: outcome %s", k, rr_gres_outcome_name(rr_gres_classify(&s)));
    }
}

/* Eight samples worked out by hand:
 *   k  pred/gt                      I  U   IoU   GRES
 *   0  partial overlap              2  6   1/3   TN
 *   1  exact                        6  6   1     TN
 *   2  empty pred, truth of 5       0  5   0     FP
 *   3  no target, empty pred        0  0   0|1   TP (rmsin 0, gres 1)
 *   4  no target, 3 predicted       0  3   0     FN
 *   5  pred of 5 holds truth of 4   4  5   0.8   TN (4/5 == .8 exactly: counts for P@0.8)
 *   6  pred of 7 inside truth of 10 7  10  0.7   TN (7/10 == .7: counts for P@0.7)
 *   7  I 3, U 5                     3  5   0.6   TN (3/5 == .6: counts for P@0.6) */
static const char *const hand[8][2] = {
    {"1111000000000000", "0011110000000000"}, {"1111110000000000", "1111110000000000"},
    {"0000000000000000", "1111100000000000"}, {"0000000000000000", "0000000000000000"},
    {"1110000000000000", "0000000000000000"}, {"1111100000000000", "1111000000000000"},
    {"1111111000000000", "1111111111000000"}, {"1111000000000000", "0111100000000000"},
};

static void hand_samples(rr_iou *v)
{
    for (int k = 0; k < 8; k++)
        v[k] = iou_of(hand[k][0], hand[k][1], k == 3 || k == 4);
}

TEST(metrics_rmsin_by_hand)
{
    rr_iou v[8];
    hand_samples(v);
    static const long I[8] = {2, 6, 0, 0, 0, 4, 7, 3}, U[8] = {6, 6, 5, 0, 3, 5, 10, 5};
    for (int k = 0; k < 8; k++)
        CHECK(v[k].inter == I[k] && v[k].uni == U[k], "sample %d: I %lld U %lld", k, (long long)v[k].inter,
              (long long)v[k].uni);
    rr_rmsin_metrics r;
    CHECK_OK(rr_rmsin_compute(v, NULL, 8, &r));
    CHECK(r.n == 8 && r.no_target == 2, "n %ld no_target %ld", r.n, r.no_target);
    CHECK(r.cum_i == 22 && r.cum_u == 40, "cum I %lld U %lld", (long long)r.cum_i, (long long)r.cum_u);
    CHECK(r.oiou == 55.0, "oIoU %.17g, want 55", r.oiou);
    /* IoU >= .5: 1, .8, .7, .6; >= .6 the same; >= .7: 1, .8, .7; >= .8: 1, .8; >= .9: 1 */
    static const double P[5] = {50, 50, 37.5, 25, 12.5};
    for (int t = 0; t < 5; t++)
        CHECK(r.prec[t] == P[t], "P@%.1f %.17g, want %g", rr_prec_thresholds[t], r.prec[t], P[t]);
    double miou = (1 / 3.0 + 1 + 0.8 + 0.7 + 0.6) / 8 * 100; /* 42.9166... */
    CHECK(NEAR(r.miou, miou), "mIoU %.17g, want %.17g", r.miou, miou);
    CHECK(fabs(r.miou - 42.916666666666667) < 1e-9, "mIoU %.17g", r.miou);
}

TEST(metrics_gres_by_hand)
{
    rr_iou v[8];
    hand_samples(v);
    rr_gres_metrics g;
    rr_gres_compute(v, NULL, 8, &g);
    CHECK(g.n == 8 && g.targeted == 6 && g.no_target == 2, "n %ld targeted %ld no-target %ld", g.n, g.targeted,
          g.no_target);
    CHECK(g.tp == 1 && g.fn == 1 && g.fp == 1 && g.tn == 5, "TP %ld FN %ld FP %ld TN %ld", g.tp, g.fn, g.fp, g.tn);
    CHECK(g.cum_i == 22 && g.cum_u == 40, "cum I %lld U %lld", (long long)g.cum_i, (long long)g.cum_u);
    CHECK(g.ciou == 55.0, "cIoU %.17g", g.ciou);
    double giou = (1 / 3.0 + 1 + 0 + 1 + 0 + 0.8 + 0.7 + 0.6) / 8 * 100; /* 55.4166... */
    CHECK(NEAR(g.giou, giou), "gIoU %.17g, want %.17g", g.giou, giou);
    /* over the 6 targeted: IoUs 1/3, 1, 0, .8, .7, .6 */
    static const double P[5] = {400 / 6.0, 400 / 6.0, 50, 200 / 6.0, 100 / 6.0};
    for (int t = 0; t < 5; t++)
        CHECK(NEAR(g.prec[t], P[t]), "P@%.1f %.17g, want %.17g", rr_prec_thresholds[t], g.prec[t], P[t]);
    CHECK(g.nacc == 50.0, "N-acc %.17g", g.nacc);
    CHECK(NEAR(g.tacc, 500 / 6.0), "T-acc %.17g", g.tacc);

    /* A no-target sample whose truth is not empty (a broken manifest):
     * TP adds nothing to I and U; FN adds U = |pred OR gt| and no I. */
    rr_iou w[2] = {iou_of("0000", "1100", 1), iou_of("1110", "1100", 1)};
    rr_gres_compute(w, NULL, 2, &g);
    CHECK(g.tp == 1 && g.fn == 1 && g.cum_i == 0 && g.cum_u == 3, "TP %ld FN %ld I %lld U %lld", g.tp, g.fn,
          (long long)g.cum_i, (long long)g.cum_u);
    CHECK(g.ciou == 0.0 && g.giou == 50.0 && g.nacc == 50.0 && isnan(g.tacc), "cIoU %g gIoU %g N-acc %g T-acc %g",
          g.ciou, g.giou, g.nacc, g.tacc);
    for (int t = 0; t < 5; t++)
        CHECK(isnan(g.prec[t]), "P@ over no targeted sample is undefined, got %g", g.prec[t]);
}

/* A subset given by indices is the same as those samples alone. */
TEST(metrics_subsets)
{
    rr_iou v[8], sub[3];
    hand_samples(v);
    size_t idx[3] = {6, 3, 0};
    for (int k = 0; k < 3; k++)
        sub[k] = v[idx[k]];
    rr_rmsin_metrics a, b;
    rr_gres_metrics c, d;
    CHECK_OK(rr_rmsin_compute(v, idx, 3, &a));
    CHECK_OK(rr_rmsin_compute(sub, NULL, 3, &b));
    rr_gres_compute(v, idx, 3, &c);
    rr_gres_compute(sub, NULL, 3, &d);
    CHECK(memcmp(&a, &b, sizeof a) == 0, "rmsin of a subset");
    CHECK(memcmp(&c, &d, sizeof c) == 0, "gres of a subset");
    CHECK(NEAR(a.miou, (0.7 + 0 + 1 / 3.0) / 3 * 100), "subset mIoU %.17g", a.miou);
    CHECK(NEAR(c.giou, (0.7 + 1 + 1 / 3.0) / 3 * 100), "subset gIoU %.17g", c.giou);
}

/* Sets where a metric is undefined, and the perfect and all-empty cases. */
TEST(metrics_degenerate_sets)
{
    rr_rmsin_metrics r;
    rr_gres_metrics g;
    CHECK_OK(rr_rmsin_compute(NULL, NULL, 0, &r));
    rr_gres_compute(NULL, NULL, 0, &g);
    CHECK(isnan(r.miou) && isnan(r.oiou) && isnan(r.prec[0]), "rmsin of nothing");
    CHECK(isnan(g.giou) && isnan(g.ciou) && isnan(g.prec[0]) && isnan(g.nacc) && isnan(g.tacc), "gres of nothing");

    /* only no-target samples, all predicted empty: right under gres, 0 under rmsin */
    rr_iou e[3] = {iou_of("000", "000", 1), iou_of("000", "000", 1), iou_of("000", "000", 1)};
    CHECK_OK(rr_rmsin_compute(e, NULL, 3, &r));
    rr_gres_compute(e, NULL, 3, &g);
    CHECK(r.miou == 0 && isnan(r.oiou) && r.prec[0] == 0, "rmsin: mIoU %g oIoU %g P@0.5 %g", r.miou, r.oiou,
          r.prec[0]);
    CHECK(g.giou == 100 && isnan(g.ciou) && isnan(g.prec[0]) && g.nacc == 100 && isnan(g.tacc),
          "gres: gIoU %g cIoU %g P@0.5 %g N-acc %g T-acc %g", g.giou, g.ciou, g.prec[0], g.nacc, g.tacc);

    /* every sample right, a third of them no-target: gres 100 everywhere,
     * rmsin mIoU and P@ = the targeted share, oIoU 100 */
    rr_iou p[3] = {iou_of("0110", "0110", 0), iou_of("1111", "1111", 0), iou_of("0000", "0000", 1)};
    CHECK_OK(rr_rmsin_compute(p, NULL, 3, &r));
    rr_gres_compute(p, NULL, 3, &g);
    CHECK(NEAR(r.miou, 200 / 3.0) && r.oiou == 100 && NEAR(r.prec[4], 200 / 3.0), "rmsin: mIoU %.17g oIoU %g",
          r.miou, r.oiou);
    CHECK(g.giou == 100 && g.ciou == 100 && g.prec[4] == 100 && g.nacc == 100 && g.tacc == 100,
          "gres: gIoU %g cIoU %g P@0.9 %g N-acc %g T-acc %g", g.giou, g.ciou, g.prec[4], g.nacc, g.tacc);
}

/* The comparison is IoU >= k in double, as test.py: I/U just below k does
 * not count, I/U equal to the double nearest k does. */
TEST(metrics_threshold_edges)
{
    rr_iou v[4] = {
        {.inter = 1, .uni = 2, .pred = 2, .gt = 1},                 /* 0.5 */
        {.inter = 4999999, .uni = 10000000, .pred = 1, .gt = 1},    /* just below .5 */
        {.inter = 9, .uni = 10, .pred = 1, .gt = 1},                /* 0.9 */
        {.inter = 899999999999, .uni = 1000000000000, .pred = 1, .gt = 1}, /* just below .9 */
    };
    rr_rmsin_metrics r;
    CHECK_OK(rr_rmsin_compute(v, NULL, 4, &r));
    CHECK(r.hits[0] == 3 && r.hits[4] == 1, "hits at .5: %ld, at .9: %ld", r.hits[0], r.hits[4]);
    CHECK(r.cum_i == 899999999999 + 1 + 4999999 + 9 && r.cum_u == 1000000000000 + 2 + 10000000 + 10,
          "64-bit sums");
}

/* numpy's summation: values whose sums numpy 1.24 gave (np.add.reduce of
 * x_k = ((k * 7919) % 10007) / 10007.0); a plain loop differs for most. */
TEST(metrics_numpy_sum)
{
    static const struct {
        size_t n;
        double sum;
    } want[] = {
        {7, 0x1.cf236149e81b2p+1},      {100, 0x1.914dcb8e8490ep+5},    {1000, 0x1.f45b190b7c822p+8},
        {8192, 0x1.000214ed18470p+12},  {8193, 0x1.000d6468e2f6ep+12},  {20000, 0x1.3878bb0e67188p+13},
        {50001, 0x1.869b675379702p+14},
    };
    double *a = malloc(50001 * sizeof *a);
    for (size_t k = 0; k < 50001; k++)
        a[k] = (double)((k * 7919) % 10007) / 10007.0;
    int plain_differs = 0;
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        double s = rr_sum_numpy(a, want[i].n), plain = 0;
        for (size_t k = 0; k < want[i].n; k++)
            plain += a[k];
        plain_differs += plain != want[i].sum;
        CHECK(s == want[i].sum, "n %zu: %a, numpy %a", want[i].n, s, want[i].sum);
    }
    CHECK(plain_differs >= 4, "the cases should tell pairwise from plain summation (%d do)", plain_differs);
    free(a);
}

/* ---- random masks against a separate implementation ---------------------- */

typedef struct {
    double miou, oiou, prec[5];
    double giou, ciou, gprec[5], nacc, tacc;
} naive_metrics;

/* Straightforward: per sample, count over pixels; then the formulas of
 * doc/metrics.md with plain sums (no shortcuts shared with the library). */
static void naive(uint8_t **pred, uint8_t **gt, const size_t *npx, const int *nt, const size_t *idx, size_t n,
                  naive_metrics *out)
{
    static const double thr[5] = {0.5, 0.6, 0.7, 0.8, 0.9};
    double sum_iou = 0, sum_giou = 0, cI = 0, cU = 0, gI = 0, gU = 0;
    long hits[5] = {0}, ghits[5] = {0}, targeted = 0, nt_right = 0, nt_all = 0, t_right = 0;
    for (size_t j = 0; j < n; j++) {
        size_t k = idx ? idx[j] : j;
        long inter = 0, uni = 0, npred = 0;
        for (size_t p = 0; p < npx[k]; p++) {
            if (pred[k][p] && gt[k][p])
                inter++;
            if (pred[k][p] || gt[k][p])
                uni++;
            if (pred[k][p])
                npred++;
        }
        double iou = uni > 0 ? (double)inter / (double)uni : 0.0;
        sum_iou += iou;
        cI += (double)inter;
        cU += (double)uni;
        for (int t = 0; t < 5; t++)
            if (iou >= thr[t])
                hits[t]++;
        if (nt[k]) {
            nt_all++;
            if (npred == 0) {
                nt_right++;
                sum_giou += 1;
            } else {
                gU += (double)uni;
            }
        } else {
            targeted++;
            double gi = 0;
            if (npred > 0) {
                t_right++;
                gi = iou;
                gI += (double)inter;
            }
            gU += (double)uni;
            sum_giou += gi;
            for (int t = 0; t < 5; t++)
                if (gi >= thr[t])
                    ghits[t]++;
        }
    }
    out->miou = n ? 100 * sum_iou / (double)n : NAN;
    out->oiou = cU > 0 ? 100 * cI / cU : NAN;
    out->giou = n ? 100 * sum_giou / (double)n : NAN;
    out->ciou = gU > 0 ? 100 * gI / gU : NAN;
    for (int t = 0; t < 5; t++) {
        out->prec[t] = n ? 100.0 * (double)hits[t] / (double)n : NAN;
        out->gprec[t] = targeted ? 100.0 * (double)ghits[t] / (double)targeted : NAN;
    }
    out->nacc = nt_all ? 100.0 * (double)nt_right / (double)nt_all : NAN;
    out->tacc = targeted ? 100.0 * (double)t_right / (double)targeted : NAN;
}

static int agree(double a, double b) { return (isnan(a) && isnan(b)) || fabs(a - b) <= 1e-9; }

static double worst;
static void compare(const char *what, double lib, double ref)
{
    CHECK(agree(lib, ref), "%s: library %.17g, separate implementation %.17g", what, lib, ref);
    if (!isnan(lib) && !isnan(ref) && fabs(lib - ref) > worst)
        worst = fabs(lib - ref);
}

TEST(metrics_random_masks_agree)
{
    enum { N = 400 };
    uint8_t *pred[N], *gt[N];
    size_t npx[N];
    int nt[N];
    rr_iou v[N];
    rr_rng rng = {20240611, 0};
    for (int k = 0; k < N; k++) {
        int w = 1 + (int)(rr_rng_uniform(&rng) * 40), h = 1 + (int)(rr_rng_uniform(&rng) * 40);
        npx[k] = (size_t)w * (size_t)h;
        pred[k] = malloc(npx[k]);
        gt[k] = malloc(npx[k]);
        /* densities from 0 to 1, with many exactly empty masks; the truth
         * of a no-target sample is empty, and a few targeted truths too */
        double r = rr_rng_uniform(&rng);
        nt[k] = r < 0.2;
        double dg = nt[k] || r > 0.97 ? 0 : rr_rng_uniform(&rng);
        double dp = rr_rng_uniform(&rng) < 0.25 ? 0 : rr_rng_uniform(&rng);
        int shift = (int)(rr_rng_uniform(&rng) * 3); /* overlap: pred a shifted, noisy truth */
        for (size_t p = 0; p < npx[k]; p++)
            gt[k][p] = rr_rng_uniform(&rng) < dg;
        for (size_t p = 0; p < npx[k]; p++) {
            int copy = p >= (size_t)shift && gt[k][p - (size_t)shift] && rr_rng_uniform(&rng) < 0.9;
            pred[k][p] = dp > 0 && (copy || rr_rng_uniform(&rng) < dp * 0.3) ? 255 : 0;
        }
        v[k] = rr_iou_count(pred[k], gt[k], npx[k], nt[k]);
    }
    /* all samples, a breakdown-like subset (every third, in reverse), one */
    size_t sub[N], nsub = 0;
    for (int k = N - 1; k >= 0; k -= 3)
        sub[nsub++] = (size_t)k;
    size_t one = 7;
    struct {
        const size_t *idx;
        size_t n;
    } sets[] = {{NULL, N}, {sub, nsub}, {&one, 1}};
    worst = 0;
    for (size_t i = 0; i < 3; i++) {
        rr_rmsin_metrics r;
        rr_gres_metrics g;
        naive_metrics ref;
        CHECK_OK(rr_rmsin_compute(v, sets[i].idx, sets[i].n, &r));
        rr_gres_compute(v, sets[i].idx, sets[i].n, &g);
        naive(pred, gt, npx, nt, sets[i].idx, sets[i].n, &ref);
        compare("mIoU", r.miou, ref.miou);
        compare("oIoU", r.oiou, ref.oiou);
        compare("gIoU", g.giou, ref.giou);
        compare("cIoU", g.ciou, ref.ciou);
        compare("N-acc", g.nacc, ref.nacc);
        compare("T-acc", g.tacc, ref.tacc);
        for (int t = 0; t < 5; t++) {
            compare("rmsin P@", r.prec[t], ref.prec[t]);
            compare("gres P@", g.prec[t], ref.gprec[t]);
        }
    }
    /* the set exercises every case */
    rr_gres_metrics g;
    rr_gres_compute(v, NULL, N, &g);
    CHECK(g.tp > 10 && g.fn > 10 && g.fp > 10 && g.tn > 100, "TP %ld FN %ld FP %ld TN %ld", g.tp, g.fn, g.fp,
          g.tn);
    printf("metrics: %d random samples, worst difference from the separate implementation %.3g\n", N, worst);
    for (int k = 0; k < N; k++) {
        free(pred[k]);
        free(gt[k]);
    }
}

/* ---- predictions in stream records --------------------------------------- */

TEST(metrics_record_pred_mask)
{
    rr_record rec;
    rr_image m;
    rr_record_init(&rec);
    /* logits [2, 2, 3]: foreground where logits[1] > logits[0]; a tie is background */
    float l[12] = {0, 1, 2, -1, 5, 0, /* class 0 */ 1, 1, 1, 0, 4, 0.5f /* class 1 */};
    CHECK_OK(rr_record_add(&rec, "logits", RR_F32, 3, (int64_t[]){2, 2, 3}, l));
    CHECK_OK(rr_record_pred_mask(&rec, &m));
    static const uint8_t want[6] = {1, 0, 0, 1, 0, 1};
    CHECK(m.width == 3 && m.height == 2 && m.channels == 1 && memcmp(m.data, want, 6) == 0, "logits mask");
    rr_image_free(&m);
    rr_record_free(&rec);

    /* [1, 2, H, W] in F16 */
    uint16_t h[8];
    float hv[8] = {0, 0, 3, -2, 1, -1, 3, -1};
    for (int i = 0; i < 8; i++)
        h[i] = rr_f32_to_f16(hv[i]);
    CHECK_OK(rr_record_add(&rec, "logits", RR_F16, 4, (int64_t[]){1, 2, 2, 2}, h));
    CHECK_OK(rr_record_pred_mask(&rec, &m));
    static const uint8_t want2[4] = {1, 0, 0, 1};
    CHECK(m.width == 2 && m.height == 2 && memcmp(m.data, want2, 4) == 0, "F16 [1,2,H,W] mask");
    rr_image_free(&m);
    rr_record_free(&rec);

    /* a U8 mask */
    uint8_t mk[6] = {0, 255, 1, 0, 0, 7};
    CHECK_OK(rr_record_add(&rec, "mask", RR_U8, 2, (int64_t[]){3, 2}, mk));
    CHECK_OK(rr_record_pred_mask(&rec, &m));
    static const uint8_t want3[6] = {0, 1, 1, 0, 0, 1};
    CHECK(m.width == 2 && m.height == 3 && memcmp(m.data, want3, 6) == 0, "U8 mask");
    rr_image_free(&m);
    rr_record_free(&rec);

    /* errors */
    float nan3[4] = {0, NAN, 1, 1};
    CHECK_OK(rr_record_add(&rec, "logits", RR_F32, 3, (int64_t[]){2, 1, 2}, nan3));
    CHECK(rr_record_pred_mask(&rec, &m) < 0 && strstr(rr_errmsg(), "NaN at row 0, column 1"), "NaN: %s",
          rr_errmsg());
    rr_record_free(&rec);
    CHECK_OK(rr_record_add(&rec, "logits", RR_F32, 3, (int64_t[]){3, 1, 2}, NULL));
    CHECK(rr_record_pred_mask(&rec, &m) < 0 && strstr(rr_errmsg(), "shape [3, 1, 2]"), "3 classes: %s",
          rr_errmsg());
    rr_record_free(&rec);
    CHECK_OK(rr_record_add(&rec, "logits", RR_I32, 3, (int64_t[]){2, 1, 2}, NULL));
    CHECK(rr_record_pred_mask(&rec, &m) < 0 && strstr(rr_errmsg(), "is I32"), "I32 logits: %s", rr_errmsg());
    rr_record_free(&rec);
    CHECK_OK(rr_record_add(&rec, "features", RR_F32, 1, (int64_t[]){4}, NULL));
    CHECK(rr_record_pred_mask(&rec, &m) < 0 && strstr(rr_errmsg(), "no tensor 'logits' or 'mask' (it holds 'features')"),
          "no tensor: %s", rr_errmsg());
    rr_record_free(&rec);
}
