#include "safetensors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../error.h"
#include "atomic.h"
#include "sniff.h"
#include "../text/utf8.h"

/* JSON numbers are doubles: integers are exact up to 2^53. */
#define MAX_EXACT 9007199254740992.0

/* Room for a name in a message. */
#define QN 96

void rr_record_init(rr_record *rec) { memset(rec, 0, sizeof *rec); }

void rr_record_free(rr_record *rec)
{
    for (int i = 0; i < rec->nentries; i++) {
        free(rec->entries[i].name);
        free(rec->entries[i].owned);
    }
    for (int i = 0; i < rec->nmeta; i++) {
        free(rec->meta[i].key);
        free(rec->meta[i].value);
    }
    free(rec->entries);
    free(rec->meta);
    free(rec->buf);
    if (rec->map)
        munmap(rec->map, rec->map_len);
    rr_record_init(rec);
}

/* The source bytes of the character at p and the bytes it prints as (*w). */
static size_t printable_char(const unsigned char *p, size_t *w)
{
    if (*p < 0x20 || *p == 0x7f)
        return *w = 4, 1; /* \xhh */
    size_t m = 1;
    while ((p[m] & 0xc0) == 0x80)
        m++;
    return *w = m, m;
}

char *rr_printable(const char *s, char *buf, size_t n)
{
    size_t total = 0, k = 0, m, w;
    for (const unsigned char *p = (const unsigned char *)s; *p; p += m)
        total += (m = printable_char(p, &w), w);
    size_t room = total < n ? n - 1 : n - 4; /* room for "..." when cut */
    for (const unsigned char *p = (const unsigned char *)s; *p && k + (m = printable_char(p, &w), w) <= room; p += m) {
        if (m == 1 && w == 4)
            snprintf(buf + k, 5, "\\x%02x", *p);
        else
            memcpy(buf + k, p, m);
        k += w;
    }
    if (total >= n)
        memcpy(buf + k, "...", 3), k += 3;
    buf[k] = '\0';
    return buf;
}

static int check_string(const char *what, const char *s)
{
    long bad = rr_utf8_invalid(s, strlen(s));
    if (bad >= 0)
        return rr_error("%s is not valid UTF-8 (byte %ld)", what, bad);
    return 0;
}

/* --- building a record ------------------------------------------------------- */

/* arr with room for `need` elements (NULL with a message when out of memory). */
static void *grow(void *arr, int *cap, int need, size_t elem)
{
    if (need <= *cap)
        return arr;
    int c = *cap ? *cap * 2 : 16;
    while (c < need)
        c *= 2;
    void *q = realloc(arr, (size_t)c * elem);
    if (!q)
        return rr_error("out of memory"), NULL;
    *cap = c;
    return q;
}

static int append_meta(rr_record *rec, const char *key, const char *value)
{
    rr_meta *meta = grow(rec->meta, &rec->cap_meta, rec->nmeta + 1, sizeof *meta);
    if (!meta)
        return -1;
    rec->meta = meta;
    char *k = strdup(key), *v = strdup(value);
    if (!k || !v) {
        free(k);
        free(v);
        return rr_error("out of memory");
    }
    rec->meta[rec->nmeta++] = (rr_meta){k, v};
    return 0;
}

/* A new entry with name, dtype and shape checked; data is left to the caller. */
static rr_entry *append_entry(rr_record *rec, const char *name, rr_dtype dtype, int ndim,
                              const int64_t *shape)
{
    char q[QN];
    if (!*name)
        return rr_error("a tensor has an empty name"), NULL;
    if ((unsigned)dtype >= RR_NDTYPES)
        return rr_error("tensor '%s': bad dtype %d", rr_printable(name, q, sizeof q), (int)dtype), NULL;
    int64_t numel = rr_shape_numel(ndim, shape);
    if (numel < 0) {
        rr_error_prefix("tensor '%s': ", rr_printable(name, q, sizeof q));
        return NULL;
    }
    rr_entry *entries = grow(rec->entries, &rec->cap_entries, rec->nentries + 1, sizeof *entries);
    if (!entries)
        return NULL;
    rec->entries = entries;
    rr_entry *e = &entries[rec->nentries];
    memset(e, 0, sizeof *e);
    if (!(e->name = strdup(name)))
        return rr_error("out of memory"), NULL;
    e->dtype = dtype;
    e->ndim = ndim;
    memcpy(e->shape, shape, (size_t)ndim * sizeof *shape);
    e->nbytes = (size_t)numel * rr_dtype_size(dtype);
    rec->nentries++;
    return e;
}

int rr_record_add(rr_record *rec, const char *name, rr_dtype dtype, int ndim, const int64_t *shape,
                  const void *data)
{
    char q[QN];
    if (check_string("tensor name", name) < 0)
        return -1;
    if (strcmp(name, "__metadata__") == 0)
        return rr_error("'__metadata__' is reserved and cannot name a tensor");
    for (int i = 0; i < rec->nentries; i++)
        if (strcmp(rec->entries[i].name, name) == 0)
            return rr_error("duplicate tensor name '%s'", rr_printable(name, q, sizeof q));
    rr_entry *e = append_entry(rec, name, dtype, ndim, shape);
    if (!e)
        return -1;
    e->owned = data ? malloc(e->nbytes ? e->nbytes : 1) : calloc(1, e->nbytes ? e->nbytes : 1);
    if (!e->owned) {
        free(e->name);
        rec->nentries--;
        return rr_error("tensor '%s': out of memory for %zu bytes", rr_printable(name, q, sizeof q),
                        e->nbytes);
    }
    if (data)
        memcpy(e->owned, data, e->nbytes);
    e->data = e->owned;
    return 0;
}

int rr_record_add_tensor(rr_record *rec, const char *name, const rr_tensor *t)
{
    if (rr_record_add(rec, name, t->dtype, t->ndim, t->shape, NULL) < 0)
        return -1;
    rr_entry *e = &rec->entries[rec->nentries - 1];
    if (rr_to_host(e->data, t) == 0)
        return 0;
    free(e->name);
    free(e->owned);
    rec->nentries--;
    return -1;
}

int rr_record_set_meta(rr_record *rec, const char *key, const char *value)
{
    if (check_string("metadata key", key) < 0 || check_string("metadata value", value) < 0)
        return -1;
    for (int i = 0; i < rec->nmeta; i++)
        if (strcmp(rec->meta[i].key, key) == 0) {
            char *v = strdup(value);
            if (!v)
                return rr_error("out of memory");
            free(rec->meta[i].value);
            rec->meta[i].value = v;
            return 0;
        }
    return append_meta(rec, key, value);
}

const char *rr_record_meta(const rr_record *rec, const char *key)
{
    for (int i = 0; i < rec->nmeta; i++)
        if (strcmp(rec->meta[i].key, key) == 0)
            return rec->meta[i].value;
    return NULL;
}

const rr_entry *rr_record_find(const rr_record *rec, const char *name)
{
    for (int i = 0; i < rec->nentries; i++)
        if (strcmp(rec->entries[i].name, name) == 0)
            return &rec->entries[i];
    char q[QN];
    rr_error("no tensor '%s'", rr_printable(name, q, sizeof q));
    return NULL;
}

/* --- entries to tensors ------------------------------------------------------ */

static int is_float(rr_dtype t) { return t == RR_F32 || t == RR_F16 || t == RR_BF16 || t == RR_F64; }

/* Element i of an integer (or BOOL) array, read with memcpy: the data may be unaligned. */
static int64_t integer_at(const void *p, rr_dtype t, int64_t i)
{
    union {
        int8_t i8;
        int16_t i16;
        int32_t i32;
        int64_t i64;
        uint8_t u8;
        uint16_t u16;
        uint32_t u32;
        uint64_t u64;
    } u;
    memcpy(&u, (const char *)p + (size_t)i * rr_dtype_size(t), rr_dtype_size(t));
    switch (t) {
    case RR_I8: return u.i8;
    case RR_I16: return u.i16;
    case RR_I32: return u.i32;
    case RR_I64: return u.i64;
    case RR_U8: return u.u8;
    case RR_BOOL: return u.u8 != 0;
    case RR_U16: return u.u16;
    case RR_U32: return u.u32;
    default: return u.u64 > INT64_MAX ? INT64_MAX : (int64_t)u.u64; /* U64 */
    }
}

/* n values of e as f32 (any numeric dtype) or i32 (integer dtypes) in a new buffer. */
static void *convert_entry(const rr_entry *e, rr_dtype want, int64_t n)
{
    char q[QN];
    void *out = malloc((size_t)(n ? n : 1) * 4);
    if (!out)
        return rr_error("out of memory"), NULL;
    if (want == RR_F32) {
        /* rr_convert_to_f32 reads typed pointers: give it aligned data */
        void *aligned = NULL;
        const void *src = e->data;
        if ((uintptr_t)src % rr_dtype_size(e->dtype)) {
            if (!(aligned = malloc(e->nbytes))) {
                free(out);
                return rr_error("out of memory"), NULL;
            }
            src = memcpy(aligned, src, e->nbytes);
        }
        int rc = rr_convert_to_f32(out, src, e->dtype, n);
        free(aligned);
        if (rc == 0)
            return out;
    } else {
        int32_t *v = out;
        int64_t i = 0;
        for (; i < n; i++) {
            int64_t x = integer_at(e->data, e->dtype, i);
            if (x < INT32_MIN || x > INT32_MAX) {
                rr_error("tensor '%s': value %lld at index %lld does not fit in I32",
                         rr_printable(e->name, q, sizeof q), (long long)x, (long long)i);
                break;
            }
            v[i] = (int32_t)x;
        }
        if (i == n)
            return out;
    }
    free(out);
    return NULL;
}

rr_tensor *rr_entry_to_tensor(rr_ctx *c, const rr_entry *e, rr_dtype want)
{
    char q[QN];
    if (want != RR_F32 && want != RR_I32)
        return rr_error("tensor '%s': can only be read as F32 or I32, not %s", rr_printable(e->name, q, sizeof q),
                        rr_dtype_name(want)), NULL;
    if (want == RR_I32 && is_float(e->dtype))
        return rr_error("tensor '%s' is %s, expected an integer dtype", rr_printable(e->name, q, sizeof q),
                        rr_dtype_name(e->dtype)), NULL;
    rr_tensor *t;
    if (e->dtype == want) {
        t = rr_from_host(c, want, e->ndim, e->shape, e->data); /* a memcpy: alignment does not matter */
    } else {
        void *v = convert_entry(e, want, (int64_t)(e->nbytes / rr_dtype_size(e->dtype)));
        if (!v)
            return NULL;
        t = rr_from_host(c, want, e->ndim, e->shape, v);
        free(v);
    }
    if (!t)
        return NULL;
    size_t len = strlen(e->name) + 1;
    char *name = rr_arena_alloc(&c->meta, len);
    if (!name)
        return NULL;
    t->name = memcpy(name, e->name, len);
    return t;
}

rr_tensor *rr_record_to_tensor(rr_ctx *c, const rr_record *rec, const char *name, rr_dtype want)
{
    const rr_entry *e = rr_record_find(rec, name);
    return e ? rr_entry_to_tensor(c, e, want) : NULL;
}

/* --- reading ------------------------------------------------------------------ */

/* A JSON number that is a non-negative integer, exactly representable. */
static int json_uint(const cJSON *v, uint64_t *out)
{
    if (!cJSON_IsNumber(v))
        return -1;
    double d = v->valuedouble;
    if (!(d >= 0) || d > MAX_EXACT || d != floor(d))
        return -1;
    *out = (uint64_t)d;
    return 0;
}

static int parse_entry(rr_record *rec, const cJSON *item)
{
    char q[QN];
    const char *name = item->string;
    rr_printable(name, q, sizeof q);
    if (!*name)
        return rr_error("a tensor has an empty name");
    if (!cJSON_IsObject(item))
        return rr_error("tensor '%s': not an object", q);
    const cJSON *dtype = NULL, *shape = NULL, *offsets = NULL, *f;
    cJSON_ArrayForEach(f, item)
    {
        const cJSON **slot = strcmp(f->string, "dtype") == 0          ? &dtype
                             : strcmp(f->string, "shape") == 0        ? &shape
                             : strcmp(f->string, "data_offsets") == 0 ? &offsets
                                                                      : NULL;
        char fq[QN];
        if (!slot)
            return rr_error("tensor '%s': unexpected field '%s' (expected dtype, shape, data_offsets)", q,
                            rr_printable(f->string, fq, sizeof fq));
        if (*slot)
            return rr_error("tensor '%s': duplicate field '%s'", q, f->string);
        *slot = f;
    }
    if (!dtype || !shape || !offsets)
        return rr_error("tensor '%s': missing '%s'", q, !dtype ? "dtype" : !shape ? "shape" : "data_offsets");

    rr_dtype dt;
    if (!cJSON_IsString(dtype))
        return rr_error("tensor '%s': dtype is not a string", q);
    if (rr_dtype_parse(dtype->valuestring, &dt) < 0) {
        char dq[QN];
        return rr_error("tensor '%s': unknown dtype '%s'", q, rr_printable(dtype->valuestring, dq, sizeof dq));
    }

    if (!cJSON_IsArray(shape))
        return rr_error("tensor '%s': shape is not an array", q);
    int ndim = cJSON_GetArraySize(shape);
    if (ndim > RR_MAXDIM)
        return rr_error("tensor '%s': shape has %d dimensions, at most %d are supported", q, ndim, RR_MAXDIM);
    int64_t dims[RR_MAXDIM];
    int k = 0;
    cJSON_ArrayForEach(f, shape)
    {
        uint64_t d;
        if (json_uint(f, &d) < 0)
            return rr_error("tensor '%s': shape[%d] is not a non-negative integer", q, k);
        dims[k++] = (int64_t)d;
    }

    uint64_t off[2];
    if (!cJSON_IsArray(offsets) || cJSON_GetArraySize(offsets) != 2)
        return rr_error("tensor '%s': data_offsets is not an array of two integers", q);
    for (int i = 0; i < 2; i++)
        if (json_uint(cJSON_GetArrayItem(offsets, i), &off[i]) < 0)
            return rr_error("tensor '%s': data_offsets[%d] is not a non-negative integer", q, i);
    if (off[0] > off[1])
        return rr_error("tensor '%s': data_offsets [%llu, %llu] end before they begin", q,
                        (unsigned long long)off[0], (unsigned long long)off[1]);

    rr_entry *e = append_entry(rec, name, dt, ndim, dims);
    if (!e)
        return -1;
    if (e->nbytes != off[1] - off[0]) {
        char s[RR_MAXDIM * 24] = "";
        for (int i = 0, m = 0; i < ndim; i++)
            m += snprintf(s + m, sizeof s - (size_t)m, i ? ", %lld" : "%lld", (long long)dims[i]);
        return rr_error("tensor '%s': shape [%s] of %s is %zu bytes but data_offsets [%llu, %llu] span %llu", q,
                        s, rr_dtype_name(dt), e->nbytes, (unsigned long long)off[0],
                        (unsigned long long)off[1], (unsigned long long)(off[1] - off[0]));
    }
    e->offset = off[0];
    return 0;
}

static int parse_meta(rr_record *rec, const cJSON *m)
{
    if (!cJSON_IsObject(m))
        return rr_error("__metadata__ is not an object");
    const cJSON *f;
    cJSON_ArrayForEach(f, m)
    {
        char q[QN];
        if (!cJSON_IsString(f))
            return rr_error("__metadata__: the value of '%s' is not a string", rr_printable(f->string, q, sizeof q));
        if (append_meta(rec, f->string, f->valuestring) < 0)
            return -1;
    }
    return 0;
}

typedef int (*index_cmp)(const void *, const void *, void *);

static int by_name(const void *a, const void *b, void *r)
{
    const rr_record *rec = r;
    return strcmp(rec->entries[*(const int *)a].name, rec->entries[*(const int *)b].name);
}

static int by_key(const void *a, const void *b, void *r)
{
    const rr_record *rec = r;
    return strcmp(rec->meta[*(const int *)a].key, rec->meta[*(const int *)b].key);
}

static int by_offsets(const void *a, const void *b, void *r)
{
    const rr_record *rec = r;
    const rr_entry *x = &rec->entries[*(const int *)a], *y = &rec->entries[*(const int *)b];
    if (x->offset != y->offset)
        return x->offset < y->offset ? -1 : 1;
    return x->nbytes < y->nbytes ? -1 : x->nbytes > y->nbytes;
}

/* An index of rec's entries (or metadata) sorted by cmp; NULL when out of memory. */
static int *sorted_index(const rr_record *rec, int n, index_cmp cmp)
{
    int *idx = malloc((size_t)(n ? n : 1) * sizeof *idx);
    if (!idx)
        return rr_error("out of memory"), NULL;
    for (int i = 0; i < n; i++)
        idx[i] = i;
    qsort_r(idx, (size_t)n, sizeof *idx, cmp, (void *)rec);
    return idx;
}

/* An element equal to the one before it in cmp's order: its index, -1 when
 * none, -2 when out of memory. */
static int find_duplicate(const rr_record *rec, int n, index_cmp cmp)
{
    int *idx = sorted_index(rec, n, cmp), dup = -1;
    if (!idx)
        return -2;
    for (int i = 1; i < n && dup < 0; i++)
        if (cmp(&idx[i - 1], &idx[i], (void *)rec) == 0)
            dup = idx[i];
    free(idx);
    return dup;
}

/* No duplicates, and the data packed from byte 0 without gaps or overlaps
 * (the safetensors rule); *data_len is where it ends. */
static int check_layout(const rr_record *rec, size_t *data_len)
{
    char q[QN], q2[QN];
    int dup = find_duplicate(rec, rec->nentries, by_name);
    if (dup >= 0)
        return rr_error("duplicate tensor name '%s'", rr_printable(rec->entries[dup].name, q, sizeof q));
    if (dup == -1 && (dup = find_duplicate(rec, rec->nmeta, by_key)) >= 0)
        return rr_error("__metadata__: duplicate key '%s'", rr_printable(rec->meta[dup].key, q, sizeof q));
    int *idx = dup == -1 ? sorted_index(rec, rec->nentries, by_offsets) : NULL;
    if (!idx)
        return -1;
    size_t end = 0;
    int rc = 0;
    for (int i = 0; i < rec->nentries && rc == 0; i++) {
        const rr_entry *e = &rec->entries[idx[i]], *p = i ? &rec->entries[idx[i - 1]] : NULL;
        if (e->offset != end && !p)
            rc = rr_error("tensor '%s': data_offsets [%zu, %zu] do not start the data section at 0 "
                          "(tensors must be contiguous)",
                          rr_printable(e->name, q, sizeof q), e->offset, e->offset + e->nbytes);
        else if (e->offset != end)
            rc = rr_error("tensor '%s': data_offsets [%zu, %zu] %s tensor '%s' [%zu, %zu] "
                          "(tensors must be contiguous)",
                          rr_printable(e->name, q, sizeof q), e->offset, e->offset + e->nbytes,
                          e->offset > end ? "leave a gap after" : "overlap", rr_printable(p->name, q2, sizeof q2),
                          p->offset, p->offset + p->nbytes);
        end += e->nbytes;
    }
    free(idx);
    *data_len = end;
    return rc;
}

/* The members of the header object. */
static int parse_root(rr_record *rec, const cJSON *root, size_t *data_len)
{
    const cJSON *item;
    int nmeta = 0;
    cJSON_ArrayForEach(item, root)
    {
        int rc;
        if (strcmp(item->string, "__metadata__") == 0)
            rc = nmeta++ ? rr_error("duplicate key '__metadata__'") : parse_meta(rec, item);
        else
            rc = parse_entry(rec, item);
        if (rc < 0)
            return -1;
    }
    return check_layout(rec, data_len);
}

int rr_safetensors_parse_header(const char *json, size_t n, rr_record *rec, size_t *data_len)
{
    rr_record_free(rec);
    const char *nul = memchr(json, '\0', n);
    if (nul)
        return rr_error("header has a NUL byte (byte %zu)", (size_t)(nul - json));
    long bad = rr_utf8_invalid(json, n);
    if (bad >= 0)
        return rr_error("header is not valid UTF-8 (byte %ld)", bad);
    /* cJSON wants a terminated string */
    char *text = malloc(n + 1);
    if (!text)
        return rr_error("out of memory for a header of %zu bytes", n);
    memcpy(text, json, n);
    text[n] = '\0';
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts(text, &end, 0);
    int rc;
    if (!root) {
        rc = rr_error("header is not valid JSON (error at byte %zu)", end ? (size_t)(end - text) : (size_t)0);
    } else {
        end += strspn(end, " \t\r\n"); /* the reference writer pads with spaces */
        if (*end)
            rc = rr_error("header has more after its JSON object (byte %zu)", (size_t)(end - text));
        else if (!cJSON_IsObject(root))
            rc = rr_error("header is not a JSON object");
        else
            rc = parse_root(rec, root, data_len);
    }
    cJSON_Delete(root);
    free(text);
    if (rc < 0)
        rr_record_free(rec);
    return rc;
}

void rr_record_bind(rr_record *rec, void *data)
{
    for (int i = 0; i < rec->nentries; i++)
        rec->entries[i].data = (char *)data + rec->entries[i].offset;
}

int rr_safetensors_header_len(const unsigned char b[8], const char *what, uint64_t *n)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | b[i];
    *n = v;
    if (v > RR_SAFETENSORS_MAX_HEADER && what && rr_not_a(b, 8, what))
        return -1;
    if (v > RR_SAFETENSORS_MAX_HEADER)
        return rr_error("header length %llu is over the limit of %d bytes", (unsigned long long)v,
                        RR_SAFETENSORS_MAX_HEADER);
    return 0;
}

int rr_safetensors_parse(const void *buf, size_t len, rr_record *rec)
{
    rr_record_free(rec);
    if (len < 8)
        return rr_error("%zu bytes, too short for the 8-byte header length", len);
    uint64_t n;
    static const char what[] = "a weight file (safetensors)";
    if (rr_safetensors_header_len(buf, what, &n) < 0 || (n > len - 8 && rr_not_a(buf, 8, what)))
        return -1;
    if (n > len - 8)
        return rr_error("header length %llu runs past the end (%zu bytes follow the length)",
                        (unsigned long long)n, len - 8);
    size_t data_len;
    if (rr_safetensors_parse_header((const char *)buf + 8, n, rec, &data_len) < 0)
        return -1;
    if (data_len != len - 8 - n) {
        rr_record_free(rec);
        return rr_error("the header describes %zu data bytes but %zu follow it", data_len, len - 8 - (size_t)n);
    }
    rr_record_bind(rec, (char *)buf + 8 + n);
    return 0;
}

/* The whole of a file that cannot be mapped (a pipe, say). */
static int read_all(int fd, char **out, size_t *len)
{
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap);
    for (;;) {
        if (!b)
            return rr_error("out of memory");
        ssize_t r = read(fd, b + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            free(b);
            return rr_error("%s", strerror(errno));
        }
        if (r == 0)
            break;
        n += (size_t)r;
        if (n == cap) {
            char *nb = realloc(b, cap *= 2);
            if (!nb)
                free(b);
            b = nb;
        }
    }
    *out = b;
    *len = n;
    return 0;
}

int rr_safetensors_load(const char *path, rr_record *rec)
{
    rr_record_free(rec);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return rr_error("%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) < 0) {
        close(fd);
        return rr_error("%s: %s", path, strerror(errno));
    }
    void *map = NULL;
    char *buf = NULL;
    size_t len = 0;
    int rc = 0;
    if (S_ISREG(st.st_mode) && st.st_size > 0) {
        len = (size_t)st.st_size;
        /* not populated: the checksums read every page once and let it go
         * (rr_record_release_pages), and a program maps again only the
         * tensors of the parts it uses, so its resident memory holds those,
         * not the whole file (doc/architecture.md, Weight files) */
        map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            map = NULL;
            rc = rr_error("cannot map: %s", strerror(errno));
        }
    } else if (!S_ISREG(st.st_mode)) {
        rc = read_all(fd, &buf, &len);
    }
    close(fd);
    if (rc == 0)
        rc = rr_safetensors_parse(map ? map : buf, len, rec);
    if (rc < 0) {
        if (map)
            munmap(map, len);
        free(buf);
        return rr_error_prefix("%s: ", path);
    }
    rec->map = map;
    rec->map_len = len;
    rec->buf = buf;
    return 0;
}

void rr_record_release_pages(const rr_record *rec, int i)
{
    const rr_entry *e = &rec->entries[i];
    if (!rec->map || !e->nbytes)
        return;
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE), lo = ((uintptr_t)e->data + page - 1) / page * page,
              hi = ((uintptr_t)e->data + e->nbytes) / page * page;
    if (hi > lo) /* the file's pages stay in the page cache: a later read maps them again */
        madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

/* --- writing ------------------------------------------------------------------ */

typedef struct {
    char *p;
    size_t n, cap;
    int oom;
} sbuf;

static void put(sbuf *b, const char *s, size_t m)
{
    if (b->oom)
        return;
    if (b->n + m + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + m + 1)
            cap *= 2;
        char *q = realloc(b->p, cap);
        if (!q) {
            b->oom = 1;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, m);
    b->n += m;
}

static void puts_(sbuf *b, const char *s) { put(b, s, strlen(s)); }

/* A JSON string as Python's json.dumps(ensure_ascii=False) writes it, so
 * that tools/rrsis_stream.py writes the same bytes. */
static void put_string(sbuf *b, const char *s)
{
    put(b, "\"", 1);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        char esc[8];
        const char *named = ch == '"' ? "\\\"" : ch == '\\' ? "\\\\" : ch == '\n' ? "\\n" : ch == '\r' ? "\\r"
                          : ch == '\t' ? "\\t" : ch == '\b' ? "\\b" : ch == '\f' ? "\\f" : NULL;
        if (named)
            puts_(b, named);
        else if (ch < 0x20)
            snprintf(esc, sizeof esc, "\\u%04x", ch), puts_(b, esc);
        else
            put(b, (const char *)&ch, 1);
    }
    put(b, "\"", 1);
}

/* Largest dtype first, then by name: every tensor starts aligned to its
 * element size (the reference writer's order). */
static int by_size_name(const void *a, const void *b, void *r)
{
    const rr_record *rec = r;
    const rr_entry *x = &rec->entries[*(const int *)a], *y = &rec->entries[*(const int *)b];
    size_t sx = rr_dtype_size(x->dtype), sy = rr_dtype_size(y->dtype);
    if (sx != sy)
        return sx > sy ? -1 : 1;
    return strcmp(x->name, y->name);
}

int rr_safetensors_write(FILE *f, const rr_record *rec)
{
    int *idx = sorted_index(rec, rec->nentries, by_size_name);
    if (!idx)
        return -1;
    sbuf b = {0};
    char num[64];
    put(&b, "{", 1);
    if (rec->nmeta) {
        puts_(&b, "\"__metadata__\":{");
        for (int i = 0; i < rec->nmeta; i++) {
            if (i)
                put(&b, ",", 1);
            put_string(&b, rec->meta[i].key);
            put(&b, ":", 1);
            put_string(&b, rec->meta[i].value);
        }
        put(&b, "}", 1);
    }
    size_t off = 0;
    for (int i = 0; i < rec->nentries; i++) {
        const rr_entry *e = &rec->entries[idx[i]];
        if (i || rec->nmeta)
            put(&b, ",", 1);
        put_string(&b, e->name);
        puts_(&b, ":{\"dtype\":");
        put_string(&b, rr_dtype_name(e->dtype));
        puts_(&b, ",\"shape\":[");
        for (int d = 0; d < e->ndim; d++) {
            snprintf(num, sizeof num, d ? ",%lld" : "%lld", (long long)e->shape[d]);
            puts_(&b, num);
        }
        snprintf(num, sizeof num, "],\"data_offsets\":[%zu,%zu]}", off, off + e->nbytes);
        puts_(&b, num);
        off += e->nbytes;
    }
    put(&b, "}", 1);
    while (b.n % 8)
        put(&b, " ", 1);
    int rc = 0;
    if (b.oom) {
        rc = rr_error("out of memory");
    } else {
        unsigned char len[8];
        for (int i = 0; i < 8; i++)
            len[i] = (unsigned char)((uint64_t)b.n >> (8 * i));
        int ok = fwrite(len, 1, 8, f) == 8 && fwrite(b.p, 1, b.n, f) == b.n;
        for (int i = 0; ok && i < rec->nentries; i++) {
            const rr_entry *e = &rec->entries[idx[i]];
            ok = fwrite(e->data, 1, e->nbytes, f) == e->nbytes;
        }
        if (!ok)
            rc = rr_error("write error: %s", strerror(errno));
    }
    free(b.p);
    free(idx);
    return rc;
}

int rr_safetensors_save(const char *target, const rr_record *rec)
{
    rr_atomic_file w; /* whole or not at all, and durable (io/atomic.h) */
    if (rr_atomic_open(&w, target))
        return -1;
    if (rr_safetensors_write(w.f, rec)) {
        rr_error_prefix("%s: ", target);
        rr_atomic_close(&w, 0, RR_ATOMIC_DURABLE);
        return -1;
    }
    return rr_atomic_close(&w, 1, RR_ATOMIC_DURABLE);
}
