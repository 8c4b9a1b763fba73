#include "fuse.h"

#include <stdlib.h>

#include "../error.h"

void rr_fuse_shape(const rr_config *cfg, int i, int64_t shape[3])
{
    shape[0] = (int64_t)cfg->swin.embed_dim << (i - 1);
    shape[1] = shape[2] = (int64_t)(cfg->image_size / cfg->swin.patch_size) >> (i - 1);
}

/* Records [lo, hi) of the batch, whose sentences have n_l words: one run of
 * the backbone, then the records out.  d: the host copies of D1..D4. */
static int fuse_run(const rr_fuse_opts *o, rr_ctx *c, rr_batch *b, int lo, int hi, int64_t n_l, float *img,
                    float *l, int32_t *mask, float *const host[4], FILE *out)
{
    const rr_config *cfg = &o->model->cfg;
    int64_t g = hi - lo, s = cfg->image_size, d_l = cfg->text.hidden_size, plane = 3 * s * s;
    for (int i = lo; i < hi; i++)
        if (rr_batch_tensor(b, i, "image", RR_F32, 3, (int64_t[]){3, s, s}, img + (i - lo) * plane) ||
            rr_batch_tensor(b, i, "L", RR_F32, 2, (int64_t[]){d_l, n_l}, l + (i - lo) * d_l * n_l) ||
            rr_batch_tensor(b, i, "attention_mask", RR_I32, 1, (int64_t[]){n_l}, mask + (i - lo) * n_l))
            return -1;
    rr_tensor *d[4];
    rr_tensor *mt = rr_from_host(c, RR_I32, RR_SHAPE(g, n_l), mask);
    rr_tensor *imt = rr_from_host(c, RR_F32, RR_SHAPE(g, 3, s, s), img);
    rr_tensor *lt = rr_from_host(c, RR_F32, RR_SHAPE(g, d_l, n_l), l);
    rr_tensor *lm = rr_mrsnet_lmask(c, mt);
    if (!imt || !lt || !lm || rr_backbone_fwd(c, &o->model->backbone, imt, lt, lm, d, NULL))
        return rr_batch_error(b, lo, "the backbone: %s", rr_errmsg());
    int64_t shape[4][3];
    for (int k = 0; k < 4; k++) {
        rr_fuse_shape(cfg, k + 1, shape[k]);
        if (rr_to_host(host[k], d[k]))
            return -1;
    }
    for (int i = lo; i < hi; i++) {
        rr_record rec;
        int rc = rr_batch_out(b, i, "fused", &rec) || rr_batch_carry(b, i, "valid", &rec) ? -1 : 0;
        for (int k = 0; k < 4 && !rc; k++) {
            char name[4] = {'D', (char)('1' + k), 0};
            int64_t n = shape[k][0] * shape[k][1] * shape[k][2];
            rc = rr_record_add(&rec, name, RR_F32, 3, shape[k], host[k] + (i - lo) * n);
        }
        if (!rc)
            rc = rr_stream_write(out, &rec);
        rr_record_free(&rec);
        if (rc)
            return -1;
    }
    return 0;
}

int rr_fuse_run(const rr_fuse_opts *o, FILE *in, FILE *out)
{
    const rr_mrsnet *m = o->model;
    const rr_config *cfg = &m->cfg;
    if (!(m->parts & RR_PART_BACKBONE))
        return rr_error("the model was loaded without its backbone");
    int cap = o->batch;
    rr_batch b;
    int rc = rr_batch_init(&b, in, "encoded", cap);
    b.model = m; /* the parts of another model do not fit */
    int64_t s = cfg->image_size, max_len = cfg->text.max_position;
    float *img = malloc((size_t)(cap * 3 * s * s) * sizeof *img);
    float *l = malloc((size_t)(cap * max_len * cfg->text.hidden_size) * sizeof *l);
    int32_t *mask = malloc((size_t)(cap * max_len) * sizeof *mask);
    float *host[4] = {0};
    if (!rc && (!img || !l || !mask))
        rc = rr_error("out of memory");
    for (int k = 0; k < 4 && !rc; k++) {
        int64_t shape[3];
        rr_fuse_shape(cfg, k + 1, shape);
        if (!(host[k] = malloc((size_t)(cap * shape[0] * shape[1] * shape[2]) * sizeof *host[k])))
            rc = rr_error("out of memory");
    }
    rr_ctx c;
    rr_ctx_init(&c, m->params.store.device);
    long done = 0;
    double start = rr_batch_clock();
    int n = 0;
    while (!rc && (n = rr_batch_read(&b)) > 0) {
        /* runs of records whose sentences have the same length */
        for (int lo = 0, hi; lo < n && !rc; lo = hi) {
            int64_t len[1] = {-1};
            if ((rc = rr_batch_tensor(&b, lo, "attention_mask", RR_I32, 1, len, NULL)))
                break;
            if (len[0] < 1 || len[0] > max_len) {
                rc = rr_batch_error(&b, lo, "%lld words; the model takes 1 to %lld", (long long)len[0],
                                    (long long)max_len);
                break;
            }
            for (hi = lo + 1; hi < n; hi++)
                if (rr_batch_tensor(&b, hi, "attention_mask", RR_I32, 1, (int64_t[]){len[0]}, NULL))
                    break;
            rc = fuse_run(o, &c, &b, lo, hi, len[0], img, l, mask, host, out);
            rr_ctx_reset(&c);
        }
        done += n;
        if (!rc && o->progress)
            o->progress(o->progress_arg, done, rr_batch_clock() - start);
    }
    if (n < 0)
        rc = -1;
    if (!rc)
        rc = rr_stream_end(out, done); /* only a stream written in full ends with its mark */
    rr_batch_free(&b);
    rr_ctx_free(&c);
    free(img);
    free(l);
    free(mask);
    for (int k = 0; k < 4; k++)
        free(host[k]);
    return rc;
}
