/* The text encoder: BERT (Hugging Face Transformers v3.0.2, post-LN layers,
 * no pooler; doc/network.md, BERT), with the parameter names of
 * tools/reference/mrsnet.py's BertModel under the prefix "text_encoder":
 * embeddings.{word,position,token_type}_embeddings.weight,
 * embeddings.LayerNorm.*, encoder.layer.{k}.attention.self.{query,key,value}.*,
 * encoder.layer.{k}.attention.output.{dense,LayerNorm}.*,
 * encoder.layer.{k}.intermediate.dense.*, encoder.layer.{k}.output.{dense,LayerNorm}.*.
 *
 * Init: Hugging Face's _init_weights (normal(.02) weights and embeddings,
 * bias 0, LayerNorm 1/0).  The embeddings and the layers from
 * cfg->text.train_layers on are RR_PARAM_FROZEN (doc/network.md, BERT; doc/training.md, Optimizer groups). */
#ifndef RR_NN_BERT_H
#define RR_NN_BERT_H

#include "config.h"
#include "layers.h"

typedef struct {
    rr_linear_m query, key, value;
    rr_linear_m attn_dense; /* attention.output.dense */
    rr_layer_norm_m attn_norm; /* attention.output.LayerNorm */
    rr_linear_m intermediate; /* intermediate.dense */
    rr_linear_m out_dense; /* output.dense */
    rr_layer_norm_m out_norm; /* output.LayerNorm */
} rr_bert_layer;

typedef struct rr_bert {
    rr_tensor *word, *position, *token_type; /* (vocab | max_position | type_vocab) x D */
    rr_layer_norm_m emb_norm;
    rr_bert_layer *layers; /* num_layers, in the registry's store */
    int num_layers, heads;
    float hidden_dropout, attention_dropout;
} rr_bert;

int rr_bert_init(rr_params *p, rr_bert *m, const rr_config *cfg, const char *prefix);

/* ids: I32 B x N token ids; mask: I32 B x N, 1 for a token and 0 for a pad.
 * Returns the last layer's hidden states, B x N x D, at every position. */
rr_tensor *rr_bert_fwd(rr_ctx *c, const rr_bert *m, rr_tensor *ids, rr_tensor *mask);

#endif
