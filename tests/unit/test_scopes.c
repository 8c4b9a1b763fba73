/* Scopes (ctx.h): what an inference forward releases as it goes.  The
 * arena's compaction on its own (kept tensors moved down, overlapping or
 * not, across blocks; aliases, constants and older tensors left valid), that
 * nothing is released with grad on or with a tape, and the whole mrsnet-nano
 * forward: released as it goes, a fraction of the peak of the forward that
 * keeps everything, bit for bit the same tensors, and the goldens' stages. */
#include <stdlib.h>
#include <string.h>

#include "golden.h"
#include "harness.h"
#include "io/safetensors.h"
#include "nn/mrsnet.h"

/* A tensor of n floats i + base. */
static rr_tensor *ramp(rr_ctx *c, int64_t n, float base)
{
    rr_tensor *t = rr_new(c, RR_F32, RR_SHAPE(n));
    if (t)
        for (int64_t i = 0; i < n; i++)
            rr_f32(t)[i] = (float)i + base;
    return t;
}

static int is_ramp(const rr_tensor *t, float base)
{
    for (int64_t i = 0; i < t->numel; i++)
        if (rr_f32(t)[i] != (float)i + base)
            return 0;
    return 1;
}

TEST(scope_keeps_its_outputs_and_releases_the_rest)
{
    rr_ctx c;
    rr_ctx_init(&c, RR_CPU);
    rr_tensor *before = ramp(&c, 100, 1);
    size_t at_mark = c.data.in_use;
    rr_ctx_mark m = rr_ctx_scope_begin(&c);
    rr_tensor *small = ramp(&c, 16, 2); /* the output lands 64 bytes above the mark: its move overlaps itself */
    rr_tensor *out = ramp(&c, 5000, 3);
    rr_tensor *view = rr_reshape(&c, out, RR_SHAPE(50, 100));
    for (int i = 0; i < 20; i++) /* temporaries in blocks of their own */
        CHECK_NOTNULL(rr_new(&c, RR_F32, RR_SHAPE(300000)));
    rr_tensor *out2 = ramp(&c, 300000, 4);
    float one = 1;
    rr_tensor *k = rr_const(&c, RR_F32, RR_SHAPE(1), &one);
    CHECK(small && out && view && out2 && k, "%s", rr_errmsg());
    long blocks = c.data.mallocs;
    CHECK_OK(rr_ctx_scope_end(&c, m, 5, (rr_tensor *[]){out, view, out2, before, k}));
    CHECK(is_ramp(out, 3) && is_ramp(out2, 4) && is_ramp(before, 1), "a kept tensor changed");
    CHECK(view->data == out->data, "a view does not follow its tensor");
    CHECK(rr_f32(k)[0] == 1 && rr_const(&c, RR_F32, RR_SHAPE(1), &one)->data == k->data, "a constant moved");
    CHECK((char *)out->data == m.data.block->base + m.data.used && m.data.used == at_mark,
          "the output is not at the mark");
    CHECK(c.data.in_use == at_mark + 20032 + 1200000, "in use after the scope: %zu, expected %zu", c.data.in_use,
          at_mark + 20032 + 1200000);
    size_t held = 0;
    for (rr_arena_block *b = c.data.head; b; b = b->next)
        held += b->size;
    CHECK(held < 4 * 1200000, "%zu bytes still held in blocks", held);
    CHECK(c.data.mallocs == blocks, "the scope allocated");
    /* Scopes nest, and the next allocations come from the released memory. */
    m = rr_ctx_scope_begin(&c);
    rr_ctx_mark inner = rr_ctx_scope_begin(&c);
    rr_tensor *t = ramp(&c, 1000, 5);
    CHECK_OK(rr_ctx_scope_end(&c, inner, 1, &t));
    CHECK_OK(rr_ctx_scope_end(&c, m, 1, &t));
    CHECK(is_ramp(t, 5) && is_ramp(out2, 4), "nested scopes lost a tensor");
    rr_ctx_free(&c);
}

/* A header named twice (an output also on the trace) whose tensor moves
 * where another kept one was: it follows its own tensor. */
TEST(scope_header_named_twice)
{
    rr_ctx c;
    rr_ctx_init(&c, RR_CPU);
    rr_ctx_mark m = rr_ctx_scope_begin(&c);
    CHECK_NOTNULL(rr_new(&c, RR_F32, RR_SHAPE(64)));
    rr_tensor *a = ramp(&c, 64, 1), *b = ramp(&c, 64, 2);
    void *a_was = a->data;
    CHECK_OK(rr_ctx_scope_end(&c, m, 4, (rr_tensor *[]){a, b, b, a}));
    CHECK(b->data == a_was && is_ramp(a, 1) && is_ramp(b, 2), "a header named twice went astray");
    rr_ctx_free(&c);
}

/* The reset sizes its block for the step's peak: a step with scopes
 * allocates nothing from the second on. */
TEST(scoped_step_allocates_nothing_after_first)
{
    rr_ctx c;
    rr_ctx_init(&c, RR_CPU);
    long after_first = 0;
    for (int step = 0; step < 4; step++) {
        rr_tensor *x = ramp(&c, 1000, 0);
        for (int i = 0; i < 6 && x; i++) {
            rr_ctx_mark m = rr_ctx_scope_begin(&c);
            for (int j = 0; j < 8; j++)
                CHECK_NOTNULL(rr_new(&c, RR_F32, RR_SHAPE(200000)));
            x = ramp(&c, 1000 * (i + 2), (float)i);
            CHECK_OK(rr_ctx_scope_end(&c, m, 1, &x));
        }
        CHECK(x && is_ramp(x, 5), "step %d: the last output changed", step);
        if (step == 1)
            after_first = c.data.mallocs;
        rr_ctx_reset(&c);
    }
    CHECK(c.data.mallocs == after_first, "allocations after step 2: %ld -> %ld", after_first, c.data.mallocs);
    rr_ctx_free(&c);
}

TEST(scope_releases_nothing_with_grad_or_a_tape)
{
    for (int tape = 0; tape < 2; tape++) {
        rr_ctx c;
        rr_ctx_init(&c, RR_CPU);
        rr_tensor *w = ramp(&c, 10, 0);
        w->requires_grad = 1;
        rr_ctx_grad(&c, 1);
        if (tape) { /* a node on the tape, then grad off: the backward may still read anything */
            CHECK_NOTNULL(rr_scale(&c, w, 2.0f));
            CHECK(c.last != NULL, "no node recorded");
            rr_ctx_grad(&c, 0);
        }
        rr_ctx_mark m = rr_ctx_scope_begin(&c);
        CHECK_NOTNULL(rr_new(&c, RR_F32, RR_SHAPE(400000)));
        rr_tensor *out = ramp(&c, 100, 7);
        void *where = out->data;
        size_t in_use = c.data.in_use;
        CHECK_OK(rr_ctx_scope_end(&c, m, 1, &out));
        CHECK(out->data == where && c.data.in_use == in_use && is_ramp(out, 7), "%s: the scope released",
              tape ? "with a tape" : "with grad");
        rr_ctx_free(&c);
    }
}

TEST(scope_with_a_failed_op_releases_nothing)
{
    rr_ctx c;
    rr_ctx_init(&c, RR_CPU);
    rr_ctx_mark m = rr_ctx_scope_begin(&c);
    rr_tensor *out = ramp(&c, 100, 7);
    size_t in_use = c.data.in_use;
    CHECK(rr_ctx_scope_end(&c, m, 2, (rr_tensor *[]){out, NULL}) == -1, "a NULL output was accepted");
    CHECK(c.data.in_use == in_use && is_ramp(out, 7), "released after a failed op");
    rr_ctx_free(&c);
}

/* ---- the whole network ------------------------------------------------------- */

#define GOLDEN "tests/golden/mrsnet-nano/"

typedef struct {
    rr_record weights, inputs, stages;
    rr_mrsnet m;
} golden_model;

/* The golden model (dropout off, no gradients) and its records. */
static int golden_load(golden_model *g)
{
    rr_record_init(&g->weights);
    rr_record_init(&g->inputs);
    rr_record_init(&g->stages);
    rr_config cfg;
    const char *json;
    if (rr_safetensors_load(GOLDEN "weights.safetensors", &g->weights) ||
        rr_safetensors_load(GOLDEN "inputs.safetensors", &g->inputs) ||
        rr_safetensors_load(GOLDEN "stages.safetensors", &g->stages) ||
        !(json = rr_record_meta(&g->weights, "config")) || rr_config_parse(&cfg, json, strlen(json)))
        return -1;
    rr_config_without_dropout(&cfg);
    if (rr_mrsnet_init(&g->m, &cfg, RR_PART_ALL, RR_CPU, 1, 0))
        return -1;
    return rr_params_load(&g->m.params, &g->weights, 0, NULL, NULL);
}

static void golden_free(golden_model *g)
{
    rr_mrsnet_free(&g->m);
    rr_record_free(&g->weights);
    rr_record_free(&g->inputs);
    rr_record_free(&g->stages);
}

/* The forward of the golden inputs in a fresh context c, in training mode
 * as the goldens were made (BatchNorm on batch statistics).  keep_all: grad
 * on, which with a model without gradients records no tape and releases
 * nothing, as every forward did before scopes. */
static rr_tensor *forward(rr_ctx *c, golden_model *g, int keep_all, rr_trace *tr)
{
    rr_ctx_init(c, RR_CPU);
    rr_ctx_grad(c, keep_all);
    c->training = 1;
    rr_tensor *img = rr_record_to_tensor(c, &g->inputs, "image", RR_F32);
    rr_tensor *ids = rr_record_to_tensor(c, &g->inputs, "input_ids", RR_I32);
    rr_tensor *mask = rr_record_to_tensor(c, &g->inputs, "attention_mask", RR_I32);
    rr_tensor *logits = img && ids && mask ? rr_mrsnet_fwd(c, &g->m, img, ids, mask, tr) : NULL;
    CHECK(logits && c->last == NULL, "forward: %s", logits ? "a tape was recorded" : rr_errmsg());
    return logits;
}

static int same_bits(const rr_tensor *a, const rr_tensor *b)
{
    return a && b && rr_same_shape(a, b) && memcmp(a->data, b->data, rr_tensor_bytes(a)) == 0;
}

TEST(mrsnet_forward_releases_as_it_goes)
{
    golden_model g;
    CHECK_OK(golden_load(&g));
    rr_ctx all, scoped;
    rr_tensor *want = forward(&all, &g, 1, NULL), *got = forward(&scoped, &g, 0, NULL);
    CHECK(same_bits(got, want), "the logits differ from the forward that keeps everything");
    double ratio = (double)scoped.data.peak / (double)all.data.peak;
    printf("scopes: mrsnet-nano forward, batch 2: data peak %.1f MiB, %.1f MiB keeping everything (%.2f)\n",
           scoped.data.peak / 1048576.0, all.data.peak / 1048576.0, ratio);
    CHECK(ratio < 0.3, "peak %zu bytes, %.2f of the %zu of the forward that keeps everything", scoped.data.peak,
          ratio, all.data.peak);
    rr_ctx_free(&all);
    rr_ctx_free(&scoped);
    golden_free(&g);
}

/* With a trace, the traced tensors are kept: every one is bit for bit the
 * forward's that keeps everything, and the stages match the goldens. */
TEST(mrsnet_scoped_forward_traces_match)
{
    golden_model g;
    CHECK_OK(golden_load(&g));
    rr_trace *ta = calloc(1, sizeof *ta), *ts = calloc(1, sizeof *ts);
    CHECK(ta && ts, "out of memory");
    rr_ctx all, scoped;
    rr_tensor *want = forward(&all, &g, 1, ta), *got = forward(&scoped, &g, 0, ts);
    CHECK(same_bits(got, want), "the logits differ");
    CHECK(ta->n == ts->n && ta->n > 50, "%d tensors traced, %d keeping everything", ts->n, ta->n);
    for (int i = 0; i < ta->n && i < ts->n; i++)
        CHECK(strcmp(ta->names[i], ts->names[i]) == 0 && same_bits(ts->tensors[i], ta->tensors[i]),
              "traced %s differs from %s", ts->names[i], ta->names[i]);
    int compared = 0;
    for (int i = 0; i < rr_record_count(&g.stages); i++) {
        const rr_entry *e = rr_record_entry(&g.stages, i);
        const rr_tensor *t = rr_trace_get(ts, e->name);
        if (!t)
            continue; /* gradients, running statistics, the loss */
        float *want_f = malloc((size_t)t->numel * sizeof *want_f + 4), *raw = malloc(e->nbytes + 4);
        CHECK(want_f && raw && e->nbytes == (size_t)t->numel * rr_dtype_size(e->dtype), "%s: size", e->name);
        if (want_f && raw && e->nbytes == (size_t)t->numel * rr_dtype_size(e->dtype)) {
            memcpy(raw, e->data, e->nbytes);
            CHECK_OK(rr_convert_to_f32(want_f, raw, e->dtype, t->numel));
            double err = golden_rel_error(rr_f32(t), want_f, t->numel);
            CHECK(err <= 1e-4, "%s: relative error %.3g against the golden", e->name, err);
            compared++;
        }
        free(want_f);
        free(raw);
    }
    CHECK(compared > 50, "only %d stages compared with the goldens", compared);
    rr_ctx_free(&all);
    rr_ctx_free(&scoped);
    free(ta);
    free(ts);
    golden_free(&g);
}
