#include "checksum.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../error.h"
#include "../rng.h"

uint64_t rr_hash64(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    h ^= rr_mix64(n + 0x9e3779b97f4a7c15ull);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8); /* entry data may be unaligned */
        h = rr_mix64(h ^ w);
    }
    uint64_t tail = 0;
    for (size_t k = 0; i + k < n; k++)
        tail |= (uint64_t)p[i + k] << (8 * k);
    return rr_mix64(h ^ tail ^ 0xff);
}

/* mix64(w_i ^ i * golden) summed over words [i0, i1) of p (n bytes in all). */
static uint64_t sum_words(const unsigned char *p, size_t n, size_t i0, size_t i1)
{
    uint64_t s = 0;
    size_t full = n / 8 < i1 ? n / 8 : i1, i = i0;
    for (; i < full; i++) {
        uint64_t w;
        memcpy(&w, p + 8 * i, 8); /* entry data may be unaligned */
        s += rr_mix64(w ^ i * 0x9e3779b97f4a7c15ull);
    }
    if (i < i1) { /* the last word, padded with zeros */
        uint64_t w = 0;
        for (size_t k = 0; 8 * i + k < n; k++)
            w |= (uint64_t)p[8 * i + k] << (8 * k);
        s += rr_mix64(w ^ i * 0x9e3779b97f4a7c15ull);
    }
    return s;
}

/* Below this many words a tensor is hashed by one thread. */
#define PARALLEL_WORDS (1 << 17)

uint64_t rr_sum64(const void *data, size_t n)
{
    size_t words = (n + 7) / 8;
    uint64_t s = 0;
    if (words < PARALLEL_WORDS)
        s = sum_words(data, n, 0, words);
    else {
        long chunks = (long)((words + PARALLEL_WORDS - 1) / PARALLEL_WORDS);
#pragma omp parallel for reduction(+ : s) schedule(static)
        for (long c = 0; c < chunks; c++) {
            size_t i0 = (size_t)c * PARALLEL_WORDS, i1 = i0 + PARALLEL_WORDS < words ? i0 + PARALLEL_WORDS : words;
            s += sum_words(data, n, i0, i1);
        }
    }
    return rr_mix64(s ^ rr_mix64(n));
}

/* The checksum of every entry, in entry order: the small tensors spread over
 * the cores, each big one over the cores in turn. */
static uint64_t *entry_hashes(const rr_record *rec, int legacy)
{
    uint64_t *h = malloc(((size_t)rec->nentries + 1) * sizeof *h);
    if (!h) {
        rr_error("out of memory");
        return NULL;
    }
    /* Each tensor's pages are let go once summed, so that checking a whole
     * file does not keep it all resident. */
    if (legacy) {
#pragma omp parallel for schedule(dynamic)
        for (int i = 0; i < rec->nentries; i++) {
            h[i] = rr_hash64(0, rec->entries[i].data, rec->entries[i].nbytes);
            rr_record_release_pages(rec, i);
        }
        return h;
    }
#pragma omp parallel for schedule(dynamic)
    for (int i = 0; i < rec->nentries; i++)
        if (rec->entries[i].nbytes < 8 * (size_t)PARALLEL_WORDS) {
            h[i] = rr_sum64(rec->entries[i].data, rec->entries[i].nbytes);
            rr_record_release_pages(rec, i);
        }
    for (int i = 0; i < rec->nentries; i++)
        if (rec->entries[i].nbytes >= 8 * (size_t)PARALLEL_WORDS) {
            h[i] = rr_sum64(rec->entries[i].data, rec->entries[i].nbytes);
            rr_record_release_pages(rec, i);
        }
    return h;
}

int rr_record_add_checksums(rr_record *rec)
{
    uint64_t *h = entry_hashes(rec, 0);
    cJSON *o = h ? cJSON_CreateObject() : NULL;
    int rc = o ? 0 : -1;
    for (int i = 0; i < rec->nentries && rc == 0; i++) {
        char hex[17];
        snprintf(hex, sizeof hex, "%016" PRIx64, h[i]);
        if (!cJSON_AddStringToObject(o, rec->entries[i].name, hex))
            rc = -1;
    }
    char *s = rc == 0 ? cJSON_PrintUnformatted(o) : NULL;
    rc = s ? rr_record_set_meta(rec, RR_CHECKSUMS_KEY, s) : rr_error("out of memory");
    free(s);
    cJSON_Delete(o);
    free(h);
    return rc;
}

int rr_record_verify_checksums(const rr_record *rec, int required)
{
    const char *json = rr_record_meta(rec, RR_CHECKSUMS_KEY);
    int legacy = !json;
    if (legacy)
        json = rr_record_meta(rec, RR_CHECKSUMS_LEGACY_KEY);
    if (!json)
        return required ? rr_error("no checksums in the metadata") : 0;
    cJSON *o = cJSON_Parse(json);
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return rr_error("the checksums are not a JSON object");
    }
    uint64_t *h = entry_hashes(rec, legacy);
    int rc = h ? 0 : -1;
    char q[96];
    for (int i = 0; i < rec->nentries && rc == 0; i++) {
        const char *name = rec->entries[i].name;
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
        char hex[17];
        snprintf(hex, sizeof hex, "%016" PRIx64, h[i]);
        if (!cJSON_IsString(v))
            rc = rr_error("tensor '%s' has no checksum", rr_printable(name, q, sizeof q));
        else if (strcmp(v->valuestring, hex) != 0)
            rc = rr_error("tensor '%s' fails its checksum: the file is corrupt", rr_printable(name, q, sizeof q));
    }
    if (rc == 0 && cJSON_GetArraySize(o) != rec->nentries)
        rc = rr_error("%d checksums for %d tensors: tensors are missing", cJSON_GetArraySize(o), rec->nentries);
    free(h);
    cJSON_Delete(o);
    return rc;
}

int rr_record_digest(const rr_record *rec, const char *skip, uint64_t *digest)
{
    const char *json = rr_record_meta(rec, RR_CHECKSUMS_KEY);
    cJSON *o = json ? cJSON_Parse(json) : NULL;
    if (json && !cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return rr_error("the checksums are not a JSON object");
    }
    uint64_t *h = o ? NULL : entry_hashes(rec, 0);
    int rc = o || h ? 0 : -1;
    uint64_t d = 0, counted = 0;
    for (int i = 0; i < rec->nentries && rc == 0; i++) {
        const rr_entry *e = &rec->entries[i];
        if (skip && strncmp(e->name, skip, strlen(skip)) == 0)
            continue;
        uint64_t sum = h ? h[i] : 0;
        const cJSON *v = o ? cJSON_GetObjectItemCaseSensitive(o, e->name) : NULL;
        char q[96], *end = NULL;
        if (o && cJSON_IsString(v))
            sum = strtoull(v->valuestring, &end, 16);
        if (o && (!end || *end || end == v->valuestring)) {
            rc = rr_error("tensor '%s' has no checksum", rr_printable(e->name, q, sizeof q));
            break;
        }
        /* a sum over the tensors: the same whatever the order in the file */
        uint64_t t = rr_hash64(0, e->name, strlen(e->name));
        t = rr_hash64(t, rr_dtype_name(e->dtype), strlen(rr_dtype_name(e->dtype)));
        t = rr_hash64(t, e->shape, (size_t)e->ndim * sizeof e->shape[0]);
        d += rr_hash64(t, &sum, sizeof sum);
        counted++;
    }
    *digest = rr_mix64(d ^ counted);
    free(h);
    cJSON_Delete(o);
    return rc;
}
