#include "bert.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "../error.h"
#include "../ops/check.h"
#include "scope.h"

/* PREFIX.NAME into full (n bytes). */
static int join(char *full, size_t n, const char *prefix, const char *name)
{
    if ((size_t)snprintf(full, n, "%s.%s", prefix, name) >= n)
        return rr_error("parameter name %s.%s is too long", prefix, name);
    return 0;
}

/* normal(.02) weight and zero bias: RR_LINEAR_TRUNC (the [-2, 2] cut never
 * bites at std .02) */
static int linear(rr_params *p, rr_linear_m *m, int64_t in, int64_t out, int kind, const char *prefix,
                  const char *name)
{
    char full[256];
    if (join(full, sizeof full, prefix, name))
        return -1;
    return rr_linear_m_init(p, m, in, out, 1, RR_LINEAR_TRUNC, kind, full);
}

static int layer_norm(rr_params *p, rr_layer_norm_m *m, int64_t dim, float eps, int kind, const char *prefix,
                      const char *name)
{
    char full[256];
    if (join(full, sizeof full, prefix, name))
        return -1;
    return rr_layer_norm_m_init(p, m, dim, eps, kind, full);
}

static int layer_init(rr_params *p, rr_bert_layer *m, const rr_text_config *t, int kind, const char *prefix)
{
    int64_t d = t->hidden_size, i = t->intermediate_size;
    if (linear(p, &m->query, d, d, kind, prefix, "attention.self.query") ||
        linear(p, &m->key, d, d, kind, prefix, "attention.self.key") ||
        linear(p, &m->value, d, d, kind, prefix, "attention.self.value") ||
        linear(p, &m->attn_dense, d, d, kind, prefix, "attention.output.dense") ||
        layer_norm(p, &m->attn_norm, d, t->ln_eps, kind, prefix, "attention.output.LayerNorm") ||
        linear(p, &m->intermediate, d, i, kind, prefix, "intermediate.dense") ||
        linear(p, &m->out_dense, i, d, kind, prefix, "output.dense") ||
        layer_norm(p, &m->out_norm, d, t->ln_eps, kind, prefix, "output.LayerNorm"))
        return -1;
    return 0;
}

int rr_bert_init(rr_params *p, rr_bert *m, const rr_config *cfg, const char *prefix)
{
    const rr_text_config *t = &cfg->text;
    int64_t d = t->hidden_size;
    if (t->num_layers < 1 || t->num_heads < 1 || d % t->num_heads)
        return rr_error("%s: %d layers of width %lld in %d heads is not a BERT", prefix, t->num_layers,
                        (long long)d, t->num_heads);
    m->num_layers = t->num_layers;
    m->heads = t->num_heads;
    m->hidden_dropout = t->hidden_dropout;
    m->attention_dropout = t->attention_dropout;
    m->word = rr_param_add(p, RR_PARAM_FROZEN, RR_INIT_TRUNC_NORMAL, 0.02f, RR_SHAPE(t->vocab_size, d),
                           "%s.embeddings.word_embeddings.weight", prefix);
    m->position = rr_param_add(p, RR_PARAM_FROZEN, RR_INIT_TRUNC_NORMAL, 0.02f, RR_SHAPE(t->max_position, d),
                               "%s.embeddings.position_embeddings.weight", prefix);
    m->token_type = rr_param_add(p, RR_PARAM_FROZEN, RR_INIT_TRUNC_NORMAL, 0.02f, RR_SHAPE(t->type_vocab_size, d),
                                 "%s.embeddings.token_type_embeddings.weight", prefix);
    char sub[256];
    if (join(sub, sizeof sub, prefix, "embeddings") || !m->word || !m->position || !m->token_type ||
        layer_norm(p, &m->emb_norm, d, t->ln_eps, RR_PARAM_FROZEN, sub, "LayerNorm"))
        return -1;
    /* in the registry's arena: freed with it */
    m->layers = rr_arena_calloc(&p->store.meta, (size_t)m->num_layers * sizeof *m->layers);
    if (!m->layers)
        return -1;
    for (int k = 0; k < m->num_layers; k++) {
        if ((size_t)snprintf(sub, sizeof sub, "%s.encoder.layer.%d", prefix, k) >= sizeof sub)
            return rr_error("%s: prefix too long", prefix);
        if (layer_init(p, &m->layers[k], t, k < t->train_layers ? RR_PARAM_TRAIN : RR_PARAM_FROZEN, sub))
            return -1;
    }
    return 0;
}

/* B x N x D -> B x heads x N x D/heads. */
static rr_tensor *split_heads(rr_ctx *c, rr_tensor *x, int heads)
{
    if (!x)
        return NULL;
    int64_t b = x->shape[0], n = x->shape[1], d = x->shape[2];
    return rr_permute(c, rr_reshape(c, x, RR_SHAPE(b, n, heads, d / heads)), (int[]){0, 2, 1, 3});
}

/* One post-LN layer; ext: the additive mask, B x 1 x 1 x N. */
static rr_tensor *layer_fwd(rr_ctx *c, const rr_bert *bert, const rr_bert_layer *m, rr_tensor *x, rr_tensor *ext)
{
    if (!x)
        return NULL;
    int64_t b = x->shape[0], n = x->shape[1], d = x->shape[2];
    rr_tensor *q = split_heads(c, rr_linear_m_fwd(c, &m->query, x), bert->heads);
    rr_tensor *k = split_heads(c, rr_linear_m_fwd(c, &m->key, x), bert->heads);
    rr_tensor *v = split_heads(c, rr_linear_m_fwd(c, &m->value, x), bert->heads);
    rr_tensor *s = rr_scale(c, rr_matmul_t(c, q, k, 0, 1), (float)(1.0 / sqrt((double)(d / bert->heads))));
    rr_tensor *pr = rr_dropout(c, rr_softmax(c, s, -1, ext), bert->attention_dropout);
    rr_tensor *o = rr_reshape(c, rr_permute(c, rr_matmul(c, pr, v), (int[]){0, 2, 1, 3}), RR_SHAPE(b, n, d));
    rr_tensor *a = rr_layer_norm_m_fwd(
        c, &m->attn_norm, rr_add(c, rr_dropout(c, rr_linear_m_fwd(c, &m->attn_dense, o), bert->hidden_dropout), x));
    rr_tensor *i = rr_gelu(c, rr_linear_m_fwd(c, &m->intermediate, a));
    return rr_layer_norm_m_fwd(
        c, &m->out_norm, rr_add(c, rr_dropout(c, rr_linear_m_fwd(c, &m->out_dense, i), bert->hidden_dropout), a));
}

rr_tensor *rr_bert_fwd(rr_ctx *c, const rr_bert *m, rr_tensor *ids, rr_tensor *mask)
{
    if (rr_check_dtype("bert", ids, RR_I32) || rr_check_dtype("bert", mask, RR_I32) ||
        rr_check_ndim("bert", ids, 2) || rr_check_same_shape("bert", ids, mask))
        return NULL;
    int64_t b = ids->shape[0], n = ids->shape[1];
    if (n > m->position->shape[0]) {
        rr_error("bert: %lld tokens, but %lld positions", (long long)n, (long long)m->position->shape[0]);
        return NULL;
    }
    int32_t *host = calloc((size_t)(2 * n), sizeof *host);
    if (!host) {
        rr_error("out of memory");
        return NULL;
    }
    for (int64_t i = 0; i < n; i++)
        host[i] = (int32_t)i;
    /* position ids 0..N-1 and token types 0, shared by the batch (N x D
     * embeddings broadcast over B) */
    rr_tensor *pos = rr_const(c, RR_I32, RR_SHAPE(n), host);
    rr_tensor *type = rr_const(c, RR_I32, RR_SHAPE(n), host + n);
    free(host);
    if (!pos || !type)
        return NULL;
    rr_tensor *e = rr_add(c, rr_add(c, rr_embedding(c, ids, m->word), rr_embedding(c, pos, m->position)),
                          rr_embedding(c, type, m->token_type));
    rr_tensor *x = rr_dropout(c, rr_layer_norm_m_fwd(c, &m->emb_norm, e), m->hidden_dropout);
    /* The extended mask (1 - mask) * -10000 (doc/network.md, BERT) as a lookup of the
     * mask in the table {-10000, 0}: it stays on the device, and a mask value
     * other than 0 or 1 is an error. */
    static const float ext_table[2] = {-10000.0f, 0.0f};
    rr_tensor *table = rr_const(c, RR_F32, RR_SHAPE(2, 1), ext_table);
    rr_tensor *ext = rr_reshape(c, rr_embedding(c, mask, table), RR_SHAPE(b, 1, 1, n));
    if (!ext)
        return NULL;
    for (int k = 0; k < m->num_layers; k++) {
        rr_scope s = rr_scope_begin(c, NULL); /* a layer keeps its output only */
        x = rr_scope_keep(&s, layer_fwd(c, m, &m->layers[k], x, ext));
    }
    return x;
}
