/* The decoder (doc/network.md, Decoder): parameter names, init and counts, shapes and
 * traces, the routing's ranges, ARC at θ = 0 against a plain convolution,
 * gradients. */
#include <math.h>
#include <string.h>

#include "harness.h"
#include "nn/decoder.h"

#define B 2

/* embed_dim 8, hidden 8: x_c1..x_c4 8@8², 16@4², 32@2², 64@1². */
static void tiny_config(rr_config *cfg, int kernels)
{
    rr_config_default(cfg);
    cfg->swin.embed_dim = 8;
    cfg->decoder.hidden = 8;
    cfg->decoder.arc_kernel_number = kernels;
}

/* conv1_k (3x3, no bias) from [x; skip], two BNs and an ARC per level
 * (n base kernels; routing: dwc 9h, LN 2h, fc_alpha nh + n, fc_theta nh),
 * and conv1_1 (1x1 with bias) to the classes. */
static int64_t decoder_count(const rr_config *cfg)
{
    int64_t e = cfg->swin.embed_dim, h = cfg->decoder.hidden, n = cfg->decoder.arc_kernel_number;
    int64_t arc = n * h * h * 9 + 11 * h + 2 * n * h + n;
    return (12 * e + (h + 2 * e) + (h + e)) * h * 9 + 3 * (4 * h + arc) + h * cfg->num_classes + cfg->num_classes;
}

static void inputs(rr_ctx *c, rr_tensor *x[4], uint64_t seed)
{
    for (int i = 0; i < 4; i++) /* x_c1..x_c4 */
        x[i] = test_randn(c, seed + (uint64_t)i, RR_SHAPE(B, 8 << i, 8 >> i, 8 >> i));
}

TEST(decoder_parameter_count_is_the_specs)
{
    rr_config cfg;
    rr_config_default(&cfg);
    /* doc/network.md, Parameters and cost: 20,670,981 at mrsnet-b, each ARC 2,365,953 = 2,359,296 + 6,657 routing */
    CHECK(decoder_count(&cfg) == 20670981, "mrsnet-b formula %lld", (long long)decoder_count(&cfg));
    cfg.decoder.hidden = 64; /* the registry against the formula at a width that builds fast */
    rr_params p;
    rr_decoder m;
    rr_params_init(&p, RR_CPU, 1, 0);
    CHECK_OK(rr_decoder_init(&p, &m, &cfg, "classifier"));
    CHECK(rr_params_count(&p, NULL) == decoder_count(&cfg), "%lld parameters, formula %lld",
          (long long)rr_params_count(&p, NULL), (long long)decoder_count(&cfg));
    rr_params_free(&p);
    tiny_config(&cfg, 2);
    rr_params_init(&p, RR_CPU, 1, 0);
    CHECK_OK(rr_decoder_init(&p, &m, &cfg, "classifier"));
    CHECK(rr_params_count(&p, NULL) == decoder_count(&cfg), "%lld parameters, formula %lld",
          (long long)rr_params_count(&p, NULL), (long long)decoder_count(&cfg));
    rr_params_free(&p);
}

TEST(decoder_parameter_names_and_init)
{
    rr_config cfg;
    tiny_config(&cfg, 1);
    cfg.decoder.bn_eps = 1e-3f;
    rr_params p;
    rr_decoder m;
    rr_params_init(&p, RR_CPU, 1, 0);
    CHECK_OK(rr_decoder_init(&p, &m, &cfg, "classifier"));
    struct {
        const char *name;
        int ndim;
        int64_t shape[5];
    } want[] = {
        {"classifier.conv1_4.weight", 4, {8, 96, 3, 3}},
        {"classifier.bn1_4.running_var", 1, {8}},
        {"classifier.conv2_4.weight", 5, {1, 8, 8, 3, 3}},
        {"classifier.conv2_4.rounting_func.dwc.weight", 4, {8, 1, 3, 3}},
        {"classifier.conv2_4.rounting_func.norm.norm.weight", 1, {8}},
        {"classifier.conv2_4.rounting_func.norm.norm.bias", 1, {8}},
        {"classifier.conv2_4.rounting_func.fc_alpha.weight", 2, {1, 8}},
        {"classifier.conv2_4.rounting_func.fc_alpha.bias", 1, {1}},
        {"classifier.conv2_4.rounting_func.fc_theta.weight", 2, {1, 8}},
        {"classifier.bn2_4.weight", 1, {8}},
        {"classifier.conv1_3.weight", 4, {8, 24, 3, 3}},
        {"classifier.conv2_3.weight", 5, {1, 8, 8, 3, 3}},
        {"classifier.conv1_2.weight", 4, {8, 16, 3, 3}},
        {"classifier.bn2_2.running_mean", 1, {8}},
        {"classifier.conv1_1.weight", 4, {2, 8, 1, 1}},
        {"classifier.conv1_1.bias", 1, {2}},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        rr_param *q = rr_params_find(&p, want[i].name);
        int ok = q && q->t->ndim == want[i].ndim;
        for (int d = 0; ok && d < want[i].ndim; d++)
            ok = q->t->shape[d] == want[i].shape[d];
        CHECK(ok, "%s", want[i].name);
    }
    CHECK(!rr_params_find(&p, "classifier.conv1_4.bias") &&
              !rr_params_find(&p, "classifier.conv2_4.rounting_func.fc_theta.bias") &&
              !rr_params_find(&p, "classifier.conv2_4.rounting_func.dwc.bias"),
          "a bias the reference does not have");
    /* the base weight: kaiming normal, fan_out = n·c·3·3 as torch computes it for 5 dims */
    float w[576];
    rr_to_host(w, m.conv2[0].weight);
    double s = 0;
    for (int i = 0; i < 576; i++)
        s += (double)w[i] * w[i];
    double sd = sqrt(s / 576), want_sd = sqrt(2.0 / (1 * 8 * 9));
    CHECK(fabs(sd / want_sd - 1) < 0.15, "ARC weight std %g, want %g", sd, want_sd);
    CHECK(fabsf(m.conv2[0].proportion - 40.0f / 180.0f * (float)M_PI) < 1e-7f, "max angle");
    CHECK(m.bn1[0].eps == 1e-3f && m.bn2[2].eps == 1e-3f && m.bn2[2].momentum == 0.1f, "BN eps, momentum");
    rr_params_free(&p);
}

TEST(decoder_shapes_traces_and_routing)
{
    rr_config cfg;
    tiny_config(&cfg, 2);
    rr_params p;
    rr_decoder m;
    rr_params_init(&p, RR_CPU, 2, 0);
    CHECK_OK(rr_decoder_init(&p, &m, &cfg, "classifier"));
    /* larger θ weights than trunc_normal(.02), so that the angles spread */
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 16; j++)
            rr_f32(m.conv2[i].fc_theta.weight)[j] = (j % 3 - 1) * 2.0f;
    rr_ctx *c = test_ctx();
    c->training = 1;
    rr_tensor *x[4];
    inputs(c, x, 10);
    static rr_trace tr;
    tr.n = 0;
    rr_tensor *out = rr_decoder_fwd(c, &m, x[3], x[2], x[1], x[0], &tr);
    CHECK_NOTNULL(out);
    if (!out)
        return;
    CHECK(out->ndim == 4 && out->shape[0] == B && out->shape[1] == 2 && out->shape[2] == 8 && out->shape[3] == 8,
          "output shape");
    CHECK(tr.n == 15, "%d traces", tr.n);
    const char *names[] = {"conv1", "alpha", "theta", "arc_conv", "out"};
    for (int k = 4; k >= 2; k--)
        for (int i = 0; i < 5; i++) {
            char n[64];
            snprintf(n, sizeof n, "decoder.l%d.%s", k, names[i]);
            rr_tensor *t = rr_trace_get(&tr, n);
            CHECK(t, "no trace %s", n);
            if (!t || i == 0 || i == 3)
                continue;
            if (i == 4) {
                CHECK(t->shape[1] == 8 && t->shape[2] == 8 >> (k - 2), "%s's shape", n);
                continue;
            }
            CHECK(t->ndim == 2 && t->shape[0] == B && t->shape[1] == 2, "%s's shape", n);
            for (int64_t j = 0; j < t->numel; j++) {
                float v = rr_f32(t)[j];
                CHECK(i == 1 ? v > 0 && v < 1 : fabsf(v) < 40.0f / 180.0f * (float)M_PI, "%s = %g", n, v);
            }
        }
    rr_params_free(&p);
}

/* At θ = 0 every rotation is the identity: ARC(x)_b = sum_k α_bk conv3x3(x_b, W_k). */
TEST(arc_conv_at_zero_angle_is_a_plain_convolution)
{
    rr_config cfg;
    tiny_config(&cfg, 2);
    rr_params p;
    rr_arc_conv m;
    rr_params_init(&p, RR_CPU, 3, 0);
    CHECK_OK(rr_arc_conv_init(&p, &m, 4, &cfg.decoder, "arc"));
    rr_fill(m.fc_theta.weight, 0);
    rr_ctx *c = test_ctx();
    const int64_t ch = 4, h = 5, w = 6;
    rr_tensor *x = test_randn(c, 7, RR_SHAPE(B, ch, h, w));
    static rr_trace tr;
    tr.n = 0;
    rr_tensor *y = rr_arc_conv_fwd(c, &m, x, &tr, "");
    rr_tensor *alpha = rr_trace_get(&tr, "alpha");
    CHECK(y && alpha, "%s", rr_errmsg());
    if (!y || !alpha)
        return;
    double want[B * 4 * 5 * 6] = {0};
    const float *W = rr_f32(m.weight), *X = rr_f32(x);
    for (int64_t b = 0; b < B; b++)
        for (int64_t k = 0; k < 2; k++)
            for (int64_t o = 0; o < ch; o++)
                for (int64_t i = 0; i < ch; i++)
                    for (int64_t r = 0; r < h; r++)
                        for (int64_t s = 0; s < w; s++)
                            for (int t = 0; t < 9; t++) {
                                int64_t rr = r + t / 3 - 1, ss = s + t % 3 - 1;
                                if (rr < 0 || rr >= h || ss < 0 || ss >= w)
                                    continue;
                                want[((b * ch + o) * h + r) * w + s] += (double)rr_f32(alpha)[b * 2 + k] *
                                                                        W[((k * ch + o) * ch + i) * 9 + t] *
                                                                        X[((b * ch + i) * h + rr) * w + ss];
                            }
    CHECK(rel_error(rr_f32(y), want, y->numel) < 1e-6, "relative error %g", rel_error(rr_f32(y), want, y->numel));
    rr_params_free(&p);
}

typedef struct {
    const rr_arc_conv *m;
    rr_tensor *x;
} arc_arg;

static rr_tensor *apply_arc_conv(rr_ctx *c, rr_tensor *const *in, const void *arg)
{
    const arc_arg *a = arg;
    return rr_arc_conv_fwd(c, a->m, a->x, NULL, "");
}

/* ARC alone, where no BN follows to cancel most of α's effect; training
 * mode, so the routing's dropout (0.2) is on and the check replays its
 * draws.  The depthwise weights reach the output only through the routing's
 * ReLU after the channel LN, at many pixels at once: their finite
 * differences cross kinks, hence the separate, looser check (the gradient
 * itself agrees with PyTorch's to 1e-6). */
TEST(arc_conv_gradients)
{
    rr_config cfg;
    tiny_config(&cfg, 2);
    rr_params p;
    rr_arc_conv m;
    rr_params_init(&p, RR_CPU, 5, 0);
    CHECK_OK(rr_arc_conv_init(&p, &m, 4, &cfg.decoder, "arc"));
    /* θ of both signs well away from the switch between the tables at 0, and
     * depthwise weights that a step of 1e-2 does not dwarf */
    float th[8] = {1.5f, 1.0f, -0.5f, 0.8f, -1.2f, -1.0f, 0.3f, -0.9f};
    memcpy(m.fc_theta.weight->data, th, sizeof th);
    rr_tensor *r = test_randn(test_ctx(), 9, RR_SHAPE(4, 1, 3, 3));
    for (int i = 0; i < 36; i++)
        rr_f32(m.dwc.weight)[i] = 0.5f * rr_f32(r)[i];
    arc_arg a = {&m, test_randn(test_ctx(), 8, RR_SHAPE(3, 4, 6, 6))};
    rr_tensor *in[] = {a.x, m.weight, m.norm.weight, m.fc_alpha.weight, m.fc_alpha.bias, m.fc_theta.weight};
    int n = (int)(sizeof in / sizeof in[0]);
    for (int i = 0; i < n; i++)
        in[i]->requires_grad = 1;
    check_gradient("arc_conv", apply_arc_conv, &a, n, in, 5e-3);
    for (int i = 0; i < n; i++)
        in[i]->requires_grad = 0;
    m.dwc.weight->requires_grad = 1;
    check_gradient_h("arc_conv", apply_arc_conv, &a, 1, &m.dwc.weight, 2e-2, 1e-3);
    rr_params_free(&p);
}

typedef struct {
    const rr_decoder *m;
    rr_tensor *x[4];
} decoder_arg;

/* in: tensors the module reads through a->x and its own pointers. */
static rr_tensor *apply_decoder(rr_ctx *c, rr_tensor *const *in, const void *arg)
{
    const decoder_arg *a = arg;
    return rr_decoder_fwd(c, a->m, a->x[3], a->x[2], a->x[1], a->x[0], NULL);
}

/* The whole decoder in training mode (batch statistics, dropout).  Every
 * level ends in BN + ReLU: a small step and a looser bound, as the
 * finite differences cross ReLU kinks (the gradients agree with PyTorch's
 * to 1e-6). */
TEST(decoder_gradients)
{
    rr_config cfg;
    tiny_config(&cfg, 1);
    rr_params p;
    rr_decoder m;
    rr_params_init(&p, RR_CPU, 4, 0);
    CHECK_OK(rr_decoder_init(&p, &m, &cfg, "classifier"));
    for (int i = 0; i < 3; i++) /* θ away from 0 */
        for (int j = 0; j < 8; j++)
            rr_f32(m.conv2[i].fc_theta.weight)[j] = i % 2 ? 1.5f : -1.5f;
    decoder_arg a = {&m, {NULL}};
    inputs(test_ctx(), a.x, 20);
    /* x_c4 passes every level (upsampling, conv1, ARC, BN); its elements are
     * few, which keeps the check fast */
    rr_tensor *in[] = {a.x[3], m.conv2[1].fc_theta.weight, m.bn2[2].weight, m.conv1_1.bias};
    int n = (int)(sizeof in / sizeof in[0]);
    for (int i = 0; i < n; i++)
        in[i]->requires_grad = 1;
    check_gradient_h("decoder", apply_decoder, &a, n, in, 3e-2, 1e-3);
    rr_params_free(&p);
}
