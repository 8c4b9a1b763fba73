#include "mrsnet.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../error.h"
#include "../io/checksum.h"
#include "../ops/ops.h"
#include "scope.h"

static int build(rr_mrsnet *m)
{
    if (((m->parts & RR_PART_TEXT) && rr_bert_init(&m->params, &m->bert, &m->cfg, "text_encoder")) ||
        ((m->parts & RR_PART_BACKBONE) && rr_backbone_init(&m->params, &m->backbone, &m->cfg, "backbone")) ||
        ((m->parts & RR_PART_DECODER) && rr_decoder_init(&m->params, &m->decoder, &m->cfg, "classifier")))
        return rr_error_prefix("building %s: ", m->cfg.name);
    return 0;
}

/* uninitialised: the parameters' values are left unset (a full load follows). */
static int init(rr_mrsnet *m, const rr_config *cfg, int parts, rr_device d, uint64_t seed, int with_grads,
                int uninitialised)
{
    memset(m, 0, sizeof *m);
    m->cfg = *cfg;
    m->parts = parts;
    rr_params_init(&m->params, d, seed, with_grads);
    m->params.uninitialised = uninitialised;
    if (build(m)) {
        rr_params_free(&m->params);
        return -1;
    }
    return 0;
}

int rr_mrsnet_init(rr_mrsnet *m, const rr_config *cfg, int parts, rr_device d, uint64_t seed, int with_grads)
{
    return init(m, cfg, parts, d, seed, with_grads, 0);
}

int rr_mrsnet_verify_file(const rr_record *rec)
{
    const char *format = rr_record_meta(rec, "format");
    if (!format)
        return rr_error("no format in the metadata (a weight file says \"format\": \"%s\")", RR_WEIGHTS_FORMAT);
    if (strcmp(format, RR_WEIGHTS_FORMAT) && strcmp(format, RR_CHECKPOINT_FORMAT) &&
        strcmp(format, RR_GOLDEN_FORMAT)) {
        char q[64];
        return rr_error("format '%s' is not one this version reads (%s, %s or %s)",
                        rr_printable(format, q, sizeof q), RR_WEIGHTS_FORMAT, RR_CHECKPOINT_FORMAT,
                        RR_GOLDEN_FORMAT);
    }
    return rr_record_verify_checksums(rec, 0);
}

static int is_checkpoint(const rr_record *rec)
{
    const char *format = rr_record_meta(rec, "format");
    return format && strcmp(format, RR_CHECKPOINT_FORMAT) == 0;
}

/* The part a tensor name belongs to (RR_PART_*), 0 for none. */
static int part_of(const char *name)
{
    static const struct {
        const char *prefix;
        int part;
    } parts[] = {{"text_encoder.", RR_PART_TEXT}, {"backbone.", RR_PART_BACKBONE}, {"classifier.", RR_PART_DECODER}};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        if (strncmp(name, parts[i].prefix, strlen(parts[i].prefix)) == 0)
            return parts[i].part;
    return 0;
}

int rr_mrsnet_check_unused(const rr_mrsnet *m, const rr_record *rec)
{
    int checkpoint = is_checkpoint(rec);
    for (int i = 0; i < rec->nentries; i++) {
        const char *name = rec->entries[i].name;
        int part = part_of(name);
        if ((part && !(m->parts & part)) || (checkpoint && strncmp(name, "optimizer.", 10) == 0))
            continue; /* another program's part; a checkpoint's optimizer state */
        if (!rr_params_find(&m->params, name)) {
            char q[96];
            return rr_error("tensor '%s' is in the weights but not in the model its configuration (%s) describes "
                            "(--allow-unused ignores such tensors)",
                            rr_printable(name, q, sizeof q), m->cfg.name);
        }
    }
    return 0;
}

int rr_mrsnet_identity(const rr_record *rec, const rr_config *cfg, uint64_t *identity)
{
    uint64_t tensors;
    if (rr_record_digest(rec, is_checkpoint(rec) ? "optimizer." : NULL, &tensors))
        return -1;
    char *json = rr_config_to_json(cfg);
    if (!json)
        return rr_error("out of memory");
    *identity = rr_hash64(tensors, json, strlen(json));
    free(json);
    return 0;
}

int rr_mrsnet_load(rr_mrsnet *m, const char *path, int parts, rr_device d, int with_grads, int flags,
                   FILE *missing)
{
    rr_record rec;
    rr_config cfg;
    rr_record_init(&rec);
    if (rr_safetensors_load(path, &rec))
        return -1;
    int rc = rr_mrsnet_verify_file(&rec);
    const char *json = rr_record_meta(&rec, "config");
    if (!rc)
        rc = json ? rr_config_parse(&cfg, json, strlen(json))
                  : rr_error("no model configuration in the metadata (key \"config\")");
    /* Before the tensors are taken in place: a file without checksums is
     * summed from its data, whose pages are let go as it goes while the
     * record still holds the mapping (io/safetensors.h). */
    uint64_t identity = 0;
    if (!rc)
        rc = rr_mrsnet_identity(&rec, &cfg, &identity);
    if (!rc)
        rc = init(m, &cfg, parts, d, 0, with_grads, !(flags & RR_LOAD_PARTIAL)); /* drawing 1 GB costs seconds */
    if (!rc && (rr_params_load_mapped(&m->params, &rec, flags & RR_LOAD_PARTIAL, missing, NULL) ||
                (!(flags & RR_LOAD_ALLOW_UNUSED) && rr_mrsnet_check_unused(m, &rec)))) {
        rr_mrsnet_free(m);
        rc = -1;
    }
    if (!rc)
        m->identity = identity;
    if (!rc) {
        const char *slash = strrchr(path, '/');
        snprintf(m->file, sizeof m->file, "%s", slash ? slash + 1 : path);
    }
    rr_record_free(&rec);
    return rc ? rr_error_prefix("%s: ", path) : 0;
}

int rr_mrsnet_save(const rr_mrsnet *m, const char *path, rr_dtype dtype)
{
    rr_record rec;
    rr_record_init(&rec);
    char *json = rr_config_to_json(&m->cfg);
    int rc = json ? 0 : rr_error("out of memory");
    if (!rc)
        rc = rr_record_set_meta(&rec, "format", RR_WEIGHTS_FORMAT);
    if (!rc)
        rc = rr_record_set_meta(&rec, "config", json);
    if (!rc)
        rc = rr_params_to_record(&m->params, &rec, dtype);
    if (!rc)
        rc = rr_record_add_checksums(&rec);
    if (!rc)
        rc = rr_safetensors_save(path, &rec);
    free(json);
    rr_record_free(&rec);
    return rc;
}

void rr_mrsnet_free(rr_mrsnet *m)
{
    rr_params_free(&m->params);
    memset(m, 0, sizeof *m);
}

rr_tensor *rr_mrsnet_encode_text(rr_ctx *c, const rr_mrsnet *m, rr_tensor *ids, rr_tensor *mask, rr_trace *tr)
{
    /* B x N x D -> B x D x N: the channel-first layout of the fusion modules (doc/network.md, CMA) */
    rr_tensor *l = rr_transpose(c, rr_bert_fwd(c, &m->bert, ids, mask), 1, 2);
    rr_trace_put(tr, "", "text.L", l);
    return l;
}

rr_tensor *rr_mrsnet_lmask(rr_ctx *c, rr_tensor *mask)
{
    /* A lookup in {0, 1} keeps it on the device and refuses any other value. */
    static const float values[2] = {0, 1};
    rr_tensor *table = rr_const(c, RR_F32, RR_SHAPE(2, 1), values);
    return table ? rr_embedding(c, mask, table) : NULL;
}

rr_tensor *rr_mrsnet_decode(rr_ctx *c, const rr_mrsnet *m, rr_tensor *const d[4], int64_t out_h, int64_t out_w,
                            rr_trace *tr)
{
    rr_scope s = rr_scope_begin(c, tr); /* the logits are kept, what led to them released */
    rr_tensor *out = rr_decoder_fwd(c, &m->decoder, d[3], d[2], d[1], d[0], tr);
    rr_trace_put(tr, "", "decoder.out", out);
    rr_tensor *logits = rr_resize_bilinear(c, out, out_h, out_w, 1); /* lib/_utils.py:65 */
    rr_trace_put(tr, "", "logits", logits);
    return rr_scope_keep(&s, logits);
}

rr_tensor *rr_mrsnet_fwd(rr_ctx *c, const rr_mrsnet *m, rr_tensor *img, rr_tensor *ids, rr_tensor *mask,
                         rr_trace *tr)
{
    rr_tensor *d[4];
    rr_tensor *l = rr_mrsnet_encode_text(c, m, ids, mask, tr);
    rr_tensor *lm = rr_mrsnet_lmask(c, mask);
    if (!l || !lm || !img || rr_backbone_fwd(c, &m->backbone, img, l, lm, d, tr))
        return NULL;
    return rr_mrsnet_decode(c, m, d, img->shape[2], img->shape[3], tr);
}

rr_tensor *rr_mrsnet_loss(rr_ctx *c, const rr_mrsnet *m, rr_tensor *logits, rr_tensor *target,
                          rr_loss_terms *terms)
{
    const rr_loss_config *lc = &m->cfg.loss;
    rr_tensor *ce_t = rr_cross_entropy2(c, logits, target, lc->class_weights);
    rr_tensor *dice_t = rr_dice(c, logits, target, lc->dice_fg_only_nonempty);
    /* rr_dice sums over the batch; the one-GPU parity default is its mean (doc/training.md, Loss) */
    if (dice_t && !lc->dice_fg_only_nonempty && lc->dice_batch_mean)
        dice_t = rr_scale(c, dice_t, 1.0f / (float)logits->shape[0]);
    rr_tensor *loss = rr_add(c, rr_scale(c, ce_t, lc->ce_weight), rr_scale(c, dice_t, lc->dice_weight));
    rr_tensor *presence_t = NULL;
    if (lc->presence_weight > 0) { /* ours, off by default (doc/training.md, Empty and multi-target samples) */
        presence_t = rr_presence2(c, logits, target);
        loss = presence_t ? rr_add(c, loss, rr_scale(c, presence_t, lc->presence_weight)) : NULL;
    }
    if (terms)
        *terms = (rr_loss_terms){ce_t, dice_t, presence_t};
    return loss;
}
