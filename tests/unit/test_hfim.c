/* HFIM (doc/network.md, HFIM): parameter names, init and counts, shapes and traces, the
 * lossless PixelShuffle round trip, the frequency attention, gradients. */
#include <math.h>
#include <string.h>

#include "harness.h"
#include "nn/hfim.h"

#define B 2

/* embed_dim 8 on an 8 x 8 stride-4 grid: E1..E4 8@8², 16@4², 32@2², 64@1²,
 * HFIM width 8+4+2+1 = 15 in 3 frequency heads, 2 x 4 attention heads on
 * the 4 x 4 pooled map. */
static void tiny_config(rr_config *cfg)
{
    rr_config_default(cfg);
    cfg->image_size = 32;
    cfg->swin.embed_dim = 8;
    cfg->hfim.sr = 2;
    cfg->hfim.heads = 2;
    cfg->hfim.head_dim = 4;
    cfg->hfim.freq_heads = 3;
}

/* local dw + pw + BN, two LNs, q/kv/proj Linears, four 1x1 convs with bias,
 * the temperatures, the 3ch -> ch fusion and its BN. */
static int64_t hfim_count(const rr_config *cfg)
{
    int64_t ch = rr_config_hfim_channels(cfg), inner = (int64_t)cfg->hfim.heads * cfg->hfim.head_dim;
    return 8 * ch * ch + 22 * ch + 4 * ch * inner + 3 * inner + cfg->hfim.freq_heads;
}

static void inputs(rr_ctx *c, rr_tensor *e[4], uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        e[i] = test_randn(c, seed + (uint64_t)i, RR_SHAPE(B, 8 << i, 8 >> i, 8 >> i));
}

TEST(hfim_parameter_count_is_the_specs)
{
    rr_config cfg;
    rr_config_default(&cfg);
    rr_params p;
    rr_hfim m;
    rr_params_init(&p, RR_CPU, 1, 0);
    CHECK_OK(rr_hfim_init(&p, &m, &cfg, "backbone.hfim"));
    /* doc/network.md, Parameters and cost: 0.71 M at mrsnet-b (ch 240, 8 x 32 heads, 8 frequency heads) */
    CHECK(rr_params_count(&p, NULL) == 712616 && hfim_count(&cfg) == 712616, "mrsnet-b: %lld parameters",
          (long long)rr_params_count(&p, NULL));
    rr_params_free(&p);
    tiny_config(&cfg);
    rr_params_init(&p, RR_CPU, 1, 0);
    CHECK_OK(rr_hfim_init(&p, &m, &cfg, "backbone.hfim"));
    CHECK(rr_params_count(&p, NULL) == hfim_count(&cfg), "%lld parameters, formula %lld",
          (long long)rr_params_count(&p, NULL), (long long)hfim_count(&cfg));
    CHECK(m.ch == 15 && m.split[0] == 8 && m.split[1] == 4 && m.split[2] == 2 && m.split[3] == 1, "widths");
    rr_params_free(&p);
}

TEST(hfim_parameter_names_and_init)
{
    rr_config cfg;
    tiny_config(&cfg);
    cfg.hfim.bn_eps = 1e-3f;
    rr_params p;
    rr_hfim m;
    rr_params_init(&p, RR_CPU, 1, 0);
    CHECK_OK(rr_hfim_init(&p, &m, &cfg, "backbone.hfim"));
    struct {
        const char *name;
        int ndim;
        int64_t shape[4];
    } want[] = {
        {"backbone.hfim.local_dw.weight", 4, {15, 1, 3, 3}},
        {"backbone.hfim.local_pw.weight", 4, {15, 15, 1, 1}},
        {"backbone.hfim.local_bn.running_var", 1, {15}},
        {"backbone.hfim.global_norm.weight", 1, {15}},
        {"backbone.hfim.global_norm_kv.bias", 1, {15}},
        {"backbone.hfim.global_q.weight", 2, {8, 15}},
        {"backbone.hfim.global_kv.weight", 2, {16, 15}},
        {"backbone.hfim.global_kv.bias", 1, {16}},
        {"backbone.hfim.global_proj.weight", 2, {15, 8}},
        {"backbone.hfim.freq_q.bias", 1, {15}},
        {"backbone.hfim.freq_k.weight", 4, {15, 15, 1, 1}},
        {"backbone.hfim.freq_v.weight", 4, {15, 15, 1, 1}},
        {"backbone.hfim.freq_temperature", 3, {3, 1, 1}},
        {"backbone.hfim.freq_proj.weight", 4, {15, 15, 1, 1}},
        {"backbone.hfim.fuse.weight", 4, {15, 45, 1, 1}},
        {"backbone.hfim.fuse_bn.running_mean", 1, {15}},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        rr_param *q = rr_params_find(&p, want[i].name);
        int ok = q && q->t->ndim == want[i].ndim;
        for (int d = 0; ok && d < want[i].ndim; d++)
            ok = q->t->shape[d] == want[i].shape[d];
        CHECK(ok, "%s", want[i].name);
    }
    CHECK(!rr_params_find(&p, "backbone.hfim.local_dw.bias") && !rr_params_find(&p, "backbone.hfim.fuse.bias"),
          "a bias on a conv followed by BN");
    /* inside the backbone (doc/training.md, Initialisation): Linear bias 0, LN 1/0,
     * temperatures 1; BN eps from the config */
    float v[16];
    rr_to_host(v, m.global_kv.bias);
    CHECK(v[0] == 0 && v[15] == 0, "Linear bias %g", v[0]);
    rr_to_host(v, m.freq_temperature);
    CHECK(v[0] == 1 && v[2] == 1, "temperature %g", v[0]);
    rr_to_host(v, m.global_norm.weight);
    CHECK(v[0] == 1 && v[14] == 1, "LN weight %g", v[0]);
    CHECK(m.fuse_bn.eps == 1e-3f && m.local_bn.eps == 1e-3f && m.fuse_bn.momentum == 0.1f, "BN eps, momentum");
    rr_params_free(&p);
}

TEST(hfim_shapes_and_traces)
{
    rr_config cfg;
    tiny_config(&cfg);
    rr_params p;
    rr_hfim m;
    rr_params_init(&p, RR_CPU, 2, 0);
    CHECK_OK(rr_hfim_init(&p, &m, &cfg, "backbone.hfim"));
    rr_ctx *c = test_ctx();
    c->training = 1;
    rr_tensor *e[4], *d[4];
    inputs(c, e, 10);
    static rr_trace tr;
    tr.n = 0;
    CHECK_OK(rr_hfim_fwd(c, &m, e, d, &tr));
    const char *names[] = {"hfim.X", "hfim.F_local", "hfim.F_global", "hfim.F_freq", "hfim.freq_attn",
                           "hfim.Y", "hfim.D1", "hfim.D2", "hfim.D3", "hfim.D4"};
    CHECK(tr.n == 10, "%d traces", tr.n);
    for (int i = 0; i < 10; i++)
        CHECK(rr_trace_get(&tr, names[i]), "no trace %s", names[i]);
    for (int i = 0; i < 4 && d[0]; i++)
        CHECK(rr_same_shape(d[i], e[i]), "D%d's shape", i + 1);
    rr_tensor *x = rr_trace_get(&tr, "hfim.X"), *a = rr_trace_get(&tr, "hfim.freq_attn");
    if (x && a) {
        CHECK(x->ndim == 4 && x->shape[1] == 15 && x->shape[2] == 8 && x->shape[3] == 8, "X's shape");
        /* PixelShuffle rule: X[8 + c, 2h + i, 2w + j] = E2[4c + 2i + j, h, w] */
        CHECK(rr_f32(x)[8 * 64 + 1 * 8 + 0] == rr_f32(e[1])[2 * 16 + 0], "X from E2");
        CHECK(a->ndim == 4 && a->shape[0] == B && a->shape[1] == 3 && a->shape[2] == 5 && a->shape[3] == 5,
              "freq_attn's shape");
        double worst = 0;
        for (int64_t r = 0; r < a->numel / 5; r++) {
            double s = 0;
            for (int j = 0; j < 5; j++)
                s += rr_f32(a)[r * 5 + j];
            worst = fmax(worst, fabs(s - 1));
        }
        CHECK(worst < 1e-5, "attention rows sum to 1 +- %g", worst);
    }
    CHECK(rr_hfim_fwd(c, &m, (rr_tensor *[]){e[1], e[1], e[2], e[3]}, d, NULL) != 0, "E1 of 16 channels accepted");
    rr_params_free(&p);
}

/* With the fusion conv zeroed, BN (batch statistics) of zeros is its bias, 0,
 * so Y = X and the split + PixelUnshuffle gives back E exactly. */
TEST(hfim_round_trip_is_lossless)
{
    rr_config cfg;
    tiny_config(&cfg);
    rr_params p;
    rr_hfim m;
    rr_params_init(&p, RR_CPU, 3, 0);
    CHECK_OK(rr_hfim_init(&p, &m, &cfg, "backbone.hfim"));
    rr_fill(m.fuse.weight, 0);
    rr_ctx *c = test_ctx();
    c->training = 1;
    rr_tensor *e[4], *d[4];
    inputs(c, e, 20);
    CHECK_OK(rr_hfim_fwd(c, &m, e, d, NULL));
    for (int i = 0; i < 4 && d[0]; i++)
        CHECK(memcmp(d[i]->data, e[i]->data, rr_tensor_bytes(e[i])) == 0, "D%d != E%d", i + 1, i + 1);
    rr_params_free(&p);
}

typedef struct {
    const rr_hfim *m;
    rr_tensor *e[4];
} hfim_arg;

/* D1..D4 flattened per sample and concatenated: one output to differentiate.
 * in: tensors the module reads through a->e and its own pointers. */
static rr_tensor *apply_hfim(rr_ctx *c, rr_tensor *const *in, const void *arg)
{
    const hfim_arg *a = arg;
    rr_tensor *d[4];
    return rr_hfim_fwd(c, a->m, a->e, d, NULL) ? NULL : test_flat_concat(c, 4, d);
}

TEST(hfim_gradients)
{
    rr_config cfg;
    tiny_config(&cfg);
    rr_params p;
    rr_hfim m;
    rr_params_init(&p, RR_CPU, 4, 0);
    CHECK_OK(rr_hfim_init(&p, &m, &cfg, "backbone.hfim"));
    /* Linear weights of std .3 rather than .02 (attention far from uniform),
     * and temperatures apart; BN in training mode. */
    rr_tensor *lin[] = {m.global_q.weight, m.global_kv.weight, m.global_proj.weight};
    for (int i = 0; i < 3; i++)
        test_fill_randn(lin[i], 50 + (uint64_t)i, 0.3f);
    float temp[3] = {0.5f, 2.0f, 5.0f};
    memcpy(m.freq_temperature->data, temp, sizeof temp);
    hfim_arg a = {&m, {NULL}};
    inputs(test_ctx(), a.e, 30);
    /* E4 reaches every pixel of X and so every branch (its elements are
     * fewer than E1's: the check stays fast).  Not the biases ahead of a
     * training-mode BN: a per-channel constant cancels there, so their true
     * gradients are 0. */
    rr_tensor *in[] = {a.e[3], m.freq_temperature, m.global_q.weight, m.fuse_bn.weight};
    int n = (int)(sizeof in / sizeof in[0]);
    for (int i = 0; i < n; i++)
        in[i]->requires_grad = 1;
    check_gradient("hfim", apply_hfim, &a, n, in, 5e-3);
    rr_params_free(&p);
}
