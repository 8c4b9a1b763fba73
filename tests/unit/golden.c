/* The golden comparison of the whole network (golden.h). */
#include "golden.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/safetensors.h"

double golden_rel_error(const float *got, const float *want, int64_t n)
{
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++) {
        if (isnan(got[i]) || isnan(want[i]))
            return INFINITY; /* NaN never passes */
        double d = (double)got[i] - want[i];
        num += d * d;
        den += (double)want[i] * want[i];
    }
    return sqrt(num) / fmax(sqrt(den), 1e-12);
}

/* Relative error of t (any device) against the entry e. */
static double compare(const rr_tensor *t, const rr_entry *e, char *why, size_t n)
{
    int64_t nref = (int64_t)(e->nbytes / rr_dtype_size(e->dtype));
    if (t->numel != nref) {
        snprintf(why, n, "%lld elements, the reference has %lld", (long long)t->numel, (long long)nref);
        return INFINITY;
    }
    float *got = malloc((size_t)nref * sizeof *got + 4), *want = malloc((size_t)nref * sizeof *want + 4);
    void *raw = malloc(e->nbytes + 1);
    double err = INFINITY;
    if (!got || !want || !raw) {
        snprintf(why, n, "out of memory");
    } else {
        memcpy(raw, e->data, e->nbytes); /* the entry's data may be unaligned */
        if (rr_to_host(got, t) == 0 && rr_convert_to_f32(want, raw, e->dtype, t->numel) == 0)
            err = golden_rel_error(got, want, t->numel);
        else
            snprintf(why, n, "%s", rr_errmsg());
    }
    free(got);
    free(want);
    free(raw);
    return err;
}

/* 1 when name is in the JSON array held by metadata key `key`. */
static int listed(const rr_record *rec, const char *key, const char *name)
{
    const char *json = rr_record_meta(rec, key);
    cJSON *arr = json ? cJSON_Parse(json) : NULL;
    int found = 0;
    for (const cJSON *it = arr ? arr->child : NULL; it && !found; it = it->next)
        found = cJSON_IsString(it) && strcmp(it->valuestring, name) == 0;
    cJSON_Delete(arr);
    return found;
}

/* The L2 norm of t (any device); NAN when it cannot be read. */
static double norm(const rr_tensor *t)
{
    float *h = malloc((size_t)t->numel * sizeof *h + 4);
    double s = NAN;
    if (h && rr_to_host(h, t) == 0) {
        s = 0;
        for (int64_t i = 0; i < t->numel; i++)
            s += (double)h[i] * h[i];
    }
    free(h);
    return sqrt(s);
}

typedef struct {
    const golden_opts *o;
    int failed;
} report;

static void row(report *r, const char *name, double err, double tol, const char *why)
{
    if (!(err <= tol))
        r->failed++;
    if (r->o->row)
        r->o->row(r->o->user, name, err, tol, why);
}

int golden_mrsnet_run(const char *dir, rr_device d, const golden_opts *o)
{
    rr_record wrec, in, st, gr;
    rr_record_init(&wrec);
    rr_record_init(&in);
    rr_record_init(&st);
    rr_record_init(&gr);
    report r = {o, 0};
    int rc = -1, model = 0, ctx = 0;
    rr_mrsnet m;
    rr_ctx c;
    rr_trace *tr = calloc(1, sizeof *tr);
    char path[4096];
    static const char *const files[4] = {"weights", "inputs", "stages", "grads"};
    rr_record *recs[4] = {&wrec, &in, &st, &gr};
    if (!tr) {
        rr_error("out of memory");
        goto done;
    }
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s%s.safetensors", dir, files[i]);
        if (rr_safetensors_load(path, recs[i])) {
            rr_error_prefix("goldens (make goldens writes them): ");
            goto done;
        }
    }

    /* The golden run has dropout and DropPath off (the two RNGs differ). */
    rr_config cfg;
    const char *json = rr_record_meta(&wrec, "config");
    if (!json) {
        rr_error("%sweights.safetensors: no configuration in the metadata", dir);
        goto done;
    }
    if (rr_config_parse(&cfg, json, strlen(json))) {
        rr_error_prefix("config: ");
        goto done;
    }
    rr_config_without_dropout(&cfg);
    if (rr_mrsnet_init(&m, &cfg, RR_PART_ALL, d, 1, 1))
        goto done;
    model = 1;
    if (rr_params_load(&m.params, &wrec, 0, NULL, NULL))
        goto done;

    rr_ctx_init(&c, d);
    ctx = 1;
    rr_ctx_grad(&c, 1);
    c.training = 1; /* BatchNorm on batch statistics, as the reference's train() */
    rr_tensor *img = rr_record_to_tensor(&c, &in, "image", RR_F32);
    rr_tensor *ids = rr_record_to_tensor(&c, &in, "input_ids", RR_I32);
    rr_tensor *mask = rr_record_to_tensor(&c, &in, "attention_mask", RR_I32);
    rr_tensor *target = rr_record_to_tensor(&c, &in, "target", RR_I32);
    if (!img || !ids || !mask || !target) {
        rr_error_prefix("inputs: ");
        goto done;
    }
    rr_tensor *logits = rr_mrsnet_fwd(&c, &m, img, ids, mask, tr);
    rr_loss_terms terms = {0};
    rr_tensor *loss = logits ? rr_mrsnet_loss(&c, &m, logits, target, &terms) : NULL;
    if (!loss) {
        rr_error_prefix("forward: ");
        goto done;
    }
    rr_trace_put(tr, "", "loss", loss);
    rr_trace_put(tr, "", "loss.ce", terms.ce);
    rr_trace_put(tr, "", "loss.dice", terms.dice);
    if (rr_backward(&c, loss)) {
        rr_error_prefix("backward: ");
        goto done;
    }

    for (int i = 0; i < rr_record_count(&st); i++) {
        const rr_entry *e = rr_record_entry(&st, i);
        const char *name = e->name;
        int is_grad = strncmp(name, "grad.", 5) == 0, is_bn = strncmp(name, "bn_running.", 11) == 0;
        rr_tensor *t;
        if (is_bn) {
            rr_param *p = rr_params_find(&m.params, name + 11);
            t = p ? p->t : NULL;
        } else {
            t = rr_trace_get(tr, is_grad ? name + 5 : name);
            if (t && is_grad)
                t = t->grad;
        }
        char why[160] = "";
        double err = t ? compare(t, e, why, sizeof why) : INFINITY;
        if (!t)
            snprintf(why, sizeof why, "not produced by the C model");
        row(&r, name, err, is_grad ? o->grad_tol : o->stage_tol, why);
    }

    const char *gn = rr_record_meta(&gr, "grad_norm");
    double grad_norm = gn ? atof(gn) : 0;
    if (!(grad_norm > 0)) {
        rr_error("%sgrads.safetensors: no grad_norm in the metadata", dir);
        goto done;
    }
    int checked = 0;
    for (int i = 0; i < rr_record_count(&gr); i++) {
        const rr_entry *e = rr_record_entry(&gr, i);
        rr_param *p = rr_params_find(&m.params, e->name);
        char why[160] = "", name[192];
        snprintf(name, sizeof name, "grad %s", e->name);
        if (!p || !p->t->grad) {
            row(&r, name, INFINITY, o->grad_tol, p ? "no gradient" : "no such parameter");
        } else if (listed(&gr, "null_grads", e->name) || listed(&gr, "unused", e->name)) {
            snprintf(why, sizeof why, "zero in exact arithmetic: |g| / |whole gradient|");
            row(&r, name, norm(p->t->grad) / grad_norm, o->null_tol, why);
        } else {
            row(&r, name, compare(p->t->grad, e, why, sizeof why), o->grad_tol, why);
        }
        checked++;
    }
    int trainable = 0;
    for (int i = 0; i < m.params.n; i++)
        trainable += !(m.params.items[i].kind & RR_PARAM_BUFFER);
    char why[128];
    snprintf(why, sizeof why, "%d gradients in the goldens, %d trainable parameters", checked, trainable);
    row(&r, "gradient count", checked == trainable ? 0 : INFINITY, 0, why);

    if (o->after)
        o->after(o->user, &m, &c, logits);
    rc = r.failed;
done:
    if (ctx)
        rr_ctx_free(&c);
    if (model)
        rr_mrsnet_free(&m);
    free(tr);
    for (int i = 0; i < 4; i++)
        rr_record_free(recs[i]);
    return rc;
}
