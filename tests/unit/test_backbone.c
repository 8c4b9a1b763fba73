/* The backbone (doc/network.md: Swin backbone, Stage wiring): parameter names and counts, the wiring of
 * the stages (blocks with the stage's shift mask, IFIM, the tanh gate,
 * PatchMerging, the out-norms) checked on the trace, and where its backward
 * reaches. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "nn/backbone.h"

/* Stage grids 16, 8, 4, 2 with window 3: every stage pads (18, 9, 6, 3)
 * and shifts its odd block. */
static rr_config tiny_config(void)
{
    rr_config cfg;
    rr_config_default(&cfg);
    cfg.image_size = 32;
    cfg.swin.patch_size = 2;
    cfg.swin.embed_dim = 8;
    memcpy(cfg.swin.depths, (int[]){2, 2, 2, 2}, sizeof cfg.swin.depths);
    memcpy(cfg.swin.num_heads, (int[]){1, 1, 2, 2}, sizeof cfg.swin.num_heads);
    cfg.swin.window_size = 3;
    cfg.text.hidden_size = 8;
    cfg.text.num_heads = 2;
    cfg.hfim.heads = 2;
    cfg.hfim.head_dim = 4;
    cfg.hfim.freq_heads = 3; /* HFIM width 8 + 4 + 2 + 1 = 15 */
    return cfg;
}

TEST(backbone_parameters)
{
    rr_config cfg = tiny_config();
    CHECK_OK(rr_config_check(&cfg));
    rr_params p;
    rr_params_init(&p, RR_CPU, 1, 0);
    rr_backbone m;
    CHECK_OK(rr_backbone_init(&p, &m, &cfg, "backbone"));
    const char *present[] = {"backbone.patch_embed.proj.weight", "backbone.patch_embed.norm.bias",
                             "backbone.layers.0.blocks.1.attn.relative_position_bias_table",
                             "backbone.layers.3.blocks.1.mlp.fc2.bias", "backbone.layers.2.downsample.reduction.weight",
                             "backbone.layers.0.res_gate.0.weight", "backbone.layers.3.res_gate.2.weight",
                             "backbone.norm0.weight", "backbone.norm3.bias", "backbone.layers.1.ifim.cma.W.weight",
                             "backbone.hfim.fuse.weight"};
    for (size_t i = 0; i < sizeof present / sizeof present[0]; i++)
        CHECK(rr_params_find(&p, present[i]) != NULL, "no parameter %s", present[i]);
    const char *absent[] = {"backbone.layers.3.downsample.norm.weight", "backbone.layers.0.res_gate.0.bias",
                            "backbone.layers.0.blocks.0.attn.relative_position_index", "backbone.norm.weight"};
    for (size_t i = 0; i < sizeof absent / sizeof absent[0]; i++)
        CHECK(rr_params_find(&p, absent[i]) == NULL, "unexpected parameter %s", absent[i]);
    /* doc/network.md, Parameters and cost per part: blocks 12C^2 + 13C + (2w-1)^2 h, merges LN(4C) +
     * 4C x 2C, gates 2C^2, out-norms 2C, patch embed conv + LN */
    int64_t w = cfg.swin.window_size, e = cfg.swin.embed_dim, p2 = cfg.swin.patch_size * cfg.swin.patch_size;
    for (int i = 0; i < 4; i++) {
        int64_t C = e << i, h = cfg.swin.num_heads[i];
        char pre[64];
        snprintf(pre, sizeof pre, "backbone.layers.%d.blocks.", i);
        int64_t want = cfg.swin.depths[i] * (12 * C * C + 13 * C + (2 * w - 1) * (2 * w - 1) * h);
        CHECK(rr_params_count(&p, pre) == want, "%s: %lld, want %lld", pre, (long long)rr_params_count(&p, pre),
              (long long)want);
        snprintf(pre, sizeof pre, "backbone.layers.%d.downsample.", i);
        CHECK(rr_params_count(&p, pre) == (i < 3 ? 8 * C * C + 8 * C : 0), "%s", pre);
        snprintf(pre, sizeof pre, "backbone.layers.%d.res_gate.", i);
        CHECK(rr_params_count(&p, pre) == 2 * C * C, "%s", pre);
    }
    CHECK(rr_params_count(&p, "backbone.norm") == 2 * 15 * e, "out-norms");
    CHECK(rr_params_count(&p, "backbone.patch_embed.") == 3 * p2 * e + 3 * e, "patch embed");
    /* the DropPath rates run over all 8 blocks: linspace(0, 0.3, 8) */
    CHECK(m.layers[0].blocks[0].drop_path == 0.0f && m.layers[3].blocks[1].drop_path == 0.3f &&
              fabsf(m.layers[1].blocks[1].drop_path - 0.3f * 3 / 7) < 1e-7f,
          "DropPath rates");
    CHECK(m.layers[2].blocks[0].shift == 0 && m.layers[2].blocks[1].shift == 1, "shifts");
    rr_params_free(&p);
}

/* The language input: B x D_l x N_l features and a mask with padding. */
static void text_inputs(rr_ctx *c, const rr_config *cfg, int64_t B, rr_tensor **l, rr_tensor **lmask)
{
    const int64_t nl = 3;
    *l = test_randn(c, 5, RR_SHAPE(B, cfg->text.hidden_size, nl));
    *lmask = rr_zeros(c, RR_F32, RR_SHAPE(B, nl, 1));
    for (int64_t b = 0; b < B; b++)
        for (int64_t k = 0; k < nl - b % 2; k++)
            rr_f32(*lmask)[b * nl + k] = 1;
}

static double max_abs_diff(const rr_tensor *a, const rr_tensor *b)
{
    double m = 0;
    for (int64_t i = 0; i < a->numel; i++)
        m = fmax(m, fabs((double)rr_f32(a)[i] - rr_f32(b)[i]));
    return m;
}

TEST(backbone_stages)
{
    rr_ctx *c = test_ctx();
    rr_config cfg = tiny_config();
    rr_params p;
    rr_params_init(&p, RR_CPU, 1, 0);
    rr_backbone m;
    CHECK_OK(rr_backbone_init(&p, &m, &cfg, "backbone"));
    const int64_t B = 2, S = cfg.image_size, g = S / cfg.swin.patch_size;
    rr_tensor *img = test_randn(c, 1, RR_SHAPE(B, 3, S, S)), *l, *lmask, *d[4];
    text_inputs(c, &cfg, B, &l, &lmask);
    rr_trace *tr = calloc(1, sizeof *tr);
    CHECK_OK(rr_backbone_fwd(c, &m, img, l, lmask, d, tr));
    rr_tensor *x = rr_trace_get(tr, "patch_embed");
    CHECK(x && x->ndim == 3 && x->shape[1] == g * g && x->shape[2] == 8, "patch_embed");
    for (int i = 0; i < 4 && x; i++) {
        int64_t C = 8 << i, h = g >> i, ws = 3, hp = (h + ws - 1) / ws * ws;
        char n[4][32];
        const char *what[4] = {"X", "F", "x_gated", "E"};
        rr_tensor *t[4];
        for (int k = 0; k < 4; k++) {
            snprintf(n[k], sizeof n[k], "stage%d.%s", i + 1, what[k]);
            t[k] = rr_trace_get(tr, n[k]);
            CHECK((t[k] != NULL) == (i < 3 || k != 2), "%s traced: %d", n[k], t[k] != NULL);
        }
        rr_tensor *X = t[0], *F = t[1], *xg = t[2], *E = t[3];
        if (!X || !F || !E)
            break;
        CHECK(X->shape[0] == B && X->shape[1] == h * h && X->shape[2] == C && rr_same_shape(X, F), "stage %d", i + 1);
        CHECK(d[i] && E->ndim == 4 && E->shape[1] == C && E->shape[2] == h && E->shape[3] == h &&
                  rr_same_shape(d[i], E),
              "stage %d: E and D", i + 1);
        /* X = the stage's blocks on its input, the odd one with the stage's mask */
        rr_tensor *mask = rr_swin_shift_mask(c, hp, hp, ws, 1, -100.0f);
        rr_tensor *want = rr_swin_block_fwd(c, &m.layers[i].blocks[0], x, h, h, NULL);
        want = rr_swin_block_fwd(c, &m.layers[i].blocks[1], want, h, h, mask);
        CHECK(want && max_abs_diff(want, X) == 0, "stage %d: X", i + 1);
        /* E = norm_i(F) as B x C x h x w */
        want = rr_permute(c, rr_reshape(c, rr_layer_norm_m_fwd(c, &m.norm[i], F), RR_SHAPE(B, h, h, C)),
                          (const int[]){0, 3, 1, 2});
        CHECK(want && max_abs_diff(want, E) == 0, "stage %d: E", i + 1);
        if (i == 3)
            break;
        /* x_gated = X + tanh(W2 relu(W1 F)) * F (doc/network.md, Stage wiring), in double */
        const rr_tensor *w1 = m.layers[i].gate1.weight, *w2 = m.layers[i].gate2.weight;
        double worst = 0, *r = malloc((size_t)C * sizeof *r);
        for (int64_t tok = 0; xg && tok < B * h * h; tok++) {
            const float *f = rr_f32(F) + tok * C;
            for (int64_t o = 0; o < C; o++) {
                double s = 0;
                for (int64_t k = 0; k < C; k++)
                    s += rr_f32(w1)[o * C + k] * f[k];
                r[o] = s > 0 ? s : 0;
            }
            for (int64_t o = 0; o < C; o++) {
                double s = 0;
                for (int64_t k = 0; k < C; k++)
                    s += rr_f32(w2)[o * C + k] * r[k];
                double v = rr_f32(X)[tok * C + o] + tanh(s) * f[o];
                worst = fmax(worst, fabs(v - rr_f32(xg)[tok * C + o]));
            }
        }
        free(r);
        CHECK(xg && worst < 1e-5, "stage %d: x_gated off by %g", i + 1, worst);
        x = rr_patch_merging_fwd(c, &m.layers[i].downsample, xg, h, h); /* the next stage's input */
    }
    CHECK(rr_trace_get(tr, "hfim.D4") == d[3], "the HFIM's outputs");
    free(tr);
    rr_params_free(&p);
}

/* Finite differences of the whole backbone are meaningless in float32 (PSR's
 * phase jumps by 2 pi across the negative real axis, and the stages'
 * normalisations over a few positions amplify rounding), and the blocks,
 * merging and embedding have their own gradient checks (test_swin.c).  Here:
 * one backward reaches every parameter of the Swin stream, the gates and
 * the out-norms, and the image and the words; stage 4's gate, whose output
 * the reference discards, gets nothing. */
TEST(backbone_gradient_reaches_every_part)
{
    rr_config cfg = tiny_config();
    rr_params p;
    rr_params_init(&p, RR_CPU, 1, 1);
    rr_backbone m;
    CHECK_OK(rr_backbone_init(&p, &m, &cfg, "backbone"));
    rr_ctx *c = test_ctx();
    c->training = 1;
    rr_ctx_grad(c, 1);
    rr_tensor *l, *lmask, *d[4];
    text_inputs(c, &cfg, 2, &l, &lmask);
    rr_tensor *img = test_randn(c, 2, RR_SHAPE(2, 3, cfg.image_size, cfg.image_size));
    img->requires_grad = l->requires_grad = 1;
    CHECK_OK(rr_backbone_fwd(c, &m, img, l, lmask, d, NULL));
    for (int i = 0; i < 4; i++)
        d[i] = rr_reshape(c, d[i], RR_SHAPE(-1));
    rr_tensor *y = rr_concat(c, 4, d, 0);
    CHECK_OK(y ? rr_backward_from(c, y, test_randn(c, 3, 1, y->shape)) : -1);
    const char *ours[] = {".patch_embed.", ".blocks.", ".res_gate.", ".downsample.", "backbone.norm"};
    int checked = 0;
    for (int i = 0; i < p.n; i++) {
        const char *n = p.items[i].name;
        int mine = 0;
        for (size_t k = 0; k < sizeof ours / sizeof ours[0]; k++)
            mine |= strstr(n, ours[k]) != NULL;
        if (!mine)
            continue;
        const rr_tensor *g = p.items[i].t->grad;
        double norm = 0;
        for (int64_t k = 0; k < g->numel; k++)
            norm += (double)rr_f32(g)[k] * rr_f32(g)[k];
        int stage4_gate = strstr(n, "layers.3.res_gate.") != NULL;
        CHECK(stage4_gate ? norm == 0 : norm > 0 && isfinite(norm), "%s: gradient norm^2 %g", n, norm);
        checked++;
    }
    CHECK(checked == 4 + 4 * 2 * 13 + 4 * 2 + 3 * 3 + 4 * 2, "%d parameters checked", checked);
    for (int k = 0; k < 2; k++) {
        const rr_tensor *g = k ? l->grad : img->grad;
        double norm = 0;
        for (int64_t i = 0; g && i < g->numel; i++)
            norm += (double)rr_f32(g)[i] * rr_f32(g)[i];
        CHECK(norm > 0 && isfinite(norm), "%s: no gradient", k ? "words" : "image");
    }
    rr_params_free(&p);
}

/* swin.ape (share/configs/README): a learned 1 x C x g x g table added to
 * the patch embedding, position by position; its gradient summed over the
 * positions equals the patch-embedding norm's bias gradient (both receive
 * the same dL/dx, per channel); another grid is refused. */
TEST(backbone_absolute_position_embedding)
{
    rr_config cfg = tiny_config();
    cfg.swin.ape = 1;
    CHECK_OK(rr_config_check(&cfg));
    rr_params p;
    rr_params_init(&p, RR_CPU, 1, 1);
    rr_backbone m;
    CHECK_OK(rr_backbone_init(&p, &m, &cfg, "backbone"));
    const int64_t B = 2, S = cfg.image_size, g = S / cfg.swin.patch_size, C = cfg.swin.embed_dim;
    CHECK(m.ape && rr_params_find(&p, "backbone.absolute_pos_embed") && m.ape->ndim == 4 && m.ape->shape[0] == 1 &&
              m.ape->shape[1] == C && m.ape->shape[2] == g && m.ape->shape[3] == g,
          "the table");
    rr_ctx *c = test_ctx();
    c->training = 1;
    rr_ctx_grad(c, 1);
    rr_tensor *l, *lmask, *d[4];
    text_inputs(c, &cfg, B, &l, &lmask);
    rr_tensor *img = test_randn(c, 1, RR_SHAPE(B, 3, S, S));
    rr_trace *tr = calloc(1, sizeof *tr);
    CHECK_OK(rr_backbone_fwd(c, &m, img, l, lmask, d, tr));
    int64_t gh, gw;
    rr_tensor *x = rr_trace_get(tr, "patch_embed"), *pe = rr_patch_embed_fwd(c, &m.patch_embed, img, &gh, &gw);
    double worst = x && pe ? 0 : INFINITY;
    for (int64_t b = 0; x && pe && b < B; b++)
        for (int64_t n = 0; n < g * g; n++)
            for (int64_t ch = 0; ch < C; ch++) {
                int64_t i = (b * g * g + n) * C + ch;
                worst = fmax(worst, fabs((double)rr_f32(pe)[i] + rr_f32(m.ape)[ch * g * g + n] - rr_f32(x)[i]));
            }
    CHECK(worst < 1e-6, "patch_embed + ape off by %g", worst);
    for (int i = 0; i < 4; i++)
        d[i] = rr_reshape(c, d[i], RR_SHAPE(-1));
    rr_tensor *y = rr_concat(c, 4, d, 0);
    CHECK_OK(y ? rr_backward_from(c, y, test_randn(c, 3, 1, y->shape)) : -1);
    const rr_tensor *ga = m.ape->grad, *gb = m.patch_embed.norm.bias->grad;
    worst = ga && gb ? 0 : INFINITY;
    double scale = 0;
    for (int64_t ch = 0; ga && gb && ch < C; ch++) {
        double s = 0;
        for (int64_t n = 0; n < g * g; n++)
            s += rr_f32(ga)[ch * g * g + n];
        worst = fmax(worst, fabs(s - rr_f32(gb)[ch]));
        scale = fmax(scale, fabs(rr_f32(gb)[ch]));
    }
    CHECK(scale > 0 && worst <= 1e-4 * scale, "ape gradient summed over positions off by %g (scale %g)", worst, scale);
    rr_ctx_grad(c, 0);
    rr_tensor *big = test_randn(c, 4, RR_SHAPE(1, 3, 2 * S, 2 * S));
    text_inputs(c, &cfg, 1, &l, &lmask);
    CHECK(rr_backbone_fwd(c, &m, big, l, lmask, d, NULL) != 0 && strstr(rr_errmsg(), "swin.ape needs a 16 x 16"),
          "another grid: %s", rr_errmsg());
    /* as many tokens in another layout: refused too, naming both grids */
    rr_tensor *wide = test_randn(c, 5, RR_SHAPE(1, 3, S / 2, 2 * S));
    CHECK(rr_backbone_fwd(c, &m, wide, l, lmask, d, NULL) != 0 &&
              strcmp(rr_errmsg(), "backbone: swin.ape needs a 16 x 16 patch grid, not 8 x 32 (images of image_size)") ==
                  0,
          "another layout: %s", rr_errmsg());
    free(tr);
    rr_params_free(&p);
}
