/* Training pieces (libcore/train): AdamW against a step computed by hand
 * and against its formula in double over several steps, with doc/training.md's
 * parameter groups (doc/training.md, Optimizer groups); the schedules' values (doc/training.md, Schedule) and which
 * parameters the backbone multiplier reaches; the global gradient norm and
 * clipping; checkpoints written and read back bit for bit, and the
 * messages for corrupt, truncated and wrong files; the loader's batches,
 * the same whatever its thread count and wherever it starts. */
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "io/image.h"
#include "io/manifest.h"
#include "nn/mrsnet.h"
#include "train/adamw.h"
#include "train/checkpoint.h"
#include "train/clip.h"
#include "train/loader.h"
#include "train/schedule.h"

#define VOCAB "share/vocab/bert-base-uncased.txt"

static void set(rr_tensor *t, const float *v) { memcpy(t->data, v, (size_t)t->numel * sizeof *v); }

/* A registry of three parameters, one per group: no decay, decay, frozen. */
static void three_params(rr_params *p, rr_tensor **t)
{
    rr_params_init(p, RR_CPU, 1, 1);
    t[0] = rr_param_add(p, RR_PARAM_TRAIN, RR_INIT_ZEROS, 0, RR_SHAPE(3), "backbone.layers.0.blocks.0.norm1.weight");
    t[1] = rr_param_add(p, RR_PARAM_TRAIN, RR_INIT_ZEROS, 0, RR_SHAPE(3), "classifier.conv1_1.weight");
    t[2] = rr_param_add(p, RR_PARAM_FROZEN, RR_INIT_ZEROS, 0, RR_SHAPE(3),
                        "text_encoder.embeddings.word_embeddings.weight");
}

TEST(adamw_first_step_by_hand)
{
    rr_params p;
    rr_tensor *t[3];
    three_params(&p, t);
    const float p0[3] = {1, -2, 0.5f}, g[3] = {0.1f, -0.2f, 0.3f};
    for (int i = 0; i < 3; i++) {
        set(t[i], p0);
        set(t[i]->grad, g);
    }
    rr_adamw o;
    CHECK_OK(rr_adamw_init(&o, &p, &RR_ADAMW_DEFAULTS, 1.0));
    CHECK(o.n == 2, "%d slots, want 2 (the frozen parameter has none)", o.n);
    CHECK_OK(rr_adamw_step(&o, 0.1, 1.0f));
    /* t = 1: m^ = g, v^ = g^2, so the step is lr * g / (|g| + eps) = 0.1 sign(g)
     * (to 1e-7); decay multiplies by 1 - 0.1 * 0.01 = 0.999 first */
    const float decayed[3] = {0.899f, -1.898f, 0.3995f}, plain[3] = {0.9f, -1.9f, 0.4f};
    for (int i = 0; i < 3; i++) {
        CHECK(fabsf(rr_f32(t[1])[i] - decayed[i]) < 1e-6f, "decayed %d: %.9g", i, rr_f32(t[1])[i]);
        CHECK(fabsf(rr_f32(t[0])[i] - plain[i]) < 1e-6f, "no-decay %d: %.9g", i, rr_f32(t[0])[i]);
        CHECK(rr_f32(t[2])[i] == p0[i], "the frozen parameter moved");
        CHECK(fabsf(rr_f32(o.slots[1].m)[i] - 0.1f * g[i]) < 1e-9f, "exp_avg %d", i);
        CHECK(fabsf(rr_f32(o.slots[1].v)[i] - 0.001f * g[i] * g[i]) < 1e-10f, "exp_avg_sq %d", i);
        CHECK(rr_f32(t[1]->grad)[i] == g[i], "the gradient was changed");
    }
    rr_adamw_free(&o);
    rr_params_free(&p);
}

TEST(adamw_matches_its_formula_over_steps)
{
    rr_params p;
    rr_params_init(&p, RR_CPU, 1, 1);
    enum { N = 1000, STEPS = 7 };
    rr_tensor *w = rr_param_add(&p, RR_PARAM_TRAIN, RR_INIT_TRUNC_NORMAL, 1, RR_SHAPE(N), "classifier.w");
    rr_adamw_opts ao = RR_ADAMW_DEFAULTS;
    ao.weight_decay = 0.05;
    rr_adamw o;
    CHECK_OK(rr_adamw_init(&o, &p, &ao, 1.0));
    double *x = malloc(N * sizeof *x), *m = calloc(N, sizeof *m), *v = calloc(N, sizeof *v);
    for (int i = 0; i < N; i++)
        x[i] = rr_f32(w)[i];
    rr_rng r = {42, 0};
    double worst = 0;
    for (int s = 1; s <= STEPS; s++) {
        double lr = 1e-3 * s, gscale = s % 2 ? 0.5 : 1.0;
        for (int i = 0; i < N; i++)
            rr_f32(w->grad)[i] = rr_rng_normal(&r) * (i % 10 == 0 ? 1e-6f : 1.0f);
        CHECK_OK(rr_adamw_step(&o, lr, (float)gscale));
        for (int i = 0; i < N; i++) {
            double g = rr_f32(w->grad)[i] * gscale;
            x[i] *= 1 - lr * ao.weight_decay;
            m[i] = 0.9 * m[i] + 0.1 * g;
            v[i] = 0.999 * v[i] + 0.001 * g * g;
            double mh = m[i] / (1 - pow(0.9, s)), denom = sqrt(v[i]) / sqrt(1 - pow(0.999, s)) + 1e-8;
            x[i] -= lr * mh / denom;
            double e = fabs(rr_f32(w)[i] - x[i]) / fmax(fabs(x[i]), 1e-3);
            worst = e > worst ? e : worst;
        }
    }
    CHECK(worst < 1e-5, "worst relative error %.3g over %d steps", worst, STEPS);
    CHECK(o.t == STEPS, "t = %lld", (long long)o.t);
    free(x);
    free(m);
    free(v);
    rr_adamw_free(&o);
    rr_params_free(&p);
}

TEST(adamw_groups_and_lr_multiplier_by_name)
{
    /* doc/training.md, Optimizer groups, group 1: backbone names with norm / absolute_pos_embed /
     * relative_position_bias_table; not "bn", not outside the backbone */
    const char *no_decay[] = {"backbone.layers.2.blocks.17.norm2.bias", "backbone.norm3.weight",
                              "backbone.patch_embed.norm.weight", "backbone.layers.0.downsample.norm.bias",
                              "backbone.layers.1.blocks.0.attn.relative_position_bias_table",
                              "backbone.hfim.global_norm_kv.weight"};
    const char *decay[] = {"backbone.hfim.fuse_bn.weight", "classifier.conv2_2.rounting_func.norm.norm.weight",
                           "text_encoder.encoder.layer.0.attention.output.LayerNorm.weight",
                           "backbone.layers.0.blocks.0.attn.qkv.bias"};
    for (size_t i = 0; i < sizeof no_decay / sizeof *no_decay; i++)
        CHECK(rr_adamw_no_decay(no_decay[i]), "%s is decayed", no_decay[i]);
    for (size_t i = 0; i < sizeof decay / sizeof *decay; i++)
        CHECK(!rr_adamw_no_decay(decay[i]), "%s is not decayed", decay[i]);
    const char *pretrained[] = {"backbone.patch_embed.proj.weight", "backbone.layers.3.blocks.1.mlp.fc1.weight",
                                "backbone.layers.12.downsample.reduction.weight",
                                "text_encoder.encoder.layer.9.output.dense.bias"};
    const char *fresh[] = {"backbone.layers.0.ifim.cma.W.weight", "backbone.layers.0.res_gate.0.weight",
                           "backbone.norm0.weight", "backbone.hfim.fuse.weight", "classifier.conv1_1.weight",
                           "backbone.layers.x.blocks.0.norm1.weight", "backbone.layers.0.blocksx.norm1.weight"};
    for (size_t i = 0; i < sizeof pretrained / sizeof *pretrained; i++)
        CHECK(rr_lr_mult(pretrained[i], 0.1) == 0.1, "%s: not pretrained", pretrained[i]);
    for (size_t i = 0; i < sizeof fresh / sizeof *fresh; i++)
        CHECK(rr_lr_mult(fresh[i], 0.1) == 1.0, "%s: pretrained", fresh[i]);
    /* and the optimizer applies the multiplier: the step of a pretrained
     * parameter is lr_mult times the other's */
    rr_params p;
    rr_params_init(&p, RR_CPU, 1, 1);
    rr_tensor *a = rr_param_add(&p, RR_PARAM_TRAIN, RR_INIT_ZEROS, 0, RR_SHAPE(1), "backbone.patch_embed.proj.bias");
    rr_tensor *b = rr_param_add(&p, RR_PARAM_TRAIN, RR_INIT_ZEROS, 0, RR_SHAPE(1), "classifier.conv1_1.bias");
    rr_f32(a->grad)[0] = rr_f32(b->grad)[0] = 1;
    rr_adamw o;
    CHECK_OK(rr_adamw_init(&o, &p, &RR_ADAMW_DEFAULTS, 0.25));
    CHECK_OK(rr_adamw_step(&o, 0.01, 1.0f));
    CHECK(fabsf(rr_f32(a)[0] / rr_f32(b)[0] - 0.25f) < 1e-6f, "steps %g and %g", rr_f32(a)[0], rr_f32(b)[0]);
    rr_adamw_free(&o);
    rr_params_free(&p);
}

TEST(schedule_values)
{
    rr_schedule s = {RR_SCHED_COSINE, 6e-4, 100, 0, 0.9};
    CHECK(rr_schedule_lr(&s, 0) == 6e-4, "cosine(0) = %g", rr_schedule_lr(&s, 0));
    CHECK(fabs(rr_schedule_lr(&s, 50) - 3e-4) < 1e-18, "cosine(T/2) = %.17g", rr_schedule_lr(&s, 50));
    CHECK(fabs(rr_schedule_lr(&s, 25) - 6e-4 * (1 + sqrt(0.5)) / 2) < 1e-18, "cosine(T/4)");
    CHECK(rr_schedule_lr(&s, 99) > 0 && rr_schedule_lr(&s, 99) < 2e-7, "cosine(T-1) = %g", rr_schedule_lr(&s, 99));
    CHECK(rr_schedule_lr(&s, 100) == 0 && rr_schedule_lr(&s, 1000) == 0, "after the end");
    s.kind = RR_SCHED_POLY;
    CHECK(rr_schedule_lr(&s, 0) == 6e-4, "poly(0)");
    CHECK(fabs(rr_schedule_lr(&s, 30) - 6e-4 * pow(0.7, 0.9)) < 1e-18, "poly(30) = %.17g", rr_schedule_lr(&s, 30));
    s.warmup = 10;
    for (int k = 0; k < 10; k++)
        CHECK(fabs(rr_schedule_lr(&s, k) - 6e-4 * (k + 1) / 10) < 1e-18, "warmup(%d) = %g", k, rr_schedule_lr(&s, k));
    CHECK(rr_schedule_lr(&s, 10) == 6e-4, "the first update after warmup has the full rate");
    CHECK(fabs(rr_schedule_lr(&s, 55) - 6e-4 * pow(0.5, 0.9)) < 1e-18, "poly after warmup, halfway");
    rr_sched_kind k;
    CHECK(rr_sched_parse("poly", &k) == 0 && k == RR_SCHED_POLY && rr_sched_parse("step", &k) < 0, "names");
}

TEST(gradient_norm_and_clipping)
{
    rr_params p;
    rr_params_init(&p, RR_CPU, 1, 1);
    rr_tensor *a = rr_param_add(&p, RR_PARAM_TRAIN, RR_INIT_ZEROS, 0, RR_SHAPE(2), "a");
    rr_tensor *b = rr_param_add(&p, RR_PARAM_FROZEN, RR_INIT_ZEROS, 0, RR_SHAPE(2), "b");
    rr_tensor *big = rr_param_add(&p, RR_PARAM_TRAIN, RR_INIT_ZEROS, 0, RR_SHAPE(100003), "big");
    set(a->grad, (float[]){3, 4});
    set(b->grad, (float[]){100, 100}); /* frozen: not in the norm */
    rr_gradnorm g;
    CHECK_OK(rr_gradnorm_init(&g, &p));
    double n;
    CHECK_OK(rr_gradnorm_compute(&g, 1.0, &n));
    CHECK(n == 5, "norm %.17g, want 5", n);
    CHECK_OK(rr_gradnorm_compute(&g, 0.5, &n));
    CHECK(n == 2.5, "scaled norm %.17g", n);
    CHECK(rr_clip_coef(5, 1) > 0.19999995 && rr_clip_coef(5, 1) < 0.2, "coef %.17g", rr_clip_coef(5, 1));
    CHECK(rr_clip_coef(0.5, 1) == 1 && rr_clip_coef(1e9, 0) == 1, "no clipping below the bound or when off");
    /* a long array: blocks in a fixed order, against a plain double sum */
    double want = 25;
    for (int64_t i = 0; i < big->numel; i++) {
        rr_f32(big->grad)[i] = (float)((i % 7) - 3) * 0.01f;
        want += (double)rr_f32(big->grad)[i] * rr_f32(big->grad)[i];
    }
    CHECK_OK(rr_gradnorm_compute(&g, 1.0, &n));
    CHECK(fabs(n - sqrt(want)) < 1e-12 * sqrt(want), "norm %.17g, want %.17g", n, sqrt(want));
    double s; /* the same sum, left in (here host) device memory */
    CHECK_OK(rr_gradnorm_sumsq(&g, &s));
    CHECK(sqrt(s) == n, "rr_gradnorm_sumsq %.17g, the norm's square %.17g", s, n * n);
    rr_f32(big->grad)[77777] = NAN;
    CHECK_OK(rr_gradnorm_compute(&g, 1.0, &n));
    CHECK(isnan(n), "a NaN gradient gives norm %g", n);
    rr_f32(big->grad)[77777] = INFINITY;
    CHECK_OK(rr_gradnorm_compute(&g, 1.0, &n));
    CHECK(isinf(n), "an Inf gradient gives norm %g", n);
    rr_f32(big->grad)[77777] = 3e38f; /* finite: its square fits a double */
    CHECK_OK(rr_gradnorm_compute(&g, 1.0, &n));
    CHECK(isfinite(n) && n > 2.9e38, "a huge finite gradient gives norm %g", n);
    rr_gradnorm_free(&g);
    rr_params_free(&p);
}

/* A small model: mrsnet-nano shrunk (32 x 32 images, one block a stage, a
 * 2-layer BERT of width 8 over 64 words with layer 1 frozen). */
static int tiny_model(rr_mrsnet *m, uint64_t seed)
{
    rr_config cfg;
    if (rr_config_load(&cfg, "share/configs/mrsnet-nano.json"))
        return -1;
    cfg.image_size = 32;
    for (int i = 0; i < 4; i++) {
        cfg.swin.depths[i] = 1;
        cfg.swin.num_heads[i] = 1;
    }
    cfg.text.vocab_size = 64;
    cfg.text.hidden_size = 8;
    cfg.text.num_heads = 1;
    cfg.text.intermediate_size = 16;
    cfg.text.max_position = 8;
    cfg.text.max_len = 8;
    cfg.text.train_layers = 1;
    cfg.decoder.hidden = 8;
    return rr_config_check(&cfg) || rr_mrsnet_init(m, &cfg, RR_PART_ALL, RR_CPU, seed, 1);
}

/* Non-zero moments and BatchNorm statistics: two steps with random gradients. */
static void train_randomly(rr_mrsnet *m, rr_adamw *o)
{
    rr_rng r = {7, 0};
    for (int s = 0; s < 2; s++) {
        for (int i = 0; i < m->params.n; i++) {
            rr_tensor *t = m->params.items[i].t;
            for (int64_t k = 0; k < t->numel; k++)
                if (t->grad)
                    rr_f32(t->grad)[k] = rr_rng_normal(&r);
                else if (strstr(m->params.items[i].name, "running"))
                    rr_f32(t)[k] = rr_rng_uniform(&r);
        }
        rr_adamw_step(o, 1e-3, 1.0f);
    }
}

/* Files of a test live in a folder of their own, removed at its end. */
static char dir[64];

static void scratch_begin(void)
{
    snprintf(dir, sizeof dir, "/tmp/rr_test_train.XXXXXX");
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
}

static char *scratch(const char *name)
{
    char *p = malloc(strlen(dir) + strlen(name) + 2);
    sprintf(p, "%s/%s", dir, name);
    return p;
}

static void scratch_end(void)
{
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));)
        if (e->d_name[0] != '.') {
            char *p = scratch(e->d_name);
            unlink(p);
            free(p);
        }
    if (d)
        closedir(d);
    rmdir(dir);
}

static int same_bytes(const rr_tensor *a, const rr_tensor *b)
{
    return rr_same_shape(a, b) && memcmp(a->data, b->data, rr_tensor_bytes(a)) == 0;
}

static const rr_train_state state0 = {.step = 123, .epoch = 4, .batch = 5, .rng_offset = 18446744073709551557ull,
                                      .bad_streak = 1, .images = 984, .seconds = 12.5, .best = 41.25,
                                      .best_step = 100, .log_bytes = 4096};

TEST(checkpoint_round_trip_is_bit_exact)
{
    rr_mrsnet a, b;
    rr_adamw oa, ob;
    CHECK_OK(tiny_model(&a, 1));
    CHECK_OK(tiny_model(&b, 2));
    CHECK_OK(rr_adamw_init(&oa, &a.params, &RR_ADAMW_DEFAULTS, 1.0));
    CHECK_OK(rr_adamw_init(&ob, &b.params, &RR_ADAMW_DEFAULTS, 1.0));
    train_randomly(&a, &oa);
    scratch_begin();
    char *path = scratch("ck.safetensors");
    CHECK_OK(rr_checkpoint_save(path, &a, &oa, &state0, "{\"lr\": 0.001}"));
    rr_checkpoint ck;
    CHECK_OK(rr_checkpoint_open(&ck, path));
    CHECK_OK(rr_checkpoint_restore(&ck, &b, &ob));
    const rr_train_state *s = &ck.state;
    CHECK(s->step == 123 && s->epoch == 4 && s->batch == 5 && s->rng_offset == state0.rng_offset &&
              s->bad_streak == 1 && s->images == 984 && s->seconds == 12.5 && s->best == 41.25 &&
              s->best_step == 100 && s->log_bytes == 4096,
          "state differs");
    CHECK(ob.t == 2 && strcmp(ck.training, "{\"lr\": 0.001}") == 0, "t %lld, training %s", (long long)ob.t,
          ck.training);
    int differ = 0;
    for (int i = 0; i < a.params.n; i++)
        differ += !same_bytes(a.params.items[i].t, b.params.items[i].t);
    for (int i = 0; i < oa.n; i++)
        differ += !same_bytes(oa.slots[i].m, ob.slots[i].m) + !same_bytes(oa.slots[i].v, ob.slots[i].v);
    CHECK(differ == 0, "%d tensors differ after the round trip", differ);
    rr_checkpoint_close(&ck);
    /* a best-weights file is a weight file, not a checkpoint */
    CHECK_OK(rr_checkpoint_save(path, &a, NULL, &state0, "{}"));
    CHECK(rr_checkpoint_open(&ck, path) < 0 && strstr(rr_errmsg(), "a weight file, not a training checkpoint"),
          "weights-only: %s", rr_errmsg());
    rr_checkpoint_close(&ck);
    free(path);
    scratch_end();
    rr_adamw_free(&oa);
    rr_adamw_free(&ob);
    rr_mrsnet_free(&a);
    rr_mrsnet_free(&b);
}

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

TEST(checkpoint_corrupt_or_truncated_is_a_clear_error)
{
    rr_mrsnet a;
    rr_adamw oa;
    CHECK_OK(tiny_model(&a, 1));
    CHECK_OK(rr_adamw_init(&oa, &a.params, &RR_ADAMW_DEFAULTS, 1.0));
    scratch_begin();
    char *path = scratch("bad.safetensors");
    CHECK_OK(rr_checkpoint_save(path, &a, &oa, &state0, "{}"));
    long size = file_size(path);
    rr_checkpoint ck;
    /* one byte of the last tensor's data flipped */
    FILE *f = fopen(path, "r+b");
    fseek(f, size - 3, SEEK_SET);
    int c = fgetc(f);
    fseek(f, size - 3, SEEK_SET);
    fputc(c ^ 0x10, f);
    fclose(f);
    CHECK(rr_checkpoint_open(&ck, path) < 0 && strstr(rr_errmsg(), "fails its checksum: the file is corrupt") &&
              strstr(rr_errmsg(), path),
          "corrupt: %s", rr_errmsg());
    rr_checkpoint_close(&ck);
    /* cut in the middle, as a copy that stopped */
    CHECK(truncate(path, size / 2) == 0, "truncate");
    CHECK(rr_checkpoint_open(&ck, path) < 0 && strstr(rr_errmsg(), "truncated or damaged") && strstr(rr_errmsg(), path),
          "truncated: %s", rr_errmsg());
    rr_checkpoint_close(&ck);
    CHECK(truncate(path, 5) == 0, "truncate");
    CHECK(rr_checkpoint_open(&ck, path) < 0 && strstr(rr_errmsg(), "truncated or damaged"), "5 bytes: %s",
          rr_errmsg());
    rr_checkpoint_close(&ck);
    unlink(path);
    CHECK(rr_checkpoint_open(&ck, path) < 0 && strstr(rr_errmsg(), "No such file"), "missing: %s", rr_errmsg());
    rr_checkpoint_close(&ck);
    free(path);
    scratch_end();
    rr_adamw_free(&oa);
    rr_mrsnet_free(&a);
}

/* A manifest of 7 generated 48 x 36 images (sample k is gray level 30k,
 * its mask a k-pixel row; sample 0 has no target), for the loader. */
static char *loader_manifest(void)
{
    char *path = scratch("m.jsonl");
    FILE *f = fopen(path, "w");
    for (int k = 0; k < 7; k++) {
        rr_image im, mk;
        rr_image_alloc(&im, 48, 36, 3);
        rr_image_alloc(&mk, 48, 36, 1);
        memset(im.data, 30 * k, (size_t)48 * 36 * 3);
        memset(mk.data, 1, (size_t)k);
        char name[32], *ip, *mp;
        snprintf(name, sizeof name, "i%d.png", k);
        ip = scratch(name);
        snprintf(name, sizeof name, "m%d.png", k);
        mp = scratch(name);
        rr_image_write_png(ip, &im);
        rr_mask_write_png(mp, &mk);
        char mask[32] = "null";
        if (k)
            snprintf(mask, sizeof mask, "{\"png\": \"m%d.png\"}", k);
        fprintf(f,
                "{\"id\": \"s%d\", \"split\": \"train\", \"image\": \"i%d.png\", \"width\": 48, \"height\": 36, "
                "\"sentence\": \"the plane number %d\", \"lang\": \"en\", \"type\": \"%s\", \"category\": null, "
                "\"mask\": %s}\n",
                k, k, k, k ? "single" : "none", mask);
        rr_image_free(&im);
        rr_image_free(&mk);
        free(ip);
        free(mp);
    }
    fclose(f);
    return path;
}

/* The batches of a loader as one byte string (n, epoch, index, samples and
 * all data of each). */
static size_t batches(const rr_manifest *m, rr_loader_opts *o, int64_t epoch, int64_t index, int count,
                      unsigned char *out)
{
    rr_loader *l = rr_loader_open(m, o, epoch, index);
    if (!l)
        return 0;
    size_t n = 0, px = (size_t)o->size * o->size;
    for (int k = 0; k < count; k++) {
        rr_batch *b;
        if (rr_loader_next(l, &b) != 0)
            break;
        size_t B = (size_t)b->n, L = (size_t)o->max_len;
        memcpy(out + n, &b->n, sizeof b->n), n += sizeof b->n;
        memcpy(out + n, &b->epoch, 8), n += 8;
        memcpy(out + n, &b->index, 8), n += 8;
        memcpy(out + n, b->sample, B * sizeof *b->sample), n += B * sizeof *b->sample;
        memcpy(out + n, b->image, B * 3 * px * 4), n += B * 3 * px * 4;
        memcpy(out + n, b->ids, B * L * 4), n += B * L * 4;
        memcpy(out + n, b->mask, B * L * 4), n += B * L * 4;
        memcpy(out + n, b->target, B * px), n += B * px;
        rr_loader_release(l, b);
    }
    rr_loader_close(l);
    return n;
}

TEST(loader_batches_do_not_depend_on_threads_or_start)
{
    scratch_begin();
    char *mpath = loader_manifest();
    rr_manifest m;
    CHECK_OK(rr_manifest_read(mpath, &m, NULL));
    rr_loader_opts o = {.size = 32, .mean = {0.5f, 0.5f, 0.5f}, .std = {0.25f, 0.25f, 0.25f}, .max_len = 8,
                        .vocab = VOCAB, .batch = 2, .shuffle = 1, .drop_last = 1, .repeat = 1, .seed = 9,
                        .threads = 1, .depth = 2};
    size_t cap = 16 * (2 * (3 * 32 * 32 * 4 + 64 + 32 * 32) + 64);
    unsigned char *a = malloc(cap), *b = malloc(cap);
    /* 7 samples, batches of 2 dropping the last: 3 batches an epoch; 9 batches = 3 epochs */
    size_t na = batches(&m, &o, 0, 0, 9, a);
    CHECK(na > 0, "loader: %s", rr_errmsg());
    o.threads = 3;
    o.depth = 5;
    size_t nb = batches(&m, &o, 0, 0, 9, b);
    CHECK(na == nb && memcmp(a, b, na) == 0, "1 and 3 threads give other batches");
    /* starting at epoch 1, batch 1 gives batches 4.. of the run */
    size_t per = na / 9, nc = batches(&m, &o, 1, 1, 5, b);
    CHECK(nc == 5 * per && memcmp(a + 4 * per, b, nc) == 0, "a loader started at (1, 1) differs");
    /* each epoch: 6 distinct samples; the epochs' orders differ */
    size_t seen[3][6];
    for (int e = 0; e < 3; e++)
        for (int j = 0; j < 3; j++)
            memcpy(seen[e] + 2 * j, a + (size_t)(3 * e + j) * per + 4 + 16, 2 * sizeof(size_t));
    for (int e = 0; e < 3; e++)
        for (int i = 0; i < 6; i++)
            for (int j = 0; j < i; j++)
                CHECK(seen[e][i] != seen[e][j] && seen[e][i] < 7, "epoch %d repeats a sample", e);
    CHECK(memcmp(seen[0], seen[1], sizeof seen[0]) != 0, "epochs 0 and 1 have one order");
    /* the data: sample k's image is gray 30k, normalised; its target a k-pixel row (resized) */
    const unsigned char *first = a + 4 + 16;
    size_t k0;
    memcpy(&k0, first, sizeof k0);
    float v0;
    memcpy(&v0, first + 2 * sizeof(size_t), 4);
    CHECK(fabsf(v0 - ((float)(30 * k0) / 255.0f - 0.5f) / 0.25f) < 1e-6f, "sample %zu: pixel %g", k0, v0);
    int32_t ids[8];
    memcpy(ids, first + 2 * sizeof(size_t) + 2 * 3 * 32 * 32 * 4, sizeof ids);
    CHECK(ids[0] == 101 && ids[1] == 1996, "ids %d %d ([CLS] the)", ids[0], ids[1]);
    /* random boxes: the same whatever the threads, and they change an image */
    o.random_erase = 1;
    nb = batches(&m, &o, 0, 0, 9, b);
    CHECK(nb == na && memcmp(a, b, na) != 0, "random boxes change nothing");
    o.threads = 1;
    na = batches(&m, &o, 0, 0, 9, a);
    CHECK(na == nb && na > 0 && memcmp(a, b, na) == 0, "random boxes depend on the threads");
    /* a validation loader: manifest order, all 7 (the last batch of 1), then the end */
    o.shuffle = o.drop_last = o.repeat = o.random_erase = 0;
    rr_loader *l = rr_loader_open(&m, &o, 0, 0);
    rr_batch *bt;
    int got = 0;
    while (l && rr_loader_next(l, &bt) == 0) {
        for (int i = 0; i < bt->n; i++)
            CHECK(bt->sample[i] == (size_t)got + (size_t)i, "order");
        got += bt->n;
        rr_loader_release(l, bt);
    }
    CHECK(got == 7, "%d samples", got);
    rr_loader_close(l);
    /* a missing image: the error names the sample */
    unlink(m.samples[3].image_path);
    l = rr_loader_open(&m, &o, 0, 0);
    int rc = 0;
    while (l && (rc = rr_loader_next(l, &bt)) == 0)
        rr_loader_release(l, bt);
    CHECK(rc < 0 && strstr(rr_errmsg(), "s3 (line 4): "), "error: %s", rr_errmsg());
    rr_loader_close(l);
    free(a);
    free(b);
    rr_manifest_free(&m);
    free(mpath);
    scratch_end();
}

/* Sharding: rank r of R with group G makes, of each round of R x G batches,
 * the G batches from r G on; together the ranks make the batches of one
 * loader of group R x G, each once, the same bytes. */
TEST(loader_shards_deal_the_batches_of_one_loader)
{
    scratch_begin();
    char *mpath = loader_manifest();
    rr_manifest m;
    CHECK_OK(rr_manifest_read(mpath, &m, NULL));
    rr_loader_opts o = {.size = 32, .mean = {0.5f, 0.5f, 0.5f}, .std = {0.25f, 0.25f, 0.25f}, .max_len = 8,
                        .vocab = VOCAB, .batch = 1, .shuffle = 1, .drop_last = 1, .repeat = 1, .seed = 9,
                        .threads = 2, .depth = 3, .group = 2};
    size_t cap = 16 * (3 * 32 * 32 * 4 + 64 + 32 * 32 + 64);
    unsigned char *all = malloc(cap), *r0 = malloc(cap), *r1 = malloc(cap);
    /* 7 batches of 1 an epoch; rounds of 2: 6 of them used, 12 in two epochs */
    size_t na = batches(&m, &o, 0, 0, 12, all), per = na / 12;
    CHECK(na > 0 && na % 12 == 0, "loader: %s", rr_errmsg());
    o.group = 1;
    o.ranks = 2;
    size_t n0 = batches(&m, &o, 0, 0, 6, r0);
    o.rank = 1;
    size_t n1 = batches(&m, &o, 0, 0, 6, r1);
    CHECK(n0 == 6 * per && n1 == 6 * per, "%zu and %zu bytes", n0, n1);
    for (int k = 0; k < 6; k++) {
        CHECK(memcmp(r0 + k * per, all + 2 * k * per, per) == 0, "rank 0's batch %d", k);
        CHECK(memcmp(r1 + k * per, all + (2 * k + 1) * per, per) == 0, "rank 1's batch %d", k);
    }
    /* opened at (1, 2): each rank from its batch of the round that starts there */
    n1 = batches(&m, &o, 1, 2, 2, r1);
    CHECK(n1 == 2 * per && memcmp(r1, all + 9 * per, per) == 0 && memcmp(r1 + per, all + 11 * per, per) == 0,
          "rank 1 opened at (1, 2)");
    /* validation: every batch dealt, the last one to rank 0 (4 and 3) */
    o.shuffle = o.drop_last = o.repeat = 0;
    o.rank = 0;
    n0 = batches(&m, &o, 0, 0, 7, r0);
    o.rank = 1;
    n1 = batches(&m, &o, 0, 0, 7, r1);
    CHECK(n0 == 4 * per && n1 == 3 * per, "validation: %zu and %zu batches", n0 / per, n1 / per);
    int64_t idx;
    memcpy(&idx, r0 + 3 * per + 4 + 8, 8);
    CHECK(idx == 6, "rank 0's last validation batch is %lld", (long long)idx);
    free(all);
    free(r0);
    free(r1);
    rr_manifest_free(&m);
    free(mpath);
    scratch_end();
}
