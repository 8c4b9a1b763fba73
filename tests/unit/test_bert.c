/* The text encoder (doc/network.md, BERT): parameter names, kinds and counts, shapes,
 * padded positions, dropout, gradients w.r.t. a few parameters. */
#include <string.h>

#include "harness.h"
#include "nn/bert.h"

#define B 2
#define N 6

/* A 2-layer BERT of width 16 (2 heads), layer 0 trained and layer 1 frozen. */
static void tiny_config(rr_config *cfg)
{
    rr_config_default(cfg);
    cfg->text.vocab_size = 30;
    cfg->text.hidden_size = 16;
    cfg->text.num_layers = 2;
    cfg->text.num_heads = 2;
    cfg->text.intermediate_size = 32;
    cfg->text.max_position = 8;
    cfg->text.train_layers = 1;
}

/* Parameters of a BERT without pooler (doc/network.md, BERT): the embeddings and their
 * LayerNorm, and per layer q, k, v, the attention output, two LayerNorms
 * and the feed-forward pair. */
static int64_t bert_count(const rr_text_config *t)
{
    int64_t d = t->hidden_size, i = t->intermediate_size;
    int64_t emb = (int64_t)(t->vocab_size + t->max_position + t->type_vocab_size) * d + 2 * d;
    return emb + t->num_layers * (4 * d * d + 2 * d * i + 9 * d + i);
}

/* ids and mask: sample 0 has 4 tokens and 2 pads, sample 1 none. */
static const int32_t ids_host[B * N] = {1, 7, 8, 2, 0, 0, 1, 3, 4, 5, 6, 2};
static const int32_t mask_host[B * N] = {1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1};

TEST(bert_parameter_count_is_the_specs)
{
    rr_config cfg;
    rr_config_default(&cfg);
    /* the formula at BERT-base: embeddings 23,837,184 + 12 x 7,087,872 */
    CHECK(bert_count(&cfg.text) == 108891648, "BERT-base %lld", (long long)bert_count(&cfg.text));
    tiny_config(&cfg);
    rr_params p;
    rr_bert m;
    rr_params_init(&p, RR_CPU, 1, 0);
    CHECK_OK(rr_bert_init(&p, &m, &cfg, "text_encoder"));
    CHECK(rr_params_count(&p, NULL) == bert_count(&cfg.text), "%lld parameters, formula %lld",
          (long long)rr_params_count(&p, NULL), (long long)bert_count(&cfg.text));
    CHECK(p.n == 5 + 2 * 16, "%d tensors", p.n);
    rr_params_free(&p);
}

TEST(bert_parameter_names_and_kinds)
{
    rr_config cfg;
    tiny_config(&cfg);
    rr_params p;
    rr_bert m;
    rr_params_init(&p, RR_CPU, 1, 0);
    CHECK_OK(rr_bert_init(&p, &m, &cfg, "text_encoder"));
    struct {
        const char *name;
        int kind;
        int64_t d0, d1;
    } want[] = {
        {"text_encoder.embeddings.word_embeddings.weight", RR_PARAM_FROZEN, 30, 16},
        {"text_encoder.embeddings.position_embeddings.weight", RR_PARAM_FROZEN, 8, 16},
        {"text_encoder.embeddings.token_type_embeddings.weight", RR_PARAM_FROZEN, 2, 16},
        {"text_encoder.embeddings.LayerNorm.weight", RR_PARAM_FROZEN, 16, -1},
        {"text_encoder.embeddings.LayerNorm.bias", RR_PARAM_FROZEN, 16, -1},
        {"text_encoder.encoder.layer.0.attention.self.query.weight", RR_PARAM_TRAIN, 16, 16},
        {"text_encoder.encoder.layer.0.attention.self.key.bias", RR_PARAM_TRAIN, 16, -1},
        {"text_encoder.encoder.layer.0.attention.self.value.weight", RR_PARAM_TRAIN, 16, 16},
        {"text_encoder.encoder.layer.0.attention.output.dense.weight", RR_PARAM_TRAIN, 16, 16},
        {"text_encoder.encoder.layer.0.attention.output.LayerNorm.weight", RR_PARAM_TRAIN, 16, -1},
        {"text_encoder.encoder.layer.0.intermediate.dense.weight", RR_PARAM_TRAIN, 32, 16},
        {"text_encoder.encoder.layer.0.output.dense.weight", RR_PARAM_TRAIN, 16, 32},
        {"text_encoder.encoder.layer.0.output.LayerNorm.bias", RR_PARAM_TRAIN, 16, -1},
        {"text_encoder.encoder.layer.1.attention.self.query.weight", RR_PARAM_FROZEN, 16, 16},
        {"text_encoder.encoder.layer.1.output.LayerNorm.bias", RR_PARAM_FROZEN, 16, -1},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        rr_param *q = rr_params_find(&p, want[i].name);
        CHECK(q && q->kind == want[i].kind && q->t->shape[0] == want[i].d0 &&
                  (want[i].d1 < 0 ? q->t->ndim == 1 : q->t->shape[1] == want[i].d1),
              "%s", want[i].name);
    }
    CHECK(!rr_params_find(&p, "text_encoder.pooler.dense.weight"), "a pooler");
    /* Hugging Face's init: LayerNorm 1/0, Linear bias 0 */
    float v[16];
    rr_to_host(v, rr_params_find(&p, "text_encoder.encoder.layer.1.output.LayerNorm.weight")->t);
    CHECK(v[0] == 1 && v[15] == 1, "LayerNorm weight %g", v[0]);
    rr_to_host(v, rr_params_find(&p, "text_encoder.encoder.layer.0.attention.self.key.bias")->t);
    CHECK(v[0] == 0 && v[15] == 0, "key bias %g", v[0]);
    rr_params_free(&p);
}

/* B x N x D; tokens' states do not depend on the pads' ids (exp(-10000)
 * underflows to 0), and the pads' own states are finite. */
TEST(bert_shapes_and_padding)
{
    rr_config cfg;
    tiny_config(&cfg);
    rr_params p;
    rr_bert m;
    rr_params_init(&p, RR_CPU, 3, 0);
    CHECK_OK(rr_bert_init(&p, &m, &cfg, "text_encoder"));
    rr_ctx *c = test_ctx();
    int32_t ids2[B * N];
    memcpy(ids2, ids_host, sizeof ids2);
    ids2[4] = 17, ids2[5] = 29; /* other pads' ids */
    rr_tensor *mask = rr_from_host(c, RR_I32, RR_SHAPE(B, N), mask_host);
    rr_tensor *y0 = rr_bert_fwd(c, &m, rr_from_host(c, RR_I32, RR_SHAPE(B, N), ids_host), mask);
    rr_tensor *y1 = rr_bert_fwd(c, &m, rr_from_host(c, RR_I32, RR_SHAPE(B, N), ids2), mask);
    CHECK_NOTNULL(y0);
    CHECK_NOTNULL(y1);
    if (y0 && y1) {
        CHECK(y0->ndim == 3 && y0->shape[0] == B && y0->shape[1] == N && y0->shape[2] == 16, "shape");
        CHECK(memcmp(rr_f32(y0), rr_f32(y1), 4 * 16 * sizeof(float)) == 0, "pads' ids changed the tokens");
        CHECK(memcmp(rr_f32(y0) + 4 * 16, rr_f32(y1) + 4 * 16, 2 * 16 * sizeof(float)) != 0, "pads unchanged");
        CHECK(memcmp(rr_f32(y0) + N * 16, rr_f32(y1) + N * 16, N * 16 * sizeof(float)) == 0, "sample 1 changed");
        int finite = 1;
        for (int64_t i = 0; i < y0->numel; i++)
            finite &= rr_f32(y0)[i] == rr_f32(y0)[i] && rr_f32(y0)[i] < 1e30f && rr_f32(y0)[i] > -1e30f;
        CHECK(finite, "non-finite states");
    }
    /* bad masks and lengths are errors */
    int32_t bad[B * N] = {2};
    CHECK(!rr_bert_fwd(c, &m, rr_from_host(c, RR_I32, RR_SHAPE(B, N), ids_host),
                       rr_from_host(c, RR_I32, RR_SHAPE(B, N), bad)),
          "mask value 2 accepted");
    int32_t long_ids[9] = {0};
    CHECK(!rr_bert_fwd(c, &m, rr_from_host(c, RR_I32, RR_SHAPE(1, 9), long_ids),
                       rr_from_host(c, RR_I32, RR_SHAPE(1, 9), long_ids)),
          "9 tokens for 8 positions accepted");
    rr_params_free(&p);
}

/* Dropout (0.1 by default) acts in training only. */
TEST(bert_dropout_in_training_only)
{
    rr_config cfg;
    tiny_config(&cfg);
    rr_params p;
    rr_bert m;
    rr_params_init(&p, RR_CPU, 3, 0);
    CHECK_OK(rr_bert_init(&p, &m, &cfg, "text_encoder"));
    rr_ctx *c = test_ctx();
    rr_tensor *ids = rr_from_host(c, RR_I32, RR_SHAPE(B, N), ids_host);
    rr_tensor *mask = rr_from_host(c, RR_I32, RR_SHAPE(B, N), mask_host);
    rr_tensor *e0 = rr_bert_fwd(c, &m, ids, mask), *e1 = rr_bert_fwd(c, &m, ids, mask);
    c->training = 1;
    rr_tensor *t0 = rr_bert_fwd(c, &m, ids, mask);
    c->training = 0;
    CHECK(e0 && e1 && t0, "%s", rr_errmsg());
    if (e0 && e1 && t0) {
        CHECK(memcmp(e0->data, e1->data, rr_tensor_bytes(e0)) == 0, "eval is not deterministic");
        CHECK(memcmp(e0->data, t0->data, rr_tensor_bytes(e0)) != 0, "training equals eval");
    }
    rr_params_free(&p);
}

/* in: parameters the module reads through its own pointers. */
static rr_tensor *apply_bert(rr_ctx *c, rr_tensor *const *in, const void *arg)
{
    return rr_bert_fwd(c, arg, rr_from_host(c, RR_I32, RR_SHAPE(B, N), ids_host),
                       rr_from_host(c, RR_I32, RR_SHAPE(B, N), mask_host));
}

TEST(bert_gradients)
{
    rr_config cfg;
    tiny_config(&cfg);
    rr_config_without_dropout(&cfg);
    rr_params p;
    rr_bert m;
    rr_params_init(&p, RR_CPU, 5, 0);
    CHECK_OK(rr_bert_init(&p, &m, &cfg, "text_encoder"));
    /* weights of std .3 rather than .02, so that attention is far from
     * uniform and every gradient well above the differences' noise */
    for (int i = 0; i < p.n; i++)
        test_fill_randn(p.items[i].t, 40 + (uint64_t)i, 0.3f);
    /* frozen ones (embeddings, layer 1) get gradients too */
    rr_tensor *in[5] = {m.position, m.layers[0].query.weight, m.layers[0].intermediate.bias,
                        m.layers[1].value.weight, m.layers[1].out_norm.weight};
    for (int i = 0; i < 5; i++)
        in[i]->requires_grad = 1;
    /* the query weight's gradient is small next to the float noise of the
     * loss: a wider step (its error is still 3e-3) */
    check_gradient_h("bert", apply_bert, &m, 5, in, 1e-2, 3e-2);
    rr_params_free(&p);
}
