/* RMSIN's IIM branch (libcore/nn/iim.h): parameter names (RMSIN's), count,
 * the per-position weighting it applies, gradients. */
#include <math.h>
#include <string.h>

#include "harness.h"
#include "nn/iim.h"

#define B 2
#define C 8
#define H 5
#define W 6

TEST(iim_parameter_names_and_count)
{
    rr_config cfg;
    rr_config_default(&cfg);
    cfg.iim.bn_eps = 1e-3f;
    rr_params p;
    rr_iim m;
    rr_params_init(&p, RR_CPU, 1, 0);
    CHECK_OK(rr_iim_init(&p, &m, C, &cfg, "backbone.layers.1"));
    static const char *const names[] = {
        "backbone.layers.1.visual_residual.repblock.brb_3x3.conv1.weight",
        "backbone.layers.1.visual_residual.repblock.brb_3x3.bn1.running_mean",
        "backbone.layers.1.visual_residual.repblock.brb_3x3.conv2.weight",
        "backbone.layers.1.visual_residual.repblock.brb_3x3.bn2.bias",
        "backbone.layers.1.visual_residual.repblock.brb_1x1.conv.weight",
        "backbone.layers.1.visual_residual.repblock.brb_1x1.bn.weight",
        "backbone.layers.1.visual_residual.repblock.brb_identity.running_var",
        "backbone.layers.1.visual_residual.repblock.brb_3x3_2.conv2.weight",
        "backbone.layers.1.visual_residual.repblock.brb_1x1_2.bn.running_mean",
        "backbone.layers.1.visual_residual.repblock.brb_identity_2.weight",
        "backbone.layers.1.visual_gate.0.weight",
        "backbone.layers.1.visual_gate.2.weight",
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        CHECK(rr_params_find(&p, names[i]), "no %s", names[i]);
    rr_param *k3 = rr_params_find(&p, "backbone.layers.1.visual_residual.repblock.brb_3x3.conv2.weight");
    CHECK(k3 && k3->t->numel == 9 && k3->t->shape[1] == 1, "3x3 kernel of one channel");
    CHECK(!rr_params_find(&p, "backbone.layers.1.visual_residual.repblock.brb_1x1.conv.bias") &&
              !rr_params_find(&p, "backbone.layers.1.visual_gate.0.bias"),
          "no biases");
    /* per round: kernels 1 + 9 + 1, four BNs of 2 trainable values; the gates
     * 2 C²; the PWAM under fusion.* (pwam.h), its six Conv1d with biases */
    int64_t visual = 0, pwam = 0;
    for (int i = 0; i < p.n; i++) {
        int64_t n = p.items[i].kind & RR_PARAM_BUFFER ? 0 : p.items[i].t->numel;
        if (strncmp(p.items[i].name, "backbone.layers.1.visual_", 25) == 0)
            visual += n;
        else if (strncmp(p.items[i].name, "backbone.layers.1.fusion.", 25) == 0)
            pwam += n;
        else
            CHECK(0, "parameter %s", p.items[i].name);
    }
    int64_t dl = cfg.text.hidden_size;
    CHECK(visual == 2 * (11 + 8) + 2 * C * C, "%lld trainable in the visual branch", (long long)visual);
    CHECK(pwam == 4 * (C * C + C) + 2 * (dl * C + C), "%lld trainable in the PWAM", (long long)pwam);
    CHECK(m.round[1].id.eps == 1e-3f && m.round[0].k3_bn.momentum == 0.1f, "BN eps, momentum");
    rr_params_free(&p);
}

/* V = X * a with a in (0, 1) one value per position: V / X is the same in
 * every channel.  The result is the gated V, of X's shape. */
TEST(iim_weights_each_position)
{
    rr_config cfg;
    rr_config_default(&cfg);
    rr_params p;
    rr_iim m;
    rr_params_init(&p, RR_CPU, 2, 0);
    CHECK_OK(rr_iim_init(&p, &m, C, &cfg, "backbone.layers.0"));
    rr_ctx *c = test_ctx();
    c->training = 1;
    rr_tensor *x = test_randn(c, 3, RR_SHAPE(B, H * W, C));
    static rr_trace tr;
    tr.n = 0;
    rr_tensor *y = rr_iim_fwd(c, &m, x, H, W, &tr, "stage1.");
    CHECK(y && rr_same_shape(y, x), "shape");
    rr_tensor *v = rr_trace_get(&tr, "stage1.V");
    CHECK(v && rr_same_shape(v, x), "trace stage1.V");
    double worst = 0;
    for (int64_t n = 0; v && n < B * H * W; n++) {
        const float *xv = rr_f32(x) + n * C, *vv = rr_f32(v) + n * C;
        double a = vv[0] / xv[0];
        CHECK(a > 0 && a < 1, "weight %g", a);
        for (int k = 1; k < C; k++)
            worst = fmax(worst, fabs(vv[k] - a * xv[k]));
    }
    CHECK(worst < 1e-6, "channels weighted apart: %g", worst);
    CHECK(rr_iim_fwd(c, &m, x, W, W, NULL, "") == NULL && strstr(rr_errmsg(), "30 tokens, not the 6 x 6 grid"),
          "message: %s", rr_errmsg());
    rr_params_free(&p);
}

typedef struct {
    const rr_iim *m;
    rr_tensor *x;
} iim_arg;

static rr_tensor *apply_iim(rr_ctx *c, rr_tensor *const *in, const void *arg)
{
    const iim_arg *a = arg;
    return rr_iim_fwd(c, a->m, a->x, H, W, NULL, "");
}

TEST(iim_gradients)
{
    rr_config cfg;
    rr_config_default(&cfg);
    rr_params p;
    rr_iim m;
    rr_params_init(&p, RR_CPU, 3, 0);
    CHECK_OK(rr_iim_init(&p, &m, C, &cfg, "backbone.layers.0"));
    /* gates of std .3 rather than .02: tanh away from its linear part */
    rr_tensor *lin[] = {m.gate1.weight, m.gate2.weight};
    for (int i = 0; i < 2; i++)
        test_fill_randn(lin[i], 60 + (uint64_t)i, 0.3f);
    iim_arg a = {&m, test_randn(test_ctx(), 5, RR_SHAPE(B, H * W, C))};
    rr_tensor *in[] = {a.x, m.round[0].k3.weight, m.round[1].k1_bn.weight, m.round[1].id.bias, m.gate1.weight};
    int n = (int)(sizeof in / sizeof in[0]);
    for (int i = 0; i < n; i++)
        in[i]->requires_grad = 1;
    check_gradient_h("iim", apply_iim, &a, n, in, 5e-3, 1e-3);
    rr_params_free(&p);
}
