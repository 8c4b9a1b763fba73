#include "checkpoint.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../error.h"

#define EXP_AVG "optimizer.exp_avg."
#define EXP_AVG_SQ "optimizer.exp_avg_sq."

static char *state_json(const rr_train_state *st, int64_t adamw_t)
{
    cJSON *o = cJSON_CreateObject();
    char u64[24];
    snprintf(u64, sizeof u64, "%" PRIu64, st->rng_offset);
    /* integers as numbers (exact below 2^53); the RNG offset as a string */
    if (!o || !cJSON_AddNumberToObject(o, "step", (double)st->step) ||
        !cJSON_AddNumberToObject(o, "epoch", (double)st->epoch) ||
        !cJSON_AddNumberToObject(o, "batch", (double)st->batch) || !cJSON_AddStringToObject(o, "rng_offset", u64) ||
        !cJSON_AddNumberToObject(o, "bad_streak", (double)st->bad_streak) ||
        !cJSON_AddNumberToObject(o, "images", (double)st->images) ||
        !cJSON_AddNumberToObject(o, "seconds", st->seconds) ||
        !(isnan(st->best) ? cJSON_AddNullToObject(o, "best") : cJSON_AddNumberToObject(o, "best", st->best)) ||
        !cJSON_AddNumberToObject(o, "best_step", (double)st->best_step) ||
        !cJSON_AddNumberToObject(o, "log_bytes", (double)st->log_bytes) ||
        !cJSON_AddNumberToObject(o, "adamw_t", (double)adamw_t)) {
        cJSON_Delete(o);
        return NULL;
    }
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

int rr_checkpoint_save(const char *path, const rr_mrsnet *m, const rr_adamw *o, const rr_train_state *st,
                       const char *training)
{
    rr_record rec;
    rr_record_init(&rec);
    char *cfg = rr_config_to_json(&m->cfg), *state = state_json(st, o ? o->t : 0);
    int rc = cfg && state ? 0 : rr_error("out of memory");
    if (!rc)
        rc = rr_record_set_meta(&rec, "format", o ? RR_CHECKPOINT_FORMAT : RR_WEIGHTS_FORMAT);
    if (!rc)
        rc = rr_record_set_meta(&rec, "config", cfg);
    if (!rc)
        rc = rr_record_set_meta(&rec, "training", training);
    if (!rc)
        rc = rr_record_set_meta(&rec, "state", state);
    if (!rc)
        rc = rr_params_to_record(&m->params, &rec, RR_F32);
    for (int i = 0; o && i < o->n && !rc; i++) {
        char name[320];
        snprintf(name, sizeof name, EXP_AVG "%s", o->slots[i].p->name);
        rc = rr_record_add_tensor(&rec, name, o->slots[i].m);
        snprintf(name, sizeof name, EXP_AVG_SQ "%s", o->slots[i].p->name);
        if (!rc)
            rc = rr_record_add_tensor(&rec, name, o->slots[i].v);
    }
    if (!rc)
        rc = rr_record_add_checksums(&rec);
    if (!rc)
        rc = rr_safetensors_save(path, &rec);
    free(cfg);
    free(state);
    rr_record_free(&rec);
    return rc ? rr_error_prefix("writing the checkpoint: ") : 0;
}

/* A non-negative integer field of the state. */
static int get_int(const cJSON *o, const char *key, int64_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 9007199254740992.0 ||
        v->valuedouble != floor(v->valuedouble))
        return rr_error("state: '%s' is missing or not a non-negative integer", key);
    *out = (int64_t)v->valuedouble;
    return 0;
}

static int parse_state(const char *json, rr_train_state *st, int64_t *adamw_t)
{
    if (!json)
        return rr_error("no training state in the metadata");
    cJSON *o = cJSON_Parse(json);
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return rr_error("the training state is not a JSON object");
    }
    const cJSON *rng = cJSON_GetObjectItemCaseSensitive(o, "rng_offset");
    const cJSON *sec = cJSON_GetObjectItemCaseSensitive(o, "seconds");
    const cJSON *best = cJSON_GetObjectItemCaseSensitive(o, "best");
    const cJSON *best_step = cJSON_GetObjectItemCaseSensitive(o, "best_step");
    char *end = NULL;
    int rc = get_int(o, "step", &st->step) || get_int(o, "epoch", &st->epoch) || get_int(o, "batch", &st->batch) ||
                     get_int(o, "bad_streak", &st->bad_streak) || get_int(o, "images", &st->images) ||
                     get_int(o, "log_bytes", &st->log_bytes) || get_int(o, "adamw_t", adamw_t)
                 ? -1
                 : 0;
    if (!rc && (!cJSON_IsString(rng) || !*rng->valuestring ||
                (st->rng_offset = strtoull(rng->valuestring, &end, 10), *end)))
        rc = rr_error("state: 'rng_offset' is missing or not a decimal string");
    if (!rc && !cJSON_IsNumber(sec))
        rc = rr_error("state: 'seconds' is missing or not a number");
    if (!rc && !cJSON_IsNumber(best) && !cJSON_IsNull(best))
        rc = rr_error("state: 'best' is missing or neither a number nor null");
    if (!rc && !cJSON_IsNumber(best_step))
        rc = rr_error("state: 'best_step' is missing or not a number");
    if (!rc) {
        st->seconds = sec->valuedouble;
        st->best = cJSON_IsNumber(best) ? best->valuedouble : NAN;
        st->best_step = (int64_t)best_step->valuedouble;
    }
    cJSON_Delete(o);
    return rc;
}

int rr_checkpoint_open(rr_checkpoint *ck, const char *path)
{
    memset(ck, 0, sizeof *ck);
    rr_record_init(&ck->rec);
    if (access(path, R_OK) != 0)
        return rr_error("%s: %s", path, strerror(errno));
    if (rr_safetensors_load(path, &ck->rec)) {
        char why[1024];
        snprintf(why, sizeof why, "%s", rr_errmsg()); /* names the file */
        return rr_error("%s (a truncated or damaged file)", why);
    }
    const char *format = rr_record_meta(&ck->rec, "format"), *cfg = rr_record_meta(&ck->rec, "config");
    int rc = 0;
    if (!format || strcmp(format, RR_CHECKPOINT_FORMAT) != 0)
        rc = format && strcmp(format, RR_WEIGHTS_FORMAT) == 0
                 ? rr_error("a weight file, not a training checkpoint (no optimizer state; --init loads weights)")
                 : rr_error("not a training checkpoint (metadata format '%s', expected '%s')",
                            format ? format : "(none)", RR_CHECKPOINT_FORMAT);
    if (!rc)
        rc = rr_record_verify_checksums(&ck->rec, 1);
    if (!rc && !cfg)
        rc = rr_error("no model configuration in the metadata");
    if (!rc && rr_config_parse(&ck->cfg, cfg, strlen(cfg)))
        rc = rr_error_prefix("config: ");
    if (!rc)
        rc = parse_state(rr_record_meta(&ck->rec, "state"), &ck->state, &ck->adamw_t);
    if (!rc && !(ck->training = rr_record_meta(&ck->rec, "training")))
        rc = rr_error("no training options in the metadata");
    return rc ? rr_error_prefix("%s: ", path) : 0;
}

/* Copies a moment entry into t (same shape, F32). */
static int load_moment(const rr_record *rec, const char *prefix, const rr_param *p, rr_tensor *t)
{
    char name[320];
    snprintf(name, sizeof name, "%s%s", prefix, p->name);
    const rr_entry *e = rr_record_find(rec, name);
    if (!e)
        return -1;
    int same = e->dtype == RR_F32 && e->ndim == t->ndim;
    for (int d = 0; same && d < t->ndim; d++)
        same = e->shape[d] == t->shape[d];
    if (!same)
        return rr_error("tensor '%s' is not F32 of the parameter's shape", name);
    return rr_dev_memcpy(t->device, t->data, RR_CPU, e->data, e->nbytes);
}

int rr_checkpoint_restore(const rr_checkpoint *ck, rr_mrsnet *m, rr_adamw *o)
{
    if (rr_params_load(&m->params, &ck->rec, 0, NULL, NULL))
        return -1;
    int moments = 0;
    for (int i = 0; i < ck->rec.nentries; i++)
        moments += strncmp(ck->rec.entries[i].name, "optimizer.", 10) == 0;
    if (moments != 2 * o->n)
        return rr_error("the checkpoint has %d optimizer moments, the model trains %d parameters (2 each)", moments,
                        o->n);
    for (int i = 0; i < o->n; i++)
        if (load_moment(&ck->rec, EXP_AVG, o->slots[i].p, o->slots[i].m) ||
            load_moment(&ck->rec, EXP_AVG_SQ, o->slots[i].p, o->slots[i].v))
            return -1;
    o->t = ck->adamw_t;
    return 0;
}

void rr_checkpoint_close(rr_checkpoint *ck) { rr_record_free(&ck->rec); }
