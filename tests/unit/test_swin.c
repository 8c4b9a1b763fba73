/* The Swin pieces of the backbone (doc/network.md, Swin backbone): parameter names and
 * counts, the shifted-window mask against the reference's slice-assignment
 * construction, the block, patch merging and patch embedding against naive
 * double-precision implementations written from doc/network.md, and gradient
 * checks of each. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "nn/swin.h"

/* A tiny Swin: window 3 (shift 1) so that small grids pad and shift. */
static rr_config tiny_config(void)
{
    rr_config cfg;
    rr_config_default(&cfg);
    cfg.swin.embed_dim = 8;
    cfg.swin.window_size = 3;
    return cfg;
}

/* Every parameter random (LayerNorm weights near 1): trunc_normal(.02)
 * weights and zero biases would leave the attention nearly uniform. */
static void randomize(rr_params *p, uint64_t seed)
{
    rr_rng r = {seed, 0};
    for (int i = 0; i < p->n; i++) {
        rr_tensor *t = p->items[i].t;
        int ln_weight = t->ndim == 1 && strstr(p->items[i].name, "norm") && strstr(p->items[i].name, ".weight");
        for (int64_t k = 0; k < t->numel; k++)
            rr_f32(t)[k] = ln_weight ? 1.0f + 0.2f * rr_rng_normal(&r) : 0.3f * rr_rng_normal(&r);
    }
}

/* --- naive double-precision pieces ------------------------------------------ */

static void naive_ln(const double *x, const rr_tensor *w, const rr_tensor *b, int64_t n, double eps, double *y)
{
    double mean = 0, var = 0;
    for (int64_t i = 0; i < n; i++)
        mean += x[i];
    mean /= (double)n;
    for (int64_t i = 0; i < n; i++)
        var += (x[i] - mean) * (x[i] - mean);
    var /= (double)n;
    for (int64_t i = 0; i < n; i++)
        y[i] = (x[i] - mean) / sqrt(var + eps) * rr_f32(w)[i] + rr_f32(b)[i];
}

/* y = W[row0 .. row0+nout) x + bias (bias may be NULL). */
static void naive_linear(const double *x, const rr_tensor *W, const rr_tensor *bias, int64_t row0, int64_t nout,
                         double *y)
{
    int64_t in = W->shape[1];
    for (int64_t o = 0; o < nout; o++) {
        double s = bias ? rr_f32(bias)[row0 + o] : 0;
        for (int64_t i = 0; i < in; i++)
            s += rr_f32(W)[(row0 + o) * in + i] * x[i];
        y[o] = s;
    }
}

/* Region labels of the padded grid, built as the reference does: nine
 * slice assignments in order (rows and columns [0, -w), [-w, -s), [-s, end)). */
static void label_map(int64_t hp, int64_t wp, int64_t w, int64_t s, int *lab)
{
    int64_t rows[4] = {0, hp - w, hp - s, hp}, cols[4] = {0, wp - w, wp - s, wp};
    int cnt = 0;
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++, cnt++)
            for (int64_t y = rows[a]; y < rows[a + 1]; y++)
                for (int64_t x = cols[b]; x < cols[b + 1]; x++)
                    lab[y * wp + x] = cnt;
}

/* The block of doc/network.md, Swin block step by step, in double. */
static double *naive_block(const rr_swin_block *m, const float *x, int64_t B, int64_t h, int64_t w)
{
    int64_t C = m->dim, H = m->heads, d = C / H, ws = m->window, sh = m->shift, n = ws * ws;
    int64_t hp = (h + ws - 1) / ws * ws, wp = (w + ws - 1) / ws * ws, hid = m->fc1.weight->shape[0];
    double eps = m->norm1.eps, scale = pow((double)d, -0.5);
    double *g = calloc((size_t)(B * hp * wp * C), sizeof *g), *a = calloc((size_t)(B * hp * wp * C), sizeof *a);
    double *qkv = malloc((size_t)(3 * n * C) * sizeof *qkv), *o = malloc((size_t)(n * C) * sizeof *o);
    double *p = malloc((size_t)n * sizeof *p), *t = malloc((size_t)(hid + C) * sizeof *t);
    double *out = malloc((size_t)(B * h * w * C) * sizeof *out), *xd = malloc((size_t)C * sizeof *xd);
    int *lab = malloc((size_t)(hp * wp) * sizeof *lab);
    label_map(hp, wp, ws, sh ? sh : 1, lab);
    /* LN1 on the h x w tokens; the padding stays 0 */
    for (int64_t b = 0; b < B; b++)
        for (int64_t y = 0; y < h; y++)
            for (int64_t xx = 0; xx < w; xx++) {
                for (int64_t ch = 0; ch < C; ch++)
                    xd[ch] = x[((b * h + y) * w + xx) * C + ch];
                naive_ln(xd, m->norm1.weight, m->norm1.bias, C, eps, g + ((b * hp + y) * wp + xx) * C);
            }
    /* Rolled grid position (Y, X) holds g[(Y + sh) % hp, (X + sh) % wp]. */
    for (int64_t b = 0; b < B; b++)
        for (int64_t wy = 0; wy < hp / ws; wy++)
            for (int64_t wx = 0; wx < wp / ws; wx++) {
                for (int64_t i = 0; i < n; i++) {
                    int64_t Y = wy * ws + i / ws, X = wx * ws + i % ws;
                    const double *tok = g + ((b * hp + (Y + sh) % hp) * wp + (X + sh) % wp) * C;
                    for (int k = 0; k < 3; k++)
                        naive_linear(tok, m->qkv.weight, m->qkv.bias, k * C, C, qkv + (k * n + i) * C);
                }
                for (int64_t hh = 0; hh < H; hh++)
                    for (int64_t i = 0; i < n; i++) {
                        int64_t yi = i / ws, xi = i % ws, li = lab[(wy * ws + yi) * wp + wx * ws + xi];
                        double mx = -1e300, sum = 0;
                        for (int64_t j = 0; j < n; j++) {
                            int64_t yj = j / ws, xj = j % ws, lj = lab[(wy * ws + yj) * wp + wx * ws + xj];
                            double s = 0;
                            for (int64_t e = 0; e < d; e++)
                                s += scale * qkv[i * C + hh * d + e] * qkv[(n + j) * C + hh * d + e];
                            int64_t idx = (yi - yj + ws - 1) * (2 * ws - 1) + (xi - xj + ws - 1);
                            s += rr_f32(m->rel_table)[idx * H + hh] + (sh && li != lj ? -100.0 : 0.0);
                            p[j] = s;
                            mx = s > mx ? s : mx;
                        }
                        for (int64_t j = 0; j < n; j++)
                            sum += p[j] = exp(p[j] - mx);
                        for (int64_t e = 0; e < d; e++) {
                            double s = 0;
                            for (int64_t j = 0; j < n; j++)
                                s += p[j] / sum * qkv[(2 * n + j) * C + hh * d + e];
                            o[i * C + hh * d + e] = s;
                        }
                    }
                for (int64_t i = 0; i < n; i++) {
                    int64_t Y = wy * ws + i / ws, X = wx * ws + i % ws;
                    naive_linear(o + i * C, m->proj.weight, m->proj.bias, 0, C, a + ((b * hp + Y) * wp + X) * C);
                }
            }
    /* Roll back (token (y, x) is rolled position ((y - sh) mod hp, ...)),
     * crop, residual, then the MLP branch. */
    for (int64_t b = 0; b < B; b++)
        for (int64_t y = 0; y < h; y++)
            for (int64_t xx = 0; xx < w; xx++) {
                int64_t tok = (b * h + y) * w + xx;
                const double *att = a + ((b * hp + (y - sh + hp) % hp) * wp + (xx - sh + wp) % wp) * C;
                double *r = out + tok * C;
                for (int64_t ch = 0; ch < C; ch++)
                    r[ch] = x[tok * C + ch] + att[ch];
                naive_ln(r, m->norm2.weight, m->norm2.bias, C, eps, xd);
                naive_linear(xd, m->fc1.weight, m->fc1.bias, 0, hid, t);
                for (int64_t k = 0; k < hid; k++)
                    t[k] = 0.5 * t[k] * (1 + erf(t[k] / sqrt(2.0)));
                naive_linear(t, m->fc2.weight, m->fc2.bias, 0, C, t + hid);
                for (int64_t ch = 0; ch < C; ch++)
                    r[ch] += t[hid + ch];
            }
    free(g), free(a), free(qkv), free(o), free(p), free(t), free(xd), free(lab);
    return out;
}

/* --- tests -------------------------------------------------------------------- */

TEST(swin_block_parameters)
{
    rr_config cfg = tiny_config();
    rr_params p;
    rr_params_init(&p, RR_CPU, 1, 0);
    rr_swin_block m;
    const int64_t C = 16, H = 2, w = 3;
    CHECK_OK(rr_swin_block_init(&p, &m, C, H, 1, 0.1f, &cfg, "backbone.layers.1.blocks.1"));
    const char *names[] = {"norm1.weight", "norm1.bias", "attn.relative_position_bias_table", "attn.qkv.weight",
                           "attn.qkv.bias", "attn.proj.weight", "attn.proj.bias", "norm2.weight", "norm2.bias",
                           "mlp.fc1.weight", "mlp.fc1.bias", "mlp.fc2.weight", "mlp.fc2.bias"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char n[128];
        snprintf(n, sizeof n, "backbone.layers.1.blocks.1.%s", names[i]);
        CHECK(rr_params_find(&p, n) != NULL, "no parameter %s", n);
    }
    /* doc/network.md, Parameters and cost: 12C^2 + 13C + (2w-1)^2 h; the index is not a parameter */
    CHECK(p.n == 13, "%d parameters", p.n);
    CHECK(rr_params_count(&p, NULL) == 12 * C * C + 13 * C + (2 * w - 1) * (2 * w - 1) * H, "count %lld",
          (long long)rr_params_count(&p, NULL));
    CHECK(m.rel_table->shape[0] == 25 && m.rel_table->shape[1] == H, "bias table shape");
    CHECK(m.rel_index->dtype == RR_I32 && m.rel_index->numel == 81, "index");
    /* the index of doc/network.md, Swin block: i == j is the table's centre, (0,0) vs (2,2) its first row */
    CHECK(rr_i32(m.rel_index)[0] == 12 && rr_i32(m.rel_index)[8] == 0 && rr_i32(m.rel_index)[8 * 9] == 24,
          "index values %d %d %d", rr_i32(m.rel_index)[0], rr_i32(m.rel_index)[8], rr_i32(m.rel_index)[72]);
    CHECK(fabsf(m.scale - 1 / sqrtf(8.0f)) < 1e-7f, "scale %g", (double)m.scale);
    rr_params_free(&p);
}

TEST(swin_shift_mask)
{
    rr_ctx *c = test_ctx();
    const int64_t cases[][4] = {{9, 9, 3, 1}, {8, 12, 4, 2}, {4, 4, 4, 2}, {24, 24, 12, 6}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        int64_t hp = cases[k][0], wp = cases[k][1], w = cases[k][2], s = cases[k][3], n = w * w;
        rr_tensor *m = rr_swin_shift_mask(c, hp, wp, w, s, -100.0f);
        CHECK_NOTNULL(m);
        if (!m)
            continue;
        int64_t nw = (hp / w) * (wp / w);
        CHECK(m->ndim == 4 && m->shape[0] == nw && m->shape[1] == 1 && m->shape[2] == n && m->shape[3] == n,
              "case %zu: shape", k);
        int *lab = malloc((size_t)(hp * wp) * sizeof *lab);
        label_map(hp, wp, w, s, lab);
        double *want = malloc((size_t)m->numel * sizeof *want);
        for (int64_t wi = 0; wi < nw; wi++)
            for (int64_t i = 0; i < n; i++)
                for (int64_t j = 0; j < n; j++) {
                    int64_t y0 = wi / (wp / w) * w, x0 = wi % (wp / w) * w;
                    int li = lab[(y0 + i / w) * wp + x0 + i % w], lj = lab[(y0 + j / w) * wp + x0 + j % w];
                    want[(wi * n + i) * n + j] = li == lj ? 0 : -100;
                }
        check_forward("swin_shift_mask", m, want, 0);
        free(lab);
        free(want);
    }
    CHECK(rr_swin_shift_mask(c, 8, 8, 3, 1, -100.0f) == NULL, "a grid that is not a multiple of the window");
    CHECK(rr_swin_shift_mask(c, 6, 6, 3, 0, -100.0f) == NULL, "shift 0");
}

typedef struct {
    const rr_swin_block *m;
    int64_t h, w;
} block_arg;

static rr_tensor *apply_block(rr_ctx *c, rr_tensor *const *in, const void *arg)
{
    const block_arg *a = arg;
    int64_t ws = a->m->window, hp = (a->h + ws - 1) / ws * ws, wp = (a->w + ws - 1) / ws * ws;
    rr_tensor *mask = a->m->shift ? rr_swin_shift_mask(c, hp, wp, ws, a->m->shift, -100.0f) : NULL;
    return rr_swin_block_fwd(c, a->m, in[0], a->h, a->w, mask);
}

TEST(swin_block_against_naive)
{
    rr_ctx *c = test_ctx();
    rr_config cfg = tiny_config();
    /* (C, heads, window, shift, h, w, B): padded on both sides, on one,
     * unpadded, one window holding a single token */
    const int64_t cases[][7] = {{8, 2, 3, 1, 5, 4, 2}, {8, 1, 3, 0, 5, 4, 2}, {12, 3, 4, 2, 8, 6, 1},
                                {8, 2, 4, 2, 8, 7, 2}, {8, 2, 3, 1, 1, 1, 2}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const int64_t *q = cases[k];
        cfg.swin.window_size = (int)q[2];
        rr_params p;
        rr_params_init(&p, RR_CPU, 1, 0);
        rr_swin_block m;
        CHECK_OK(rr_swin_block_init(&p, &m, q[0], q[1], q[3], 0.3f, &cfg, "blk"));
        randomize(&p, 40 + k);
        rr_tensor *x = test_randn(c, 7 + k, RR_SHAPE(q[6], q[4] * q[5], q[0]));
        block_arg a = {&m, q[4], q[5]};
        rr_tensor *y = apply_block(c, &x, &a); /* eval: DropPath off */
        CHECK_NOTNULL(y);
        if (y) {
            CHECK(rr_same_shape(x, y), "case %zu: shape", k);
            double *want = naive_block(&m, rr_f32(x), q[6], q[4], q[5]);
            check_forward("swin_block", y, want, 1e-5);
            free(want);
        }
        rr_params_free(&p);
    }
}

TEST(swin_block_needs_its_mask)
{
    rr_ctx *c = test_ctx();
    rr_config cfg = tiny_config();
    rr_params p;
    rr_params_init(&p, RR_CPU, 1, 0);
    rr_swin_block m;
    CHECK_OK(rr_swin_block_init(&p, &m, 8, 2, 1, 0, &cfg, "blk"));
    rr_tensor *x = test_randn(c, 3, RR_SHAPE(1, 16, 8));
    CHECK(rr_swin_block_fwd(c, &m, x, 4, 4, NULL) == NULL, "a shifted block without a mask");
    CHECK(rr_swin_block_fwd(c, &m, x, 4, 4, rr_swin_shift_mask(c, 3, 3, 3, 1, -100.0f)) == NULL,
          "the mask of another grid");
    CHECK(rr_swin_block_fwd(c, &m, x, 4, 5, rr_swin_shift_mask(c, 6, 6, 3, 1, -100.0f)) == NULL,
          "tokens that do not fill the grid");
    rr_params_free(&p);
}

static void block_gradient(int64_t shift)
{
    rr_config cfg = tiny_config();
    rr_params p;
    rr_params_init(&p, RR_CPU, 1, 0);
    rr_swin_block m;
    /* DropPath 0.4: the check runs in training mode */
    CHECK_OK(rr_swin_block_init(&p, &m, 8, 2, shift, 0.4f, &cfg, "blk"));
    randomize(&p, 60 + (uint64_t)shift);
    rr_tensor *x = test_randn(test_ctx(), 9, RR_SHAPE(2, 20, 8));
    rr_tensor *in[] = {x, m.rel_table, m.qkv.bias, m.norm1.weight, m.proj.weight};
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++)
        in[i]->requires_grad = 1;
    block_arg a = {&m, 5, 4};
    check_gradient(shift ? "swin_block (shifted)" : "swin_block", apply_block, &a, 5, in, 1e-2);
    rr_params_free(&p);
}

TEST(swin_block_gradient) { block_gradient(0); }
TEST(swin_block_gradient_shifted) { block_gradient(1); }

/* --- patch merging ------------------------------------------------------------ */

typedef struct {
    const rr_patch_merging *m;
    int64_t h, w;
} merge_arg;

static rr_tensor *apply_merge(rr_ctx *c, rr_tensor *const *in, const void *arg)
{
    const merge_arg *a = arg;
    return rr_patch_merging_fwd(c, a->m, in[0], a->h, a->w);
}

TEST(swin_patch_merging)
{
    rr_ctx *c = test_ctx();
    rr_config cfg = tiny_config();
    const int64_t cases[][3] = {{4, 6, 2}, {5, 3, 2}, {1, 1, 1}}; /* h, w, B: even, odd (padded), one token */
    const int64_t C = 3;
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        int64_t h = cases[k][0], w = cases[k][1], B = cases[k][2], h2 = (h + 1) / 2, w2 = (w + 1) / 2;
        rr_params p;
        rr_params_init(&p, RR_CPU, 1, 0);
        rr_patch_merging m;
        CHECK_OK(rr_patch_merging_init(&p, &m, C, &cfg, "backbone.layers.0.downsample"));
        CHECK(p.n == 3 && rr_params_find(&p, "backbone.layers.0.downsample.norm.weight") &&
                  rr_params_find(&p, "backbone.layers.0.downsample.reduction.weight") &&
                  !rr_params_find(&p, "backbone.layers.0.downsample.reduction.bias") &&
                  rr_params_count(&p, NULL) == 8 * C * C + 8 * C,
              "parameters");
        randomize(&p, 70 + k);
        rr_tensor *x = test_randn(c, 20 + k, RR_SHAPE(B, h * w, C));
        merge_arg a = {&m, h, w};
        rr_tensor *y = apply_merge(c, &x, &a);
        CHECK_NOTNULL(y);
        if (!y)
            continue;
        CHECK(y->ndim == 3 && y->shape[0] == B && y->shape[1] == h2 * w2 && y->shape[2] == 2 * C, "shape");
        /* cat(x[0::2, 0::2], x[1::2, 0::2], x[0::2, 1::2], x[1::2, 1::2]) of the zero-padded grid */
        double *want = malloc((size_t)y->numel * sizeof *want), cat[12], nrm[12];
        for (int64_t b = 0; b < B; b++)
            for (int64_t i = 0; i < h2; i++)
                for (int64_t j = 0; j < w2; j++) {
                    const int dy[4] = {0, 1, 0, 1}, dx[4] = {0, 0, 1, 1};
                    for (int q = 0; q < 4; q++)
                        for (int64_t ch = 0; ch < C; ch++) {
                            int64_t yy = 2 * i + dy[q], xx = 2 * j + dx[q];
                            cat[q * C + ch] = yy < h && xx < w ? rr_f32(x)[((b * h + yy) * w + xx) * C + ch] : 0;
                        }
                    naive_ln(cat, m.norm.weight, m.norm.bias, 4 * C, 1e-5, nrm);
                    naive_linear(nrm, m.reduction.weight, NULL, 0, 2 * C, want + ((b * h2 + i) * w2 + j) * 2 * C);
                }
        check_forward("patch_merging", y, want, 1e-5);
        free(want);
        rr_tensor *in[] = {x, m.norm.weight, m.reduction.weight};
        for (int i = 0; i < 3; i++)
            in[i]->requires_grad = 1;
        check_gradient("patch_merging", apply_merge, &a, 3, in, 1e-2);
        rr_params_free(&p);
    }
}

/* --- patch embedding ---------------------------------------------------------- */

static rr_tensor *apply_embed(rr_ctx *c, rr_tensor *const *in, const void *arg)
{
    int64_t gh, gw;
    return rr_patch_embed_fwd(c, arg, in[0], &gh, &gw);
}

TEST(swin_patch_embed)
{
    rr_ctx *c = test_ctx();
    rr_config cfg = tiny_config();
    cfg.swin.embed_dim = 4;
    cfg.swin.patch_size = 2;
    rr_params p;
    rr_params_init(&p, RR_CPU, 1, 0);
    rr_patch_embed m;
    CHECK_OK(rr_patch_embed_init(&p, &m, &cfg, "backbone.patch_embed"));
    CHECK(p.n == 4 && rr_params_find(&p, "backbone.patch_embed.proj.weight") &&
              rr_params_find(&p, "backbone.patch_embed.norm.bias") && rr_params_count(&p, NULL) == 4 * 12 + 4 + 8,
          "parameters");
    randomize(&p, 80);
    const int64_t B = 2, H = 5, W = 6, gh = 3, gw = 3, D = 4; /* H padded to 6 */
    rr_tensor *x = test_randn(c, 30, RR_SHAPE(B, 3, H, W));
    int64_t ygh, ygw;
    rr_tensor *y = rr_patch_embed_fwd(c, &m, x, &ygh, &ygw);
    CHECK_NOTNULL(y);
    if (!y)
        return;
    CHECK(ygh == gh && ygw == gw && y->ndim == 3 && y->shape[0] == B && y->shape[1] == gh * gw &&
              y->shape[2] == D,
          "shape: grid %lldx%lld", (long long)ygh, (long long)ygw);
    double *want = malloc((size_t)y->numel * sizeof *want), t[4];
    for (int64_t b = 0; b < B; b++)
        for (int64_t i = 0; i < gh; i++)
            for (int64_t j = 0; j < gw; j++) {
                for (int64_t o = 0; o < D; o++) {
                    double s = rr_f32(m.proj.bias)[o];
                    for (int64_t ci = 0; ci < 3; ci++)
                        for (int64_t u = 0; u < 2; u++)
                            for (int64_t v = 0; v < 2; v++) {
                                int64_t yy = 2 * i + u, xx = 2 * j + v;
                                if (yy < H && xx < W)
                                    s += rr_f32(m.proj.weight)[((o * 3 + ci) * 2 + u) * 2 + v] *
                                         rr_f32(x)[((b * 3 + ci) * H + yy) * W + xx];
                            }
                    t[o] = s;
                }
                naive_ln(t, m.norm.weight, m.norm.bias, D, 1e-5, want + ((b * gh + i) * gw + j) * D);
            }
    check_forward("patch_embed", y, want, 1e-5);
    free(want);
    rr_tensor *in[] = {x, m.proj.weight, m.norm.weight};
    for (int i = 0; i < 3; i++)
        in[i]->requires_grad = 1;
    check_gradient("patch_embed", apply_embed, &m, 3, in, 1e-2);
    rr_params_free(&p);
}

TEST(swin_drop_path_rates)
{
    /* torch.linspace(0, 0.3, 24): stage 1 [0, .0130], stage 4 [.2870, .3] (doc/network.md, Swin configuration) */
    CHECK(rr_swin_drop_path_rate(0.3f, 0, 24) == 0.0f && rr_swin_drop_path_rate(0.3f, 23, 24) == 0.3f, "ends");
    CHECK(fabsf(rr_swin_drop_path_rate(0.3f, 1, 24) - 0.0130435f) < 1e-6f, "block 1");
    CHECK(fabsf(rr_swin_drop_path_rate(0.3f, 22, 24) - 0.2869565f) < 1e-6f, "block 22");
    CHECK(rr_swin_drop_path_rate(0.3f, 0, 1) == 0.0f, "one block");
}
