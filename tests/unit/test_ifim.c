/* IFIM (doc/network.md, IFIM): parameter names, shapes and counts (doc/network.md, IFIM), the
 * ablation switches (doc/network.md, Ablation switches), padded words, gradients w.r.t. x, l and a
 * few parameters. */
#include <string.h>

#include "harness.h"
#include "nn/ifim.h"

#define C 8
#define DL 16
#define NL 5
#define B 2

/* A registry (without gradients: the checks mark what they differentiate)
 * holding one IFIM "m" of width C, and the config it was built from. */
typedef struct {
    rr_params p;
    rr_config cfg;
    rr_ifim m;
} fixture;

static int setup(fixture *f, int psr, int csr, int64_t dl)
{
    rr_config_default(&f->cfg);
    f->cfg.text.hidden_size = (int)dl;
    f->cfg.ifim.psr = psr;
    f->cfg.ifim.csr = csr;
    rr_params_init(&f->p, RR_CPU, 7, 0);
    return rr_ifim_init(&f->p, &f->m, C, &f->cfg, "m");
}

/* l (B x DL x NL) and its mask: sample 0 has 3 words, sample 1 all 5. */
static rr_tensor *word_mask(rr_ctx *c)
{
    float m[B * NL] = {1, 1, 1, 0, 0, 1, 1, 1, 1, 1};
    return rr_from_host(c, RR_F32, RR_SHAPE(B, NL, 1), m);
}

static int64_t shape_of(const rr_params *p, const char *name, int d)
{
    rr_param *q = rr_params_find(p, name);
    return q && d < q->t->ndim ? q->t->shape[d] : -1;
}

TEST(ifim_parameter_counts_match_the_spec)
{
    fixture f;
    CHECK_OK(setup(&f, 1, 1, DL));
    int64_t c = C, dl = DL;
    CHECK(rr_params_count(&f.p, "m.psr.") == 8 * c * c + 14 * c, "PSR %lld",
          (long long)rr_params_count(&f.p, "m.psr."));
    CHECK(rr_params_count(&f.p, "m.csr.") == 2 * c * c + 2 * c, "CSR %lld",
          (long long)rr_params_count(&f.p, "m.csr."));
    /* 6C^2 + 2 D_l C + 7C + D_l + 1: 6C^2 + 1543C + 769 at D_l = 768 */
    CHECK(rr_params_count(&f.p, "m.cma.") == 6 * c * c + 2 * dl * c + 7 * c + dl + 1, "CMA %lld",
          (long long)rr_params_count(&f.p, "m.cma."));
    CHECK(rr_params_count(&f.p, "m.aff.") == 7 * c * c + 5 * c, "AFF %lld",
          (long long)rr_params_count(&f.p, "m.aff."));
    CHECK(f.p.n == 36, "%d tensors", f.p.n);
    rr_params_free(&f.p);

    /* at D_l = 768 the whole module is doc/network.md's 25C^2 + 1564C + 769 less
     * the stage's residual gate (2C^2, doc/network.md, Parameters and cost), which the backbone owns */
    CHECK_OK(setup(&f, 1, 1, 768));
    CHECK(rr_params_count(&f.p, "m.cma.") == 6 * c * c + 1543 * c + 769, "CMA %lld",
          (long long)rr_params_count(&f.p, "m.cma."));
    CHECK(rr_params_count(&f.p, NULL) == 23 * c * c + 1564 * c + 769, "IFIM %lld",
          (long long)rr_params_count(&f.p, NULL));
    rr_params_free(&f.p);
}

TEST(ifim_parameter_names_and_shapes_are_the_references)
{
    fixture f;
    CHECK_OK(setup(&f, 1, 1, DL));
    struct {
        const char *name;
        int64_t d0, d1, d2;
    } want[] = {
        {"m.psr.dw.weight", C, 1, 3},
        {"m.psr.pw.weight", C, C, 1},
        {"m.psr.spectral.weight", C, 2 * C, 1},
        {"m.psr.fuse.weight", C, 2 * C, 1},
        {"m.psr.agg.weight", C, 3 * C, 1},
        {"m.csr.gcn.weight", C, C, 1},
        {"m.csr.out.weight", C, C, 1},
        {"m.cma.vis_project.weight", C, C, 1},
        {"m.cma.f_query.weight", C, C, 1},
        {"m.cma.lang_gate.weight", 1, DL, 1},
        {"m.cma.f_key.weight", C, DL, 1},
        {"m.cma.f_value.weight", C, DL, 1},
        {"m.cma.W.weight", C, C, 1},
        {"m.cma.fusion_weight.weight", C, 2 * C, 1},
        {"m.cma.project_mm.weight", C, C, 1},
        {"m.aff.fc1.weight", C, 3 * C, -1},
        {"m.aff.fc2.weight", 3 * C, C, -1},
        {"m.aff.proj.weight", C, C, -1},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        CHECK(shape_of(&f.p, want[i].name, 0) == want[i].d0 && shape_of(&f.p, want[i].name, 1) == want[i].d1 &&
                  shape_of(&f.p, want[i].name, 2) == want[i].d2,
              "%s: %lld x %lld x %lld", want[i].name, (long long)shape_of(&f.p, want[i].name, 0),
              (long long)shape_of(&f.p, want[i].name, 1), (long long)shape_of(&f.p, want[i].name, 2));
        char bias[64];
        snprintf(bias, sizeof bias, "%.*s.bias", (int)(strlen(want[i].name) - 7), want[i].name);
        CHECK(shape_of(&f.p, bias, 0) == want[i].d0, "%s", bias);
    }
    /* linear layers: trunc_normal(.02) and zero bias (doc/training.md, Initialisation) */
    float b[C];
    rr_to_host(b, rr_params_find(&f.p, "m.aff.proj.bias")->t);
    for (int i = 0; i < C; i++)
        CHECK(b[i] == 0, "aff.proj.bias[%d] = %g", i, b[i]);
    rr_params_free(&f.p);
}

/* Output B x N x C, the traced branches B x C x h x w and phases, on an odd
 * grid (the pyramid's ceil sizes: 5x7 -> 3x4 -> 2x2). */
TEST(ifim_shapes_and_trace)
{
    fixture f;
    CHECK_OK(setup(&f, 1, 1, DL));
    rr_ctx *c = test_ctx();
    rr_tensor *x = test_randn(c, 1, RR_SHAPE(B, 35, C)), *l = test_randn(c, 2, RR_SHAPE(B, DL, NL));
    static rr_trace tr;
    tr.n = 0;
    rr_tensor *y = rr_ifim_fwd(c, &f.m, x, 5, 7, l, word_mask(c), &tr, "stage1.ifim.");
    CHECK_NOTNULL(y);
    if (y)
        CHECK(y->ndim == 3 && y->shape[0] == B && y->shape[1] == 35 && y->shape[2] == C, "y %lldx%lldx%lld",
              (long long)y->shape[0], (long long)y->shape[1], (long long)y->shape[2]);
    /* the branches, and the PSR's phase at each pyramid level */
    const char *names[6] = {"stage1.ifim.F_py", "stage1.ifim.F_rel", "stage1.ifim.F_cm",
                            "stage1.ifim.psr.P1", "stage1.ifim.psr.P2", "stage1.ifim.psr.P4"};
    int64_t hw[6][2] = {{5, 7}, {5, 7}, {5, 7}, {5, 7}, {3, 4}, {2, 2}};
    CHECK(tr.n == 6, "%d traced", tr.n);
    for (int i = 0; i < 6; i++) {
        rr_tensor *t = rr_trace_get(&tr, names[i]);
        CHECK(t && t->ndim == 4 && t->shape[0] == B && t->shape[1] == C && t->shape[2] == hw[i][0] &&
                  t->shape[3] == hw[i][1],
              "%s", names[i]);
    }
    /* wrong sizes are errors, not crashes */
    CHECK(!rr_ifim_fwd(c, &f.m, x, 6, 6, l, word_mask(c), NULL, ""), "36 != 35 tokens accepted");
    rr_params_free(&f.p);
}

/* PSR off / CSR off drop their branch, parameters and trace, and AFF fuses
 * the remaining ones (doc/network.md, Ablation switches). */
TEST(ifim_ablation_switches)
{
    rr_ctx *c = test_ctx();
    rr_tensor *x = test_randn(c, 3, RR_SHAPE(B, 36, C)), *l = test_randn(c, 4, RR_SHAPE(B, DL, NL));
    for (int psr = 0; psr <= 1; psr++)
        for (int csr = 0; csr <= 1; csr++) {
            fixture f;
            CHECK_OK(setup(&f, psr, csr, DL));
            int k = 1 + psr + csr;
            CHECK((rr_params_count(&f.p, "m.psr.") > 0) == psr, "psr %d", psr);
            CHECK((rr_params_count(&f.p, "m.csr.") > 0) == csr, "csr %d", csr);
            CHECK(shape_of(&f.p, "m.aff.fc1.weight", 1) == k * C && shape_of(&f.p, "m.aff.fc2.weight", 0) == k * C,
                  "psr %d csr %d: AFF not %d-way", psr, csr, k);
            CHECK(rr_params_count(&f.p, "m.aff.") == (2 * k + 1) * C * C + (k + 2) * C, "AFF count");
            static rr_trace tr;
            tr.n = 0;
            rr_tensor *y = rr_ifim_fwd(c, &f.m, x, 6, 6, l, word_mask(c), &tr, "");
            CHECK(y && y->shape[1] == 36 && y->shape[2] == C, "psr %d csr %d: %s", psr, csr, rr_errmsg());
            CHECK(!rr_trace_get(&tr, "F_py") == !psr && !rr_trace_get(&tr, "F_rel") == !csr &&
                      rr_trace_get(&tr, "F_cm"),
                  "psr %d csr %d: trace", psr, csr);
            rr_params_free(&f.p);
        }
}

/* A padded word is masked out of the keys and values and gets weight
 * exp(-1e4) = 0 exactly: its features cannot change the output; a real
 * word's do. */
TEST(ifim_padded_words_get_no_attention)
{
    fixture f;
    CHECK_OK(setup(&f, 1, 1, DL));
    rr_ctx *c = test_ctx();
    rr_tensor *x = test_randn(c, 5, RR_SHAPE(B, 36, C)), *l = test_randn(c, 6, RR_SHAPE(B, DL, NL));
    rr_tensor *y0 = rr_ifim_fwd(c, &f.m, x, 6, 6, l, word_mask(c), NULL, "");
    for (int d = 0; d < DL; d++)
        for (int w = 3; w < NL; w++) /* sample 0's pads */
            rr_f32(l)[d * NL + w] += 100.0f;
    rr_tensor *y1 = rr_ifim_fwd(c, &f.m, x, 6, 6, l, word_mask(c), NULL, "");
    CHECK_NOTNULL(y0);
    CHECK_NOTNULL(y1);
    if (y0 && y1)
        CHECK(memcmp(y0->data, y1->data, rr_tensor_bytes(y0)) == 0, "padded words changed the output");
    rr_f32(l)[0] += 1.0f; /* sample 0, a real word */
    rr_tensor *y2 = rr_ifim_fwd(c, &f.m, x, 6, 6, l, word_mask(c), NULL, "");
    if (y0 && y2)
        CHECK(memcmp(y0->data, y2->data, rr_tensor_bytes(y0) / 2) != 0, "a real word did not matter");
    rr_params_free(&f.p);
}

typedef struct {
    const rr_ifim *m;
    int64_t h, w;
} ifim_arg;

/* in: x, l, then parameters the module reads through its own pointers. */
static rr_tensor *apply_ifim(rr_ctx *c, rr_tensor *const *in, const void *arg)
{
    const ifim_arg *a = arg;
    return rr_ifim_fwd(c, a->m, in[0], a->h, a->w, in[1], word_mask(c), NULL, "");
}

/* P = atan2(Im Z, Re Z) jumps by 2 pi where Im Z changes sign with
 * Re Z < 0, and by pi where Re Z changes sign at a self-conjugate bin: the
 * reference is discontinuous there too, and a central difference that
 * straddles such a point fails.  Seed 52 was chosen for x because every
 * spectrum of its pyramid (3x5, 2x3, 1x2) keeps those values 0.02 away from
 * the cut, 7 times more than a step of 1e-2 can move them.  (On other
 * inputs the tape's gradients match PyTorch's to 2e-6.) */
TEST(ifim_gradients)
{
    fixture f;
    CHECK_OK(setup(&f, 1, 1, DL));
    rr_ctx *c = test_ctx();
    ifim_arg a = {&f.m, 3, 5};
    rr_tensor *in[3] = {test_randn(c, 52, RR_SHAPE(B, 15, C)), test_randn(c, 9, RR_SHAPE(B, DL, NL)),
                        f.m.psr.spectral.weight};
    for (int i = 0; i < 3; i++)
        in[i]->requires_grad = 1;
    check_gradient("ifim", apply_ifim, &a, 3, in, 5e-3);
    rr_params_free(&f.p);
}

TEST(ifim_rejects_unsupported_options)
{
    rr_config cfg;
    rr_params p;
    rr_ifim m;
    rr_config_default(&cfg);
    cfg.ifim.psr_log1p = 1;
    rr_params_init(&p, RR_CPU, 1, 0);
    CHECK(rr_ifim_init(&p, &m, C, &cfg, "m") != 0, "psr_log1p accepted");
    rr_params_free(&p);
    rr_config_default(&cfg);
    cfg.ifim.cma_heads = 3;
    rr_params_init(&p, RR_CPU, 1, 0);
    CHECK(rr_ifim_init(&p, &m, C, &cfg, "m") != 0, "8 channels in 3 heads accepted");
    rr_params_free(&p);
}
