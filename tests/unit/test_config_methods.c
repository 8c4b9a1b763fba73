/* The configuration's choice of modules (share/configs/README, Methods):
 * "fusion" per stage, "cross_scale", "decoder.kind" and the "pwam" section;
 * their values and relations checked with a message naming the field and
 * the value, MRSNet's modules by default, and the JSON round trip. */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "nn/config.h"
#include "nn/flops.h"

/* A small valid configuration (8-wide backbone at 128 x 128) plus `extra`
 * (top-level JSON members, "" for none). */
static int parse(rr_config *cfg, const char *extra)
{
    char json[768];
    snprintf(json, sizeof json,
             "{\"name\": \"t\", \"image_size\": 128, \"swin\": {\"embed_dim\": 8, \"num_heads\": [1, 2, 4, 8], "
             "\"window_size\": 6}, \"hfim\": {\"freq_heads\": 3}%s%s}",
             *extra ? ", " : "", extra);
    return rr_config_parse(cfg, json, strlen(json));
}

TEST(config_methods_default_to_mrsnet)
{
    rr_config cfg;
    CHECK_OK(parse(&cfg, ""));
    for (int i = 0; i < 4; i++)
        CHECK(cfg.fusion[i] == RR_FUSION_IFIM, "fusion[%d] is %d", i, cfg.fusion[i]);
    CHECK(cfg.cross_scale == RR_CROSS_HFIM && cfg.decoder.kind == RR_DECODER_RMSIN, "cross %d decoder %d",
          cfg.cross_scale, cfg.decoder.kind);
    CHECK(cfg.pwam.heads == 1 && cfg.pwam.dropout == 0 && cfg.pwam.in_eps == 1e-5f && cfg.pwam.mask_value == 10000,
          "pwam defaults");
}

TEST(config_methods_bad_values_are_named)
{
    static const struct {
        const char *extra, *msg;
    } cases[] = {
        {"\"fusion\": [\"ifim\", \"pwam\", \"x\", \"ifim\"]",
         "config: fusion[2] is 'x', must be 'ifim', 'pwam' or 'iim'"},
        {"\"fusion\": [\"ifim\", \"pwam\", 3, \"ifim\"]",
         "config: fusion[2] is not a string, must be 'ifim', 'pwam' or 'iim'"},
        {"\"fusion\": [\"ifim\", \"pwam\"]", "config: fusion must be an array of 4 strings"},
        {"\"fusion\": \"pwam\"", "config: fusion must be an array of 4 strings"},
        {"\"cross_scale\": \"HFIM\"", "config: cross_scale is 'HFIM', must be 'hfim', 'cim' or 'none'"},
        {"\"decoder\": {\"kind\": \"arc\"}", "config: decoder.kind is 'arc', must be 'rmsin' or 'lavt'"},
        {"\"pwam\": {\"heads\": 0}", "config: pwam.heads is 0, must be 1 to 1024"},
        {"\"pwam\": {\"dropout\": 1}", "config: pwam.dropout is 1, must be at least 0 and below 1"},
        {"\"pwam\": {\"in_eps\": 0}", "config: pwam.in_eps is 0, must be above 0 and at most 1"},
        {"\"pwam\": {\"mask\": 0}", "config: unknown field pwam.mask"},
        /* the heads must divide the width of every stage that uses the PWAM */
        {"\"fusion\": [\"ifim\", \"ifim\", \"pwam\", \"pwam\"], \"pwam\": {\"heads\": 64}",
         "config: pwam.heads is 64, does not divide stage 3's width 32"},
        /* ... and the IFIM's only where a stage uses the IFIM */
        {"\"fusion\": [\"pwam\", \"ifim\", \"pwam\", \"pwam\"], \"ifim\": {\"cma_heads\": 32}",
         "config: ifim.cma_heads is 32, does not divide stage 2's width 16"},
        /* the HFIM's alignment rules hold while it is the cross-scale module */
        {"\"image_size\": 120", "config: image_size is 120, must be a multiple of 8 x swin.patch_size = 32 "
                                "(HFIM aligns all four scales)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rr_config cfg;
        CHECK(parse(&cfg, cases[i].extra) != 0 && strcmp(rr_errmsg(), cases[i].msg) == 0, "%s: got '%s'",
              cases[i].extra, rr_errmsg());
    }
}

TEST(config_methods_relations_follow_the_modules_used)
{
    rr_config cfg;
    /* the PWAM's heads are not checked where no stage uses it, nor the IFIM's */
    CHECK_OK(parse(&cfg, "\"pwam\": {\"heads\": 64}"));
    CHECK_OK(parse(&cfg, "\"fusion\": [\"pwam\", \"pwam\", \"pwam\", \"pwam\"], \"ifim\": {\"cma_heads\": 64}"));
    /* without the HFIM neither its alignment nor its heads are required */
    CHECK_OK(parse(&cfg, "\"cross_scale\": \"none\", \"image_size\": 120, \"hfim\": {\"freq_heads\": 7}"));
    CHECK(cfg.cross_scale == RR_CROSS_NONE && cfg.image_size == 120, "cross_scale none");
    CHECK_OK(parse(&cfg, "\"fusion\": [\"pwam\", \"iim\", \"ifim\", \"pwam\"], \"cross_scale\": \"cim\", "
                         "\"decoder\": {\"kind\": \"lavt\"}"));
    CHECK(cfg.fusion[0] == RR_FUSION_PWAM && cfg.fusion[1] == RR_FUSION_IIM && cfg.fusion[2] == RR_FUSION_IFIM &&
              cfg.fusion[3] == RR_FUSION_PWAM && cfg.cross_scale == RR_CROSS_CIM &&
              cfg.decoder.kind == RR_DECODER_LAVT,
          "the kinds as written");
}

TEST(config_methods_survive_the_json_round_trip)
{
    rr_config a, b;
    CHECK_OK(parse(&a, "\"fusion\": [\"pwam\", \"ifim\", \"iim\", \"pwam\"], \"cross_scale\": \"none\", "
                       "\"decoder\": {\"kind\": \"lavt\"}, \"pwam\": {\"heads\": 2, \"dropout\": 0.25}"));
    char *json = rr_config_to_json(&a);
    CHECK_NOTNULL(json);
    CHECK(strstr(json, "\"fusion\":[\"pwam\",\"ifim\",\"iim\",\"pwam\"]") && strstr(json, "\"cross_scale\":\"none\"") &&
              strstr(json, "\"kind\":\"lavt\""),
          "%s", json);
    CHECK_OK(rr_config_parse(&b, json, strlen(json)));
    free(json);
    CHECK(memcmp(a.fusion, b.fusion, sizeof a.fusion) == 0 && a.cross_scale == b.cross_scale &&
              a.decoder.kind == b.decoder.kind && b.pwam.heads == 2 && b.pwam.dropout == 0.25f,
          "round trip");
    rr_config_without_dropout(&b);
    CHECK(b.pwam.dropout == 0, "without dropout: pwam.dropout %g", (double)b.pwam.dropout);
}

TEST(config_methods_built_in_code_are_checked)
{
    rr_config cfg;
    rr_config_default(&cfg);
    cfg.fusion[1] = 7;
    CHECK(rr_config_check(&cfg) != 0 && strcmp(rr_errmsg(), "config: fusion[1] holds 7, not one of its 3 values") == 0,
          "got '%s'", rr_errmsg());
    rr_config_default(&cfg);
    cfg.decoder.kind = -1;
    CHECK(rr_config_check(&cfg) != 0 &&
              strcmp(rr_errmsg(), "config: decoder.kind holds -1, not one of its 2 values") == 0,
          "got '%s'", rr_errmsg());
}

TEST(config_methods_flops_count_lavts_modules)
{
    rr_config cfg;
    rr_flops m, l;
    CHECK_OK(parse(&cfg, ""));
    CHECK_OK(rr_flops_count(&cfg, 1, &m));
    CHECK_OK(parse(&cfg, "\"fusion\": [\"pwam\", \"pwam\", \"pwam\", \"pwam\"], \"cross_scale\": \"none\", "
                         "\"decoder\": {\"kind\": \"lavt\"}"));
    CHECK_OK(rr_flops_count(&cfg, 1, &l));
    /* grids 32, 16, 8, 4 (N = 1024, 256, 64, 16), C = 8 << i, D_l 768, N_l 20: per stage the PWAM's
     * 4 N C^2 + 2 N_l D_l C + 2 N N_l C and the gate's 2 N C^2 MACs */
    int64_t pwam = 0, gate = 0;
    for (int i = 0; i < 4; i++) {
        int64_t n = (int64_t)1024 >> (2 * i), c = 8 << i;
        pwam += 4 * n * c * c + 2 * 20 * 768 * c + 2 * n * 20 * c;
        gate += 2 * n * c * c;
    }
    CHECK(l.ifim_pwam == 2 * pwam && l.ifim_gate == 2 * gate && l.ifim == l.ifim_pwam + l.ifim_gate &&
              l.ifim_psr + l.ifim_csr + l.ifim_cma + l.ifim_aff == 0,
          "PWAM %lld, want %lld", (long long)l.ifim_pwam, (long long)(2 * pwam));
    CHECK(l.hfim == 0, "no cross-scale module: HFIM %lld", (long long)l.hfim);
    /* LAVT's decoder: RMSIN's convolutions without the routing (plain 3x3 as many MACs as the rotated) */
    CHECK(l.decoder_conv == m.decoder_conv && l.decoder_arc == m.decoder_arc && l.decoder_routing == 0 &&
              l.decoder == m.decoder - m.decoder_routing,
          "decoder %lld", (long long)l.decoder);
    CHECK(l.swin == m.swin && l.bert == m.bert && l.forward == l.swin + l.ifim + l.decoder + l.bert, "sums");
    CHECK(l.not_counted == 0, "nothing aside without FFTs and ARC kernels: %lld", (long long)l.not_counted);
}
