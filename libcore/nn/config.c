#include "config.h"

#include <cjson/cJSON.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../error.h"

void rr_config_default(rr_config *c)
{
    *c = (rr_config){
        .name = "mrsnet-b",
        .image_size = 480,
        .in_chans = 3,
        .num_classes = 2,
        .pixel_mean = {0.485f, 0.456f, 0.406f},
        .pixel_std = {0.229f, 0.224f, 0.225f},
        .swin = {.patch_size = 4, .embed_dim = 128, .depths = {2, 2, 18, 2}, .num_heads = {4, 8, 16, 32},
                 .window_size = 12, .mlp_ratio = 4, .qkv_bias = 1, .drop_path_rate = 0.3f, .ln_eps = 1e-5f,
                 .shift_mask_value = -100},
        .text = {.vocab_size = 30522, .hidden_size = 768, .num_layers = 12, .num_heads = 12,
                 .intermediate_size = 3072, .max_position = 512, .type_vocab_size = 2, .ln_eps = 1e-12f,
                 .hidden_dropout = 0.1f, .attention_dropout = 0.1f, .max_len = 20, .train_layers = 10},
        .ifim = {.psr = 1, .csr = 1, .psr_levels = {1, 2, 4}, .npsr_levels = 3, .psr_rescale_channels = 1,
                 .csr_radius = 1, .cma_heads = 1, .in_eps = 1e-5f, .mask_value = 10000},
        .hfim = {.sr = 4, .heads = 8, .head_dim = 32, .freq_heads = 8, .l2_eps = 1e-6f, .ln_eps = 1e-5f,
                 .bn_eps = 1e-5f, .bn_momentum = 0.1f},
        .decoder = {.hidden = 512, .arc_kernel_number = 1, .arc_dropout = 0.2f, .arc_max_angle_deg = 40,
                    .ln_eps = 1e-5f, .bn_eps = 1e-5f, .bn_momentum = 0.1f},
        .loss = {.ce_weight = 0.9f, .class_weights = {0.9f, 1.1f}, .dice_weight = 0.2f, .dice_batch_mean = 1,
                 .dice_smooth = 1e-6f},
    };
}

/* One leaf of the JSON: its dotted path, kind, where it goes, how many. */
typedef enum { F_INT, F_FLOAT, F_BOOL, F_STR, F_ENUM } field_kind;
typedef struct {
    const char *path;
    field_kind kind;
    size_t off;
    int count;          /* array length (0: a scalar); -1: variable, up to 3 (psr_levels) */
    const char *enum0;  /* F_ENUM: the value stored as 0 ... */
    const char *enum1;  /* ... and as 1 */
} field;

#define O(m) offsetof(rr_config, m)
static const field fields[] = {
    {"format", F_STR, 0, 0, NULL, NULL},
    {"name", F_STR, O(name), 0, NULL, NULL},
    {"image_size", F_INT, O(image_size), 0, NULL, NULL},
    {"in_chans", F_INT, O(in_chans), 0, NULL, NULL},
    {"num_classes", F_INT, O(num_classes), 0, NULL, NULL},
    {"pixel_mean", F_FLOAT, O(pixel_mean), 3, NULL, NULL},
    {"pixel_std", F_FLOAT, O(pixel_std), 3, NULL, NULL},
    {"swin.patch_size", F_INT, O(swin.patch_size), 0, NULL, NULL},
    {"swin.embed_dim", F_INT, O(swin.embed_dim), 0, NULL, NULL},
    {"swin.depths", F_INT, O(swin.depths), 4, NULL, NULL},
    {"swin.num_heads", F_INT, O(swin.num_heads), 4, NULL, NULL},
    {"swin.window_size", F_INT, O(swin.window_size), 0, NULL, NULL},
    {"swin.mlp_ratio", F_FLOAT, O(swin.mlp_ratio), 0, NULL, NULL},
    {"swin.qkv_bias", F_BOOL, O(swin.qkv_bias), 0, NULL, NULL},
    {"swin.ape", F_BOOL, O(swin.ape), 0, NULL, NULL},
    {"swin.drop_rate", F_FLOAT, O(swin.drop_rate), 0, NULL, NULL},
    {"swin.attn_drop_rate", F_FLOAT, O(swin.attn_drop_rate), 0, NULL, NULL},
    {"swin.drop_path_rate", F_FLOAT, O(swin.drop_path_rate), 0, NULL, NULL},
    {"swin.ln_eps", F_FLOAT, O(swin.ln_eps), 0, NULL, NULL},
    {"swin.shift_mask_value", F_FLOAT, O(swin.shift_mask_value), 0, NULL, NULL},
    {"text.vocab_size", F_INT, O(text.vocab_size), 0, NULL, NULL},
    {"text.hidden_size", F_INT, O(text.hidden_size), 0, NULL, NULL},
    {"text.num_layers", F_INT, O(text.num_layers), 0, NULL, NULL},
    {"text.num_heads", F_INT, O(text.num_heads), 0, NULL, NULL},
    {"text.intermediate_size", F_INT, O(text.intermediate_size), 0, NULL, NULL},
    {"text.max_position", F_INT, O(text.max_position), 0, NULL, NULL},
    {"text.type_vocab_size", F_INT, O(text.type_vocab_size), 0, NULL, NULL},
    {"text.ln_eps", F_FLOAT, O(text.ln_eps), 0, NULL, NULL},
    {"text.hidden_dropout", F_FLOAT, O(text.hidden_dropout), 0, NULL, NULL},
    {"text.attention_dropout", F_FLOAT, O(text.attention_dropout), 0, NULL, NULL},
    {"text.pad_token_id", F_INT, O(text.pad_token_id), 0, NULL, NULL},
    {"text.max_len", F_INT, O(text.max_len), 0, NULL, NULL},
    {"text.train_layers", F_INT, O(text.train_layers), 0, NULL, NULL},
    {"ifim.psr", F_BOOL, O(ifim.psr), 0, NULL, NULL},
    {"ifim.csr", F_BOOL, O(ifim.csr), 0, NULL, NULL},
    {"ifim.psr_levels", F_INT, O(ifim.psr_levels), -1, NULL, NULL},
    {"ifim.psr_rescale", F_ENUM, O(ifim.psr_rescale_channels), 0, "none", "channels"},
    {"ifim.psr_log1p", F_BOOL, O(ifim.psr_log1p), 0, NULL, NULL},
    {"ifim.csr_radius", F_INT, O(ifim.csr_radius), 0, NULL, NULL},
    {"ifim.cma_heads", F_INT, O(ifim.cma_heads), 0, NULL, NULL},
    {"ifim.dropout", F_FLOAT, O(ifim.dropout), 0, NULL, NULL},
    {"ifim.in_eps", F_FLOAT, O(ifim.in_eps), 0, NULL, NULL},
    {"ifim.mask_value", F_FLOAT, O(ifim.mask_value), 0, NULL, NULL},
    {"hfim.sr", F_INT, O(hfim.sr), 0, NULL, NULL},
    {"hfim.heads", F_INT, O(hfim.heads), 0, NULL, NULL},
    {"hfim.head_dim", F_INT, O(hfim.head_dim), 0, NULL, NULL},
    {"hfim.freq_heads", F_INT, O(hfim.freq_heads), 0, NULL, NULL},
    {"hfim.l2_eps", F_FLOAT, O(hfim.l2_eps), 0, NULL, NULL},
    {"hfim.ln_eps", F_FLOAT, O(hfim.ln_eps), 0, NULL, NULL},
    {"hfim.bn_eps", F_FLOAT, O(hfim.bn_eps), 0, NULL, NULL},
    {"hfim.bn_momentum", F_FLOAT, O(hfim.bn_momentum), 0, NULL, NULL},
    {"decoder.hidden", F_INT, O(decoder.hidden), 0, NULL, NULL},
    {"decoder.arc_kernel_number", F_INT, O(decoder.arc_kernel_number), 0, NULL, NULL},
    {"decoder.arc_dropout", F_FLOAT, O(decoder.arc_dropout), 0, NULL, NULL},
    {"decoder.arc_max_angle_deg", F_FLOAT, O(decoder.arc_max_angle_deg), 0, NULL, NULL},
    {"decoder.ln_eps", F_FLOAT, O(decoder.ln_eps), 0, NULL, NULL},
    {"decoder.bn_eps", F_FLOAT, O(decoder.bn_eps), 0, NULL, NULL},
    {"decoder.bn_momentum", F_FLOAT, O(decoder.bn_momentum), 0, NULL, NULL},
    {"loss.ce_weight", F_FLOAT, O(loss.ce_weight), 0, NULL, NULL},
    {"loss.class_weights", F_FLOAT, O(loss.class_weights), 2, NULL, NULL},
    {"loss.dice_weight", F_FLOAT, O(loss.dice_weight), 0, NULL, NULL},
    {"loss.dice_batch_reduction", F_ENUM, O(loss.dice_batch_mean), 0, "sum", "mean"},
    {"loss.dice_smooth", F_FLOAT, O(loss.dice_smooth), 0, NULL, NULL},
    {"loss.dice_fg_only_nonempty", F_BOOL, O(loss.dice_fg_only_nonempty), 0, NULL, NULL},
    {"loss.presence_weight", F_FLOAT, O(loss.presence_weight), 0, NULL, NULL},
};
#undef O
#define NFIELDS (int)(sizeof fields / sizeof fields[0])

static const char *const sections[] = {"swin", "text", "ifim", "hfim", "decoder", "loss"};

static int set_scalar(rr_config *cfg, const field *f, const cJSON *v, int k)
{
    char *base = (char *)cfg + f->off;
    switch (f->kind) {
    case F_INT:
        /* the range first: converting a double outside it to int is undefined */
        if (!cJSON_IsNumber(v) || !(v->valuedouble >= INT_MIN && v->valuedouble <= INT_MAX) ||
            v->valuedouble != (double)(int)v->valuedouble)
            return rr_error("config: %s must be an integer", f->path);
        ((int *)base)[k] = (int)v->valuedouble;
        return 0;
    case F_FLOAT:
        /* a value beyond float's range would become an infinity */
        if (!cJSON_IsNumber(v) || !(fabs(v->valuedouble) <= FLT_MAX))
            return rr_error("config: %s must be a number within +-%g", f->path, FLT_MAX);
        ((float *)base)[k] = (float)v->valuedouble;
        return 0;
    case F_BOOL:
        if (!cJSON_IsBool(v))
            return rr_error("config: %s must be true or false", f->path);
        *(int *)base = cJSON_IsTrue(v);
        return 0;
    case F_STR:
        if (!cJSON_IsString(v))
            return rr_error("config: %s must be a string", f->path);
        if (strcmp(f->path, "format") == 0) {
            if (strcmp(v->valuestring, "rrsis-config/1") != 0)
                return rr_error("config: format '%s' is not rrsis-config/1", v->valuestring);
            return 0;
        }
        snprintf(cfg->name, sizeof cfg->name, "%s", v->valuestring);
        return 0;
    case F_ENUM:
        if (cJSON_IsString(v) && strcmp(v->valuestring, f->enum0) == 0)
            *(int *)base = 0;
        else if (cJSON_IsString(v) && strcmp(v->valuestring, f->enum1) == 0)
            *(int *)base = 1;
        else
            return rr_error("config: %s is '%s' or '%s'", f->path, f->enum0, f->enum1);
        return 0;
    }
    return 0;
}

static int set_field(rr_config *cfg, const field *f, const cJSON *v)
{
    if (f->count == 0)
        return set_scalar(cfg, f, v, 0);
    int n = cJSON_GetArraySize(v), max = f->count < 0 ? 3 : f->count;
    if (!cJSON_IsArray(v) || (f->count > 0 && n != f->count) || n < 1 || n > max)
        return rr_error("config: %s must be an array of %s%d numbers", f->path, f->count < 0 ? "1 to " : "", max);
    for (int k = 0; k < n; k++)
        if (set_scalar(cfg, f, cJSON_GetArrayItem(v, k), k))
            return -1;
    if (f->count < 0)
        cfg->ifim.npsr_levels = n;
    return 0;
}

static int walk(rr_config *cfg, const cJSON *obj, const char *prefix)
{
    for (const cJSON *it = obj->child; it; it = it->next) {
        if (it->string[0] == '_') /* comments */
            continue;
        char path[128];
        snprintf(path, sizeof path, "%s%s", prefix, it->string);
        int is_section = 0;
        for (size_t s = 0; !*prefix && s < sizeof sections / sizeof sections[0]; s++)
            is_section |= strcmp(it->string, sections[s]) == 0;
        if (is_section) {
            if (!cJSON_IsObject(it))
                return rr_error("config: %s must be an object", path);
            char sub[136];
            snprintf(sub, sizeof sub, "%s.", path);
            if (walk(cfg, it, sub))
                return -1;
            continue;
        }
        int i = 0;
        while (i < NFIELDS && strcmp(fields[i].path, path) != 0)
            i++;
        if (i == NFIELDS)
            return rr_error("config: unknown field %s", path);
        if (set_field(cfg, &fields[i], it))
            return -1;
    }
    return 0;
}

int rr_config_parse(rr_config *cfg, const char *json, size_t len)
{
    rr_config_default(cfg);
    cJSON *root = cJSON_ParseWithLength(json, len);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return rr_error("config: not a JSON object");
    }
    int rc = walk(cfg, root, "");
    cJSON_Delete(root);
    return rc ? rc : rr_config_check(cfg);
}

int rr_config_load(rr_config *cfg, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return rr_error("%s: cannot open", path);
    char *buf = NULL;
    size_t len = 0, cap = 0, n;
    do {
        if (len == cap && !(buf = realloc(buf, cap = cap ? 2 * cap : 4096))) {
            fclose(f);
            return rr_error("%s: out of memory", path);
        }
        n = fread(buf + len, 1, cap - len, f);
        len += n;
    } while (n > 0);
    int bad = ferror(f);
    fclose(f);
    int rc = bad ? rr_error("%s: read error", path) : rr_config_parse(cfg, buf, len);
    free(buf);
    return rc ? rr_error_prefix("%s: ", path) : 0;
}

int rr_config_hfim_channels(const rr_config *cfg)
{
    int e = cfg->swin.embed_dim, ch = 0;
    for (int i = 0; i < 4; i++)
        ch += (e << i) / ((1 << i) * (1 << i));
    return ch;
}

int rr_config_check(const rr_config *cfg)
{
    const rr_swin_config *s = &cfg->swin;
    int e = s->embed_dim;
    /* first, so that the stage widths e << 3 and the stride patch_size * 8
     * below fit an int */
    if (e <= 0 || e % 8 || e > INT_MAX / 8)
        return rr_error("config: swin.embed_dim must be a positive multiple of 8 (HFIM PixelShuffle by 8), "
                        "at most %d", INT_MAX / 8 / 8 * 8);
    if (s->patch_size <= 0 || s->patch_size > INT_MAX / 8)
        return rr_error("config: swin.patch_size must be from 1 to %d", INT_MAX / 8);
    for (int i = 0; i < 4; i++)
        if (s->num_heads[i] <= 0 || (e << i) % s->num_heads[i])
            return rr_error("config: stage %d width %d is not a multiple of its heads", i + 1, e << i);
    if (s->window_size <= 0 || cfg->image_size % (s->patch_size * 8))
        return rr_error("config: image_size must be a multiple of %d (HFIM aligns all four scales)",
                        s->patch_size * 8);
    if (cfg->text.num_heads <= 0 || cfg->text.hidden_size % cfg->text.num_heads)
        return rr_error("config: text.hidden_size is not a multiple of text.num_heads");
    if (cfg->text.max_len < 2 || cfg->text.max_len > cfg->text.max_position)
        return rr_error("config: text.max_len must be in [2, text.max_position]");
    if (cfg->hfim.freq_heads <= 0 || rr_config_hfim_channels(cfg) % cfg->hfim.freq_heads)
        return rr_error("config: HFIM width %d is not a multiple of hfim.freq_heads", rr_config_hfim_channels(cfg));
    if (cfg->hfim.sr <= 0 || (cfg->image_size / s->patch_size) % cfg->hfim.sr)
        return rr_error("config: the stride-4 grid is not a multiple of hfim.sr");
    if (cfg->decoder.arc_kernel_number < 1)
        return rr_error("config: decoder.arc_kernel_number must be >= 1");
    if (cfg->loss.dice_smooth != 1e-6f) /* rr_dice has RMSIN's constant built in */
        return rr_error("config: loss.dice_smooth other than 1e-6 is not supported");
    if (!(cfg->loss.presence_weight >= 0))
        return rr_error("config: loss.presence_weight must be >= 0");
    if (cfg->in_chans != 3 || cfg->num_classes != 2)
        return rr_error("config: in_chans must be 3 and num_classes 2");
    return 0;
}

char *rr_config_to_json(const rr_config *cfg)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "format", "rrsis-config/1");
    for (int i = 1; i < NFIELDS; i++) {
        const field *f = &fields[i];
        cJSON *parent = root;
        const char *dot = strchr(f->path, '.'), *key = f->path;
        if (dot) {
            char sec[32];
            snprintf(sec, sizeof sec, "%.*s", (int)(dot - f->path), f->path);
            parent = cJSON_GetObjectItem(root, sec);
            if (!parent)
                parent = cJSON_AddObjectToObject(root, sec);
            key = dot + 1;
        }
        const char *base = (const char *)cfg + f->off;
        int n = f->count < 0 ? cfg->ifim.npsr_levels : f->count;
        cJSON *v;
        if (f->kind == F_STR)
            v = cJSON_CreateString(cfg->name);
        else if (f->kind == F_BOOL)
            v = cJSON_CreateBool(*(const int *)base);
        else if (f->kind == F_ENUM)
            v = cJSON_CreateString(*(const int *)base ? f->enum1 : f->enum0);
        else if (n == 0)
            v = f->kind == F_INT ? cJSON_CreateNumber(*(const int *)base)
                                 : cJSON_CreateNumber(*(const float *)base);
        else {
            v = cJSON_CreateArray();
            for (int k = 0; k < n; k++)
                cJSON_AddItemToArray(v, f->kind == F_INT ? cJSON_CreateNumber(((const int *)base)[k])
                                                         : cJSON_CreateNumber(((const float *)base)[k]));
        }
        cJSON_AddItemToObject(parent, key, v);
    }
    char *s = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return s;
}

void rr_config_without_dropout(rr_config *cfg)
{
    cfg->swin.drop_rate = cfg->swin.attn_drop_rate = cfg->swin.drop_path_rate = 0;
    cfg->text.hidden_dropout = cfg->text.attention_dropout = 0;
    cfg->ifim.dropout = 0;
    cfg->decoder.arc_dropout = 0;
}
