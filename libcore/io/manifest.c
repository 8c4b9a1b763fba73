#include "manifest.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "../error.h"
#include "../text/utf8.h"
#include "raster.h"
#include "reader.h"

#define MSG_MAX 512
#define SIZE_MAX_PX 1000000 /* width and height above this are a typo */

static const char *const known_splits[] = {"train", "val", "test", "testA", "testB"};

/* ---- findings ------------------------------------------------------------ */

static int add_finding(rr_findings *f, long line, const char *msg)
{
    if (f->n == f->cap) {
        size_t cap = f->cap ? 2 * f->cap : 64;
        rr_finding *v = realloc(f->v, cap * sizeof *v);
        if (!v)
            return rr_error("manifest: out of memory");
        f->v = v;
        f->cap = cap;
    }
    char *copy = strdup(msg);
    if (!copy)
        return rr_error("manifest: out of memory");
    f->v[f->n].line = line;
    f->v[f->n++].msg = copy;
    return 0;
}

void rr_findings_free(rr_findings *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->n; i++)
        free(f->v[i].msg);
    free(f->v);
    memset(f, 0, sizeof *f);
}

/* ---- samples ------------------------------------------------------------- */

static void mask_ref_free(rr_mask_ref *r)
{
    free(r->png);
    free(r->png_path);
    for (size_t i = 0; i < r->nrle; i++)
        rr_rle_free(&r->rles[i]);
    free(r->rles);
    for (size_t i = 0; i < r->npoly; i++)
        free(r->polys[i].xy);
    free(r->polys);
    memset(r, 0, sizeof *r);
}

static void sample_free(rr_sample *s)
{
    free(s->id);
    free(s->split);
    free(s->image);
    free(s->sentence);
    free(s->lang);
    free(s->category);
    free(s->image_path);
    mask_ref_free(&s->mask);
    memset(s, 0, sizeof *s);
}

void rr_manifest_free(rr_manifest *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n; i++)
        sample_free(&m->samples[i]);
    free(m->samples);
    free(m->path);
    free(m->dir);
    memset(m, 0, sizeof *m);
}

const char *rr_sample_type_name(rr_sample_type t)
{
    return t == RR_TYPE_SINGLE ? "single" : t == RR_TYPE_MULTI ? "multi" : "none";
}

/* ---- parsing one line ---------------------------------------------------- */

/* The error of the line being parsed. */
typedef struct {
    char msg[MSG_MAX];
} line_err;

static int fail(line_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(line_err *e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return -1;
}

static const char *json_type(const cJSON *v)
{
    return cJSON_IsString(v)   ? "a string"
           : cJSON_IsNumber(v) ? "a number"
           : cJSON_IsBool(v)   ? "a boolean"
           : cJSON_IsNull(v)   ? "null"
           : cJSON_IsArray(v)  ? "an array"
                               : "an object";
}

static char *join_path(const char *dir, const char *path)
{
    if (path[0] == '/' || !dir[0] || strcmp(dir, ".") == 0)
        return strdup(path);
    size_t nd = strlen(dir), np = strlen(path);
    int slash = dir[nd - 1] != '/';
    char *p = malloc(nd + slash + np + 1);
    if (!p)
        return NULL;
    memcpy(p, dir, nd);
    if (slash)
        p[nd] = '/';
    memcpy(p + nd + slash, path, np + 1);
    return p;
}

/* A required string field, copied into *out. */
static int get_string(const cJSON *o, const char *key, int nonempty, char **out, line_err *e)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v)
        return fail(e, "missing \"%s\"", key);
    if (!cJSON_IsString(v))
        return fail(e, "\"%s\" must be a string, not %s", key, json_type(v));
    if (nonempty && !v->valuestring[0])
        return fail(e, "\"%s\" is empty", key);
    *out = strdup(v->valuestring);
    return *out ? 0 : fail(e, "out of memory");
}

static int is_int(const cJSON *v, double lo, double hi)
{
    return cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble) && v->valuedouble >= lo &&
           v->valuedouble <= hi;
}

static int get_size(const cJSON *o, const char *key, int *out, line_err *e)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v)
        return fail(e, "missing \"%s\"", key);
    if (!is_int(v, 1, SIZE_MAX_PX)) {
        if (cJSON_IsNumber(v))
            return fail(e, "\"%s\" must be an integer from 1 to %d, not %g", key, SIZE_MAX_PX,
                        v->valuedouble);
        return fail(e, "\"%s\" must be a positive integer, not %s", key, json_type(v));
    }
    *out = (int)v->valuedouble;
    return 0;
}

static int parse_rle(const cJSON *v, const rr_sample *s, rr_rle *r, line_err *e)
{
    if (!cJSON_IsObject(v))
        return fail(e, "an RLE must be an object {\"size\", \"counts\"}, not %s", json_type(v));
    const cJSON *size = cJSON_GetObjectItemCaseSensitive(v, "size");
    const cJSON *counts = cJSON_GetObjectItemCaseSensitive(v, "counts");
    if (!cJSON_IsArray(size) || cJSON_GetArraySize(size) != 2 || !is_int(size->child, 1, SIZE_MAX_PX) ||
        !is_int(size->child->next, 1, SIZE_MAX_PX))
        return fail(e, "RLE \"size\" must be [height, width]");
    r->h = (int)size->child->valuedouble;
    r->w = (int)size->child->next->valuedouble;
    if (r->h != s->height || r->w != s->width)
        return fail(e, "mask RLE is %dx%d (width x height) but the image is %dx%d", r->w, r->h, s->width,
                    s->height);
    if (cJSON_IsString(counts)) {
        if (!(r->counts_str = strdup(counts->valuestring)))
            return fail(e, "out of memory");
        /* decoded once here so that a bad string is this line's finding */
        uint32_t *c;
        size_t n;
        if (rr_rle_from_string(r->counts_str, &c, &n))
            return fail(e, "%s", rr_errmsg());
        uint64_t sum = 0;
        for (size_t i = 0; i < n; i++)
            sum += c[i];
        free(c);
        if (sum != (uint64_t)r->h * (uint64_t)r->w)
            return fail(e, "RLE counts add up to %llu, not height x width = %llu", (unsigned long long)sum,
                        (unsigned long long)r->h * (unsigned long long)r->w);
        return 0;
    }
    if (!cJSON_IsArray(counts))
        return fail(e, "RLE \"counts\" must be a string or a list of integers");
    size_t n = (size_t)cJSON_GetArraySize(counts);
    r->counts = malloc((n ? n : 1) * sizeof *r->counts);
    if (!r->counts)
        return fail(e, "out of memory");
    uint64_t sum = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, counts)
    {
        if (!is_int(c, 0, UINT32_MAX))
            return fail(e, "RLE count %zu is not a non-negative integer", r->n);
        sum += (uint64_t)c->valuedouble;
        r->counts[r->n++] = (uint32_t)c->valuedouble;
    }
    if (sum != (uint64_t)r->h * (uint64_t)r->w)
        return fail(e, "RLE counts add up to %llu, not height x width = %llu", (unsigned long long)sum,
                    (unsigned long long)r->h * (unsigned long long)r->w);
    return 0;
}

static int parse_polygon(const cJSON *v, size_t index, rr_polygon *p, line_err *e)
{
    if (!cJSON_IsArray(v))
        return fail(e, "polygon %zu must be a list of numbers, not %s", index, json_type(v));
    size_t n = (size_t)cJSON_GetArraySize(v);
    if (n % 2 || n == 0)
        return fail(e, "polygon %zu has %zu numbers, not pairs of x and y", index, n);
    p->xy = malloc(n * sizeof *p->xy);
    if (!p->xy)
        return fail(e, "out of memory");
    const cJSON *c;
    size_t i = 0;
    cJSON_ArrayForEach(c, v)
    {
        if (!cJSON_IsNumber(c) || !(fabs(c->valuedouble) <= 1e7))
            return fail(e, "polygon %zu: coordinate %zu is not a number within +-1e7", index, i);
        p->xy[i++] = c->valuedouble;
    }
    p->n = n / 2;
    return 0;
}

static int grow(void **v, size_t *n, size_t size, line_err *e)
{
    void *nv = realloc(*v, (*n + 1) * size);
    if (!nv)
        return fail(e, "out of memory");
    memset((char *)nv + *n * size, 0, size);
    *v = nv;
    (*n)++;
    return 0;
}

/* One mask object (one key: png, rle, polygons or union), added to the
 * sample's parts. */
static int parse_mask(const cJSON *v, const char *dir, rr_sample *s, line_err *e)
{
    rr_mask_ref *r = &s->mask;
    if (!cJSON_IsObject(v))
        return fail(e, "a mask must be an object, not %s", json_type(v));
    const cJSON *k = v->child;
    if (!k)
        return fail(e, "a mask object needs one of png, rle, polygons, union (null for no mask)");
    if (k->next)
        return fail(e, "a mask object has one key, not \"%s\" and \"%s\" (use union)", k->string,
                    k->next->string);
    if (strcmp(k->string, "png") == 0) {
        if (!cJSON_IsString(k) || !k->valuestring[0])
            return fail(e, "mask \"png\" must be a non-empty string");
        if (r->png)
            return fail(e, "a union holds two PNG masks");
        if (!(r->png = strdup(k->valuestring)) || !(r->png_path = join_path(dir, r->png)))
            return fail(e, "out of memory");
    } else if (strcmp(k->string, "rle") == 0) {
        if (grow((void **)&r->rles, &r->nrle, sizeof *r->rles, e))
            return -1;
        return parse_rle(k, s, &r->rles[r->nrle - 1], e);
    } else if (strcmp(k->string, "polygons") == 0) {
        if (!cJSON_IsArray(k) || !k->child)
            return fail(e, "mask \"polygons\" must be a non-empty list of polygons");
        const cJSON *item;
        cJSON_ArrayForEach(item, k)
        {
            if (grow((void **)&r->polys, &r->npoly, sizeof *r->polys, e) ||
                parse_polygon(item, r->npoly - 1, &r->polys[r->npoly - 1], e))
                return -1;
        }
    } else if (strcmp(k->string, "union") == 0) {
        if (!cJSON_IsArray(k) || !k->child)
            return fail(e, "mask \"union\" must be a non-empty list of masks");
        const cJSON *item;
        cJSON_ArrayForEach(item, k)
        {
            if (parse_mask(item, dir, s, e))
                return -1;
        }
    } else {
        return fail(e, "unknown mask key \"%s\" (png, rle, polygons or union)", k->string);
    }
    return 0;
}

static int parse_sample(const cJSON *o, const char *dir, rr_sample *s, line_err *e)
{
    if (!cJSON_IsObject(o))
        return fail(e, "a line must be a JSON object, not %s", json_type(o));
    char *type = NULL;
    if (get_string(o, "id", 1, &s->id, e) || get_string(o, "split", 1, &s->split, e) ||
        get_string(o, "image", 1, &s->image, e) || get_size(o, "width", &s->width, e) ||
        get_size(o, "height", &s->height, e) || get_string(o, "sentence", 1, &s->sentence, e) ||
        get_string(o, "lang", 1, &s->lang, e) || get_string(o, "type", 1, &type, e)) {
        free(type);
        return -1;
    }
    const cJSON *category = cJSON_GetObjectItemCaseSensitive(o, "category");
    if (!cJSON_IsNull(category) && get_string(o, "category", 0, &s->category, e)) {
        free(type);
        return -1;
    }
    int t = strcmp(type, "single") == 0  ? RR_TYPE_SINGLE
            : strcmp(type, "multi") == 0 ? RR_TYPE_MULTI
            : strcmp(type, "none") == 0  ? RR_TYPE_NONE
                                         : -1;
    if (t < 0) {
        fail(e, "unknown type \"%s\" (single, multi or none)", type);
        free(type);
        return -1;
    }
    free(type);
    s->type = (rr_sample_type)t;
    /* the size every mask of the sample is made at, whatever its form */
    long max_px = rr_image_max_pixels();
    if (max_px < 0)
        return fail(e, "%s", rr_errmsg());
    if ((long)s->width * s->height > max_px)
        return fail(e, "%dx%d is over the limit of %ld pixels an image may have (--max-pixels or RRSIS_MAX_PIXELS raises it)",
                    s->width, s->height, max_px);
    if (strchr(s->id, '/') || strcmp(s->id, ".") == 0 || strcmp(s->id, "..") == 0)
        return fail(e, "id \"%s\" cannot name a file (no '/', not \".\" or \"..\")", s->id);
    size_t k = 0;
    while (k < sizeof known_splits / sizeof *known_splits && strcmp(s->split, known_splits[k]) != 0)
        k++;
    if (k == sizeof known_splits / sizeof *known_splits)
        return fail(e, "unknown split \"%s\" (known: %s)", s->split, RR_SPLITS);
    if (!(s->image_path = join_path(dir, s->image)))
        return fail(e, "out of memory");
    const cJSON *mask = cJSON_GetObjectItemCaseSensitive(o, "mask");
    if (!mask)
        return fail(e, "missing \"mask\" (null when there is none)");
    if (!cJSON_IsNull(mask) && parse_mask(mask, dir, s, e))
        return -1;
    if (cJSON_IsNull(mask) && s->type != RR_TYPE_NONE)
        return fail(e, "a %s sample needs a mask, not null", rr_sample_type_name(s->type));
    return 0;
}

/* Checks and parses one line; 0 and *s filled, 1 for a blank line, -1
 * with e set. */
static int parse_line(const char *line, size_t len, const char *dir, rr_sample *s, line_err *e)
{
    memset(s, 0, sizeof *s);
    const char *nul = memchr(line, '\0', len);
    if (nul)
        return fail(e, "NUL byte at column %ld", (long)(nul - line) + 1);
    long bad = rr_utf8_invalid(line, len);
    if (bad >= 0)
        return fail(e, "invalid UTF-8 at column %ld", bad + 1);
    char what[32];
    if ((bad = rr_json_bad_escape(line, len, what)) >= 0)
        return fail(e, "%s at column %ld: not a character a string may hold", what, bad + 1);
    size_t i = 0;
    while (i < len && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r' || line[i] == '\n'))
        i++;
    if (i == len)
        return 1;
    const char *end = NULL;
    cJSON *o = cJSON_ParseWithLengthOpts(line, len, &end, 0);
    if (!o) {
        long col = end ? (long)(end - line) + 1 : 1;
        return fail(e, "malformed JSON at column %ld", col);
    }
    for (const char *p = end; p < line + len; p++)
        if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n') {
            cJSON_Delete(o);
            return fail(e, "text after the JSON object at column %ld", (long)(p - line) + 1);
        }
    int rc = parse_sample(o, dir, s, e);
    cJSON_Delete(o);
    if (rc)
        sample_free(s);
    return rc;
}

int rr_manifest_read_stream(FILE *in, const char *name, const char *dir, rr_manifest *m, rr_findings *f)
{
    memset(m, 0, sizeof *m);
    if (!(m->path = strdup(name)) || !(m->dir = strdup(dir)))
        return rr_error("%s: out of memory", name);
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long lineno = 0, bad = 0, first_line = 0;
    char first[MSG_MAX] = "";
    while ((len = rr_line_read(in, &line, &cap)) >= 0) {
        lineno++;
        rr_sample s;
        line_err e;
        int rc = parse_line(line, (size_t)len, dir, &s, &e);
        if (rc == 1)
            continue;
        if (rc < 0) {
            if (!bad++) {
                first_line = lineno;
                snprintf(first, sizeof first, "%s", e.msg);
            }
            if (!f)
                break;
            if (add_finding(f, lineno, e.msg)) {
                free(line);
                return -1;
            }
            continue;
        }
        if (m->n == m->cap) {
            size_t ncap = m->cap ? 2 * m->cap : 256;
            rr_sample *v = realloc(m->samples, ncap * sizeof *v);
            if (!v) {
                sample_free(&s);
                free(line);
                return rr_error("%s: out of memory", name);
            }
            m->samples = v;
            m->cap = ncap;
        }
        s.line = lineno;
        m->samples[m->n++] = s;
    }
    free(line);
    if (len == -2) /* a line too long (the input may never end), or a read error */
        return rr_error_prefix("%s:%ld: ", name, lineno + 1);
    if (bad > 1 && f)
        return rr_error("%s:%ld: %s (and %ld more bad lines)", name, first_line, first, bad - 1);
    if (bad)
        return rr_error("%s:%ld: %s", name, first_line, first);
    return 0;
}

int rr_manifest_read(const char *path, rr_manifest *m, rr_findings *f)
{
    if (strcmp(path, "-") == 0)
        return rr_manifest_read_stream(stdin, "-", ".", m, f);
    FILE *in = rr_file_open(path);
    if (!in) {
        memset(m, 0, sizeof *m);
        return -1;
    }
    /* a pipe with no folder (a shell's <(...), /dev/fd/N, which realpath
     * cannot resolve) is read like standard input */
    struct stat st;
    char *real = realpath(path, NULL);
    const char *slash = strrchr(path, '/');
    if (!real && fstat(fileno(in), &st) == 0 && S_ISFIFO(st.st_mode))
        slash = NULL;
    free(real);
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    if (!dir) {
        fclose(in);
        memset(m, 0, sizeof *m);
        return rr_error("%s: out of memory", path);
    }
    int rc = rr_manifest_read_stream(in, path, dir, m, f);
    free(dir);
    fclose(in);
    return rc;
}

/* ---- masks --------------------------------------------------------------- */

int rr_sample_mask(const rr_sample *s, rr_image *mask)
{
    const rr_mask_ref *r = &s->mask;
    memset(mask, 0, sizeof *mask);
    if (r->png) {
        if (rr_raster_mask_load(r->png_path, mask))
            return -1;
        if (mask->width != s->width || mask->height != s->height) {
            int w = mask->width, h = mask->height;
            rr_image_free(mask);
            return rr_error("mask %s is %dx%d but its image is %dx%d", r->png_path, w, h, s->width,
                            s->height);
        }
    } else if (rr_image_alloc(mask, s->width, s->height, 1)) {
        return -1;
    }
    for (size_t i = 0; i < r->nrle; i++)
        if (rr_rle_paint_rle(&r->rles[i], s->height, s->width, mask->data)) {
            rr_image_free(mask);
            return -1;
        }
    for (size_t i = 0; i < r->npoly; i++)
        if (rr_poly_paint(r->polys[i].xy, r->polys[i].n, s->height, s->width, mask->data)) {
            rr_image_free(mask);
            return -1;
        }
    return 0;
}

/* ---- checks -------------------------------------------------------------- */

#define SAMPLE_MSGS 4

typedef struct {
    char *msg[SAMPLE_MSGS];
    int n;
} sample_msgs;

static void note(sample_msgs *sm, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(sample_msgs *sm, const char *fmt, ...)
{
    if (sm->n == SAMPLE_MSGS)
        return;
    char buf[MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    sm->msg[sm->n] = strdup(buf);
    if (sm->msg[sm->n])
        sm->n++;
}

/* The image exists and has the manifest's size (RR_CHECK_IMAGES: decodes). */
static void check_image(const rr_sample *s, unsigned flags, sample_msgs *sm)
{
    int w, h;
    if (flags & RR_CHECK_IMAGES) {
        rr_image im;
        if (rr_image_load(s->image_path, RR_IMAGE_STORED, &im)) {
            note(sm, "image %s", rr_errmsg());
            return;
        }
        w = im.width;
        h = im.height;
        rr_image_free(&im);
    } else if (rr_image_info(s->image_path, &w, &h, NULL)) {
        note(sm, "image %s", rr_errmsg());
        return;
    }
    if (w != s->width || h != s->height)
        note(sm, "image %s is %dx%d but the manifest says %dx%d", s->image_path, w, h, s->width, s->height);
}

/* The mask is empty exactly for type "none" (RR_CHECK_MASKS), after its PNG
 * exists with the image's size (RR_CHECK_FILES). */
static void check_mask(const rr_sample *s, unsigned flags, sample_msgs *sm)
{
    int w, h;
    if ((flags & RR_CHECK_FILES) && s->mask.png) {
        if (rr_image_info(s->mask.png_path, &w, &h, NULL)) {
            note(sm, "mask %s", rr_errmsg());
            return;
        }
        if (w != s->width || h != s->height) {
            note(sm, "mask %s is %dx%d but its image is %dx%d", s->mask.png_path, w, h, s->width, s->height);
            return;
        }
    }
    if (!(flags & RR_CHECK_MASKS))
        return;
    rr_image mask;
    if (rr_sample_mask(s, &mask)) {
        note(sm, "%s", rr_errmsg());
        return;
    }
    size_t n = (size_t)mask.width * (size_t)mask.height, ones = 0;
    for (size_t i = 0; i < n; i++)
        ones += mask.data[i];
    rr_image_free(&mask);
    if (s->type == RR_TYPE_NONE && ones)
        note(sm, "a none sample's mask has %zu pixels", ones);
    else if (s->type != RR_TYPE_NONE && !ones)
        note(sm, "empty mask on a %s sample", rr_sample_type_name(s->type));
}

typedef struct {
    const char *id;
    size_t index;
} id_ref;

static int cmp_id(const void *a, const void *b)
{
    const id_ref *x = a, *y = b;
    int c = strcmp(x->id, y->id);
    return c ? c : (x->index > y->index) - (x->index < y->index);
}

long rr_manifest_check(const rr_manifest *m, unsigned flags, rr_findings *f)
{
    sample_msgs *sm = calloc(m->n ? m->n : 1, sizeof *sm);
    id_ref *ids = malloc((m->n ? m->n : 1) * sizeof *ids);
    if (!sm || !ids) {
        free(sm);
        free(ids);
        return rr_error("manifest check: out of memory");
    }
    for (size_t i = 0; i < m->n; i++)
        ids[i] = (id_ref){m->samples[i].id, i};
    qsort(ids, m->n, sizeof *ids, cmp_id);
    for (size_t i = 1, first = 0; i < m->n; i++) {
        if (strcmp(ids[first].id, ids[i].id) != 0)
            first = i;
        else
            note(&sm[ids[i].index], "duplicate id \"%s\" (first on line %ld)", ids[i].id,
                 m->samples[ids[first].index].line);
    }
    free(ids);
    if (flags & (RR_CHECK_FILES | RR_CHECK_MASKS | RR_CHECK_IMAGES)) {
#pragma omp parallel for schedule(dynamic, 16)
        for (size_t i = 0; i < m->n; i++) {
            if (flags & (RR_CHECK_FILES | RR_CHECK_IMAGES))
                check_image(&m->samples[i], flags, &sm[i]);
            check_mask(&m->samples[i], flags, &sm[i]);
        }
    }
    long found = 0;
    int oom = 0;
    for (size_t i = 0; i < m->n; i++) {
        for (int k = 0; k < sm[i].n; k++) {
            found++;
            if (f && !oom && add_finding(f, m->samples[i].line, sm[i].msg[k]))
                oom = 1;
            free(sm[i].msg[k]);
        }
    }
    free(sm);
    return oom ? -1 : found;
}

/* ---- writing ------------------------------------------------------------- */

static cJSON *rle_json(const rr_rle *r)
{
    cJSON *o = cJSON_CreateObject(), *size = cJSON_CreateArray(), *counts;
    if (r->counts_str) {
        counts = cJSON_CreateString(r->counts_str);
    } else {
        counts = cJSON_CreateArray();
        for (size_t i = 0; counts && i < r->n; i++)
            if (!cJSON_AddItemToArray(counts, cJSON_CreateNumber(r->counts[i])))
                break;
    }
    int ok = o && size && counts && cJSON_AddItemToArray(size, cJSON_CreateNumber(r->h)) &&
             cJSON_AddItemToArray(size, cJSON_CreateNumber(r->w)) && cJSON_GetArraySize(size) == 2 &&
             cJSON_AddItemToObject(o, "size", size);
    if (!ok) {
        cJSON_Delete(o);
        cJSON_Delete(size);
        cJSON_Delete(counts);
        return NULL;
    }
    if (!cJSON_AddItemToObject(o, "counts", counts)) {
        cJSON_Delete(o);
        cJSON_Delete(counts);
        return NULL;
    }
    return o;
}

/* {"key": item}, or NULL (item freed) when out of memory. */
static cJSON *wrap(const char *key, cJSON *item)
{
    cJSON *o = item ? cJSON_CreateObject() : NULL;
    if (!o || !cJSON_AddItemToObject(o, key, item)) {
        cJSON_Delete(o);
        cJSON_Delete(item);
        return NULL;
    }
    return o;
}

static cJSON *polygons_json(const rr_mask_ref *r)
{
    cJSON *list = cJSON_CreateArray();
    for (size_t i = 0; list && i < r->npoly; i++) {
        cJSON *p = cJSON_CreateDoubleArray(r->polys[i].xy, (int)(2 * r->polys[i].n));
        if (!p || !cJSON_AddItemToArray(list, p)) {
            cJSON_Delete(p);
            cJSON_Delete(list);
            return NULL;
        }
    }
    return list;
}

/* null, one {"png"}, {"polygons"} (all polygons) or {"rle"} object, or
 * {"union": [those]} when there are several. */
static cJSON *mask_json(const rr_mask_ref *r)
{
    size_t parts = (r->png != NULL) + (r->npoly > 0) + r->nrle, k = 0;
    if (parts == 0)
        return cJSON_CreateNull();
    cJSON **part = calloc(parts, sizeof *part);
    if (!part)
        return NULL;
    if (r->png)
        part[k++] = wrap("png", cJSON_CreateString(r->png));
    if (r->npoly)
        part[k++] = wrap("polygons", polygons_json(r));
    for (size_t i = 0; i < r->nrle; i++)
        part[k++] = wrap("rle", rle_json(&r->rles[i]));
    cJSON *out = parts == 1 ? part[0] : cJSON_CreateArray();
    int ok = out != NULL;
    for (k = 0; k < parts; k++) {
        ok = ok && part[k];
        if (parts > 1 && (!ok || !cJSON_AddItemToArray(out, part[k]))) {
            ok = 0;
            cJSON_Delete(part[k]);
        }
    }
    free(part);
    if (parts > 1 && ok)
        return wrap("union", out);
    if (!ok) {
        cJSON_Delete(out);
        return NULL;
    }
    return out;
}

int rr_sample_write(FILE *out, const rr_sample *s)
{
    cJSON *o = cJSON_CreateObject(), *mask = mask_json(&s->mask);
    int ok =
        o && mask && cJSON_AddStringToObject(o, "id", s->id) &&
        cJSON_AddStringToObject(o, "split", s->split) && cJSON_AddStringToObject(o, "image", s->image) &&
        cJSON_AddNumberToObject(o, "width", s->width) && cJSON_AddNumberToObject(o, "height", s->height) &&
        cJSON_AddStringToObject(o, "sentence", s->sentence) && cJSON_AddStringToObject(o, "lang", s->lang) &&
        cJSON_AddStringToObject(o, "type", rr_sample_type_name(s->type)) &&
        (s->category ? cJSON_AddStringToObject(o, "category", s->category)
                     : cJSON_AddNullToObject(o, "category"));
    if (!ok || !cJSON_AddItemToObject(o, "mask", mask)) {
        cJSON_Delete(o);
        cJSON_Delete(mask);
        return rr_error("manifest: cannot build sample \"%s\" (a NULL field or out of memory)",
                        s->id ? s->id : "");
    }
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!text)
        return rr_error("manifest: out of memory");
    int rc = fputs(text, out) < 0 || fputc('\n', out) == EOF ? rr_error("manifest: %s", strerror(errno)) : 0;
    free(text);
    return rc;
}

int rr_manifest_write(const char *path, const rr_manifest *m)
{
    FILE *out = fopen(path, "w");
    if (!out)
        return rr_error("%s: %s", path, strerror(errno));
    struct stat st; /* only a regular file is removed after a failure */
    int regular = fstat(fileno(out), &st) == 0 && S_ISREG(st.st_mode);
    int rc = 0;
    for (size_t i = 0; i < m->n && rc == 0; i++)
        rc = rr_sample_write(out, &m->samples[i]);
    if (fclose(out) != 0 && rc == 0)
        rc = rr_error("manifest: %s", strerror(errno));
    if (rc) {
        if (regular)
            unlink(path);
        return rr_error_prefix("%s: ", path);
    }
    return 0;
}

/* ---- counts -------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int rr_manifest_count(const rr_manifest *m, rr_field field, rr_counts *out)
{
    memset(out, 0, sizeof *out);
    if (m->n == 0)
        return 0;
    const char **keys = malloc(m->n * sizeof *keys);
    out->v = malloc(m->n * sizeof *out->v);
    if (!keys || !out->v) {
        free(keys);
        free(out->v);
        out->v = NULL;
        return rr_error("manifest: out of memory");
    }
    for (size_t i = 0; i < m->n; i++) {
        const rr_sample *s = &m->samples[i];
        keys[i] = field == RR_FIELD_SPLIT      ? s->split
                  : field == RR_FIELD_TYPE     ? rr_sample_type_name(s->type)
                  : field == RR_FIELD_CATEGORY ? (s->category ? s->category : "")
                                               : s->lang;
    }
    qsort(keys, m->n, sizeof *keys, cmp_str);
    for (size_t i = 0; i < m->n; i++) {
        if (out->n && strcmp(out->v[out->n - 1].key, keys[i]) == 0)
            out->v[out->n - 1].n++;
        else
            out->v[out->n++] = (rr_count){keys[i], 1};
    }
    free(keys);
    return 0;
}

void rr_counts_free(rr_counts *c)
{
    if (!c)
        return;
    free(c->v);
    memset(c, 0, sizeof *c);
}
