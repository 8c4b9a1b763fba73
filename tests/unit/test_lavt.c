/* LAVT's modules as the configuration chooses them (libcore/nn/pwam.h, and
 * decoder.h with decoder.kind "lavt"): LAVT's parameter names and counts (what
 * tools/convert.py --lavt maps an original checkpoint onto), and the
 * PWAM's refusal of inputs that do not fit.  Their values against the
 * PyTorch reference: tests/unit/test_mrsnet_golden.c (lavt-nano) and
 * tests/cli/test_lavt.sh. */
#include <string.h>

#include "harness.h"
#include "nn/mrsnet.h"

static int lavt_nano(rr_config *cfg)
{
    return rr_config_load(cfg, "share/configs/lavt-nano.json");
}

TEST(lavt_parameters_have_lavts_names)
{
    rr_config cfg;
    CHECK_OK(lavt_nano(&cfg));
    rr_mrsnet m;
    CHECK_OK(rr_mrsnet_init(&m, &cfg, RR_PART_ALL, RR_CPU, 1, 0));
    static const struct {
        const char *name;
        int ndim;
        int64_t shape[4];
    } want[] = {
        {"backbone.layers.0.fusion.vis_project.0.weight", 3, {8, 8, 1}},
        {"backbone.layers.0.fusion.image_lang_att.f_key.0.weight", 3, {8, 32, 1}},
        {"backbone.layers.0.fusion.image_lang_att.f_value.0.bias", 1, {8}},
        {"backbone.layers.2.fusion.image_lang_att.f_query.0.weight", 3, {32, 32, 1}},
        {"backbone.layers.3.fusion.image_lang_att.W.0.bias", 1, {64}},
        {"backbone.layers.3.fusion.project_mm.0.weight", 3, {64, 64, 1}},
        {"backbone.layers.1.res_gate.2.weight", 2, {16, 16}},
        {"classifier.conv1_4.weight", 4, {16, 96, 3, 3}},
        {"classifier.conv2_4.weight", 4, {16, 16, 3, 3}},
        {"classifier.conv1_2.weight", 4, {16, 24, 3, 3}},
        {"classifier.bn2_2.running_var", 1, {16}},
        {"classifier.conv1_1.bias", 1, {2}},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        rr_param *p = rr_params_find(&m.params, want[i].name);
        CHECK(p && p->t->ndim == want[i].ndim && memcmp(p->t->shape, want[i].shape, (size_t)want[i].ndim * 8) == 0,
              "%s: %s", want[i].name, p ? "another shape" : "missing");
    }
    const char *absent[] = {"classifier.conv2_4.bias", "classifier.conv2_4.rounting_func.dwc.weight",
                            "backbone.hfim.fuse.weight", "backbone.layers.0.ifim.cma.W.weight",
                            "backbone.layers.0.fusion.image_lang_att.lang_gate.0.weight"};
    for (size_t i = 0; i < sizeof absent / sizeof absent[0]; i++)
        CHECK(!rr_params_find(&m.params, absent[i]), "unexpected %s", absent[i]);
    /* doc/network.md, PWAM: 4C^2 + 2 D_l C + 6C per stage, the gates 2C^2 */
    for (int i = 0; i < 4; i++) {
        int64_t c = 8 << i, dl = 32;
        char pre[64];
        snprintf(pre, sizeof pre, "backbone.layers.%d.fusion.", i);
        CHECK(rr_params_count(&m.params, pre) == 4 * c * c + 2 * dl * c + 6 * c, "%s: %lld", pre,
              (long long)rr_params_count(&m.params, pre));
    }
    /* LAVT's decoder: conv1_k (in_k x hid x 9) with in = 12C1, hid + 2C1, hid + C1; conv2_k (hid^2 x 9);
     * six BNs (weight, bias); conv1_1 (hid x 2 + 2) */
    int64_t hid = 16, in = 96 + (16 + 16) + (16 + 8);
    int64_t dec = in * hid * 9 + 3 * hid * hid * 9 + 6 * 2 * hid + hid * 2 + 2;
    CHECK(rr_params_count(&m.params, "classifier.") == dec, "classifier: %lld, want %lld",
          (long long)rr_params_count(&m.params, "classifier."), (long long)dec);
    rr_mrsnet_free(&m);
    rr_config b;
    CHECK_OK(rr_config_load(&b, "share/configs/lavt-b.json"));
    CHECK(b.fusion[0] == RR_FUSION_PWAM && b.fusion[3] == RR_FUSION_PWAM && b.cross_scale == RR_CROSS_NONE &&
              b.decoder.kind == RR_DECODER_LAVT && b.decoder.hidden == 4 * b.swin.embed_dim && b.loss.ce_weight == 1 &&
              b.loss.dice_weight == 0,
          "lavt-b is not LAVT's configuration");
}

TEST(lavt_pwam_refuses_inputs_that_do_not_fit)
{
    rr_config cfg;
    CHECK_OK(lavt_nano(&cfg));
    rr_params p;
    rr_params_init(&p, RR_CPU, 1, 0);
    rr_pwam m;
    CHECK_OK(rr_pwam_init(&p, &m, 8, &cfg, "fusion"));
    rr_ctx c;
    rr_ctx_init(&c, RR_CPU);
    rr_tensor *x = rr_zeros(&c, RR_F32, RR_SHAPE(2, 12, 8));
    rr_tensor *l16 = rr_zeros(&c, RR_F32, RR_SHAPE(2, 16, 5)); /* words of width 16, the PWAM reads 32 */
    rr_tensor *mask = rr_zeros(&c, RR_F32, RR_SHAPE(2, 5, 1));
    CHECK(rr_pwam_fwd(&c, &m, x, l16, mask, NULL, "") == NULL &&
              strcmp(rr_errmsg(), "pwam: x 2x12x8 of width 8, l 2x16x5 and lmask 2x5x1 do not fit "
                                  "(B x N x C, B x D_l x N_l, B x N_l x 1)") == 0,
          "got '%s'", rr_errmsg());
    CHECK(rr_pwam_fwd(&c, &m, NULL, l16, mask, NULL, "") == NULL &&
              strcmp(rr_errmsg(), "pwam: x is NULL (a failed earlier op)") == 0,
          "got '%s'", rr_errmsg());
    /* heads that do not divide the width */
    cfg.pwam.heads = 3;
    rr_pwam m3;
    CHECK(rr_pwam_init(&p, &m3, 8, &cfg, "other") != 0 &&
              strcmp(rr_errmsg(), "other: width 8 is not a multiple of pwam.heads 3") == 0,
          "got '%s'", rr_errmsg());
    rr_ctx_free(&c);
    rr_params_free(&p);
}
