#include "adamw.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../error.h"
#include "schedule.h"

int rr_adamw_no_decay(const char *name)
{
    return strncmp(name, "backbone.", 9) == 0 &&
           (strstr(name, "norm") || strstr(name, "absolute_pos_embed") || strstr(name, "relative_position_bias_table"));
}

int rr_adamw_init(rr_adamw *o, rr_params *p, const rr_adamw_opts *opts, double backbone_lr_mult)
{
    memset(o, 0, sizeof *o);
    o->o = *opts;
    rr_ctx_init(&o->store, p->store.device);
    o->slots = calloc((size_t)p->n + 1, sizeof *o->slots);
    if (!o->slots)
        return rr_error("out of memory");
    for (int i = 0; i < p->n; i++) {
        rr_param *q = &p->items[i];
        if (q->kind & (RR_PARAM_FROZEN | RR_PARAM_BUFFER))
            continue;
        if (!q->t->grad) {
            rr_adamw_free(o);
            return rr_error("AdamW: parameter '%s' has no gradient", q->name);
        }
        rr_adamw_slot *s = &o->slots[o->n++];
        s->p = q;
        s->m = rr_zeros_like(&o->store, q->t);
        s->v = rr_zeros_like(&o->store, q->t);
        if (!s->m || !s->v) {
            rr_adamw_free(o);
            return -1;
        }
        s->wd = rr_adamw_no_decay(q->name) ? 0.0 : opts->weight_decay;
        s->lr_mult = rr_lr_mult(q->name, backbone_lr_mult);
    }
    return 0;
}

void rr_adamw_free(rr_adamw *o)
{
    rr_ctx_free(&o->store);
    free(o->slots);
    memset(o, 0, sizeof *o);
}

int rr_adamw_step(rr_adamw *o, double lr, float gscale)
{
    o->t++;
    /* torch.optim.AdamW's _single_tensor_adamw: the bias corrections and the
     * step size in Python floats (double), rounded to float where a tensor
     * op takes them as a scalar */
    double bc1 = 1 - pow(o->o.beta1, (double)o->t), bc2 = 1 - pow(o->o.beta2, (double)o->t);
    for (int i = 0; i < o->n; i++) {
        const rr_adamw_slot *s = &o->slots[i];
        double slr = lr * s->lr_mult;
        rr_adamw_args a = {
            .decay = (float)(1 - slr * s->wd),
            .beta1 = (float)o->o.beta1,
            .one_minus_beta1 = (float)(1 - o->o.beta1),
            .beta2 = (float)o->o.beta2,
            .one_minus_beta2 = (float)(1 - o->o.beta2),
            .bc2_sqrt = (float)sqrt(bc2),
            .eps = (float)o->o.eps,
            .neg_step = (float)(-(slr / bc1)),
            .gscale = gscale,
        };
        rr_tensor *t = s->p->t;
        if (RR_BACKEND(t->device, rr_adamw_f32, rr_f32(t), rr_f32(t->grad), rr_f32(s->m), rr_f32(s->v), t->numel, &a))
            return rr_error_prefix("AdamW, parameter '%s': ", s->p->name);
    }
    return 0;
}

int rr_adamw_f32_cpu(float *p, const float *g, float *m, float *v, int64_t n, const rr_adamw_args *a)
{
    const rr_adamw_args s = *a;
#pragma omp parallel for if (n > 32768)
    for (int64_t i = 0; i < n; i++) {
        float gi = s.gscale == 1.0f ? g[i] : g[i] * s.gscale;
        float pi = p[i] * s.decay;
        float mi = m[i] * s.beta1 + s.one_minus_beta1 * gi;
        float vi = v[i] * s.beta2 + s.one_minus_beta2 * gi * gi;
        float denom = sqrtf(vi) / s.bc2_sqrt + s.eps;
        p[i] = pi + s.neg_step * mi / denom;
        m[i] = mi;
        v[i] = vi;
    }
    return 0;
}
