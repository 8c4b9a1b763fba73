/* Loading weights without copying them (rr_params_load_mapped): F32 tensors
 * of a mapped file used in place for inference, copies where the data is
 * misaligned, for a trained registry and on a second load; and BF16 files
 * loaded as the bf16 rounding of the F32 values. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "nn/mrsnet.h"
#include "nn/params.h"

static const float W[6] = {0.5f, -1.25f, 3.0f, 1e-3f, -7.5f, 2.0f};
static const float V[5] = {1.0f, 2.0f, 3.0f, 4.0f, 5.0f};

/* A temporary file name (the file exists, empty); 0 or -1. */
static int tmp_path(char *path)
{
    strcpy(path, "/tmp/rr_inplace_XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0)
        return -1;
    close(fd);
    return 0;
}

/* A weight file with F32 "w" [2, 3] = W and F32 "v" [5] = V, written by the
 * library (every F32 tensor aligned). */
static int write_aligned(const char *path)
{
    rr_record rec;
    rr_record_init(&rec);
    int rc = rr_record_add(&rec, "w", RR_F32, RR_SHAPE(2, 3), W);
    if (!rc)
        rc = rr_record_add(&rec, "v", RR_F32, RR_SHAPE(5), V);
    if (!rc)
        rc = rr_safetensors_save(path, &rec);
    rr_record_free(&rec);
    return rc;
}

/* The same tensor "w" alone, in a file whose data section starts 2 bytes
 * past a 4-byte boundary (a header of 4k + 2 bytes, valid safetensors). */
static int write_misaligned(const char *path)
{
    char json[128];
    int n = snprintf(json, sizeof json, "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}}");
    while (n % 4 != 2)
        json[n++] = ' ';
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    unsigned char len[8] = {(unsigned char)n};
    int ok = fwrite(len, 8, 1, f) == 1 && fwrite(json, (size_t)n, 1, f) == 1 && fwrite(W, sizeof W, 1, f) == 1;
    return fclose(f) == 0 && ok ? 0 : -1;
}

/* A temporary file written by `write`, loaded (mapped) into rec; 0 or -1. */
static int mapped_file(char *path, int (*write)(const char *), rr_record *rec)
{
    rr_record_init(rec);
    return tmp_path(path) || write(path) || rr_safetensors_load(path, rec) ? -1 : 0;
}

static int in_mapping(const rr_params *p, const void *x)
{
    const char *m = p->map, *c = x;
    return m && c >= m && c < m + p->map_len;
}

/* A registry of "w" [2, 3] and "v" [5] (values unset: every one is loaded). */
static void make_params(rr_params *p, int with_grads, int with_v)
{
    rr_params_init(p, RR_CPU, 1, with_grads);
    p->uninitialised = 1;
    rr_param_add(p, RR_PARAM_TRAIN, RR_INIT_ZEROS, 0, RR_SHAPE(2, 3), "w");
    if (with_v)
        rr_param_add(p, RR_PARAM_BUFFER, RR_INIT_ZEROS, 0, RR_SHAPE(5), "v");
}

TEST(weights_in_place_point_into_the_mapping_and_outlive_the_record)
{
    char path[64];
    rr_record rec;
    CHECK_OK(mapped_file(path, write_aligned, &rec));
    rr_params p;
    make_params(&p, 0, 1);
    void *map = rec.map;
    CHECK_OK(rr_params_load_mapped(&p, &rec, 0, NULL, NULL));
    CHECK(p.map == map && rec.map == NULL, "the registry did not take the mapping");
    rr_tensor *w = rr_params_find(&p, "w")->t, *v = rr_params_find(&p, "v")->t;
    CHECK(in_mapping(&p, w->data) && in_mapping(&p, v->data), "the tensors were copied");
    CHECK(w->data != rr_params_find(&p, "w")->own, "w is in its own memory");
    rr_record_free(&rec); /* the mapping lives as long as the registry */
    CHECK(memcmp(w->data, W, sizeof W) == 0 && memcmp(v->data, V, sizeof V) == 0, "values differ");
    /* a parameter a caller changes gets its own copy first */
    rr_param_make_writable(rr_params_find(&p, "w"));
    CHECK(w->data == rr_params_find(&p, "w")->own && memcmp(w->data, W, sizeof W) == 0, "w not copied");
    rr_f32(w)[0] = 4.0f;
    CHECK(in_mapping(&p, v->data) && rr_f32(w)[0] == 4.0f, "v left the mapping");
    rr_params_free(&p);
    unlink(path);
}

TEST(weights_misaligned_in_the_file_are_copied)
{
    char path[64];
    rr_record rec;
    CHECK_OK(mapped_file(path, write_misaligned, &rec));
    rr_params p;
    make_params(&p, 0, 0);
    CHECK((uintptr_t)rr_record_find(&rec, "w")->data % 4 == 2, "the test file is aligned after all");
    CHECK_OK(rr_params_load_mapped(&p, &rec, 0, NULL, NULL));
    rr_tensor *w = rr_params_find(&p, "w")->t;
    CHECK(p.map == NULL && rec.map != NULL, "the registry took a mapping it does not use");
    CHECK(w->data == rr_params_find(&p, "w")->own && (uintptr_t)w->data % 64 == 0, "w is not a copy");
    CHECK(memcmp(w->data, W, sizeof W) == 0, "values differ");
    rr_record_free(&rec);
    rr_params_free(&p);
    unlink(path);
}

TEST(weights_of_a_trained_registry_are_copies)
{
    char path[64];
    rr_record rec;
    CHECK_OK(mapped_file(path, write_aligned, &rec));
    /* with gradients (the trainer's registry): copies, the mapping stays with the record */
    rr_params p;
    make_params(&p, 1, 1);
    CHECK_OK(rr_params_load_mapped(&p, &rec, 0, NULL, NULL));
    for (int i = 0; i < p.n; i++)
        CHECK(p.items[i].t->data == p.items[i].own, "'%s' is not a copy", p.items[i].name);
    CHECK(p.map == NULL && rec.map != NULL, "a trained registry took the mapping");
    rr_fill(rr_params_find(&p, "w")->t, 1.0f); /* writable */
    rr_params_free(&p);
    /* rr_params_load always copies */
    make_params(&p, 0, 1);
    CHECK_OK(rr_params_load(&p, &rec, 0, NULL, NULL));
    CHECK(p.map == NULL && rr_params_find(&p, "w")->t->data == rr_params_find(&p, "w")->own, "not a copy");
    rr_params_free(&p);
    rr_record_free(&rec);
    unlink(path);
}

TEST(weights_loaded_again_after_in_place_are_copied_into_own_memory)
{
    char path[64];
    rr_record rec, other;
    CHECK_OK(mapped_file(path, write_aligned, &rec));
    rr_record_init(&other);
    rr_params p;
    make_params(&p, 0, 1);
    CHECK_OK(rr_params_load_mapped(&p, &rec, 0, NULL, NULL));
    float w2[6] = {9, 8, 7, 6, 5, 4};
    CHECK_OK(rr_record_add(&other, "w", RR_F32, RR_SHAPE(2, 3), w2));
    /* the read-only mapping is not written: w goes back to its own memory */
    CHECK_OK(rr_params_load(&p, &other, 1, NULL, NULL));
    rr_tensor *w = rr_params_find(&p, "w")->t;
    CHECK(w->data == rr_params_find(&p, "w")->own && memcmp(w->data, w2, sizeof w2) == 0, "w not reloaded");
    CHECK(in_mapping(&p, rr_params_find(&p, "v")->t->data), "v left the mapping");
    rr_record_free(&other);
    rr_record_free(&rec);
    rr_params_free(&p);
    unlink(path);
}

TEST(weights_in_place_are_scanned_for_nonfinite_values)
{
    char path[64];
    CHECK_OK(tmp_path(path));
    rr_record rec;
    rr_record_init(&rec);
    float bad[6] = {1, 2, 3, 4, NAN, 6};
    CHECK_OK(rr_record_add(&rec, "w", RR_F32, RR_SHAPE(2, 3), bad));
    CHECK_OK(rr_safetensors_save(path, &rec));
    rr_record_free(&rec);
    CHECK_OK(rr_safetensors_load(path, &rec));
    rr_params p;
    make_params(&p, 0, 0);
    CHECK(rr_params_load_mapped(&p, &rec, 0, NULL, NULL) < 0 &&
              strcmp(rr_errmsg(), "tensor 'w': holds NaN at element 4: the weights are damaged") == 0,
          "got '%s'", rr_errmsg());
    rr_params_free(&p);
    rr_record_free(&rec);
    unlink(path);
}

/* A model saved in BF16 loads as the bf16 rounding of its F32 values. */
TEST(weights_bf16_file_loads_as_the_rounded_f32_values)
{
    char path[64];
    CHECK_OK(tmp_path(path));
    rr_config cfg;
    CHECK_OK(rr_config_load(&cfg, "share/configs/mrsnet-nano.json"));
    rr_mrsnet m, back;
    CHECK_OK(rr_mrsnet_init(&m, &cfg, RR_PART_ALL, RR_CPU, 7, 0));
    CHECK_OK(rr_mrsnet_save(&m, path, RR_BF16));
    CHECK_OK(rr_mrsnet_load(&back, path, RR_PART_ALL, RR_CPU, 0, 0, NULL));
    CHECK(back.params.map == NULL, "BF16 tensors cannot be used in place");
    int64_t differ = 0, changed = 0, total = 0;
    for (int i = 0; i < m.params.n; i++) {
        const rr_tensor *a = m.params.items[i].t, *b = rr_params_find(&back.params, m.params.items[i].name)->t;
        const float *x = a->data, *y = b->data;
        for (int64_t k = 0; k < a->numel; k++) {
            differ += y[k] != rr_bf16_to_f32(rr_f32_to_bf16(x[k]));
            changed += y[k] != x[k];
        }
        total += a->numel;
    }
    CHECK(differ == 0, "%lld of %lld values are not the bf16 rounding", (long long)differ, (long long)total);
    CHECK(changed > total / 2, "only %lld of %lld values were rounded", (long long)changed, (long long)total);
    rr_mrsnet_free(&back);
    rr_mrsnet_free(&m);
    unlink(path);
}
