/* The configuration of an MRSNet model: the JSON files in share/configs/, documented in
 * share/configs/README, and the JSON a weight file carries in its metadata
 * under "config".  Every field has the mrsnet-b value by default, the same
 * defaults as tools/reference/mrsnet.py; a file overrides any subset, and an
 * unknown field is an error (a typo must not silently fall back). */
#ifndef RR_NN_CONFIG_H
#define RR_NN_CONFIG_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    int patch_size, embed_dim, depths[4], num_heads[4], window_size;
    float mlp_ratio;
    int qkv_bias;
    int ape;                        /* absolute position embedding (doc/network.md, Swin configuration: off) */
    float drop_rate, attn_drop_rate, drop_path_rate, ln_eps, shift_mask_value;
} rr_swin_config;

typedef struct {
    int vocab_size, hidden_size, num_layers, num_heads, intermediate_size, max_position, type_vocab_size;
    float ln_eps, hidden_dropout, attention_dropout;
    int pad_token_id, max_len, train_layers;
} rr_text_config;

typedef struct {
    int psr, csr, psr_levels[3], npsr_levels;
    int psr_rescale_channels; /* "channels" (ours) or "none" (literal paper) */
    int psr_log1p, csr_radius, cma_heads;
    float dropout, in_eps, mask_value;
} rr_ifim_config;

typedef struct {
    int sr, heads, head_dim, freq_heads;
    float l2_eps, ln_eps, bn_eps, bn_momentum;
} rr_hfim_config;

/* The modules a configuration composes (share/configs/README, Methods):
 * MRSNet's by default, LAVT's and RMSIN's as alternatives. */
typedef enum { RR_FUSION_IFIM, RR_FUSION_PWAM, RR_FUSION_IIM } rr_fusion_kind;
typedef enum { RR_CROSS_HFIM, RR_CROSS_CIM, RR_CROSS_NONE } rr_cross_kind;
typedef enum { RR_DECODER_RMSIN, RR_DECODER_LAVT } rr_decoder_kind;

/* RMSIN's intra-scale module beyond LAVT's PWAM: the various receptive
 * branch's BatchNorms (share/configs/README, iim). */
typedef struct {
    float bn_eps, bn_momentum;
} rr_iim_config;

/* RMSIN's cross-scale module (share/configs/README, cim). */
typedef struct {
    int layers, key_dim, heads, attn_ratio, mlp_ratio;
    float bn_eps, bn_momentum;
} rr_cim_config;

/* LAVT's pixel-word attention module (fusion "pwam"). */
typedef struct {
    int heads;
    float dropout, in_eps, mask_value;
} rr_pwam_config;

typedef struct {
    int kind; /* rr_decoder_kind */
    int hidden, arc_kernel_number;
    float arc_dropout, arc_max_angle_deg, ln_eps, bn_eps, bn_momentum;
} rr_decoder_config;

typedef struct {
    float ce_weight, class_weights[2], dice_weight;
    int dice_batch_mean; /* "mean" (one-GPU parity, default) or "sum" (RMSIN per GPU) */
    float dice_smooth;
    int dice_fg_only_nonempty;
    float presence_weight; /* ours: the weight of rr_presence2 (0: off, the default) */
} rr_loss_config;

typedef struct rr_config {
    char name[64];
    int image_size, in_chans, num_classes;
    float pixel_mean[3], pixel_std[3];
    int fusion[4];   /* rr_fusion_kind of each stage */
    int cross_scale; /* rr_cross_kind */
    rr_swin_config swin;
    rr_text_config text;
    rr_ifim_config ifim;
    rr_pwam_config pwam;
    rr_hfim_config hfim;
    rr_iim_config iim;
    rr_cim_config cim;
    rr_decoder_config decoder;
    rr_loss_config loss;
} rr_config;

/* mrsnet-b. */
void rr_config_default(rr_config *cfg);
/* Defaults overridden by a JSON text; then checked (rr_config_check). */
int rr_config_parse(rr_config *cfg, const char *json, size_t len);
int rr_config_load(rr_config *cfg, const char *path);
/* Every field in its range and every relation between fields (widths and
 * their heads, image_size and patch_size, windows and grids, ...); the
 * message names the field and its value ("config: swin.depths[2] is -1,
 * must be 1 to 64"). */
int rr_config_check(const rr_config *cfg);
/* The full configuration as JSON (malloc'd), to store in a weight file. */
char *rr_config_to_json(const rr_config *cfg);
/* The configuration's names of the module kinds ("ifim", "hfim", "rmsin", ...; "?" for another number). */
const char *rr_fusion_name(int kind);
const char *rr_cross_scale_name(int kind);
const char *rr_decoder_name(int kind);
/* Channels of the HFIM's stride-4 map: sum of C_i / r_i^2. */
int rr_config_hfim_channels(const rr_config *cfg);
/* Copy with every dropout and DropPath probability 0 (golden runs). */
void rr_config_without_dropout(rr_config *cfg);

#endif
