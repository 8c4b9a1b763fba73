/* embedding lookup. */
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static rr_tensor *apply_embedding(rr_ctx *c, rr_tensor *const *in, const void *arg)
{
    return rr_embedding(c, in[0], in[1]);
}

TEST(embedding_op)
{
    rr_ctx *c = test_ctx();
    /* 3x5 ids into 11 rows of 7, with repeats (the gradient sums them), and
     * 2x70 ids into 300 columns (several column blocks in the backward). */
    struct {
        int nid;
        int64_t sid[RR_MAXDIM], V, D;
    } cases[] = {{2, {3, 5}, 11, 7}, {1, {4}, 3, 300}, {3, {2, 5, 7}, 13, 70}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        int64_t V = cases[k].V, D = cases[k].D;
        rr_tensor *ids = rr_new(c, RR_I32, cases[k].nid, cases[k].sid);
        for (int64_t i = 0; i < ids->numel; i++)
            rr_i32(ids)[i] = (int32_t)((i * 7 + 3) % V);
        rr_tensor *table = test_randn(c, 20 + k, RR_SHAPE(V, D));
        rr_tensor *out = rr_embedding(c, ids, table);
        CHECK_NOTNULL(out);
        if (!out)
            continue;
        CHECK(out->ndim == ids->ndim + 1 && out->shape[ids->ndim] == D, "output shape");
        double *want = malloc((size_t)out->numel * sizeof *want);
        for (int64_t i = 0; i < ids->numel; i++)
            for (int64_t j = 0; j < D; j++)
                want[i * D + j] = rr_f32(table)[rr_i32(ids)[i] * D + j];
        check_forward("embedding", out, want, 1e-7);
        free(want);
        table->requires_grad = 1;
        check_gradient("embedding", apply_embedding, NULL, 2, (rr_tensor *[]){ids, table}, 1e-2);
    }
}

TEST(embedding_rejects_bad_ids)
{
    rr_ctx *c = test_ctx();
    rr_tensor *table = rr_zeros(c, RR_F32, RR_SHAPE(10, 4));
    rr_tensor *ids = rr_from_host(c, RR_I32, RR_SHAPE(2, 2), (int32_t[]){1, 9, 10, 0});
    CHECK(rr_embedding(c, ids, table) == NULL, "id 10 of 10 rows must fail");
    CHECK(strstr(rr_errmsg(), "embedding: id 10 at position 2 is outside the table") != NULL, "message: %s",
          rr_errmsg());
    rr_i32(ids)[2] = -1;
    CHECK(rr_embedding(c, ids, table) == NULL, "id -1 must fail");
    CHECK(strstr(rr_errmsg(), "id -1") != NULL, "message: %s", rr_errmsg());
    rr_tensor *fids = rr_zeros(c, RR_F32, RR_SHAPE(2, 2));
    CHECK(rr_embedding(c, fids, table) == NULL, "F32 ids must fail");
    CHECK(strstr(rr_errmsg(), "embedding: expected I32, got F32") != NULL, "message: %s", rr_errmsg());
    rr_tensor *t3 = rr_zeros(c, RR_F32, RR_SHAPE(2, 10, 4));
    rr_i32(ids)[2] = 0;
    CHECK(rr_embedding(c, ids, t3) == NULL, "a 3-D table must fail");
    CHECK(strstr(rr_errmsg(), "embedding: expected 2 dimensions, got 2x10x4") != NULL, "message: %s", rr_errmsg());
}
