#include "metrics.h"

#include <math.h>
#include <stdlib.h>

#include "../error.h"

/* The literals of test.py's eval_seg_iou_list, as Python reads them. */
const double rr_prec_thresholds[RR_NTHRESH] = {.5, .6, .7, .8, .9};

rr_iou rr_iou_count(const uint8_t *pred, const uint8_t *gt, size_t n, int no_target)
{
    int64_t inter = 0, uni = 0, np = 0, ng = 0;
    for (size_t k = 0; k < n; k++) {
        int p = pred[k] != 0, g = gt[k] != 0;
        inter += p & g;
        uni += p | g;
        np += p;
        ng += g;
    }
    return (rr_iou){.inter = inter, .uni = uni, .pred = np, .gt = ng, .no_target = no_target != 0};
}

/* test.py: `0.0 if U == 0 else I*1.0/U`, in float64. */
double rr_iou_rmsin(const rr_iou *s) { return s->uni == 0 ? 0.0 : (double)s->inter / (double)s->uni; }

rr_gres_outcome rr_gres_classify(const rr_iou *s)
{
    int pred_nt = s->pred == 0;
    if (s->no_target)
        return pred_nt ? RR_GRES_TP : RR_GRES_FN;
    return pred_nt ? RR_GRES_FP : RR_GRES_TN;
}

const char *rr_gres_outcome_name(rr_gres_outcome o)
{
    static const char *const names[] = {"TP", "FN", "FP", "TN"};
    return names[o];
}

double rr_iou_gres(const rr_iou *s)
{
    switch (rr_gres_classify(s)) {
    case RR_GRES_TP: return 1.0;
    case RR_GRES_FN: return 0.0;
    case RR_GRES_FP: return 0.0; /* I := 0, so 0/U, or 0 when U == 0 */
    case RR_GRES_TN: return s->uni == 0 ? 0.0 : (double)s->inter / (double)s->uni;
    }
    return 0.0;
}

/* numpy's DOUBLE_pairwise_sum (loops_utils.h.src). */
static double pairwise(const double *a, size_t n)
{
    if (n < 8) {
        double res = 0.;
        for (size_t i = 0; i < n; i++)
            res += a[i];
        return res;
    }
    if (n <= 128) {
        double r[8];
        size_t i;
        for (int j = 0; j < 8; j++)
            r[j] = a[j];
        for (i = 8; i < n - (n % 8); i += 8)
            for (int j = 0; j < 8; j++)
                r[j] += a[i + j];
        double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; i++)
            res += a[i];
        return res;
    }
    size_t n2 = n / 2;
    n2 -= n2 % 8;
    return pairwise(a, n2) + pairwise(a + n2, n - n2);
}

double rr_sum_numpy(const double *a, size_t n)
{
    /* The reduction starts from the identity 0.0 and the iterator hands the
     * inner loop at most one buffer (8192 values) at a time. */
    double sum = 0.0;
    for (size_t k = 0; k < n; k += 8192)
        sum += pairwise(a + k, n - k < 8192 ? n - k : 8192);
    return sum;
}

#define AT(k) (&v[idx ? idx[k] : (k)])

int rr_rmsin_compute(const rr_iou *v, const size_t *idx, size_t n, rr_rmsin_metrics *out)
{
    *out = (rr_rmsin_metrics){.n = (long)n};
    double *ious = malloc((n ? n : 1) * sizeof *ious);
    if (!ious)
        return rr_error("metrics: out of memory");
    for (size_t k = 0; k < n; k++) {
        const rr_iou *s = AT(k);
        double iou = rr_iou_rmsin(s);
        ious[k] = iou;
        out->cum_i += s->inter;
        out->cum_u += s->uni;
        out->no_target += s->no_target != 0;
        for (int t = 0; t < RR_NTHRESH; t++)
            out->hits[t] += iou >= rr_prec_thresholds[t];
    }
    double mean = n ? rr_sum_numpy(ious, n) / (double)n : NAN;
    free(ious);
    out->miou = mean * 100.;
    out->oiou = out->cum_u ? (double)out->cum_i * 100. / (double)out->cum_u : NAN;
    for (int t = 0; t < RR_NTHRESH; t++)
        out->prec[t] = n ? (double)out->hits[t] * 100. / (double)n : NAN;
    return 0;
}

void rr_gres_compute(const rr_iou *v, const size_t *idx, size_t n, rr_gres_metrics *out)
{
    *out = (rr_gres_metrics){.n = (long)n};
    double accum_iou = 0.0; /* a Python float, summed in order */
    for (size_t k = 0; k < n; k++) {
        const rr_iou *s = AT(k);
        rr_gres_outcome o = rr_gres_classify(s);
        double iou = rr_iou_gres(s);
        accum_iou += iou;
        switch (o) {
        case RR_GRES_TP: out->tp++; break;
        case RR_GRES_FN: out->fn++; out->cum_u += s->uni; break;
        case RR_GRES_FP: out->fp++; out->cum_u += s->uni; break; /* I := 0 */
        case RR_GRES_TN:
            out->tn++;
            out->cum_i += s->inter;
            out->cum_u += s->uni;
            break;
        }
        if (s->no_target) {
            out->no_target++;
        } else {
            out->targeted++;
            for (int t = 0; t < RR_NTHRESH; t++)
                out->hits[t] += iou >= rr_prec_thresholds[t];
        }
    }
    out->giou = n ? 100. * (accum_iou / (double)n) : NAN;
    out->ciou = out->cum_u ? (double)out->cum_i * 100. / (double)out->cum_u : NAN;
    for (int t = 0; t < RR_NTHRESH; t++)
        out->prec[t] = out->targeted ? (double)out->hits[t] * 100. / (double)out->targeted : NAN;
    out->nacc = out->tp + out->fn ? (double)out->tp * 100. / (double)(out->tp + out->fn) : NAN;
    out->tacc = out->tn + out->fp ? (double)out->tn * 100. / (double)(out->tn + out->fp) : NAN;
}
