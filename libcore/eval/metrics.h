/* Referring-segmentation metrics (doc/metrics.md), under two protocols.
 *
 * A sample is scored by counting pixels of its predicted mask and its
 * ground truth at the same size (rr_iou_count): I = |pred AND gt| and
 * U = |pred OR gt|, as 64-bit integers.  The aggregates are computed from
 * an array of such samples (all of them, or a subset given by indices),
 * and every ratio is computed in double exactly as the reference code
 * computes it, in the same order, so that the numbers are the same bits:
 *
 * RMSIN: RMSIN/LAVT test.py (lines 25-104), every sample alike:
 *   IoU      I / U, or 0 when U == 0 (an empty prediction on an empty
 *            ground truth scores 0)
 *   P@k      100 * #(IoU >= k) / #samples, k in .5 .6 .7 .8 .9 (the
 *            comparison in double, against the doubles nearest 0.5 ... 0.9)
 *   oIoU     100 * sum(I) / sum(U)
 *   mIoU     100 * mean(IoU): np.mean of the IoUs in sample order, whose
 *            sum numpy computes pairwise in blocks of 8192 values
 *            (rr_sum_numpy); then times 100
 *
 * GRES: ReLA refer_evaluation.py (after fix 884ef17).  "Positive" means
 * "no target", as ReLA counts; a prediction says "no target" when it is
 * empty (doc/metrics.md, GRES protocol, ours: there is no no-target head):
 *   no-target sample, empty prediction      TP: IoU 1, I and U += 0
 *   no-target sample, non-empty prediction  FN: IoU 0, I += 0, U += U
 *   targeted sample, empty prediction       FP: I := 0, IoU 0, U += U
 *   targeted sample, non-empty prediction   TN: IoU I/U (0 when U == 0),
 *                                           I += I, U += U
 *   gIoU     100 * (sum(IoU) / #samples), the sum in sample order
 *   cIoU     100 * sum(I) / sum(U)
 *   P@k      100 * #(targeted with IoU >= k) / #targeted
 *   N-acc    100 * TP / (TP + FN): no-target samples predicted empty
 *   T-acc    100 * TN / (TN + FP): targeted samples predicted non-empty
 * Whether a sample is "no target" is its own flag (the manifest's type
 * "none"; ReLA's dataset flag `empty`), not the emptiness of its mask.
 *
 * A ratio whose denominator is 0 is NAN (undefined): no samples, U summing
 * to 0, no targeted samples for P@k and T-acc, no no-target samples for
 * N-acc.  ReLA reports N-acc = T-acc = 0 when a set has no no-target
 * sample; we do not copy that.  All metrics are percentages. */
#ifndef RR_EVAL_METRICS_H
#define RR_EVAL_METRICS_H

#include <stddef.h>
#include <stdint.h>

#define RR_NTHRESH 5
/* 0.5, 0.6, 0.7, 0.8, 0.9 */
extern const double rr_prec_thresholds[RR_NTHRESH];

/* One scored sample. */
typedef struct {
    int64_t inter, uni; /* I = |pred AND gt|, U = |pred OR gt| */
    int64_t pred, gt;   /* foreground pixels of the prediction, the truth */
    int no_target;      /* the sentence refers to nothing */
} rr_iou;

/* Counts a prediction against its ground truth, two masks of n pixels
 * (nonzero is foreground). */
rr_iou rr_iou_count(const uint8_t *pred, const uint8_t *gt, size_t n, int no_target);

/* The per-sample IoU of each protocol (a fraction, not a percentage). */
double rr_iou_rmsin(const rr_iou *s);
double rr_iou_gres(const rr_iou *s);

typedef enum { RR_GRES_TP, RR_GRES_FN, RR_GRES_FP, RR_GRES_TN } rr_gres_outcome;
rr_gres_outcome rr_gres_classify(const rr_iou *s);
const char *rr_gres_outcome_name(rr_gres_outcome o); /* "TP", ... */

typedef struct {
    long n, no_target;      /* samples, and how many of them have no target */
    int64_t cum_i, cum_u;   /* sum(I), sum(U) */
    long hits[RR_NTHRESH];  /* samples with IoU >= each threshold */
    double prec[RR_NTHRESH];
    double oiou, miou;
} rr_rmsin_metrics;

typedef struct {
    long n, targeted, no_target;
    long tp, fn, fp, tn;
    int64_t cum_i, cum_u;   /* sum(I), sum(U) as GRES accumulates them */
    long hits[RR_NTHRESH];  /* targeted samples with IoU >= each threshold */
    double prec[RR_NTHRESH];
    double ciou, giou, nacc, tacc;
} rr_gres_metrics;

/* The metrics of samples v[idx[0]], ..., v[idx[n-1]] (idx NULL: v[0] ...
 * v[n-1]), in that order.  Returns 0, or -1 out of memory. */
int rr_rmsin_compute(const rr_iou *v, const size_t *idx, size_t n, rr_rmsin_metrics *out);
void rr_gres_compute(const rr_iou *v, const size_t *idx, size_t n, rr_gres_metrics *out);

/* numpy's float64 sum (np.add.reduce, so np.sum and np.mean) of a
 * contiguous array: 8192-value chunks added in order to 0.0, each summed
 * pairwise (8 accumulators up to 128 values, halves above).  Checked
 * against numpy 1.24. */
double rr_sum_numpy(const double *a, size_t n);

#endif
