#include "clip.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../error.h"

int rr_gradnorm_init(rr_gradnorm *g, const rr_params *p)
{
    memset(g, 0, sizeof *g);
    g->device = p->store.device;
    g->grads = calloc((size_t)p->n + 1, sizeof *g->grads);
    if (!g->grads) {
        rr_gradnorm_free(g);
        return rr_error("out of memory");
    }
    for (int i = 0; i < p->n; i++)
        if (!(p->items[i].kind & (RR_PARAM_FROZEN | RR_PARAM_BUFFER)) && p->items[i].t->grad)
            g->grads[g->n++] = p->items[i].t->grad;
    g->sums = rr_dev_malloc(g->device, ((size_t)g->n + 1) * sizeof *g->sums);
    if (!g->sums) {
        rr_gradnorm_free(g);
        return -1;
    }
    return 0;
}

void rr_gradnorm_free(rr_gradnorm *g)
{
    if (g->sums)
        rr_dev_free(g->device, g->sums);
    free(g->grads);
    memset(g, 0, sizeof *g);
}

int rr_gradnorm_sumsq(rr_gradnorm *g, double *out)
{
    for (int i = 0; i < g->n; i++)
        if (RR_BACKEND(g->device, rr_sumsq_f32, rr_f32(g->grads[i]), g->grads[i]->numel, g->sums + i))
            return -1;
    return RR_BACKEND(g->device, rr_sum_f64, g->sums, g->n, out);
}

int rr_gradnorm_compute(rr_gradnorm *g, double scale, double *norm)
{
    double s;
    if (rr_gradnorm_sumsq(g, g->sums + g->n) || rr_dev_memcpy(RR_CPU, &s, g->device, g->sums + g->n, sizeof s))
        return -1;
    *norm = fabs(scale) * sqrt(s);
    return 0;
}

double rr_clip_coef(double norm, double max_norm)
{
    if (max_norm <= 0)
        return 1;
    double coef = max_norm / (norm + 1e-6);
    return coef < 1 ? coef : 1;
}

/* Fixed blocks of the array, each summed in order, the block sums added in
 * order: the same result whatever the number of threads. */
enum { SUMSQ_BLOCKS = 64 };

int rr_sumsq_f32_cpu(const float *x, int64_t n, double *out)
{
    double part[SUMSQ_BLOCKS];
    int64_t len = (n + SUMSQ_BLOCKS - 1) / SUMSQ_BLOCKS;
#pragma omp parallel for if (n > 65536)
    for (int b = 0; b < SUMSQ_BLOCKS; b++) {
        double s = 0;
        int64_t end = (b + 1) * len < n ? (b + 1) * len : n;
        for (int64_t i = b * len; i < end; i++)
            s += (double)x[i] * x[i];
        part[b] = s;
    }
    double s = 0;
    for (int b = 0; b < SUMSQ_BLOCKS; b++)
        s += part[b];
    *out = s;
    return 0;
}

int rr_sum_f64_cpu(const double *x, int64_t n, double *out)
{
    double s = 0;
    for (int64_t i = 0; i < n; i++)
        s += x[i];
    *out = s;
    return 0;
}
