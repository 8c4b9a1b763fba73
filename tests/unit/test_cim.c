/* RMSIN's CIM (libcore/nn/cim.h): parameter names (RMSIN's), counts,
 * shapes and traces, the image_size it is built for, gradients. */
#include <math.h>
#include <string.h>

#include "harness.h"
#include "nn/cim.h"
#include "nn/flops.h"

#define B 2

/* embed_dim 8 at 128 x 128: E1..E4 8@32², 16@16², 32@8², 64@4²; the CIM
 * works at width 120 / 4 = 30 on the 4 x 4 grid with 16 + 4 + 4 tokens,
 * 2 heads of key_dim 4 and value width 8 (dh 16). */
static void tiny_config(rr_config *cfg)
{
    rr_config_default(cfg);
    cfg->image_size = 128;
    cfg->swin.embed_dim = 8;
    cfg->swin.window_size = 6;
    cfg->cim.key_dim = 4;
    cfg->cim.heads = 2;
}

static void inputs(rr_ctx *c, rr_tensor *e[4], uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        e[i] = test_randn(c, seed + (uint64_t)i, RR_SHAPE(B, 8 << i, 32 >> i, 32 >> i));
}

/* Trainable parameters of FeedForward(x, ratio r): 2 BNs, 1x1 x -> rx,
 * 3x3 grouped by x (r x r kernels per group), 1x1 rx -> x, biases on. */
static int64_t ff_count(int64_t x, int64_t r) { return 2 * r * x * x + (3 + 4 * r + 9 * r * r) * x; }

static int64_t cim_count(const rr_config *cfg)
{
    const rr_cim_config *cc = &cfg->cim;
    int64_t e = cfg->swin.embed_dim, dim = 15 * e, h = dim / 4, g = cfg->image_size / 32;
    int64_t dh = (int64_t)cc->heads * cc->attn_ratio * cc->key_dim, q = dh + 2 * (int64_t)cc->heads * cc->key_dim;
    int64_t n = rr_cim_tokens(g), n0 = g * g;
    int64_t csa = 2 * h + 10 * h + 2 * h + 26 * h + 2 * h + h * q + 2 * q + 10 * dh + dh * h + h + n * n0 + n0 +
                  2 * h + h * h + h;
    int64_t block = 2 * csa + ff_count(h, cc->mlp_ratio);
    for (int i = 0; i < 4; i++)
        block += ff_count((e << i) / 4, cc->mlp_ratio);
    int64_t gates = 0;
    for (int i = 0; i < 4; i++)
        gates += 3 * (e << i) * (e << i) + 9 * (e << i);
    return 2 * dim * h + h + dim + 2 * h + cc->layers * block + gates;
}

TEST(cim_parameter_names_and_counts)
{
    rr_config cfg;
    rr_config_default(&cfg);
    rr_params p;
    rr_cim m;
    rr_params_init(&p, RR_CPU, 1, 0);
    CHECK_OK(rr_cim_init(&p, &m, &cfg, "backbone.cim"));
    /* mrsnet-b's sizes are RMSIN's: 1920 channels, 15 x 15 grid, 314 tokens */
    CHECK(m.hidden == 480 && m.g == 15 && rr_cim_tokens(15) == 314, "hidden %lld, grid %lld", (long long)m.hidden,
          (long long)m.g);
    int64_t trainable = 0;
    for (int i = 0; i < p.n; i++)
        trainable += p.items[i].kind & RR_PARAM_BUFFER ? 0 : p.items[i].t->numel;
    CHECK(trainable == cim_count(&cfg), "%lld trainable, formula %lld", (long long)trainable,
          (long long)cim_count(&cfg));
    rr_params_free(&p);

    tiny_config(&cfg);
    cfg.cim.layers = 2;
    rr_params_init(&p, RR_CPU, 1, 0);
    CHECK_OK(rr_cim_init(&p, &m, &cfg, "backbone.cim"));
    struct {
        const char *name;
        int ndim;
        int64_t shape[4];
    } want[] = {
        {"backbone.cim.down_channel.weight", 4, {30, 120, 1, 1}},
        {"backbone.cim.up_channel.bias", 1, {120}},
        {"backbone.cim.bn.running_var", 1, {30}},
        {"backbone.cim.block.1.csa1.m.bn1.weight", 1, {30}},
        {"backbone.cim.block.0.csa1.m.DWConv1.0.weight", 4, {30, 1, 3, 3}},
        {"backbone.cim.block.0.csa1.m.DWConv1.1.running_mean", 1, {30}},
        {"backbone.cim.block.0.csa2.m.DWConv2.0.bias", 1, {30}},
        {"backbone.cim.block.0.csa2.m.attention.qkv.c.weight", 2, {32, 30}},
        {"backbone.cim.block.0.csa2.m.attention.qkv.bn.bias", 1, {32}},
        {"backbone.cim.block.0.csa1.m.attention.parallel_conv.1.weight", 4, {16, 1, 3, 3}},
        {"backbone.cim.block.0.csa1.m.attention.to_out.weight", 2, {30, 16}},
        {"backbone.cim.block.0.csa1.m.attention.proj.weight", 2, {16, 24}},
        {"backbone.cim.block.0.csa1.m.bn4.weight", 1, {30}},
        {"backbone.cim.block.0.csa1.m.conv.weight", 4, {30, 30, 1, 1}},
        {"backbone.cim.block.0.intra_ff.m.ff4.m.conv2.weight", 4, {32, 2, 3, 3}},
        {"backbone.cim.block.1.intra_ff.m.ff1.m.conv1.weight", 4, {4, 2, 1, 1}},
        {"backbone.cim.block.0.ff.m.conv3.weight", 4, {30, 60, 1, 1}},
        {"backbone.cim.fusion.3.global_act.weight", 4, {64, 64, 1, 1}},
        {"backbone.cim.fusion.0.bn3.running_var", 1, {8}},
        {"backbone.cim.fusion.2.local_embedding.bias", 1, {32}},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        rr_param *q = rr_params_find(&p, want[i].name);
        int ok = q && q->t->ndim == want[i].ndim;
        for (int d = 0; ok && d < want[i].ndim; d++)
            ok = q->t->shape[d] == want[i].shape[d];
        CHECK(ok, "%s", want[i].name);
    }
    CHECK(!rr_params_find(&p, "backbone.cim.block.0.csa1.m.attention.qkv.c.bias"), "qkv has no bias");
    trainable = 0;
    for (int i = 0; i < p.n; i++)
        trainable += p.items[i].kind & RR_PARAM_BUFFER ? 0 : p.items[i].t->numel;
    CHECK(trainable == cim_count(&cfg), "%lld trainable, formula %lld", (long long)trainable,
          (long long)cim_count(&cfg));
    rr_params_free(&p);
}

TEST(cim_shapes_traces_and_its_grid)
{
    rr_config cfg;
    tiny_config(&cfg);
    rr_params p;
    rr_cim m;
    rr_params_init(&p, RR_CPU, 2, 0);
    CHECK_OK(rr_cim_init(&p, &m, &cfg, "backbone.cim"));
    rr_ctx *c = test_ctx();
    c->training = 1;
    rr_tensor *e[4], *d[4];
    inputs(c, e, 10);
    static rr_trace tr;
    tr.n = 0;
    CHECK_OK(rr_cim_fwd(c, &m, e, d, &tr));
    const char *names[] = {"cim.Y", "cim.D1", "cim.D2", "cim.D3", "cim.D4"};
    CHECK(tr.n == 5, "%d traces", tr.n);
    for (int i = 0; i < 5; i++)
        CHECK(rr_trace_get(&tr, names[i]), "no trace %s", names[i]);
    for (int i = 0; i < 4 && d[0]; i++)
        CHECK(rr_same_shape(d[i], e[i]), "D%d's shape", i + 1);
    /* another image size: E4 of 2 x 2 */
    rr_tensor *small[4];
    for (int i = 0; i < 4; i++)
        small[i] = test_randn(c, 40 + (uint64_t)i, RR_SHAPE(B, 8 << i, 16 >> i, 16 >> i));
    CHECK(rr_cim_fwd(c, &m, small, d, NULL) != 0 && strstr(rr_errmsg(), "built for a 4 x 4 stage-4 grid, not 2 x 2"),
          "message: %s", rr_errmsg());
    rr_params_free(&p);
}

typedef struct {
    const rr_cim *m;
    rr_tensor *e[4];
} cim_arg;

static rr_tensor *apply_cim(rr_ctx *c, rr_tensor *const *in, const void *arg)
{
    const cim_arg *a = arg;
    rr_tensor *d[4];
    return rr_cim_fwd(c, a->m, a->e, d, NULL) ? NULL : test_flat_concat(c, 4, d);
}

TEST(cim_gradients)
{
    rr_config cfg;
    tiny_config(&cfg);
    rr_params p;
    rr_cim m;
    rr_params_init(&p, RR_CPU, 4, 0);
    CHECK_OK(rr_cim_init(&p, &m, &cfg, "backbone.cim"));
    /* Linear weights of std .3 rather than .02: attention far from uniform. */
    rr_cim_attn *at = &m.blocks[0].csa1.attn;
    rr_tensor *lin[] = {at->qkv.weight, at->proj.weight, at->to_out.weight};
    for (int i = 0; i < 3; i++)
        test_fill_randn(lin[i], 50 + (uint64_t)i, 0.3f);
    cim_arg a = {&m, {NULL}};
    inputs(test_ctx(), a.e, 30);
    /* E4 reaches the gate of scale 4 and, pooled, every block; BN in
     * training mode (no bias ahead of a BN: its true gradient is 0). */
    rr_tensor *in[] = {a.e[3], at->qkv.weight, at->proj.weight, at->parallel_conv.weight, m.fusion[0].act.weight};
    int n = (int)(sizeof in / sizeof in[0]);
    for (int i = 0; i < n; i++)
        in[i]->requires_grad = 1;
    check_gradient("cim", apply_cim, &a, n, in, 5e-3);
    for (int i = 0; i < n; i++)
        in[i]->requires_grad = 0;
    /* A feed-forward's 3x3 moves the values at relu6's kink at 0 directly:
     * a smaller step keeps the differences off the kinks. */
    rr_tensor *ff = m.blocks[0].intra[1].conv2.weight;
    ff->requires_grad = 1;
    check_gradient_h("cim", apply_cim, &a, 1, &ff, 5e-3, 1e-3);
    rr_params_free(&p);
}

/* The CIM's and the IIM's rules on a configuration, where they are used. */
TEST(cim_and_iim_config_rules)
{
    static const struct {
        const char *json, *msg;
    } bad[] = {
        {"\"cross_scale\": \"cim\", \"swin\": {\"embed_dim\": 10, \"num_heads\": [1, 2, 4, 8]}",
         "config: swin.embed_dim is 10, must be a multiple of 4 (CIM splits C_i / 4)"},
        {"\"cross_scale\": \"cim\", \"image_size\": 120",
         "config: image_size is 120, must be a multiple of 8 x swin.patch_size = 32 (CIM is built for stage 4's "
         "grid)"},
        {"\"fusion\": [\"iim\", \"ifim\", \"ifim\", \"ifim\"], \"pwam\": {\"heads\": 3}",
         "config: pwam.heads is 3, does not divide stage 1's width 128"},
        {"\"cim\": {\"heads\": 0}", "config: cim.heads is 0, must be 1 to 1024"},
        {"\"iim\": {\"bn_eps\": 0}", "config: iim.bn_eps is 0, must be above 0 and at most 1"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char json[512];
        snprintf(json, sizeof json, "{\"image_size\": 128, \"hfim\": {\"freq_heads\": 3}, %s}", bad[i].json);
        rr_config cfg;
        CHECK(rr_config_parse(&cfg, json, strlen(json)) != 0 && strcmp(rr_errmsg(), bad[i].msg) == 0,
              "%s: got '%s'", bad[i].json, rr_errmsg());
    }
    /* without the CIM neither rule applies */
    rr_config cfg;
    const char *none = "{\"cross_scale\": \"none\", \"image_size\": 120, \"swin\": {\"embed_dim\": 10, "
                       "\"num_heads\": [1, 2, 4, 8], \"window_size\": 6}}";
    CHECK_OK(rr_config_parse(&cfg, none, strlen(none)));
}

/* The FLOP count of RMSIN's modules (nn/flops.h): the CIM's products as
 * doc/network.md, CIM gives them for rmsin-b (3,028,560,576 MACs at 480, a
 * count by hooks on the reference's convolutions and Linears plus the
 * attention products), the IIM as its PWAM and gate plus the various
 * receptive branch at stages 1-3. */
TEST(cim_and_iim_flops)
{
    rr_config cfg;
    CHECK_OK(rr_config_load(&cfg, "share/configs/rmsin-b.json"));
    rr_flops f, m;
    CHECK_OK(rr_flops_count(&cfg, 1, &f));
    CHECK(f.hfim_cim == 2 * INT64_C(3028560576) && f.hfim == f.hfim_cim, "CIM %lld FLOPs", (long long)f.hfim_cim);
    /* the same stages with LAVT's PWAM: the IIM adds 2 * 11 taps and 2 C^2 per position at stages 1-3 */
    int64_t visual = 0;
    for (int i = 0; i < 3; i++) {
        int64_t n = (int64_t)(120 >> i) * (120 >> i), c = (int64_t)128 << i;
        visual += 22 * n + 2 * n * c * c;
    }
    CHECK(f.ifim_visual == 2 * visual, "visual branch %lld FLOPs, want %lld", (long long)f.ifim_visual,
          (long long)(2 * visual));
    for (int i = 0; i < 4; i++)
        cfg.fusion[i] = RR_FUSION_PWAM;
    CHECK_OK(rr_flops_count(&cfg, 1, &m));
    CHECK(f.ifim == m.ifim + f.ifim_visual && f.ifim_pwam == m.ifim_pwam && f.ifim_gate == m.ifim_gate,
          "IIM %lld = PWAM stage %lld + visual", (long long)f.ifim, (long long)m.ifim);
    CHECK(f.forward == f.swin + f.ifim + f.hfim + f.decoder + f.bert, "sums");
}
