/* Tensors, arenas, the tape, half-precision conversions. */
#include <math.h>
#include <string.h>

#include "harness.h"

TEST(arena_step_allocates_nothing_after_first)
{
    rr_ctx c;
    rr_ctx_init(&c, RR_CPU);
    long after_first = 0;
    for (int step = 0; step < 4; step++) {
        /* a "step" bigger than one default block */
        for (int i = 0; i < 40; i++)
            CHECK_NOTNULL(rr_new(&c, RR_F32, RR_SHAPE(256, 1024)));
        if (step == 1)
            after_first = c.data.mallocs + c.meta.mallocs;
        rr_ctx_reset(&c);
    }
    CHECK(c.data.mallocs + c.meta.mallocs == after_first, "allocations after step 2: %ld -> %ld",
          after_first, c.data.mallocs + c.meta.mallocs);
    rr_ctx_free(&c);
}

TEST(const_uploads_once_per_contents)
{
    rr_ctx c;
    rr_ctx_init(&c, RR_CPU);
    float a[6] = {1, 2, 3, 4, 5, 6}, b[6] = {1, 2, 3, 4, 5, 7};
    rr_tensor *x = rr_const(&c, RR_F32, RR_SHAPE(2, 3), a);
    CHECK_NOTNULL(x);
    void *first = x->data;
    CHECK(x->ndim == 2 && x->shape[0] == 2 && x->shape[1] == 3 && !memcmp(x->data, a, sizeof a), "contents");
    rr_ctx_reset(&c);
    long before = c.data.mallocs;
    x = rr_const(&c, RR_F32, RR_SHAPE(2, 3), a); /* after a reset: the same upload */
    CHECK(x && x->data == first, "the same contents found again");
    CHECK(c.data.mallocs == before, "no arena allocation for a constant");
    rr_tensor *y = rr_const(&c, RR_F32, RR_SHAPE(2, 3), b), *z = rr_const(&c, RR_F32, RR_SHAPE(3, 2), a);
    rr_tensor *w = rr_const(&c, RR_I32, RR_SHAPE(2, 3), a);
    CHECK(y && z && w && y->data != first && z->data != first && w->data != first,
          "other contents, shape or dtype: another upload");
    CHECK(!memcmp(y->data, b, sizeof b) && z->shape[0] == 3 && w->dtype == RR_I32, "their contents");
    rr_ctx_free(&c);
}

TEST(arena_alignment)
{
    rr_arena a;
    rr_arena_init(&a, RR_CPU, 0);
    for (size_t n = 1; n < 300; n += 7) {
        void *p = rr_arena_alloc(&a, n);
        CHECK(((uintptr_t)p & 63) == 0, "pointer %p not 64-byte aligned", p);
    }
    rr_arena_free(&a);
}

TEST(tensor_shapes_validated)
{
    rr_ctx *c = test_ctx();
    CHECK(rr_new(c, RR_F32, 6, (int64_t[]){1, 1, 1, 1, 1, 1}) == NULL, "6 dims accepted");
    CHECK(rr_new(c, RR_F32, 2, (int64_t[]){3, -1}) == NULL, "negative dim accepted");
    rr_tensor *t = rr_new(c, RR_F32, RR_SHAPE(2, 3, 4, 5, 6));
    CHECK(t && t->numel == 720, "5-D numel");
    char s[64];
    CHECK(t && strcmp(rr_shape_str(t, s, sizeof s), "2x3x4x5x6") == 0, "shape string %s", s);
}

TEST(half_conversions_round_trip)
{
    /* Every f16 value converts to f32 and back to itself (NaNs stay NaN). */
    for (uint32_t h = 0; h < 65536; h++) {
        float f = rr_f16_to_f32((uint16_t)h);
        uint16_t back = rr_f32_to_f16(f);
        if (isnan(f))
            CHECK(isnan(rr_f16_to_f32(back)), "NaN 0x%04x", h);
        else
            CHECK(back == h, "f16 0x%04x -> %g -> 0x%04x", h, f, back);
        float g = rr_bf16_to_f32((uint16_t)h);
        if (!isnan(g))
            CHECK(rr_f32_to_bf16(g) == h, "bf16 0x%04x", h);
    }
    /* Known values and round-to-nearest-even. */
    CHECK(rr_f32_to_f16(1.0f) == 0x3c00, "1.0");
    CHECK(rr_f32_to_f16(65504.0f) == 0x7bff, "max half");
    CHECK(rr_f32_to_f16(1e6f) == 0x7c00, "overflow to inf");
    CHECK(rr_f32_to_f16(1.0f + 1.0f / 2048) == 0x3c00, "tie rounds to even");
    CHECK(rr_f32_to_f16(5.9604645e-8f) == 0x0001, "smallest subnormal");
    CHECK(rr_f32_to_bf16(1.00390625f) == 0x3f80, "bf16 tie to even");
    CHECK(rr_f32_to_bf16(3.14159265f) == 0x4049, "bf16 pi");
}

TEST(tape_records_only_with_grad)
{
    rr_ctx *c = test_ctx();
    rr_tensor *a = test_randn(c, 1, RR_SHAPE(4)), *b = test_randn(c, 2, RR_SHAPE(4));
    a->requires_grad = 1;
    CHECK_NOTNULL(rr_add(c, a, b));
    CHECK(c->nnodes == 0, "recorded without grad");
    rr_ctx_grad(c, 1);
    rr_tensor *y = rr_mul(c, rr_add(c, a, b), a); /* y = (a + b) a, dy/da = 2a + b */
    CHECK(c->nnodes == 2, "nodes %ld", c->nnodes);
    rr_tensor *seed = rr_zeros_like(c, y);
    rr_fill(seed, 1.0f);
    CHECK_OK(rr_backward_from(c, y, seed));
    for (int i = 0; a->grad && i < 4; i++) {
        float want = 2 * rr_f32(a)[i] + rr_f32(b)[i];
        CHECK(fabsf(rr_f32(a->grad)[i] - want) < 1e-5f, "grad %d", i);
    }
    CHECK(b->grad == NULL, "b needs no gradient");
    CHECK(rr_backward(c, y) != 0, "a 4-element loss must be refused");
}

TEST(rng_is_counter_based)
{
    CHECK(rr_rand64(7, 1000) == rr_rand64(7, 1000), "pure function");
    CHECK(rr_rand64(7, 1000) != rr_rand64(8, 1000), "seed matters");
    double mean = 0;
    for (int i = 0; i < 100000; i++)
        mean += rr_uniform(3, (uint64_t)i);
    mean /= 100000;
    CHECK(fabs(mean - 0.5) < 0.005, "uniform mean %g", mean);
}
