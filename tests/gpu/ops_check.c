/* ops_check: every kernel of the library on CUDA against its CPU twin.
 *
 * Each kernel declared with RR_KERNEL under libcore/ runs on fresh random
 * inputs (a new seed each run, printed; --seed replays one) through
 * name_cpu on host memory, the reference, and twice through name_cuda on
 * device memory.  Before every run its outputs are poisoned (NaN; bytes
 * 0x7f for integers) so that an element a kernel forgets to write is
 * caught; buffers a kernel accumulates into (dx += ...) start from the same
 * random values on both sides.  A case passes when, for every output,
 *   - no element is NaN or infinite (on either side: NaN never passes);
 *   - the relative error ||cuda - cpu|| / ||cpu|| is at most the tolerance,
 *     1e-5 with TF32 off (--tf32 off, the default), 5e-3 with it on;
 *   - no element is off by more than 50 x the tolerance times the output's
 *     root mean square (a wrong element hides in a norm);
 *   - the two CUDA runs agree bit for bit (deterministic reductions);
 * and the kernel left its inputs unchanged.  A few cases feed an invalid
 * value (an id out of range, a target of 2): both sides must then fail
 * with the same message.
 *
 * Every kernel has at least one case; the list below is compared with the
 * headers by tests/cli/test_gpu_tools.sh (ops_check --list) and by
 * tests/gpu/check.sh, and a full run fails when a listed kernel was never
 * called.  A new RR_KERNEL therefore needs a case here.
 *
 *   ops_check [--tf32 on|off] [--seed N] [--filter TEXT] [-v]
 *   ops_check --list        the kernels it covers, one a line
 *   ops_check --cpu         runs the CPU twin on both sides: checks the
 *                           checker (and the CPU kernels' poison-safety)
 *                           on a machine without a GPU
 * Without a usable GPU (and without --cpu) it prints "ops_check: no CUDA
 * device: " and the CUDA runtime's reason, and exits 1.  The last line is a summary; exit status 0 when every case
 * passed. */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rr.h"
#include "train/adamw.h"
#include "train/clip.h"

/* Every RR_KERNEL under libcore/, sorted. */
static const char *const kernels[] = {
    "rr_act_bwd",
    "rr_act_fwd",
    "rr_adamw_f32",
    "rr_arc_rotation_bwd",
    "rr_arc_rotation_fwd",
    "rr_avg_pool2d_bwd",
    "rr_avg_pool2d_fwd",
    "rr_batch_norm_bwd",
    "rr_batch_norm_fwd",
    "rr_binary_bwd",
    "rr_binary_fwd",
    "rr_ce2_bwd",
    "rr_ce2_fwd",
    "rr_complex_abs_bwd",
    "rr_complex_abs_fwd",
    "rr_complex_angle_bwd",
    "rr_complex_angle_fwd",
    "rr_complex_real",
    "rr_conv2d_bwd",
    "rr_conv2d_fwd",
    "rr_copy_strided",
    "rr_dice_bwd",
    "rr_dice_fwd",
    "rr_dropout_f32",
    "rr_embedding_bwd",
    "rr_embedding_fwd",
    "rr_fft_c2c",
    "rr_fft_half_acc",
    "rr_fft_half_pad",
    "rr_fft_r2c",
    "rr_fill_f32",
    "rr_presence_bwd",
    "rr_presence_fwd",
    "rr_real_complex",
    "rr_reduce_expand",
    "rr_reduce_sum",
    "rr_resize_bilinear_bwd",
    "rr_resize_bilinear_fwd",
    "rr_roll_f32",
    "rr_row_norm_bwd",
    "rr_row_norm_fwd",
    "rr_scale_f32",
    "rr_sgemm",
    "rr_softmax_bwd",
    "rr_softmax_fwd",
    "rr_sum_f64",
    "rr_sumsq_f32",
};
enum { NKERNELS = sizeof kernels / sizeof kernels[0] };

/* ---- settings ---------------------------------------------------------------- */

static int use_cuda = 1; /* 0 under --cpu: the checked side is the CPU twin on its own buffers */
static double tol = 1e-5;
static int verbose;
enum { ELEM_FACTOR = 50 };

static void die(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "ops_check: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(2);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        die("out of memory (%zu bytes)", n);
    return p;
}

/* ---- buffers ----------------------------------------------------------------- */

typedef enum { IN, OUT, ACC, TMP } role; /* TMP: a workspace, poisoned, not compared */
typedef enum { K_F32, K_F64, K_I32, K_U8 } kind;
static const size_t ksize[] = {4, 8, 4, 1};

typedef struct {
    const char *name;
    role role;
    kind kind;
    int64_t n;
    void *init;    /* host: an IN's values, an ACC's start */
    void *side[2]; /* [0] the reference's (host), [1] the checked side's (device, or host under --cpu) */
    void *got[2];  /* the checked side's result of its two runs (OUT and ACC), copied back */
} buf;

enum { MAXBUF = 16 };

typedef struct {
    int pass;          /* 0: reference; 1 and 2: the checked side */
    int variant;
    uint64_t seed;
    rr_rng rng;        /* buffer values, drawn at pass 0 only */
    int nb, cursor;
    buf b[MAXBUF];
    const char *kernel; /* the kernel the case called */
    int calls;
    int broken;        /* a transfer failed: the CUDA context may be lost */
} kc;

static size_t nbytes(const buf *b) { return (size_t)b->n * ksize[b->kind]; }

static int checked_on_device(int s) { return s == 1 && use_cuda; }

static void *side_alloc(int s, size_t bytes)
{
    if (!checked_on_device(s))
        return xmalloc(bytes);
    void *p = rr_dev_malloc(RR_CUDA, bytes ? bytes : 1);
    if (!p)
        die("%s", rr_errmsg());
    return p;
}

static void side_free(int s, void *p)
{
    if (!p)
        return;
    if (checked_on_device(s))
        rr_dev_free(RR_CUDA, p);
    else
        free(p);
}

/* Copies host src into side s's buffer. */
static int side_put(kc *k, int s, void *dst, const void *src, size_t bytes)
{
    if (!bytes)
        return 0;
    if (!checked_on_device(s)) {
        memcpy(dst, src, bytes);
        return 0;
    }
    if (rr_dev_memcpy(RR_CUDA, dst, RR_CPU, src, bytes)) {
        k->broken = 1;
        return -1;
    }
    return 0;
}

static int side_get(kc *k, void *dst, const void *src, size_t bytes)
{
    if (!bytes)
        return 0;
    if (!use_cuda) {
        memcpy(dst, src, bytes);
        return 0;
    }
    if (rr_dev_memcpy(RR_CPU, dst, RR_CUDA, src, bytes)) {
        k->broken = 1;
        return -1;
    }
    return 0;
}

/* The values a buffer starts with. */
typedef enum { G_NONE, G_UNIFORM, G_NORMAL, G_INT } gen;

static buf *mk(kc *k, const char *name, role r, kind t, int64_t n, gen g, double lo, double hi)
{
    if (k->pass > 0) {
        if (k->cursor >= k->nb || strcmp(k->b[k->cursor].name, name))
            die("a case declared its buffers differently on another pass (%s)", name);
        return &k->b[k->cursor++];
    }
    if (k->nb == MAXBUF)
        die("too many buffers in a case");
    buf *b = &k->b[k->nb++];
    k->cursor++;
    memset(b, 0, sizeof *b);
    b->name = name;
    b->role = r;
    b->kind = t;
    b->n = n;
    b->init = xmalloc(nbytes(b));
    for (int64_t i = 0; i < n; i++) {
        double v = g == G_UNIFORM ? lo + (hi - lo) * rr_rng_uniform(&k->rng)
                 : g == G_NORMAL  ? rr_rng_normal(&k->rng)
                 : g == G_INT     ? lo + (double)(rr_rng_next(&k->rng) % (uint64_t)(hi - lo))
                                  : 0;
        switch (t) {
        case K_F32: ((float *)b->init)[i] = (float)v; break;
        case K_F64: ((double *)b->init)[i] = v; break;
        case K_I32: ((int32_t *)b->init)[i] = (int32_t)v; break;
        case K_U8: ((uint8_t *)b->init)[i] = (uint8_t)v; break;
        }
    }
    return b;
}

/* Shorthands: inputs, outputs, accumulated outputs and workspaces. */
#define U(name, n, lo, hi) mk(k, name, IN, K_F32, n, G_UNIFORM, lo, hi)
#define NRM(name, n) mk(k, name, IN, K_F32, n, G_NORMAL, 0, 0)
#define U64(name, n, lo, hi) mk(k, name, IN, K_F64, n, G_UNIFORM, lo, hi)
#define I32(name, n, lo, hi) mk(k, name, IN, K_I32, n, G_INT, lo, hi)
#define U8(name, n, lo, hi) mk(k, name, IN, K_U8, n, G_INT, lo, hi)
#define O(name, n) mk(k, name, OUT, K_F32, n, G_NONE, 0, 0)
#define O64(name, n) mk(k, name, OUT, K_F64, n, G_NONE, 0, 0)
#define A(name, n) mk(k, name, ACC, K_F32, n, G_NORMAL, 0, 0)
#define AU(name, n, lo, hi) mk(k, name, ACC, K_F32, n, G_UNIFORM, lo, hi)
#define TMPF(name, n) mk(k, name, TMP, K_F32, n, G_NONE, 0, 0)
/* The host values of a buffer, to adjust at pass 0 (before CALL). */
#define INIT_F(b) ((float *)(b)->init)
#define INIT_I(b) ((int32_t *)(b)->init)
#define INIT_U8(b) ((uint8_t *)(b)->init)

static void *ptr(kc *k, buf *b)
{
    if (!b)
        return NULL;
    return b->side[k->pass == 0 ? 0 : 1];
}
#define F(b) ((float *)ptr(k, (b)))
#define D64(b) ((double *)ptr(k, (b)))
#define PI32(b) ((int32_t *)ptr(k, (b)))
#define PV(b) ((void *)ptr(k, (b)))

/* A case-level constant that is the same on every pass. */
static uint64_t kparam(kc *k, int i) { return rr_rand64(k->seed, 1000003u + (uint64_t)i); }

/* Poison: NaN floats and doubles, 0x7f bytes for integers. */
static void *poison(const buf *b)
{
    void *p = xmalloc(nbytes(b));
    if (b->kind == K_F32)
        for (int64_t i = 0; i < b->n; i++)
            ((float *)p)[i] = NAN;
    else if (b->kind == K_F64)
        for (int64_t i = 0; i < b->n; i++)
            ((double *)p)[i] = NAN;
    else
        memset(p, 0x7f, nbytes(b));
    return p;
}

/* Before the kernel runs: every buffer of this pass's side allocated and
 * set (inputs, poison, accumulators' start). */
static void prepare(kc *k, const char *kernel)
{
    int s = k->pass == 0 ? 0 : 1;
    k->kernel = kernel;
    k->calls++;
    if (k->cursor != k->nb)
        die("%s: a case declared buffers it did not use", kernel);
    for (int i = 0; i < k->nb; i++) {
        buf *b = &k->b[i];
        if (!b->side[s])
            b->side[s] = side_alloc(s, nbytes(b));
        if (b->role == IN || b->role == ACC) {
            side_put(k, s, b->side[s], b->init, nbytes(b));
        } else {
            void *p = poison(b);
            side_put(k, s, b->side[s], p, nbytes(b));
            free(p);
        }
    }
}

static int missing_twin(const char *name) { return rr_error("%s has no CUDA twin in this build", name); }

/* Runs kernel `name` on the side of this pass: the CPU twin for the
 * reference (and under --cpu), the CUDA twin otherwise. */
#define CALL(k, name, ...)                                                                          \
    (prepare((k), #name),                                                                           \
     ((k)->pass == 0 || !use_cuda) ? name##_cpu(__VA_ARGS__)                                       \
                                   : (name##_cuda ? name##_cuda(__VA_ARGS__) : missing_twin(#name)))

/* ---- the cases ---------------------------------------------------------------- */

static int c_fill(kc *k)
{
    int64_t n = k->variant ? 1 : 70001;
    buf *x = O("x", n);
    return CALL(k, rr_fill_f32, F(x), n, 1.25f);
}

static int c_act_fwd(kc *k)
{
    int64_t n = 20011;
    buf *x = U("x", n, -6, 6), *y = O("y", n);
    return CALL(k, rr_act_fwd, (rr_act)k->variant, F(x), F(y), n);
}

static int c_act_bwd(kc *k)
{
    int64_t n = 20011;
    rr_act op = (rr_act)k->variant;
    buf *x = U("x", n, -6, 6), *y = U("y", n, 0, 1), *dy = NRM("dy", n), *dx = A("dx", n);
    if (k->pass == 0)
        for (int64_t i = 0; i < n; i++)
            INIT_F(y)[i] = rr_act_value(op, INIT_F(x)[i]);
    return CALL(k, rr_act_bwd, op, F(x), F(y), F(dy), F(dx), n);
}

/* The broadcasting patterns of the binary cases. */
static void binary_shapes(int pattern, rr_tensor *ta, rr_tensor *tb)
{
    memset(ta, 0, sizeof *ta);
    memset(tb, 0, sizeof *tb);
    static const int64_t sh[3][2][4] = {
        {{4, 1, 7, 9}, {3, 1, 9}},   /* both broadcast: (4, 3, 7, 9) */
        {{5, 6, 11}, {5, 6, 11}},    /* same shape */
        {{1}, {2, 3, 40}},           /* a scalar */
    };
    static const int nd[3][2] = {{4, 3}, {3, 3}, {1, 3}};
    ta->ndim = nd[pattern][0];
    tb->ndim = nd[pattern][1];
    memcpy(ta->shape, sh[pattern][0], sizeof ta->shape[0] * (size_t)ta->ndim);
    memcpy(tb->shape, sh[pattern][1], sizeof tb->shape[0] * (size_t)tb->ndim);
    ta->numel = tb->numel = 1;
    for (int d = 0; d < ta->ndim; d++)
        ta->numel *= ta->shape[d];
    for (int d = 0; d < tb->ndim; d++)
        tb->numel *= tb->shape[d];
}

/* b away from 0 (division), with random signs. */
static void away_from_zero(kc *k, buf *b)
{
    if (k->pass == 0)
        for (int64_t i = 0; i < b->n; i++)
            INIT_F(b)[i] = (rr_rng_uniform(&k->rng) < 0.5f ? -1.0f : 1.0f) * (0.5f + 1.5f * rr_rng_uniform(&k->rng));
}

/* variant: op (0..3) + 4 * pattern (0..2) */
static int c_binary_fwd(kc *k)
{
    rr_binop op = (rr_binop)(k->variant % 4);
    rr_tensor ta, tb;
    rr_bcast bc;
    binary_shapes(k->variant / 4, &ta, &tb);
    if (rr_bcast_init(&bc, &ta, &tb))
        die("binary: %s", rr_errmsg());
    buf *a = NRM("a", ta.numel), *b = NRM("b", tb.numel), *out = O("out", bc.numel);
    away_from_zero(k, b);
    return CALL(k, rr_binary_fwd, op, F(a), F(b), F(out), &bc);
}

/* variant: op (0..3) + 4 * pattern (0..2); variant 12, 13: da only, db only */
static int c_binary_bwd(kc *k)
{
    int v = k->variant;
    rr_binop op = v >= 12 ? (v == 12 ? RR_DIV : RR_MUL) : (rr_binop)(v % 4);
    rr_tensor ta, tb;
    rr_bcast bc;
    binary_shapes(v >= 12 ? 0 : v / 4, &ta, &tb);
    if (rr_bcast_init(&bc, &ta, &tb))
        die("binary: %s", rr_errmsg());
    buf *a = NRM("a", ta.numel), *b = NRM("b", tb.numel), *dout = NRM("dout", bc.numel);
    buf *da = v == 13 ? NULL : A("da", ta.numel), *db = v == 12 ? NULL : A("db", tb.numel);
    away_from_zero(k, b);
    return CALL(k, rr_binary_bwd, op, F(a), F(b), F(dout), F(da), F(db), &bc);
}

static int c_scale(kc *k)
{
    int64_t n = 30007;
    int acc = k->variant;
    buf *x = NRM("x", n), *y = acc ? A("y", n) : O("y", n);
    return CALL(k, rr_scale_f32, F(x), F(y), n, -0.75f, acc);
}

static rr_conv2d_geom conv_geom(int64_t B, int64_t Cin, int64_t H, int64_t W, int64_t Cout, int kh, int kw, int sh,
                                int sw, int ph, int pw, int dh, int dw, int groups, int64_t chunk)
{
    rr_conv2d_geom g = {.B = B, .Cin = Cin, .H = H, .W = W, .Cout = Cout, .kh = kh, .kw = kw, .sh = sh, .sw = sw,
                        .ph = ph, .pw = pw, .dh = dh, .dw = dw, .groups = groups};
    g.Ho = (H + 2 * ph - (int64_t)dh * (kh - 1) - 1) / sh + 1;
    g.Wo = (W + 2 * pw - (int64_t)dw * (kw - 1) - 1) / sw + 1;
    int64_t P = g.Ho * g.Wo;
    g.chunk = chunk > 0 && chunk < P ? chunk : P;
    return g;
}

/* The convolutions: im2col in chunks, strided/dilated/grouped, pointwise,
 * depthwise (direct), a 1x1 with stride (im2col); bias or not. */
static rr_conv2d_geom conv_case(int v, int *bias)
{
    switch (v) {
    case 0: *bias = 1; return conv_geom(2, 6, 13, 11, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 50);
    case 1: *bias = 0; return conv_geom(2, 4, 15, 12, 6, 3, 2, 2, 1, 1, 0, 2, 1, 2, 0);
    case 2: *bias = 1; return conv_geom(3, 5, 9, 10, 7, 1, 1, 1, 1, 0, 0, 1, 1, 1, 0);
    case 3: *bias = 1; return conv_geom(2, 6, 14, 13, 12, 3, 3, 2, 2, 1, 1, 1, 1, 6, 0);
    case 4: *bias = 1; return conv_geom(2, 3, 9, 9, 4, 1, 1, 2, 2, 0, 0, 1, 1, 1, 0);
    default: *bias = 1; return conv_geom(1, 32, 24, 24, 48, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0); /* bigger GEMMs */
    }
}

static int c_conv_fwd(kc *k)
{
    int has_bias;
    rr_conv2d_geom g = conv_case(k->variant, &has_bias);
    int64_t nw = g.Cout * (g.Cin / g.groups) * g.kh * g.kw, ws = rr_conv2d_workspace(&g);
    buf *x = NRM("x", g.B * g.Cin * g.H * g.W), *w = NRM("w", nw), *bias = has_bias ? NRM("bias", g.Cout) : NULL;
    buf *y = O("y", g.B * g.Cout * g.Ho * g.Wo), *cols = ws ? TMPF("cols", ws) : NULL;
    return CALL(k, rr_conv2d_fwd, F(x), F(w), F(bias), F(y), F(cols), &g);
}

/* variants 0..5 as the forward, all gradients; 6: dw only (variant 0's
 * geometry); 7: dx and dbias of the depthwise one */
static int c_conv_bwd(kc *k)
{
    int v = k->variant, has_bias;
    rr_conv2d_geom g = conv_case(v == 6 ? 0 : v == 7 ? 3 : v, &has_bias);
    int64_t nw = g.Cout * (g.Cin / g.groups) * g.kh * g.kw, ws = rr_conv2d_workspace(&g);
    buf *x = NRM("x", g.B * g.Cin * g.H * g.W), *w = NRM("w", nw), *dy = NRM("dy", g.B * g.Cout * g.Ho * g.Wo);
    buf *dx = v == 6 ? NULL : A("dx", g.B * g.Cin * g.H * g.W), *dw = v == 7 ? NULL : A("dw", nw);
    buf *db = has_bias && v != 6 ? A("dbias", g.Cout) : NULL, *cols = ws ? TMPF("cols", ws) : NULL;
    return CALL(k, rr_conv2d_bwd, F(x), F(w), F(dy), F(dx), F(dw), F(db), F(cols), &g);
}

static int c_dropout(kc *k)
{
    int acc = k->variant;
    int64_t n = 30011, group = acc ? 37 : 1;
    float p = acc ? 0.5f : 0.3f;
    buf *x = NRM("x", n), *y = acc ? A("y", n) : O("y", n);
    return CALL(k, rr_dropout_f32, F(x), F(y), n, group, p, kparam(k, 0), kparam(k, 1) >> 20, acc);
}

/* variant 1: an id out of range (both sides must fail alike) */
static int c_embedding_fwd(kc *k)
{
    int64_t V = 50, D = 33, n = 37;
    buf *ids = I32("ids", n, 0, V), *table = NRM("table", V * D), *out = O("out", n * D);
    if (k->pass == 0 && k->variant == 1)
        INIT_I(ids)[5] = (int32_t)V;
    return CALL(k, rr_embedding_fwd, PI32(ids), n, F(table), V, D, F(out));
}

static int c_embedding_bwd(kc *k)
{
    int64_t V = 10, D = 70, n = 200; /* many repeated ids */
    buf *ids = I32("ids", n, 0, V), *dout = NRM("dout", n * D), *dtable = A("dtable", V * D);
    return CALL(k, rr_embedding_bwd, PI32(ids), n, F(dout), V, D, F(dtable));
}

static int c_fft_c2c(kc *k)
{
    static const int64_t s[3][4] = {{3, 8, 12, 0}, {2, 7, 9, 1}, {1, 33, 20, 0}}; /* batch, h, w, inverse */
    const int64_t *c = s[k->variant];
    int64_t n = c[0] * c[1] * c[2] * 2;
    buf *x = NRM("x", n), *y = O("y", n);
    return CALL(k, rr_fft_c2c, F(x), F(y), c[0], c[1], c[2], (int)c[3]);
}

static int c_fft_r2c(kc *k)
{
    static const int64_t s[2][3] = {{3, 6, 10}, {2, 5, 9}};
    const int64_t *c = s[k->variant];
    buf *x = NRM("x", c[0] * c[1] * c[2]), *y = O("y", c[0] * c[1] * (c[2] / 2 + 1) * 2);
    return CALL(k, rr_fft_r2c, F(x), F(y), c[0], c[1], c[2]);
}

static int c_fft_half_pad(kc *k)
{
    int64_t rows = k->variant ? 9 : 14, w = k->variant ? 9 : 10;
    buf *half = NRM("half", rows * (w / 2 + 1) * 2), *full = O("full", rows * w * 2);
    return CALL(k, rr_fft_half_pad, F(half), F(full), rows, w, !k->variant);
}

static int c_fft_half_acc(kc *k)
{
    int64_t rows = k->variant ? 5 : 14, w = k->variant ? 9 : 10;
    buf *half = NRM("half", rows * (w / 2 + 1) * 2), *dst = A("dst", rows * (w / 2 + 1) * 2);
    return CALL(k, rr_fft_half_acc, F(half), F(dst), rows, w, k->variant ? -1.0f : 0.5f);
}

static int c_complex_real(kc *k)
{
    int64_t n = 5003;
    int acc = k->variant;
    buf *z = NRM("z", 2 * n), *x = acc ? A("x", n) : O("x", n);
    return CALL(k, rr_complex_real, F(z), F(x), n, 0.7f, acc);
}

static int c_real_complex(kc *k)
{
    int64_t n = 5003;
    buf *x = NRM("x", n), *z = O("z", 2 * n);
    return CALL(k, rr_real_complex, F(x), F(z), n);
}

/* Complex values with a few exact zeros (the gradient's special case). */
static buf *complex_in(kc *k, int64_t n)
{
    buf *z = NRM("z", 2 * n);
    if (k->pass == 0)
        for (int64_t i = 0; i < 2 * n; i += 2 * 997)
            INIT_F(z)[i] = INIT_F(z)[i + 1] = 0.0f;
    return z;
}

static int c_complex_abs_fwd(kc *k)
{
    int64_t n = 5003;
    buf *z = complex_in(k, n), *y = O("y", n);
    return CALL(k, rr_complex_abs_fwd, F(z), F(y), n);
}

static int c_complex_abs_bwd(kc *k)
{
    int64_t n = 5003;
    buf *z = complex_in(k, n), *dy = NRM("dy", n), *dz = A("dz", 2 * n);
    return CALL(k, rr_complex_abs_bwd, F(z), F(dy), F(dz), n);
}

static int c_complex_angle_fwd(kc *k)
{
    int64_t n = 5003;
    buf *z = complex_in(k, n), *y = O("y", n);
    return CALL(k, rr_complex_angle_fwd, F(z), F(y), n);
}

static int c_complex_angle_bwd(kc *k)
{
    int64_t n = 5003;
    buf *z = complex_in(k, n), *dy = NRM("dy", n), *dz = A("dz", 2 * n);
    return CALL(k, rr_complex_angle_bwd, F(z), F(dy), F(dz), n);
}

/* The loss cases: B samples of n = 17 x 19 pixels. */
enum { LB = 3, LN = 17 * 19 };

/* A 0/1 target, U8 or I32. */
static buf *target_in(kc *k, int i32)
{
    return i32 ? I32("target", LB * LN, 0, 2) : U8("target", LB * LN, 0, 2);
}

/* variant: 0 U8, 1 I32, 2 U8 with a value 2 (both sides must fail alike) */
static int c_ce2_fwd(kc *k)
{
    int i32 = k->variant == 1;
    buf *logits = U("logits", LB * 2 * LN, -4, 4), *t = target_in(k, i32);
    buf *stats = O("stats", LB * 2), *loss = O("loss", 1);
    if (k->pass == 0 && k->variant == 2)
        INIT_U8(t)[LN + 7] = 2;
    return CALL(k, rr_ce2_fwd, F(logits), PV(t), i32, LB, LN, 0.9f, 1.1f, F(stats), F(loss));
}

static int c_ce2_bwd(kc *k)
{
    int i32 = k->variant;
    buf *logits = U("logits", LB * 2 * LN, -4, 4), *t = target_in(k, i32);
    buf *stats = U("stats", LB * 2, 50, 400), *dloss = U("dloss", 1, 0.5, 1.5), *dl = A("dlogits", LB * 2 * LN);
    return CALL(k, rr_ce2_bwd, F(logits), PV(t), i32, LB, LN, 0.9f, 1.1f, F(stats), F(dloss), F(dl));
}

/* variant: 0 U8; 1 I32, fg_only_nonempty, sample 1 empty; 2 U8,
 * fg_only_nonempty, every sample empty; 3 I32 with a value -1 (both sides
 * must fail alike) */
static int c_dice_fwd(kc *k)
{
    int v = k->variant, i32 = v == 1 || v == 3, fg = v == 1 || v == 2;
    buf *logits = U("logits", LB * 2 * LN, -4, 4), *t = target_in(k, i32);
    buf *stats = O("stats", LB * 10), *loss = O("loss", 1);
    if (k->pass == 0) {
        for (int64_t i = 0; i < LB * LN; i++) {
            int empty = (v == 1 && i / LN == 1) || v == 2;
            if (empty && i32)
                INIT_I(t)[i] = 0;
            else if (empty)
                INIT_U8(t)[i] = 0;
        }
        if (v == 3)
            INIT_I(t)[2 * LN + 100] = -1;
    }
    return CALL(k, rr_dice_fwd, F(logits), PV(t), i32, LB, LN, fg, F(stats), F(loss));
}

static int c_dice_bwd(kc *k)
{
    int i32 = k->variant;
    buf *logits = U("logits", LB * 2 * LN, -4, 4), *t = target_in(k, i32);
    buf *stats = NRM("stats", LB * 10), *dloss = U("dloss", 1, 0.5, 1.5), *dl = A("dlogits", LB * 2 * LN);
    return CALL(k, rr_dice_bwd, F(logits), PV(t), i32, LB, LN, F(stats), F(dloss), F(dl));
}

/* variant: 0 U8; 1 I32, sample 1 empty; 2 U8, every logit 0 (ties: the
 * first pixel wins); 3 U8 with a value 3 (both sides must fail alike) */
static int c_presence_fwd(kc *k)
{
    int v = k->variant, i32 = v == 1;
    buf *logits = U("logits", LB * 2 * LN, -4, 4), *t = target_in(k, i32);
    buf *stats = O("stats", LB * 4), *loss = O("loss", 1);
    if (k->pass == 0) {
        for (int64_t i = 0; v == 1 && i < LN; i++)
            INIT_I(t)[LN + i] = 0;
        for (int64_t i = 0; v == 2 && i < LB * 2 * LN; i++)
            INIT_F(logits)[i] = 0;
        if (v == 3)
            INIT_U8(t)[2 * LN + 5] = 3;
    }
    return CALL(k, rr_presence_fwd, F(logits), PV(t), i32, LB, LN, F(stats), F(loss));
}

/* stats as the forward leaves them: a pixel index, and dL/ds */
static int c_presence_bwd(kc *k)
{
    buf *stats = U("stats", LB * 4, -1, 1), *dloss = U("dloss", 1, 0.5, 1.5), *dl = A("dlogits", LB * 2 * LN);
    if (k->pass == 0)
        for (int64_t b = 0; b < LB; b++)
            INIT_F(stats)[4 * b + 1] = (float)((b * 97 + 13) % LN);
    return CALL(k, rr_presence_bwd, LB, LN, F(stats), F(dloss), F(dl));
}

/* Elements a batch of matrices of `rows` rows with leading dimension ld spans. */
static int64_t span(int64_t batch, int64_t stride, int64_t rows, int64_t ld)
{
    return (batch - 1) * stride + rows * ld;
}

static int c_sgemm(kc *k)
{
    rr_gemm g = {.batch = 1, .alpha = 1};
    int acc = 0;
    switch (k->variant) {
    case 0: g.m = 37, g.n = 29, g.k = 53; break;
    case 1: g.m = 37, g.n = 29, g.k = 53, g.trans_a = g.trans_b = 1, g.alpha = 0.5f, g.beta = 1, acc = 1; break;
    case 2: g.m = 21, g.n = 18, g.k = 40, g.trans_b = 1, g.batch = 5; break;
    case 3: g.m = 19, g.n = 23, g.k = 31, g.trans_a = 1, g.batch = 3, g.alpha = -1, g.beta = 1, acc = 1; break;
    default: g.m = 256, g.n = 192, g.k = 320; break;
    }
    /* stored A: m x k (k x m when transposed); B: k x n (n x k) */
    int64_t arows = g.trans_a ? g.k : g.m, acols = g.trans_a ? g.m : g.k;
    int64_t brows = g.trans_b ? g.n : g.k, bcols = g.trans_b ? g.k : g.n;
    g.lda = acols + (k->variant == 3 ? 3 : 0);
    g.ldb = bcols;
    g.ldc = g.n;
    g.stride_a = arows * g.lda;
    g.stride_b = k->variant == 2 ? 0 : brows * g.ldb; /* variant 2: B shared by the batch */
    g.stride_c = g.m * g.ldc;
    buf *a = NRM("a", span(g.batch, g.stride_a, arows, g.lda)), *b = NRM("b", span(g.batch, g.stride_b, brows, g.ldb));
    int64_t nc = span(g.batch, g.stride_c, g.m, g.ldc);
    buf *c = acc ? A("c", nc) : O("c", nc);
    return CALL(k, rr_sgemm, &g, F(a), F(b), F(c));
}

/* Row norms: rows, d, channels, with weight, with bias. */
static const int64_t row_norm_cases[4][5] = {
    {37, 96, 0, 1, 1},   /* layer norm */
    {35, 129, 7, 1, 1},  /* instance norm, affine */
    {9, 1000, 0, 1, 0},  /* long rows */
    {35, 129, 7, 0, 0},  /* instance norm without affine */
};

static int c_row_norm_fwd(kc *k)
{
    const int64_t *c = row_norm_cases[k->variant];
    int64_t rows = c[0], d = c[1], ch = c[2], nw = ch ? ch : d;
    buf *x = NRM("x", rows * d), *w = c[3] ? U("w", nw, 0.5, 1.5) : NULL, *b = c[4] ? NRM("b", nw) : NULL;
    buf *y = O("y", rows * d), *mean = O("mean", rows), *rstd = O("rstd", rows);
    if (k->pass == 0) /* rows with their own offset and scale */
        for (int64_t r = 0; r < rows; r++)
            for (int64_t j = 0; j < d; j++)
                INIT_F(x)[r * d + j] = INIT_F(x)[r * d + j] * (0.5f + (float)(r % 5)) + (float)(r % 3) - 1.0f;
    return CALL(k, rr_row_norm_fwd, F(x), F(w), F(b), F(y), F(mean), F(rstd), rows, d, ch, k->variant == 2 ? 1e-12f : 1e-5f);
}

/* variants 0..3 as the forward (all gradients that exist); 4: dx only on
 * case 2's long rows; 5: dw and db only */
static int c_row_norm_bwd(kc *k)
{
    int v = k->variant;
    const int64_t *c = row_norm_cases[v == 4 ? 2 : v == 5 ? 0 : v];
    int64_t rows = c[0], d = c[1], ch = c[2], nw = ch ? ch : d;
    buf *x = NRM("x", rows * d), *w = c[3] ? U("w", nw, 0.5, 1.5) : NULL;
    buf *mean = U("mean", rows, -0.5, 0.5), *rstd = U("rstd", rows, 0.5, 2), *dy = NRM("dy", rows * d);
    buf *dx = v == 5 ? NULL : A("dx", rows * d);
    buf *dw = v == 4 || !c[3] ? NULL : A("dw", nw), *db = v == 4 || !c[4] ? NULL : A("db", nw);
    return CALL(k, rr_row_norm_bwd, F(x), F(w), F(mean), F(rstd), F(dy), F(dx), F(dw), F(db), rows, d, ch);
}

enum { BN_N = 4, BN_CH = 6, BN_INNER = 33 };

/* variant: 0 training with running statistics, 1 training without them
 * and without weight and bias, 2 eval */
static int c_batch_norm_fwd(kc *k)
{
    int v = k->variant, training = v != 2;
    int64_t m = BN_N * BN_CH * BN_INNER;
    buf *x = NRM("x", m), *w = v == 1 ? NULL : U("w", BN_CH, 0.5, 1.5), *b = v == 1 ? NULL : NRM("b", BN_CH);
    buf *y = O("y", m), *mean = O("mean", BN_CH), *rstd = O("rstd", BN_CH);
    buf *rm = NULL, *rv = NULL;
    if (v == 0) {
        rm = A("running_mean", BN_CH);
        rv = AU("running_var", BN_CH, 0.5, 2);
    } else if (v == 2) {
        rm = NRM("running_mean", BN_CH);
        rv = U("running_var", BN_CH, 0.5, 2);
    }
    return CALL(k, rr_batch_norm_fwd, F(x), F(w), F(b), F(y), F(mean), F(rstd), F(rm), F(rv), BN_N, BN_CH, BN_INNER,
                training, 0.1f, 1e-5f);
}

/* variant: 0 training, 1 eval, 2 training without dx, 3 training without a weight */
static int c_batch_norm_bwd(kc *k)
{
    int v = k->variant;
    int64_t m = BN_N * BN_CH * BN_INNER;
    buf *x = NRM("x", m), *w = v == 3 ? NULL : U("w", BN_CH, 0.5, 1.5);
    buf *mean = U("mean", BN_CH, -0.5, 0.5), *rstd = U("rstd", BN_CH, 0.5, 2), *dy = NRM("dy", m);
    buf *dx = v == 2 ? NULL : A("dx", m), *dw = A("dw", BN_CH), *db = A("db", BN_CH);
    return CALL(k, rr_batch_norm_bwd, F(x), F(w), F(mean), F(rstd), F(dy), F(dx), F(dw), F(db), BN_N, BN_CH, BN_INNER,
                v != 1);
}

static rr_pool2d_geom pool_case(int v)
{
    switch (v) {
    case 0: return (rr_pool2d_geom){6, 13, 11, 7, 6, 0, 3, 2, 1, 1};   /* 3, stride 2, pad 1, counting the pad */
    case 1: return (rr_pool2d_geom){6, 13, 11, 7, 6, 0, 3, 2, 1, 0};   /* not counting it */
    case 2: return (rr_pool2d_geom){5, 10, 9, 10, 9, 0, 3, 1, 1, 0};   /* CSR's 3x3 mean */
    case 3: return (rr_pool2d_geom){4, 13, 11, 5, 4, 1, 0, 0, 0, 0};   /* adaptive, shrinking */
    case 4: return (rr_pool2d_geom){4, 5, 4, 7, 9, 1, 0, 0, 0, 0};     /* adaptive, growing (overlapping bins) */
    default: return (rr_pool2d_geom){4, 9, 8, 4, 4, 0, 2, 2, 0, 0};    /* the last row left out */
    }
}

static int c_pool_fwd(kc *k)
{
    rr_pool2d_geom g = pool_case(k->variant);
    buf *x = NRM("x", g.planes * g.H * g.W), *y = O("y", g.planes * g.Ho * g.Wo);
    return CALL(k, rr_avg_pool2d_fwd, F(x), F(y), &g);
}

static int c_pool_bwd(kc *k)
{
    rr_pool2d_geom g = pool_case(k->variant);
    buf *dy = NRM("dy", g.planes * g.Ho * g.Wo), *dx = A("dx", g.planes * g.H * g.W);
    return CALL(k, rr_avg_pool2d_bwd, F(dy), F(dx), &g);
}

static rr_resize_geom resize_case(int v)
{
    switch (v) {
    case 0: return (rr_resize_geom){3, 7, 9, 20, 15, 0};
    case 1: return (rr_resize_geom){3, 7, 9, 20, 15, 1};
    case 2: return (rr_resize_geom){2, 33, 17, 10, 7, 0};
    case 3: return (rr_resize_geom){2, 33, 17, 10, 7, 1};
    case 4: return (rr_resize_geom){2, 6, 5, 1, 1, 1};
    default: return (rr_resize_geom){2, 1, 6, 4, 13, 0};
    }
}

static int c_resize_fwd(kc *k)
{
    rr_resize_geom g = resize_case(k->variant);
    buf *x = NRM("x", g.planes * g.H * g.W), *y = O("y", g.planes * g.Ho * g.Wo);
    return CALL(k, rr_resize_bilinear_fwd, F(x), F(y), &g);
}

static int c_resize_bwd(kc *k)
{
    rr_resize_geom g = resize_case(k->variant);
    buf *dy = NRM("dy", g.planes * g.Ho * g.Wo), *dx = A("dx", g.planes * g.H * g.W);
    return CALL(k, rr_resize_bilinear_bwd, F(dy), F(dx), &g);
}

/* Reductions that take each CUDA path: per thread (many outputs, or few
 * elements each) and per block. */
static void reduce_case(int v, rr_reduce *r)
{
    static const int64_t shapes[5][4] = {{6, 50, 7, 9}, {3, 700, 5}, {64, 100}, {20, 30, 7}, {5000, 3}};
    static const int nd[5] = {4, 3, 2, 3, 2};
    static const int red[5][4] = {{0, 1, 0, 1}, {0, 1, 0}, {1, 0}, {1, 1, 1}, {0, 1}};
    rr_reduce_init(r, nd[v], shapes[v], red[v]);
}

/* variant: geometry (0..4) * 2 + accumulate */
static int c_reduce_sum(kc *k)
{
    rr_reduce r;
    reduce_case(k->variant / 2, &r);
    int acc = k->variant % 2;
    buf *x = NRM("x", r.nout * r.nred), *y = acc ? A("y", r.nout) : O("y", r.nout);
    return CALL(k, rr_reduce_sum, F(x), F(y), &r, acc ? 0.5f : 1.0f / (float)r.nred, acc);
}

static int c_reduce_expand(kc *k)
{
    rr_reduce r;
    reduce_case(k->variant / 2, &r);
    int acc = k->variant % 2;
    buf *y = NRM("y", r.nout), *x = acc ? A("x", r.nout * r.nred) : O("x", r.nout * r.nred);
    return CALL(k, rr_reduce_expand, F(y), F(x), &r, acc ? -2.0f : 1.0f, acc);
}

/* Strided copies: a permutation (and its inverse, accumulating), a slice,
 * Swin's window partition (6 dimensions), and a slice's inverse into a
 * larger tensor (pad's forward; and accumulating, slice's backward). */
static int c_copy_strided(kc *k)
{
    rr_copy_map m;
    int64_t nsrc, ndst;
    int acc = 0;
    switch (k->variant) {
    case 0:
    case 1: {
        int64_t st[4];
        rr_contiguous_strides(4, (int64_t[]){3, 4, 5, 6}, st);
        rr_copy_map_gather(&m, 4, (int64_t[]){3, 5, 6, 4}, (int64_t[]){st[0], st[2], st[3], st[1]}, 0);
        if (k->variant == 1) {
            m = rr_copy_map_inverse(&m);
            acc = 1;
        }
        nsrc = ndst = 360;
        break;
    }
    case 2:
    case 4:
    case 5:
        rr_copy_map_gather(&m, 3, (int64_t[]){3, 4, 7}, (int64_t[]){99, 22, 1}, 99 + 22 + 3);
        nsrc = 4 * 9 * 11, ndst = 84;
        if (k->variant != 2) {
            m = rr_copy_map_inverse(&m);
            nsrc = 84, ndst = 4 * 9 * 11;
            acc = k->variant == 5;
        }
        break;
    default:
        rr_copy_map_gather(&m, 6, (int64_t[]){2, 2, 3, 4, 4, 3}, (int64_t[]){288, 144, 12, 36, 3, 1}, 0);
        nsrc = ndst = 576;
        break;
    }
    /* a copy that writes only part of dst (4, 5) starts from values too */
    buf *src = NRM("src", nsrc), *dst = acc || k->variant >= 4 ? A("dst", ndst) : O("dst", ndst);
    return CALL(k, rr_copy_strided, F(src), F(dst), &m, acc);
}

static int c_roll(kc *k)
{
    int acc = k->variant;
    rr_roll_map m = {.ndim = 3, .shape = {3, 7, 10}, .numel = 210};
    int64_t s0[3] = {0, 2, 7}, s1[3] = {1, 6, 3};
    memcpy(m.shift, acc ? s1 : s0, sizeof s0);
    buf *src = NRM("src", 210), *dst = acc ? A("dst", 210) : O("dst", 210);
    return CALL(k, rr_roll_f32, F(src), F(dst), &m, acc);
}

static const int64_t softmax_cases[5][3] = {{37, 49, 1}, {5, 200, 1}, {3, 7, 10}, {11, 33, 1}, {4, 9, 6}};

/* variants 3 and 4: in place (z == y) */
static int c_softmax_fwd(kc *k)
{
    const int64_t *c = softmax_cases[k->variant];
    int64_t n = c[0] * c[1] * c[2];
    if (k->variant >= 3) {
        buf *zy = mk(k, "zy", ACC, K_F32, n, G_UNIFORM, -8, 8);
        return CALL(k, rr_softmax_fwd, F(zy), F(zy), c[0], c[1], c[2]);
    }
    buf *z = U("z", n, -8, 8), *y = O("y", n);
    return CALL(k, rr_softmax_fwd, F(z), F(y), c[0], c[1], c[2]);
}

/* variant: layout (0..2) * 2 + accumulate */
static int c_softmax_bwd(kc *k)
{
    const int64_t *c = softmax_cases[k->variant / 2];
    int64_t n = c[0] * c[1] * c[2];
    int acc = k->variant % 2;
    buf *y = U("y", n, 0, 1), *dy = NRM("dy", n), *dz = acc ? A("dz", n) : O("dz", n);
    return CALL(k, rr_softmax_bwd, F(y), F(dy), F(dz), c[0], c[1], c[2], acc);
}

enum { ARC_M = 50 };

static int c_arc_fwd(kc *k)
{
    buf *theta = U("theta", ARC_M, -1.5, 1.5), *alpha = NRM("alpha", ARC_M);
    buf *R = O("R", ARC_M * 81), *dR = O("dR", ARC_M * 81), *Am = O("A", ARC_M * 81);
    return CALL(k, rr_arc_rotation_fwd, F(theta), F(alpha), F(R), F(dR), F(Am), ARC_M);
}

/* variant: 0 both gradients, 1 dtheta only, 2 dalpha only */
static int c_arc_bwd(kc *k)
{
    buf *M = NRM("M", ARC_M * 81), *R = NRM("R", ARC_M * 81), *dR = NRM("dR", ARC_M * 81), *alpha = NRM("alpha", ARC_M);
    buf *dalpha = k->variant == 1 ? NULL : A("dalpha", ARC_M), *dtheta = k->variant == 2 ? NULL : A("dtheta", ARC_M);
    return CALL(k, rr_arc_rotation_bwd, F(M), F(R), F(dR), F(alpha), F(dalpha), F(dtheta), ARC_M);
}

/* One AdamW update at t = 3 (variant 1: gradients scaled by 0.5). */
static int c_adamw(kc *k)
{
    int64_t n = 40009;
    double lr = 1e-3, wd = 0.01, b1 = 0.9, b2 = 0.999, t = 3;
    rr_adamw_args a = {
        .decay = (float)(1 - lr * wd),
        .beta1 = (float)b1,
        .one_minus_beta1 = (float)(1 - b1),
        .beta2 = (float)b2,
        .one_minus_beta2 = (float)(1 - b2),
        .bc2_sqrt = (float)sqrt(1 - pow(b2, t)),
        .eps = 1e-8f,
        .neg_step = (float)(-(lr / (1 - pow(b1, t)))),
        .gscale = k->variant ? 0.5f : 1.0f,
    };
    buf *p = A("p", n), *g = NRM("g", n), *m = A("m", n), *v = AU("v", n, 0, 0.01);
    return CALL(k, rr_adamw_f32, F(p), F(g), F(m), F(v), n, &a);
}

static int c_sumsq(kc *k)
{
    int64_t n = k->variant == 0 ? 100003 : k->variant == 1 ? 5 : 0;
    buf *x = NRM("x", n), *out = O64("out", 1);
    return CALL(k, rr_sumsq_f32, F(x), n, D64(out));
}

/* the gradient norm's total: sums of squares (non-negative) added in order */
static int c_sum_f64(kc *k)
{
    int64_t n = k->variant == 0 ? 397 : k->variant == 1 ? 1 : 0;
    buf *x = U64("x", n, 0, 1e3), *out = O64("out", 1);
    return CALL(k, rr_sum_f64, D64(x), n, D64(out));
}

typedef struct {
    const char *label;
    int (*fn)(kc *);
    int variants;
    int expect_fail; /* variant (+1) whose input is invalid: both sides must fail alike */
} kcase;

static const kcase cases[] = {
    {"fill", c_fill, 2, 0},
    {"activation forward", c_act_fwd, 8, 0}, /* every rr_act */
    {"activation backward", c_act_bwd, 8, 0},
    {"binary forward", c_binary_fwd, 12, 0},
    {"binary backward", c_binary_bwd, 14, 0},
    {"scale", c_scale, 2, 0},
    {"conv2d forward", c_conv_fwd, 6, 0},
    {"conv2d backward", c_conv_bwd, 8, 0},
    {"dropout", c_dropout, 2, 0},
    {"embedding forward", c_embedding_fwd, 2, 2},
    {"embedding backward", c_embedding_bwd, 1, 0},
    {"fft c2c", c_fft_c2c, 3, 0},
    {"fft r2c", c_fft_r2c, 2, 0},
    {"fft half pad", c_fft_half_pad, 2, 0},
    {"fft half acc", c_fft_half_acc, 2, 0},
    {"complex real", c_complex_real, 2, 0},
    {"real complex", c_real_complex, 1, 0},
    {"complex abs forward", c_complex_abs_fwd, 1, 0},
    {"complex abs backward", c_complex_abs_bwd, 1, 0},
    {"complex angle forward", c_complex_angle_fwd, 1, 0},
    {"complex angle backward", c_complex_angle_bwd, 1, 0},
    {"cross-entropy forward", c_ce2_fwd, 3, 3},
    {"cross-entropy backward", c_ce2_bwd, 2, 0},
    {"dice forward", c_dice_fwd, 4, 4},
    {"dice backward", c_dice_bwd, 2, 0},
    {"presence forward", c_presence_fwd, 4, 4},
    {"presence backward", c_presence_bwd, 1, 0},
    {"sgemm", c_sgemm, 5, 0},
    {"row norm forward", c_row_norm_fwd, 4, 0},
    {"row norm backward", c_row_norm_bwd, 6, 0},
    {"batch norm forward", c_batch_norm_fwd, 3, 0},
    {"batch norm backward", c_batch_norm_bwd, 4, 0},
    {"avg pool forward", c_pool_fwd, 6, 0},
    {"avg pool backward", c_pool_bwd, 6, 0},
    {"resize forward", c_resize_fwd, 6, 0},
    {"resize backward", c_resize_bwd, 6, 0},
    {"reduce sum", c_reduce_sum, 10, 0},
    {"reduce expand", c_reduce_expand, 10, 0},
    {"copy strided", c_copy_strided, 6, 0},
    {"roll", c_roll, 2, 0},
    {"softmax forward", c_softmax_fwd, 5, 0},
    {"softmax backward", c_softmax_bwd, 6, 0},
    {"arc rotation forward", c_arc_fwd, 1, 0},
    {"arc rotation backward", c_arc_bwd, 3, 0},
    {"adamw", c_adamw, 2, 0},
    {"sumsq", c_sumsq, 3, 0},
    {"sum f64", c_sum_f64, 3, 0},
};
enum { NCASES = sizeof cases / sizeof cases[0] };

/* ---- comparison and the table ------------------------------------------------- */

typedef struct {
    int cases, failed, nondet;
    double rel, elem; /* worst relative error, worst element error / rms */
} krow;
static krow rows[NKERNELS];

static int kernel_index(const char *name)
{
    for (int i = 0; i < NKERNELS; i++)
        if (strcmp(kernels[i], name) == 0)
            return i;
    return -1;
}

static double elem_at(const buf *b, const void *p, int64_t i)
{
    return b->kind == K_F64 ? ((const double *)p)[i] : ((const float *)p)[i];
}

typedef struct {
    double rel, elem;
    int64_t bad;     /* the first non-finite element, or -1 */
    int which;       /* 0: the reference's, 1: the checked side's */
} cmp;

static cmp compare(const buf *b, const void *got, const void *want)
{
    cmp c = {0, 0, -1, 0};
    double num = 0, den = 0, maxd = 0;
    for (int64_t i = 0; i < b->n; i++) {
        double g = elem_at(b, got, i), w = elem_at(b, want, i);
        if (!isfinite(w) || !isfinite(g)) {
            c.bad = i;
            c.which = isfinite(w);
            c.rel = c.elem = INFINITY;
            return c;
        }
        double d = fabs(g - w);
        num += d * d;
        den += w * w;
        if (d > maxd)
            maxd = d;
    }
    double rms = b->n ? sqrt(den / (double)b->n) : 0;
    c.rel = den > 0 ? sqrt(num / den) : num > 0 ? INFINITY : 0;
    c.elem = rms > 0 ? maxd / rms : maxd > 0 ? INFINITY : 0;
    return c;
}

static int nfailed, ncases;

static void failure(const char *label, int variant, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void failure(const char *label, int variant, const char *fmt, ...)
{
    va_list ap;
    printf("FAIL: %s #%d: ", label, variant);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
}

static void free_case(kc *k)
{
    for (int i = 0; i < k->nb; i++) {
        buf *b = &k->b[i];
        free(b->init);
        side_free(0, b->side[0]);
        side_free(1, b->side[1]);
        free(b->got[0]);
        free(b->got[1]);
    }
}

/* Runs one case: the reference, then the checked side twice. Returns 0
 * when the CUDA context is still usable. */
static int run_case(const kcase *cs, int variant, uint64_t seed)
{
    kc k;
    memset(&k, 0, sizeof k);
    k.variant = variant;
    k.seed = seed;
    k.rng = (rr_rng){seed, 0};
    int rc[3];
    char msg[3][512];
    int expect_fail = cs->expect_fail == variant + 1, failed = 0;
    for (int pass = 0; pass < 3; pass++) {
        k.pass = pass;
        k.cursor = 0;
        k.calls = 0;
        rr_error_clear();
        rc[pass] = cs->fn(&k);
        if (pass && !rc[pass] && use_cuda) /* a fault in the inputs comes at the next synchronisation */
            rc[pass] = rr_dev_sync(RR_CUDA);
        snprintf(msg[pass], sizeof msg[pass], "%s", rc[pass] ? rr_errmsg() : "");
        if (k.calls != 1)
            die("case %s #%d made %d kernel calls (one expected)", cs->label, variant, k.calls);
        if (pass == 0)
            continue;
        /* the results back (this waits for the kernel), and the inputs untouched */
        for (int i = 0; i < k.nb && !k.broken; i++) {
            buf *b = &k.b[i];
            if (b->role == TMP)
                continue;
            void *h = xmalloc(nbytes(b));
            if (side_get(&k, h, b->side[1], nbytes(b))) {
                free(h);
                break;
            }
            if (b->role == IN) {
                if (pass == 1 && memcmp(h, b->init, nbytes(b)) && !expect_fail) {
                    failure(cs->label, variant, "%s changed its input %s", k.kernel, b->name);
                    failed = 1;
                }
                free(h);
            } else {
                b->got[pass - 1] = h;
            }
        }
        if (k.broken) {
            failure(cs->label, variant, "%s: CUDA transfer failed: %s", k.kernel, rr_errmsg());
            failed = 1;
            break;
        }
    }
    int ki = kernel_index(k.kernel);
    if (ki < 0)
        die("case %s calls %s, which is not in the kernel list", cs->label, k.kernel);
    krow *r = &rows[ki];
    r->cases++;
    ncases++;

    if (!failed && expect_fail) {
        for (int pass = 0; pass < 3; pass++)
            if (rc[pass] == 0) {
                failure(cs->label, variant, "%s accepted an invalid input (%s side)", k.kernel,
                        pass ? "checked" : "reference");
                failed = 1;
            }
        if (!failed && (strcmp(msg[0], msg[1]) || strcmp(msg[1], msg[2]))) {
            failure(cs->label, variant, "%s: the messages differ: '%s' (reference) and '%s'", k.kernel, msg[0],
                    msg[1]);
            failed = 1;
        }
        if (verbose && !failed)
            printf("ok    %-24s %s #%d: fails alike: %s\n", k.kernel, cs->label, variant, msg[0]);
    } else if (!failed) {
        for (int pass = 0; pass < 3; pass++)
            if (rc[pass]) {
                failure(cs->label, variant, "%s failed (%s side): %s", k.kernel, pass ? "checked" : "reference",
                        msg[pass]);
                failed = 1;
                break;
            }
        char line[1024] = "";
        size_t used = 0;
        for (int i = 0; i < k.nb && !failed; i++) {
            buf *b = &k.b[i];
            if (b->role != OUT && b->role != ACC)
                continue;
            cmp c = compare(b, b->got[0], b->side[0]);
            if (c.bad >= 0) {
                failure(cs->label, variant, "%s: %s[%lld] is %g on the %s side (%g on the other)", k.kernel,
                        b->name, (long long)c.bad, elem_at(b, c.which ? b->got[0] : b->side[0], c.bad),
                        c.which ? "checked" : "reference", elem_at(b, c.which ? b->side[0] : b->got[0], c.bad));
                failed = 1;
                break;
            }
            if (c.rel > r->rel)
                r->rel = c.rel;
            if (c.elem > r->elem)
                r->elem = c.elem;
            if (!(c.rel <= tol)) {
                failure(cs->label, variant, "%s: %s: relative error %.3g > %.3g", k.kernel, b->name, c.rel, tol);
                failed = 1;
            } else if (!(c.elem <= ELEM_FACTOR * tol)) {
                failure(cs->label, variant, "%s: %s: an element is off by %.3g x the rms > %.3g", k.kernel, b->name,
                        c.elem, ELEM_FACTOR * tol);
                failed = 1;
            }
            if (memcmp(b->got[0], b->got[1], nbytes(b))) {
                failure(cs->label, variant, "%s: %s differs between two runs (not deterministic)", k.kernel, b->name);
                r->nondet = 1;
                failed = 1;
            }
            if (used < sizeof line)
                used += (size_t)snprintf(line + used, sizeof line - used, " %s %.1e", b->name, c.rel);
        }
        if (verbose && !failed)
            printf("ok    %-24s %s #%d:%s\n", k.kernel, cs->label, variant, line);
    }
    if (failed) {
        r->failed++;
        nfailed++;
    }
    int broken = k.broken;
    free_case(&k);
    return broken ? -1 : 0;
}

static void usage(void)
{
    printf("Usage: ops_check [--tf32 on|off] [--seed N] [--filter TEXT] [-v]\n"
           "       ops_check --list | --cpu\n"
           "Every kernel of the library on CUDA against its CPU twin (tests/gpu/README).\n");
}

int main(int argc, char **argv)
{
    int list = 0, tf32 = 0, seeded = 0;
    uint64_t seed = 0;
    const char *filter = NULL;
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--list")) {
            list = 1;
        } else if (!strcmp(a, "--cpu")) {
            use_cuda = 0;
        } else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
            verbose = 1;
        } else if (!strcmp(a, "--tf32") && i + 1 < argc) {
            const char *v = argv[++i];
            if (strcmp(v, "on") && strcmp(v, "off"))
                die("--tf32: '%s' is not on or off", v);
            tf32 = !strcmp(v, "on");
        } else if (!strcmp(a, "--seed") && i + 1 < argc) {
            char *end;
            seed = strtoull(argv[++i], &end, 0);
            if (*end)
                die("--seed: '%s' is not a number", argv[i]);
            seeded = 1;
        } else if (!strcmp(a, "--filter") && i + 1 < argc) {
            filter = argv[++i];
        } else if (!strcmp(a, "--help")) {
            usage();
            return 0;
        } else {
            fprintf(stderr, "ops_check: unknown argument '%s'\n", a);
            fprintf(stderr, "Try 'ops_check --help' for more information.\n");
            return 2;
        }
    }
    if (list) {
        for (int i = 0; i < NKERNELS; i++)
            printf("%s\n", kernels[i]);
        return 0;
    }
    if (use_cuda && !rr_cuda_available()) {
        fprintf(stderr, "ops_check: no CUDA device: %s\n", rr_cuda_unavailable_reason());
        return 1;
    }
    if (use_cuda) {
#ifdef RR_WITH_CUDA
        rr_cuda_set_tf32(tf32);
#endif
        tol = tf32 ? 5e-3 : 1e-5;
    }
    if (!seeded)
        seed = (uint64_t)time(NULL) * 1000003u ^ (uint64_t)getpid();
    printf("ops_check: %s against the CPU, TF32 %s, tolerance %.0e (elements %.0e x rms), seed %llu\n",
           use_cuda ? rr_device_describe(RR_CUDA) : "the CPU twins (--cpu)", use_cuda && tf32 ? "on" : "off", tol,
           ELEM_FACTOR * tol, (unsigned long long)seed);

    int broken = 0;
    for (int c = 0; c < NCASES && !broken; c++) {
        if (filter && !strstr(cases[c].label, filter))
            continue;
        for (int v = 0; v < cases[c].variants && !broken; v++)
            broken = run_case(&cases[c], v, rr_rand64(seed, (uint64_t)(c * 64 + v))) != 0;
    }
    if (broken)
        printf("FAIL: the CUDA context is unusable; the remaining cases did not run\n");

    /* Every listed kernel must have run (a full run). */
    int uncovered = 0;
    if (!filter && !broken)
        for (int i = 0; i < NKERNELS; i++)
            if (!rows[i].cases) {
                printf("FAIL: %s has no case in ops_check\n", kernels[i]);
                uncovered++;
            }

    printf("\n%-24s %5s %12s %12s %6s  %s\n", "kernel", "cases", "rel error", "elem/rms", "determ", "status");
    int worst = -1;
    for (int i = 0; i < NKERNELS; i++) {
        krow *r = &rows[i];
        if (!r->cases)
            continue;
        if (worst < 0 || r->rel > rows[worst].rel)
            worst = i;
        printf("%-24s %5d %12.2e %12.2e %6s  %s\n", kernels[i], r->cases, r->rel, r->elem, r->nondet ? "NO" : "yes",
               r->failed ? "FAIL" : "ok");
    }
    int nk = 0;
    for (int i = 0; i < NKERNELS; i++)
        nk += rows[i].cases > 0;
    printf("\nops_check: %d kernels, %d cases, %d failed%s, TF32 %s; worst relative error %.2e (%s)%s\n", nk, ncases,
           nfailed + uncovered, uncovered ? " (kernels without a case included)" : "", use_cuda && tf32 ? "on" : "off",
           worst >= 0 ? rows[worst].rel : 0.0, worst >= 0 ? kernels[worst] : "-", broken ? "; CUDA context lost" : "");
    return nfailed || uncovered || broken ? 1 : 0;
}
