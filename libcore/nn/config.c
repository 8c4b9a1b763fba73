#include "config.h"

#include <cjson/cJSON.h>
#include <float.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../error.h"
#include "../io/reader.h"
#include "../io/safetensors.h" /* rr_printable */

void rr_config_default(rr_config *c)
{
    *c = (rr_config){
        .name = "mrsnet-b",
        .image_size = 480,
        .in_chans = 3,
        .num_classes = 2,
        .pixel_mean = {0.485f, 0.456f, 0.406f},
        .pixel_std = {0.229f, 0.224f, 0.225f},
        .fusion = {RR_FUSION_IFIM, RR_FUSION_IFIM, RR_FUSION_IFIM, RR_FUSION_IFIM},
        .cross_scale = RR_CROSS_HFIM,
        .swin = {.patch_size = 4, .embed_dim = 128, .depths = {2, 2, 18, 2}, .num_heads = {4, 8, 16, 32},
                 .window_size = 12, .mlp_ratio = 4, .qkv_bias = 1, .drop_path_rate = 0.3f, .ln_eps = 1e-5f,
                 .shift_mask_value = -100},
        .text = {.vocab_size = 30522, .hidden_size = 768, .num_layers = 12, .num_heads = 12,
                 .intermediate_size = 3072, .max_position = 512, .type_vocab_size = 2, .ln_eps = 1e-12f,
                 .hidden_dropout = 0.1f, .attention_dropout = 0.1f, .max_len = 20, .train_layers = 10},
        .ifim = {.psr = 1, .csr = 1, .psr_levels = {1, 2, 4}, .npsr_levels = 3, .psr_rescale_channels = 1,
                 .csr_radius = 1, .cma_heads = 1, .in_eps = 1e-5f, .mask_value = 10000},
        .pwam = {.heads = 1, .in_eps = 1e-5f, .mask_value = 10000},
        .hfim = {.sr = 4, .heads = 8, .head_dim = 32, .freq_heads = 8, .l2_eps = 1e-6f, .ln_eps = 1e-5f,
                 .bn_eps = 1e-5f, .bn_momentum = 0.1f},
        .iim = {.bn_eps = 1e-5f, .bn_momentum = 0.1f},
        .cim = {.layers = 1, .key_dim = 32, .heads = 8, .attn_ratio = 2, .mlp_ratio = 2, .bn_eps = 1e-5f,
                .bn_momentum = 0.1f},
        .decoder = {.kind = RR_DECODER_RMSIN, .hidden = 512, .arc_kernel_number = 1, .arc_dropout = 0.2f, .arc_max_angle_deg = 40,
                    .ln_eps = 1e-5f, .bn_eps = 1e-5f, .bn_momentum = 0.1f},
        .loss = {.ce_weight = 0.9f, .class_weights = {0.9f, 1.1f}, .dice_weight = 0.2f, .dice_batch_mean = 1,
                 .dice_smooth = 1e-6f},
    };
}

/* One leaf of the JSON: its dotted path, kind, where it goes, how many, and
 * (numbers) the range every value must be in. */
typedef enum { F_INT, F_FLOAT, F_BOOL, F_STR, F_ENUM } field_kind;
enum { OPEN_LO = 1, OPEN_HI = 2 }; /* the bound itself is outside the range */
typedef struct {
    const char *path;
    field_kind kind;
    size_t off;
    int count;          /* array length (0: a scalar); -1: variable, up to 3 (psr_levels) */
    const char *const *names; /* F_ENUM: the values, stored as their index; NULL-terminated */
    double lo, hi;      /* F_INT, F_FLOAT: the range */
    int open;           /* OPEN_LO | OPEN_HI */
} field;

/* The values of the module kinds, in the order of rr_fusion_kind,
 * rr_cross_kind and rr_decoder_kind. */
static const char *const fusion_names[] = {"ifim", "pwam", "iim", NULL};
static const char *const cross_names[] = {"hfim", "cim", "none", NULL};
static const char *const decoder_names[] = {"rmsin", "lavt", NULL};

const char *rr_fusion_name(int kind) { return kind >= 0 && kind < 3 ? fusion_names[kind] : "?"; }
const char *rr_cross_scale_name(int kind) { return kind >= 0 && kind < 3 ? cross_names[kind] : "?"; }
const char *rr_decoder_name(int kind) { return kind >= 0 && kind < 2 ? decoder_names[kind] : "?"; }

/* The ranges keep every size's arithmetic (widths, grids, buffer sizes) far
 * inside int and int64 and exclude what cannot run (a zero width, a negative
 * epsilon, a dropout of 1 or more); the relations between fields are
 * rr_config_check's. */
#define O(m) offsetof(rr_config, m)
#define INT(p, m, lo, hi) {p, F_INT, O(m), 0, NULL, lo, hi, 0}
#define INTS(p, m, n, lo, hi) {p, F_INT, O(m), n, NULL, lo, hi, 0}
#define NUM(p, m, lo, hi, open) {p, F_FLOAT, O(m), 0, NULL, lo, hi, open}
#define NUMS(p, m, n, lo, hi, open) {p, F_FLOAT, O(m), n, NULL, lo, hi, open}
#define BOOL(p, m) {p, F_BOOL, O(m), 0, NULL, 0, 0, 0}
#define ENUM(p, m, names) {p, F_ENUM, O(m), 0, names, 0, 0, 0}
#define ENUMS(p, m, n, names) {p, F_ENUM, O(m), n, names, 0, 0, 0}
#define EPS(p, m) NUM(p, m, 0, 1, OPEN_LO)
#define DROP(p, m) NUM(p, m, 0, 1, OPEN_HI)
static const field fields[] = {
    {"format", F_STR, 0, 0, NULL, 0, 0, 0},
    {"name", F_STR, O(name), 0, NULL, 0, 0, 0},
    INT("image_size", image_size, 1, 8192),
    INT("in_chans", in_chans, 3, 3),
    INT("num_classes", num_classes, 2, 2),
    NUMS("pixel_mean", pixel_mean, 3, 0, 1, 0),
    NUMS("pixel_std", pixel_std, 3, 0, 1, OPEN_LO),
    ENUMS("fusion", fusion, 4, fusion_names),
    ENUM("cross_scale", cross_scale, cross_names),
    INT("swin.patch_size", swin.patch_size, 1, 64),
    INT("swin.embed_dim", swin.embed_dim, 8, 4096),
    INTS("swin.depths", swin.depths, 4, 1, 64),
    INTS("swin.num_heads", swin.num_heads, 4, 1, 1024),
    INT("swin.window_size", swin.window_size, 1, 256),
    NUM("swin.mlp_ratio", swin.mlp_ratio, 0, 16, OPEN_LO),
    BOOL("swin.qkv_bias", swin.qkv_bias),
    BOOL("swin.ape", swin.ape),
    DROP("swin.drop_rate", swin.drop_rate),
    DROP("swin.attn_drop_rate", swin.attn_drop_rate),
    DROP("swin.drop_path_rate", swin.drop_path_rate),
    EPS("swin.ln_eps", swin.ln_eps),
    NUM("swin.shift_mask_value", swin.shift_mask_value, -1e9, 0, 0),
    INT("text.vocab_size", text.vocab_size, 1, 1000000),
    INT("text.hidden_size", text.hidden_size, 1, 8192),
    INT("text.num_layers", text.num_layers, 1, 64),
    INT("text.num_heads", text.num_heads, 1, 1024),
    INT("text.intermediate_size", text.intermediate_size, 1, 65536),
    INT("text.max_position", text.max_position, 2, 8192),
    INT("text.type_vocab_size", text.type_vocab_size, 1, 16),
    EPS("text.ln_eps", text.ln_eps),
    DROP("text.hidden_dropout", text.hidden_dropout),
    DROP("text.attention_dropout", text.attention_dropout),
    INT("text.pad_token_id", text.pad_token_id, 0, 999999),
    INT("text.max_len", text.max_len, 2, 8192),
    INT("text.train_layers", text.train_layers, 0, 64),
    BOOL("ifim.psr", ifim.psr),
    BOOL("ifim.csr", ifim.csr),
    INTS("ifim.psr_levels", ifim.psr_levels, -1, 1, 64),
    ENUM("ifim.psr_rescale", ifim.psr_rescale_channels, ((const char *const[]){"none", "channels", NULL})),
    BOOL("ifim.psr_log1p", ifim.psr_log1p),
    INT("ifim.csr_radius", ifim.csr_radius, 1, 16),
    INT("ifim.cma_heads", ifim.cma_heads, 1, 1024),
    DROP("ifim.dropout", ifim.dropout),
    EPS("ifim.in_eps", ifim.in_eps),
    NUM("ifim.mask_value", ifim.mask_value, 0, 1e9, 0),
    INT("pwam.heads", pwam.heads, 1, 1024),
    DROP("pwam.dropout", pwam.dropout),
    EPS("pwam.in_eps", pwam.in_eps),
    NUM("pwam.mask_value", pwam.mask_value, 0, 1e9, 0),
    INT("hfim.sr", hfim.sr, 1, 64),
    INT("hfim.heads", hfim.heads, 1, 1024),
    INT("hfim.head_dim", hfim.head_dim, 1, 1024),
    INT("hfim.freq_heads", hfim.freq_heads, 1, 1024),
    EPS("hfim.l2_eps", hfim.l2_eps),
    EPS("hfim.ln_eps", hfim.ln_eps),
    EPS("hfim.bn_eps", hfim.bn_eps),
    NUM("hfim.bn_momentum", hfim.bn_momentum, 0, 1, 0),
    EPS("iim.bn_eps", iim.bn_eps),
    NUM("iim.bn_momentum", iim.bn_momentum, 0, 1, 0),
    INT("cim.layers", cim.layers, 1, 16),
    INT("cim.key_dim", cim.key_dim, 1, 1024),
    INT("cim.heads", cim.heads, 1, 1024),
    INT("cim.attn_ratio", cim.attn_ratio, 1, 64),
    INT("cim.mlp_ratio", cim.mlp_ratio, 1, 64),
    EPS("cim.bn_eps", cim.bn_eps),
    NUM("cim.bn_momentum", cim.bn_momentum, 0, 1, 0),
    ENUM("decoder.kind", decoder.kind, decoder_names),
    INT("decoder.hidden", decoder.hidden, 1, 8192),
    INT("decoder.arc_kernel_number", decoder.arc_kernel_number, 1, 64),
    DROP("decoder.arc_dropout", decoder.arc_dropout),
    NUM("decoder.arc_max_angle_deg", decoder.arc_max_angle_deg, 0, 180, 0),
    EPS("decoder.ln_eps", decoder.ln_eps),
    EPS("decoder.bn_eps", decoder.bn_eps),
    NUM("decoder.bn_momentum", decoder.bn_momentum, 0, 1, 0),
    NUM("loss.ce_weight", loss.ce_weight, 0, 1000, 0),
    NUMS("loss.class_weights", loss.class_weights, 2, 0, 1000, 0),
    NUM("loss.dice_weight", loss.dice_weight, 0, 1000, 0),
    ENUM("loss.dice_batch_reduction", loss.dice_batch_mean, ((const char *const[]){"sum", "mean", NULL})),
    NUM("loss.dice_smooth", loss.dice_smooth, 1e-6f, 1e-6f, 0) /* rr_dice has it built in */,
    BOOL("loss.dice_fg_only_nonempty", loss.dice_fg_only_nonempty),
    NUM("loss.presence_weight", loss.presence_weight, 0, 1000, 0),
};
#undef INT
#undef INTS
#undef NUM
#undef NUMS
#undef BOOL
#undef ENUM
#undef ENUMS
#undef EPS
#undef DROP
#undef O
#define NFIELDS (int)(sizeof fields / sizeof fields[0])

static const char *const sections[] = {"swin", "text", "ifim", "pwam", "hfim", "iim", "cim", "decoder", "loss"};

static int in_range(const field *f, double v)
{
    return (f->open & OPEN_LO ? v > f->lo : v >= f->lo) && (f->open & OPEN_HI ? v < f->hi : v <= f->hi);
}

/* "config: swin.depths[2] is -1, must be 1 to 64" (k < 0: a scalar). */
static int range_error(const field *f, int k, double v)
{
    char where[96], range[80];
    snprintf(where, sizeof where, k < 0 ? "%s" : "%s[%d]", f->path, k);
    if (f->lo == f->hi)
        snprintf(range, sizeof range, "%.7g", f->lo);
    else if (f->open & OPEN_LO)
        snprintf(range, sizeof range, "above %.7g and at most %.7g", f->lo, f->hi);
    else if (f->open & OPEN_HI)
        snprintf(range, sizeof range, "at least %.7g and below %.7g", f->lo, f->hi);
    else
        snprintf(range, sizeof range, "%.7g to %.7g", f->lo, f->hi);
    char value[40];
    snprintf(value, sizeof value, v == floor(v) && fabs(v) < 1e15 ? "%.0f" : "%.7g", v);
    return rr_error("config: %s is %s, must be %s", where, value, range);
}

/* "config: fusion[1] is 'x', must be 'ifim', 'pwam' or 'iim'" (k < 0: a scalar). */
static int enum_error(const field *f, int k, const cJSON *v)
{
    char where[96], value[48], q[40], names[160] = "";
    snprintf(where, sizeof where, k < 0 ? "%s" : "%s[%d]", f->path, k);
    if (cJSON_IsString(v))
        snprintf(value, sizeof value, "'%s'", rr_printable(v->valuestring, q, sizeof q));
    else
        snprintf(value, sizeof value, "not a string");
    for (int i = 0; f->names[i]; i++) {
        size_t n = strlen(names);
        snprintf(names + n, sizeof names - n, "%s'%s'", i == 0 ? "" : f->names[i + 1] ? ", " : " or ", f->names[i]);
    }
    return rr_error("config: %s is %s, must be %s", where, value, names);
}

static int set_scalar(rr_config *cfg, const field *f, const cJSON *v, int k)
{
    char *base = (char *)cfg + f->off;
    switch (f->kind) {
    case F_INT:
        if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble))
            return rr_error("config: %s must be an integer", f->path);
        /* out of range before the conversion: a double beyond int has no int value */
        if (!in_range(f, v->valuedouble))
            return range_error(f, f->count ? k : -1, v->valuedouble);
        ((int *)base)[k] = (int)v->valuedouble;
        return 0;
    case F_FLOAT:
        if (!cJSON_IsNumber(v))
            return rr_error("config: %s must be a number", f->path);
        /* beyond float's range the conversion is undefined (the ranges are
         * checked on the float, as stored: dice_smooth's is 1e-6f exactly) */
        if (!(fabs(v->valuedouble) <= FLT_MAX))
            return rr_error("config: %s is %g, must be a number within +-%g", f->path, v->valuedouble,
                            (double)FLT_MAX);
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
        for (int i = 0; cJSON_IsString(v) && f->names[i]; i++)
            if (strcmp(v->valuestring, f->names[i]) == 0) {
                ((int *)base)[k] = i;
                return 0;
            }
        return enum_error(f, f->count ? k : -1, v);
    }
    return 0;
}

static int set_field(rr_config *cfg, const field *f, const cJSON *v)
{
    if (f->count == 0)
        return set_scalar(cfg, f, v, 0);
    int n = cJSON_GetArraySize(v), max = f->count < 0 ? 3 : f->count;
    if (!cJSON_IsArray(v) || (f->count > 0 && n != f->count) || n < 1 || n > max)
        return rr_error("config: %s must be an array of %s%d %s", f->path, f->count < 0 ? "1 to " : "", max,
                        f->kind == F_ENUM ? "strings" : "numbers");
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
    size_t len;
    char *buf = rr_file_read_all(path, (size_t)16 << 20, &len);
    if (!buf)
        return -1;
    int rc = rr_config_parse(cfg, buf, len);
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

/* Every number of the table in its range, naming the field and the value. */
static int check_ranges(const rr_config *cfg)
{
    for (int i = 0; i < NFIELDS; i++) {
        const field *f = &fields[i];
        const char *base = (const char *)cfg + f->off;
        if (f->kind == F_ENUM) { /* a configuration built in code, not parsed */
            int n = 0;
            while (f->names[n])
                n++;
            for (int k = 0; k < (f->count ? f->count : 1); k++)
                if (((const int *)base)[k] < 0 || ((const int *)base)[k] >= n) {
                    char where[96];
                    snprintf(where, sizeof where, f->count ? "%s[%d]" : "%s", f->path, k);
                    return rr_error("config: %s holds %d, not one of its %d values", where, ((const int *)base)[k], n);
                }
            continue;
        }
        if (f->kind != F_INT && f->kind != F_FLOAT)
            continue;
        int n = f->count < 0 ? cfg->ifim.npsr_levels : f->count ? f->count : 1;
        if (f->count < 0 && (n < 1 || n > 3))
            return rr_error("config: %s has %d levels, must have 1 to 3", f->path, n);
        for (int k = 0; k < n; k++) {
            double v = f->kind == F_INT ? ((const int *)base)[k] : ((const float *)base)[k];
            if (!in_range(f, v))
                return range_error(f, f->count ? k : -1, v);
        }
    }
    return 0;
}

int rr_config_check(const rr_config *cfg)
{
    if (check_ranges(cfg))
        return -1;
    /* the ranges keep every product below in int */
    const rr_swin_config *s = &cfg->swin;
    const rr_text_config *t = &cfg->text;
    int e = s->embed_dim, grid = cfg->image_size / s->patch_size, hfim = cfg->cross_scale == RR_CROSS_HFIM;
    if (hfim && e % 8)
        return rr_error("config: swin.embed_dim is %d, must be a multiple of 8 (HFIM PixelShuffle by 8)", e);
    for (int i = 0; i < 4; i++)
        if ((e << i) % s->num_heads[i])
            return rr_error("config: swin.num_heads[%d] is %d, does not divide stage %d's width %d", i,
                            s->num_heads[i], i + 1, e << i);
    if (hfim && cfg->image_size % (s->patch_size * 8))
        return rr_error("config: image_size is %d, must be a multiple of 8 x swin.patch_size = %d "
                        "(HFIM aligns all four scales)",
                        cfg->image_size, s->patch_size * 8);
    if (s->window_size > grid)
        return rr_error("config: swin.window_size is %d, larger than stage 1's %d x %d grid "
                        "(image_size / swin.patch_size)",
                        s->window_size, grid, grid);
    if ((int)((float)e * s->mlp_ratio) < 1)
        return rr_error("config: swin.mlp_ratio is %g: swin.embed_dim x swin.mlp_ratio must be at least 1",
                        (double)s->mlp_ratio);
    if (t->hidden_size % t->num_heads)
        return rr_error("config: text.num_heads is %d, does not divide text.hidden_size %d", t->num_heads,
                        t->hidden_size);
    if (t->max_len > t->max_position)
        return rr_error("config: text.max_len is %d, more than text.max_position %d", t->max_len, t->max_position);
    if (t->pad_token_id >= t->vocab_size)
        return rr_error("config: text.pad_token_id is %d, not below text.vocab_size %d", t->pad_token_id,
                        t->vocab_size);
    for (int i = 0; i < 4; i++) {
        if (cfg->fusion[i] == RR_FUSION_IFIM && (e << i) % cfg->ifim.cma_heads)
            return rr_error("config: ifim.cma_heads is %d, does not divide stage %d's width %d",
                            cfg->ifim.cma_heads, i + 1, e << i);
        /* RMSIN's IIM holds LAVT's PWAM */
        if ((cfg->fusion[i] == RR_FUSION_PWAM || cfg->fusion[i] == RR_FUSION_IIM) && (e << i) % cfg->pwam.heads)
            return rr_error("config: pwam.heads is %d, does not divide stage %d's width %d", cfg->pwam.heads,
                            i + 1, e << i);
    }
    if (hfim && rr_config_hfim_channels(cfg) % cfg->hfim.freq_heads)
        return rr_error("config: hfim.freq_heads is %d, does not divide the HFIM width %d", cfg->hfim.freq_heads,
                        rr_config_hfim_channels(cfg));
    if (hfim && grid % cfg->hfim.sr)
        return rr_error("config: hfim.sr is %d, does not divide the stride-4 grid %d", cfg->hfim.sr, grid);
    /* CIM splits its width by the scales' C_i / 4, and its attention's size
     * is stage 4's grid, image_size / (8 x patch_size) exactly. */
    if (cfg->cross_scale == RR_CROSS_CIM && e % 4)
        return rr_error("config: swin.embed_dim is %d, must be a multiple of 4 (CIM splits C_i / 4)", e);
    if (cfg->cross_scale == RR_CROSS_CIM && cfg->image_size % (s->patch_size * 8))
        return rr_error("config: image_size is %d, must be a multiple of 8 x swin.patch_size = %d "
                        "(CIM is built for stage 4's grid)",
                        cfg->image_size, s->patch_size * 8);
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
        else if (f->kind == F_ENUM && n == 0)
            v = cJSON_CreateString(f->names[*(const int *)base]);
        else if (n == 0)
            v = f->kind == F_INT ? cJSON_CreateNumber(*(const int *)base)
                                 : cJSON_CreateNumber(*(const float *)base);
        else {
            v = cJSON_CreateArray();
            for (int k = 0; k < n; k++)
                cJSON_AddItemToArray(v, f->kind == F_ENUM  ? cJSON_CreateString(f->names[((const int *)base)[k]])
                                        : f->kind == F_INT ? cJSON_CreateNumber(((const int *)base)[k])
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
    cfg->pwam.dropout = 0;
    cfg->decoder.arc_dropout = 0;
}
