/* What a model file must be: configurations in range and consistent (the
 * message naming the field and the value), the checksums, and the tensors a
 * model takes (dtype, finiteness).  The programs' side of the same rules is
 * tests/cli/test_model_files.sh. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "io/checksum.h"
#include "nn/config.h"
#include "nn/params.h"

/* rr_config_parse of a small valid configuration (the defaults with an
 * 8-wide backbone at 128 x 128) with one field set to a JSON fragment, or of
 * only that field at the top level; 0 or -1 (rr_errmsg()). */
static int parse_with(const char *section, const char *key, const char *value)
{
    char json[512];
    if (*section)
        snprintf(json, sizeof json, "{\"name\": \"t\", \"image_size\": 128, \"swin\": {\"embed_dim\": 8, "
                                    "\"num_heads\": [1, 2, 4, 8], \"window_size\": 6}, \"hfim\": {\"freq_heads\": 3}, "
                                    "\"%s\": {\"%s\": %s}}",
                 section, key, value);
    else
        snprintf(json, sizeof json, "{\"%s\": %s}", key, value);
    rr_config cfg;
    return rr_config_parse(&cfg, json, strlen(json));
}

TEST(config_fields_out_of_range_are_named)
{
    static const struct {
        const char *section, *key, *value, *msg;
    } cases[] = {
        {"swin", "depths", "[2, 2, -1, 2]", "config: swin.depths[2] is -1, must be 1 to 64"},
        {"swin", "depths", "[2, 1e300, 2, 2]", "config: swin.depths[1] is 1e+300, must be 1 to 64"},
        {"swin", "ln_eps", "0", "config: swin.ln_eps is 0, must be above 0 and at most 1"},
        {"swin", "drop_path_rate", "1", "config: swin.drop_path_rate is 1, must be at least 0 and below 1"},
        {"swin", "mlp_ratio", "0.01", "config: swin.mlp_ratio is 0.01: swin.embed_dim x swin.mlp_ratio must be at "
                                      "least 1"},
        {"text", "pad_token_id", "-1", "config: text.pad_token_id is -1, must be 0 to 999999"},
        {"text", "pad_token_id", "30522", "config: text.pad_token_id is 30522, not below text.vocab_size 30522"},
        {"ifim", "cma_heads", "3", "config: ifim.cma_heads is 3, does not divide stage 1's width 8"},
        {"ifim", "psr_levels", "[1, 0]", "config: ifim.psr_levels[1] is 0, must be 1 to 64"},
        {"hfim", "sr", "3", "config: hfim.sr is 3, does not divide the stride-4 grid 32"},
        {"decoder", "bn_momentum", "-0.5", "config: decoder.bn_momentum is -0.5, must be 0 to 1"},
        {"loss", "class_weights", "[1, -1]", "config: loss.class_weights[1] is -1, must be 0 to 1000"},
        {"", "pixel_std", "[0.2, 0, 0.2]", "config: pixel_std[1] is 0, must be above 0 and at most 1"},
        {"", "in_chans", "4", "config: in_chans is 4, must be 3"},
        {"", "image_size", "-128", "config: image_size is -128, must be 1 to 8192"},
        /* sizes whose products overflowed int before they were checked (the sanitised run sees it) */
        {"swin", "embed_dim", "536870912", "config: swin.embed_dim is 536870912, must be 8 to 4096"},
        {"swin", "patch_size", "268435456", "config: swin.patch_size is 268435456, must be 1 to 64"},
        {"", "image_size", "1073741824", "config: image_size is 1073741824, must be 1 to 8192"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        CHECK(parse_with(cases[i].section, cases[i].key, cases[i].value) != 0 &&
                  strcmp(rr_errmsg(), cases[i].msg) == 0,
              "%s.%s = %s: got '%s'", cases[i].section, cases[i].key, cases[i].value, rr_errmsg());
    CHECK_OK(parse_with("swin", "depths", "[1, 1, 1, 1]"));
    const char *shipped[] = {"share/configs/mrsnet-b.json", "share/configs/mrsnet-t.json",
                             "share/configs/mrsnet-nano.json"};
    for (int i = 0; i < 3; i++) {
        rr_config cfg;
        CHECK_OK(rr_config_load(&cfg, shipped[i]));
    }
}

TEST(sum64_covers_every_byte_and_its_place)
{
    /* over the parallel threshold, plus a tail that is not a whole word */
    size_t n = (size_t)8 * (1 << 18) + 5;
    unsigned char *a = malloc(n + 1);
    for (size_t i = 0; i < n; i++)
        a[i] = (unsigned char)(i * 2654435761u >> 13);
    uint64_t h = rr_sum64(a, n);
    memmove(a + 1, a, n); /* unaligned: the same bytes, the same sum */
    CHECK(rr_sum64(a + 1, n) == h, "an unaligned copy sums differently");
    a[1 + n - 1] ^= 1; /* the tail */
    CHECK(rr_sum64(a + 1, n) != h, "a changed last byte is not seen");
    a[1 + n - 1] ^= 1;
    unsigned char t = a[1 + 8], u = a[1 + 16]; /* two words swapped */
    memcpy(&a[1 + 8], &a[1 + 16], 1), a[1 + 16] = t;
    CHECK(t == u || rr_sum64(a + 1, n) != h, "swapped words are not seen");
    a[1 + 16] = u, a[1 + 8] = t;
    CHECK(rr_sum64(a + 1, n - 1) != rr_sum64(a + 1, n) || a[n] != 0, "the length is not part of the sum");
    free(a);
}

/* One 2 x 3 parameter loaded from an entry of dtype dt holding v. */
static int load_one(rr_dtype dt, const void *v)
{
    rr_params p;
    rr_params_init(&p, RR_CPU, 1, 0);
    rr_record rec;
    rr_record_init(&rec);
    int rc = rr_param_add(&p, RR_PARAM_TRAIN, RR_INIT_ZEROS, 0, RR_SHAPE(2, 3), "w") ? 0 : -1;
    if (!rc)
        rc = rr_record_add(&rec, "w", dt, RR_SHAPE(2, 3), v);
    if (!rc)
        rc = rr_params_load(&p, &rec, 0, NULL, NULL);
    rr_record_free(&rec);
    rr_params_free(&p);
    return rc;
}

TEST(params_load_refuses_integer_and_nonfinite_weights)
{
    float f[6] = {1, 2, 3, 4, 5, 6};
    CHECK_OK(load_one(RR_F32, f));
    int32_t ints[6] = {1, 2, 3, 4, 5, 6};
    CHECK(load_one(RR_I32, ints) != 0 &&
              strcmp(rr_errmsg(), "tensor 'w': is I32 in the weights; parameters are F32, F16, BF16 or F64") == 0,
          "I32: %s", rr_errmsg());
    f[4] = NAN;
    CHECK(load_one(RR_F32, f) != 0 &&
              strcmp(rr_errmsg(), "tensor 'w': holds NaN at element 4: the weights are damaged") == 0,
          "NaN: %s", rr_errmsg());
    double d[6] = {0, 0, 0, 0, 0, -1e300}; /* finite in F64, an infinity in F32 */
    CHECK(load_one(RR_F64, d) != 0 &&
              strcmp(rr_errmsg(), "tensor 'w': holds an infinity at element 5: the weights are damaged") == 0,
          "F64 overflow: %s", rr_errmsg());
}
