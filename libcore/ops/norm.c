#include "norm.h"

#include <math.h>

#include "../tape.h"
#include "check.h"
#include "vmath.h"

/* --- row norms: layer norm and instance norm -------------------------------- */

/* One row of d elements: its mean and 1/std (sums in double), then
 * y = (x - mean) rstd w + b, w and b per column (wcol) or one value each. */
RR_SIMD_CLONES static void norm_row(const float *xr, float *yr, int64_t d, float eps, const float *w, const float *b,
                                    int wcol, float *mean, float *rstd)
{
    double s = 0, v = 0;
#pragma omp simd reduction(+ : s)
    for (int64_t j = 0; j < d; j++)
        s += xr[j];
    double mu = s / d;
#pragma omp simd reduction(+ : v)
    for (int64_t j = 0; j < d; j++)
        v += (xr[j] - mu) * (xr[j] - mu);
    float m = (float)mu, rs = (float)(1.0 / sqrt(v / d + eps));
    *mean = m;
    *rstd = rs;
    if (wcol && w && b) {
#pragma omp simd
        for (int64_t j = 0; j < d; j++)
            yr[j] = (xr[j] - m) * rs * w[j] + b[j];
    } else if (wcol) {
        for (int64_t j = 0; j < d; j++)
            yr[j] = (xr[j] - m) * rs * (w ? w[j] : 1.0f) + (b ? b[j] : 0.0f);
    } else {
        float wv = w ? *w : 1.0f, bv = b ? *b : 0.0f;
#pragma omp simd
        for (int64_t j = 0; j < d; j++)
            yr[j] = (xr[j] - m) * rs * wv + bv;
    }
}

int rr_row_norm_fwd_cpu(const float *x, const float *w, const float *b, float *y, float *mean, float *rstd,
                        int64_t rows, int64_t d, int64_t channels, float eps)
{
#pragma omp parallel for if (rows * d > 32768)
    for (int64_t r = 0; r < rows; r++) {
        int64_t k = channels ? r % channels : 0; /* instance norm: row r's channel */
        norm_row(x + r * d, y + r * d, d, eps, w ? w + k : NULL, b ? b + k : NULL, !channels, mean + r, rstd + r);
    }
    return 0;
}

/* dx += rstd (g - mean(g) - x̂ mean(g x̂)) over one row, g = dy w (w per
 * column, one value, or NULL for 1). */
RR_SIMD_CLONES static void norm_row_bwd(const float *xr, const float *dyr, float *dxr, int64_t d, const float *w,
                                        int wcol, float mean, float rstd)
{
    double sg = 0, sgx = 0;
    float wv = w && !wcol ? *w : 1.0f;
    const float *wc = wcol ? w : NULL;
    if (wc) {
#pragma omp simd reduction(+ : sg, sgx)
        for (int64_t j = 0; j < d; j++) {
            float g = dyr[j] * wc[j];
            sg += g;
            sgx += g * (xr[j] - mean) * rstd;
        }
    } else {
#pragma omp simd reduction(+ : sg, sgx)
        for (int64_t j = 0; j < d; j++) {
            float g = dyr[j] * wv;
            sg += g;
            sgx += g * (xr[j] - mean) * rstd;
        }
    }
    float mg = (float)(sg / d), mgx = (float)(sgx / d);
    if (wc) {
#pragma omp simd
        for (int64_t j = 0; j < d; j++)
            dxr[j] += rstd * (dyr[j] * wc[j] - mg - (xr[j] - mean) * rstd * mgx);
    } else {
#pragma omp simd
        for (int64_t j = 0; j < d; j++)
            dxr[j] += rstd * (dyr[j] * wv - mg - (xr[j] - mean) * rstd * mgx);
    }
}

/* Columns per task of the layer norm's weight gradient. */
#define WCOLS 16

int rr_row_norm_bwd_cpu(const float *x, const float *w, const float *mean, const float *rstd, const float *dy,
                        float *dx, float *dw, float *db, int64_t rows, int64_t d, int64_t channels)
{
    if (dx) {
#pragma omp parallel for if (rows * d > 32768)
        for (int64_t r = 0; r < rows; r++) {
            int64_t k = channels ? r % channels : 0;
            norm_row_bwd(x + r * d, dy + r * d, dx + r * d, d, w ? w + k : NULL, !channels, mean[r], rstd[r]);
        }
    }
    if (!dw && !db)
        return 0;
    /* dw = Σ dy ⊙ x̂ and db = Σ dy over the elements each weight scales, rows
     * in order.  Layer norm: a column over all rows, WCOLS columns per task
     * (one cache line of each row); instance norm: every row of a channel. */
    if (!channels) {
#pragma omp parallel for if (rows * d > 32768)
        for (int64_t k0 = 0; k0 < d; k0 += WCOLS) {
            int64_t n = d - k0 < WCOLS ? d - k0 : WCOLS;
            double sw[WCOLS] = {0}, sb[WCOLS] = {0};
            for (int64_t r = 0; r < rows; r++) {
                const float *xr = x + r * d + k0, *dyr = dy + r * d + k0;
                for (int64_t j = 0; j < n; j++) {
                    sw[j] += (double)dyr[j] * ((xr[j] - mean[r]) * rstd[r]);
                    sb[j] += dyr[j];
                }
            }
            for (int64_t j = 0; j < n; j++) {
                if (dw)
                    dw[k0 + j] += (float)sw[j];
                if (db)
                    db[k0 + j] += (float)sb[j];
            }
        }
        return 0;
    }
#pragma omp parallel for if (rows * d > 32768)
    for (int64_t k = 0; k < channels; k++) {
        double sw = 0, sb = 0;
        for (int64_t r = k; r < rows; r += channels)
            for (int64_t j = 0; j < d; j++) {
                int64_t i = r * d + j;
                sw += (double)dy[i] * ((x[i] - mean[r]) * rstd[r]);
                sb += dy[i];
            }
        if (dw)
            dw[k] += (float)sw;
        if (db)
            db[k] += (float)sb;
    }
    return 0;
}

typedef struct {
    rr_tensor *mean, *rstd;
    int64_t rows, d, channels;
} row_norm_saved;

/* n->in: x, weight, bias (either of the last two may be NULL). */
static int row_norm_backward(rr_ctx *c, rr_node *n)
{
    row_norm_saved *s = n->saved;
    rr_tensor *x = n->in[0], *w = n->in[1], *g[3] = {NULL, NULL, NULL};
    for (int i = 0; i < 3; i++)
        if (n->in[i] && n->in[i]->requires_grad && !(g[i] = rr_grad_of(c, n->in[i])))
            return -1;
    return RR_BACKEND(x->device, rr_row_norm_bwd, rr_f32(x), w ? rr_f32(w) : NULL, rr_f32(s->mean),
                      rr_f32(s->rstd), rr_f32(n->out->grad), g[0] ? rr_f32(g[0]) : NULL,
                      g[1] ? rr_f32(g[1]) : NULL, g[2] ? rr_f32(g[2]) : NULL, s->rows, s->d, s->channels);
}

/* p, when given, is F32 of shape (n) on x's device. */
static int check_param(const char *op, const char *what, const rr_tensor *p, const rr_tensor *x, int64_t n)
{
    if (!p)
        return 0;
    if (rr_check_f32(op, p) || rr_check_same_device(op, x, p))
        return -1;
    if (p->ndim != 1 || p->shape[0] != n) {
        char s1[64], s2[64];
        return rr_error("%s: %s has shape %s, expected %lld for x %s", op, what, rr_shape_str(p, s1, sizeof s1),
                        (long long)n, rr_shape_str(x, s2, sizeof s2));
    }
    return 0;
}

static rr_tensor *row_norm(rr_ctx *c, const char *name, rr_tensor *x, rr_tensor *w, rr_tensor *b, float eps,
                           int64_t rows, int64_t d, int64_t channels)
{
    int64_t nw = channels ? channels : d;
    if (check_param(name, "weight", w, x, nw) || check_param(name, "bias", b, x, nw))
        return NULL;
    row_norm_saved s = {rr_new(c, RR_F32, RR_SHAPE(rows)), rr_new(c, RR_F32, RR_SHAPE(rows)), rows, d, channels};
    rr_tensor *y = rr_new_like(c, x);
    if (!y || !s.mean || !s.rstd ||
        RR_BACKEND(x->device, rr_row_norm_fwd, rr_f32(x), w ? rr_f32(w) : NULL, b ? rr_f32(b) : NULL, rr_f32(y),
                   rr_f32(s.mean), rr_f32(s.rstd), rows, d, channels, eps))
        return NULL;
    int err;
    rr_node *n = rr_tape_record(c, name, row_norm_backward, y, 3, (rr_tensor *[]){x, w, b}, sizeof s, &err);
    if (err)
        return NULL;
    if (n)
        *(row_norm_saved *)n->saved = s;
    return y;
}

rr_tensor *rr_layer_norm(rr_ctx *c, rr_tensor *x, rr_tensor *weight, rr_tensor *bias, float eps)
{
    if (rr_check_f32("layer_norm", x))
        return NULL;
    if (x->ndim < 1) {
        rr_error("layer_norm: x has no dimension to normalise");
        return NULL;
    }
    int64_t d = x->shape[x->ndim - 1];
    return row_norm(c, "layer_norm", x, weight, bias, eps, d ? x->numel / d : 0, d, 0);
}

rr_tensor *rr_instance_norm1d(rr_ctx *c, rr_tensor *x, rr_tensor *weight, rr_tensor *bias, float eps)
{
    if (rr_check_f32("instance_norm1d", x) || rr_check_ndim("instance_norm1d", x, 3))
        return NULL;
    if (c->training && x->shape[2] < 2) {
        char sh[64];
        rr_error("instance_norm1d: expected more than 1 spatial element when training, got %s",
                 rr_shape_str(x, sh, sizeof sh));
        return NULL;
    }
    return row_norm(c, "instance_norm1d", x, weight, bias, eps, x->shape[0] * x->shape[1], x->shape[2],
                    x->shape[1]);
}

/* --- batch norm ------------------------------------------------------------ */

int rr_batch_norm_fwd_cpu(const float *x, const float *w, const float *b, float *y, float *mean, float *rstd,
                          float *running_mean, float *running_var, int64_t n, int64_t ch, int64_t inner,
                          int training, float momentum, float eps)
{
    int64_t m = n * inner;
#pragma omp parallel for if (m * ch > 32768)
    for (int64_t k = 0; k < ch; k++) {
        if (training) {
            double s = 0, v = 0;
            for (int64_t q = 0; q < n; q++)
                for (int64_t j = 0; j < inner; j++)
                    s += x[(q * ch + k) * inner + j];
            double mu = s / m;
            for (int64_t q = 0; q < n; q++)
                for (int64_t j = 0; j < inner; j++) {
                    double e = x[(q * ch + k) * inner + j] - mu;
                    v += e * e;
                }
            mean[k] = (float)mu;
            rstd[k] = (float)(1.0 / sqrt(v / m + eps));
            if (running_mean) {
                running_mean[k] = (1 - momentum) * running_mean[k] + momentum * (float)mu;
                running_var[k] = (1 - momentum) * running_var[k] + momentum * (float)(v / (m - 1));
            }
        } else {
            mean[k] = running_mean[k];
            rstd[k] = 1.0f / sqrtf(running_var[k] + eps);
        }
        float sc = rstd[k] * (w ? w[k] : 1.0f), sh = b ? b[k] : 0.0f;
        for (int64_t q = 0; q < n; q++)
            for (int64_t j = 0; j < inner; j++) {
                int64_t i = (q * ch + k) * inner + j;
                y[i] = (x[i] - mean[k]) * sc + sh;
            }
    }
    return 0;
}

int rr_batch_norm_bwd_cpu(const float *x, const float *w, const float *mean, const float *rstd, const float *dy,
                          float *dx, float *dw, float *db, int64_t n, int64_t ch, int64_t inner, int training)
{
    int64_t m = n * inner;
#pragma omp parallel for if (m * ch > 32768)
    for (int64_t k = 0; k < ch; k++) {
        double sb = 0, sw = 0; /* Σ dy, Σ dy ⊙ x̂ */
        for (int64_t q = 0; q < n; q++)
            for (int64_t j = 0; j < inner; j++) {
                int64_t i = (q * ch + k) * inner + j;
                sb += dy[i];
                sw += (double)dy[i] * ((x[i] - mean[k]) * rstd[k]);
            }
        if (dw)
            dw[k] += (float)sw;
        if (db)
            db[k] += (float)sb;
        if (!dx)
            continue;
        /* Training: dx = w·rstd·(dy − mean(dy) − x̂·mean(dy ⊙ x̂)), the
         * statistics being functions of x; eval: dx = w·rstd·dy. */
        float sc = rstd[k] * (w ? w[k] : 1.0f), mb = training ? (float)(sb / m) : 0.0f,
              mw = training ? (float)(sw / m) : 0.0f;
        for (int64_t q = 0; q < n; q++)
            for (int64_t j = 0; j < inner; j++) {
                int64_t i = (q * ch + k) * inner + j;
                dx[i] += sc * (dy[i] - mb - (x[i] - mean[k]) * rstd[k] * mw);
            }
    }
    return 0;
}

typedef struct {
    rr_tensor *mean, *rstd;
    int64_t n, ch, inner;
    int training;
} batch_norm_saved;

/* n->in: x, weight, bias (either of the last two may be NULL). */
static int batch_norm_backward(rr_ctx *c, rr_node *n)
{
    batch_norm_saved *s = n->saved;
    rr_tensor *x = n->in[0], *w = n->in[1], *g[3] = {NULL, NULL, NULL};
    for (int i = 0; i < 3; i++)
        if (n->in[i] && n->in[i]->requires_grad && !(g[i] = rr_grad_of(c, n->in[i])))
            return -1;
    return RR_BACKEND(x->device, rr_batch_norm_bwd, rr_f32(x), w ? rr_f32(w) : NULL, rr_f32(s->mean),
                      rr_f32(s->rstd), rr_f32(n->out->grad), g[0] ? rr_f32(g[0]) : NULL,
                      g[1] ? rr_f32(g[1]) : NULL, g[2] ? rr_f32(g[2]) : NULL, s->n, s->ch, s->inner, s->training);
}

rr_tensor *rr_batch_norm(rr_ctx *c, rr_tensor *x, rr_tensor *weight, rr_tensor *bias, rr_tensor *running_mean,
                         rr_tensor *running_var, float momentum, float eps)
{
    const char *name = c->training ? "batch_norm_train" : "batch_norm_eval";
    if (rr_check_f32(name, x))
        return NULL;
    if (x->ndim < 2) {
        char sh[64];
        rr_error("%s: expected (N, C, ...), got %s", name, rr_shape_str(x, sh, sizeof sh));
        return NULL;
    }
    if (x->numel == 0) {
        rr_error("%s: empty input", name);
        return NULL;
    }
    batch_norm_saved s = {NULL, NULL, x->shape[0], x->shape[1], x->numel / (x->shape[0] * x->shape[1]),
                          c->training};
    if (check_param(name, "weight", weight, x, s.ch) || check_param(name, "bias", bias, x, s.ch) ||
        check_param(name, "running_mean", running_mean, x, s.ch) ||
        check_param(name, "running_var", running_var, x, s.ch))
        return NULL;
    if (!running_mean != !running_var) {
        rr_error("%s: running_mean and running_var must be given together", name);
        return NULL;
    }
    if (!c->training && !running_mean) {
        rr_error("%s: eval mode needs the running statistics", name);
        return NULL;
    }
    if (c->training && s.n * s.inner < 2) {
        char sh[64];
        rr_error("%s: expected more than 1 value per channel when training, got %s", name,
                 rr_shape_str(x, sh, sizeof sh));
        return NULL;
    }
    s.mean = rr_new(c, RR_F32, RR_SHAPE(s.ch));
    s.rstd = rr_new(c, RR_F32, RR_SHAPE(s.ch));
    rr_tensor *y = rr_new_like(c, x);
    if (!y || !s.mean || !s.rstd ||
        RR_BACKEND(x->device, rr_batch_norm_fwd, rr_f32(x), weight ? rr_f32(weight) : NULL,
                   bias ? rr_f32(bias) : NULL, rr_f32(y), rr_f32(s.mean), rr_f32(s.rstd),
                   running_mean ? rr_f32(running_mean) : NULL, running_var ? rr_f32(running_var) : NULL, s.n,
                   s.ch, s.inner, s.training, momentum, eps))
        return NULL;
    int err;
    rr_node *n = rr_tape_record(c, name, batch_norm_backward, y, 3, (rr_tensor *[]){x, weight, bias}, sizeof s,
                                &err);
    if (err)
        return NULL;
    if (n)
        *(batch_norm_saved *)n->saved = s;
    return y;
}
