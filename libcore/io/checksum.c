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

/* The hash of every entry, in entry order, in parallel (each hash is one
 * serial chain: the big models' gigabytes spread over the cores by tensor),
 * largest first so that the biggest chains start first. */
static int by_size_desc(const void *a, const void *b, void *r)
{
    const rr_record *rec = r;
    size_t x = rec->entries[*(const int *)a].nbytes, y = rec->entries[*(const int *)b].nbytes;
    return x < y ? 1 : x > y ? -1 : 0;
}

static uint64_t *entry_hashes(const rr_record *rec)
{
    uint64_t *h = malloc(((size_t)rec->nentries + 1) * sizeof *h);
    int *order = malloc(((size_t)rec->nentries + 1) * sizeof *order);
    if (!h || !order) {
        free(h);
        free(order);
        rr_error("out of memory");
        return NULL;
    }
    for (int i = 0; i < rec->nentries; i++)
        order[i] = i;
    qsort_r(order, (size_t)rec->nentries, sizeof *order, by_size_desc, (void *)rec);
#pragma omp parallel for schedule(dynamic)
    for (int k = 0; k < rec->nentries; k++) {
        const rr_entry *e = &rec->entries[order[k]];
        h[order[k]] = rr_hash64(0, e->data, e->nbytes);
    }
    free(order);
    return h;
}

int rr_record_add_checksums(rr_record *rec)
{
    uint64_t *h = entry_hashes(rec);
    cJSON *o = h ? cJSON_CreateObject() : NULL;
    int rc = o ? 0 : -1;
    for (int i = 0; i < rec->nentries && rc == 0; i++) {
        char hex[17];
        snprintf(hex, sizeof hex, "%016" PRIx64, h[i]);
        if (!cJSON_AddStringToObject(o, rec->entries[i].name, hex))
            rc = -1;
    }
    char *s = rc == 0 ? cJSON_PrintUnformatted(o) : NULL;
    rc = s ? rr_record_set_meta(rec, "checksums", s) : rr_error("out of memory");
    free(s);
    cJSON_Delete(o);
    free(h);
    return rc;
}

int rr_record_verify_checksums(const rr_record *rec, int required)
{
    const char *json = rr_record_meta(rec, "checksums");
    if (!json)
        return required ? rr_error("no checksums in the metadata") : 0;
    cJSON *o = cJSON_Parse(json);
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return rr_error("the checksums are not a JSON object");
    }
    uint64_t *h = entry_hashes(rec);
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
