#include "report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "../error.h"

#ifndef RR_VERSION
#define RR_VERSION "unknown"
#endif

static const char *const by_names[] = {"type", "category", "lang"};
static const char *const type_names[] = {"single", "multi", "none"};

/* ---- numbers and strings ------------------------------------------------- */

/* The fewest significant digits (15 to 17) that read back as v. */
static void json_num(FILE *out, double v)
{
    if (!isfinite(v)) {
        fputs("null", out);
        return;
    }
    char buf[40];
    for (int p = 15; p <= 17; p++) {
        snprintf(buf, sizeof buf, "%.*g", p, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    fputs(buf, out);
}

static void json_str(FILE *out, const char *s)
{
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(out, "\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", out);
        else if (*p == '\t')
            fputs("\\t", out);
        else if (*p < 0x20 || *p == 0x7f)
            fprintf(out, "\\u%04x", *p);
        else
            fputc(*p, out);
    }
    fputc('"', out);
}

static void json_str_or_null(FILE *out, const char *s)
{
    if (s)
        json_str(out, s);
    else
        fputs("null", out);
}

/* A percentage with 2 decimals, or `undefined`. */
static char *pct(double v, const char *undefined)
{
    char buf[32];
    if (isfinite(v))
        snprintf(buf, sizeof buf, "%.2f", v);
    else
        snprintf(buf, sizeof buf, "%s", undefined);
    return strdup(buf);
}

static char *num(long v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%ld", v);
    return strdup(buf);
}

/* Columns a UTF-8 string takes on a terminal. */
static size_t width(const char *s)
{
    size_t w = 0, n = strlen(s);
    const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)s;
    while (n) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate(p, (utf8proc_ssize_t)n, &cp);
        if (k <= 0) {
            w++;
            k = 1;
        } else {
            int cw = utf8proc_charwidth(cp);
            w += cw > 0 ? (size_t)cw : 0;
        }
        p += k;
        n -= (size_t)k;
    }
    return w;
}

/* s, then spaces up to w columns (left) or the other way round. */
static void pad(FILE *out, const char *s, size_t w, int right)
{
    size_t n = width(s);
    if (right)
        for (; n < w; n++)
            fputc(' ', out);
    fputs(s, out);
    if (!right)
        for (; n < w; n++)
            fputc(' ', out);
}

/* ---- groups -------------------------------------------------------------- */

typedef struct {
    const char *by;  /* "all", "type", "category", "lang" */
    const char *key; /* the value */
    size_t *idx;     /* into the score's arrays; NULL: all */
    size_t n;
    rr_rmsin_metrics r;
    rr_gres_metrics g;
} group;

typedef struct {
    group *v;
    size_t n, cap;
    size_t *pool; /* the indices of every breakdown, one block each */
} groups;

static const char *sample_key(const rr_sample *sm, int by)
{
    switch (by) {
    case 0: return type_names[sm->type];
    case 1: return sm->category ? sm->category : "";
    default: return sm->lang;
    }
}

static int add_group(groups *gs, const char *by, const char *key, size_t *idx, size_t n)
{
    if (gs->n == gs->cap) {
        size_t cap = gs->cap ? 2 * gs->cap : 16;
        group *v = realloc(gs->v, cap * sizeof *v);
        if (!v)
            return rr_error("report: out of memory");
        gs->v = v;
        gs->cap = cap;
    }
    gs->v[gs->n++] = (group){.by = by, .key = key, .idx = idx, .n = n};
    return 0;
}

/* For sorting the samples by a key, then by position. */
static const rr_score *sort_score;
static int sort_by;
static int cmp_key(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    int c = strcmp(sample_key(rr_score_sample(sort_score, x), sort_by),
                   sample_key(rr_score_sample(sort_score, y), sort_by));
    return c ? c : (x > y) - (x < y);
}

static void groups_free(groups *gs)
{
    free(gs->v);
    free(gs->pool);
    memset(gs, 0, sizeof *gs);
}

static int groups_build(groups *gs, const rr_score *s, unsigned by, unsigned protocols)
{
    memset(gs, 0, sizeof *gs);
    int nby = 0;
    for (int b = 0; b < 3; b++)
        nby += (by >> b) & 1;
    if (nby && !(gs->pool = malloc((size_t)nby * s->n * sizeof *gs->pool)))
        return rr_error("report: out of memory");
    if (add_group(gs, "all", "all", NULL, s->n))
        return -1;
    size_t *block = gs->pool;
    for (int b = 0; b < 3; b++) {
        if (!((by >> b) & 1))
            continue;
        for (size_t k = 0; k < s->n; k++)
            block[k] = k;
        if (b == 0) {
            /* single, multi, none: all three, in that order */
            size_t at = 0;
            for (int t = 0; t < 3; t++) {
                size_t start = at;
                for (size_t k = 0; k < s->n; k++)
                    if ((int)rr_score_sample(s, k)->type == t)
                        block[at++] = k;
                if (add_group(gs, by_names[b], type_names[t], block + start, at - start))
                    return -1;
            }
        } else {
            sort_score = s;
            sort_by = b;
            qsort(block, s->n, sizeof *block, cmp_key);
            for (size_t k = 0; k < s->n;) {
                const char *key = sample_key(rr_score_sample(s, block[k]), b);
                size_t e = k;
                while (e < s->n && strcmp(sample_key(rr_score_sample(s, block[e]), b), key) == 0)
                    e++;
                if (add_group(gs, by_names[b], key, block + k, e - k))
                    return -1;
                k = e;
            }
        }
        block += s->n;
    }
    for (size_t i = 0; i < gs->n; i++) {
        group *g = &gs->v[i];
        if ((protocols & RR_PROTOCOL_RMSIN) && rr_rmsin_compute(s->iou, g->idx, g->n, &g->r))
            return -1;
        if (protocols & RR_PROTOCOL_GRES)
            rr_gres_compute(s->iou, g->idx, g->n, &g->g);
    }
    return 0;
}

/* ---- tables -------------------------------------------------------------- */

typedef struct {
    int ncol;
    const char *const *head;
    char **cell; /* rows x ncol, malloc'd strings */
    size_t rows;
} table;

static const char *const rmsin_head[] = {"group", "samples", "P@0.5", "P@0.6", "P@0.7", "P@0.8", "P@0.9",
                                         "oIoU", "mIoU"};
static const char *const gres_head[] = {"group", "samples", "no-target", "P@0.5", "P@0.6", "P@0.7", "P@0.8",
                                        "P@0.9", "cIoU", "gIoU", "N-acc", "T-acc"};

static char *label(const group *g, int md)
{
    if (strcmp(g->by, "all") == 0)
        return strdup("all");
    const char *key = *g->key ? g->key : "(null)";
    size_t n = strlen(g->by) + 2 * strlen(key) + 2;
    char *s = malloc(n), *p = s;
    if (!s)
        return NULL;
    p += sprintf(p, "%s=", g->by);
    for (const char *k = key; *k; k++) {
        if (md && *k == '|')
            *p++ = '\\';
        *p++ = *k;
    }
    *p = 0;
    return s;
}

static int table_build(table *t, const groups *gs, int protocol, int md)
{
    const char *undef = "-";
    memset(t, 0, sizeof *t);
    if (protocol == RR_PROTOCOL_RMSIN) {
        t->ncol = 9;
        t->head = rmsin_head;
    } else {
        t->ncol = 12;
        t->head = gres_head;
    }
    t->rows = gs->n;
    t->cell = calloc(gs->n * (size_t)t->ncol, sizeof *t->cell);
    if (!t->cell)
        return rr_error("report: out of memory");
    for (size_t i = 0; i < gs->n; i++) {
        const group *g = &gs->v[i];
        char **c = t->cell + i * (size_t)t->ncol;
        int k = 0;
        c[k++] = label(g, md);
        c[k++] = num((long)g->n);
        if (protocol == RR_PROTOCOL_RMSIN) {
            for (int j = 0; j < RR_NTHRESH; j++)
                c[k++] = pct(g->r.prec[j], undef);
            c[k++] = pct(g->r.oiou, undef);
            c[k++] = pct(g->r.miou, undef);
        } else {
            c[k++] = num(g->g.no_target);
            for (int j = 0; j < RR_NTHRESH; j++)
                c[k++] = pct(g->g.prec[j], undef);
            c[k++] = pct(g->g.ciou, undef);
            c[k++] = pct(g->g.giou, undef);
            c[k++] = pct(g->g.nacc, undef);
            c[k++] = pct(g->g.tacc, undef);
        }
        for (int j = 0; j < k; j++)
            if (!c[j])
                return rr_error("report: out of memory");
    }
    return 0;
}

static void table_free(table *t)
{
    for (size_t i = 0; t->cell && i < t->rows * (size_t)t->ncol; i++)
        free(t->cell[i]);
    free(t->cell);
    memset(t, 0, sizeof *t);
}

static void table_text(FILE *out, const table *t)
{
    size_t w[t->ncol];
    for (int j = 0; j < t->ncol; j++) {
        w[j] = width(t->head[j]);
        for (size_t i = 0; i < t->rows; i++) {
            size_t n = width(t->cell[i * (size_t)t->ncol + (size_t)j]);
            w[j] = n > w[j] ? n : w[j];
        }
    }
    for (size_t i = 0; i <= t->rows; i++) {
        for (int j = 0; j < t->ncol; j++) {
            const char *c = i ? t->cell[(i - 1) * (size_t)t->ncol + (size_t)j] : t->head[j];
            if (j)
                fputs("  ", out);
            pad(out, c, w[j], j != 0);
        }
        fputc('\n', out);
    }
}

static void table_md(FILE *out, const table *t)
{
    for (int j = 0; j < t->ncol; j++)
        fprintf(out, "| %s ", t->head[j]);
    fputs("|\n", out);
    for (int j = 0; j < t->ncol; j++)
        fputs(j ? "| --: " : "| :-- ", out);
    fputs("|\n", out);
    for (size_t i = 0; i < t->rows; i++) {
        for (int j = 0; j < t->ncol; j++)
            fprintf(out, "| %s ", t->cell[i * (size_t)t->ncol + (size_t)j]);
        fputs("|\n", out);
    }
}

static const char *protocol_title(int protocol)
{
    return protocol == RR_PROTOCOL_RMSIN
               ? "RMSIN/LAVT test.py: IoU 0 when prediction and ground truth are both empty"
               : "GRES generalized metrics (ReLA): an empty prediction on a no-target sample scores IoU 1; "
                 "P@ over targeted samples";
}

static void resolution_str(const rr_score *s, char *buf, size_t n)
{
    if (s->opts.side)
        snprintf(buf, n, "%d", s->opts.side);
    else
        snprintf(buf, n, "native");
}

static int write_tables(FILE *out, const rr_score *s, const rr_report_opts *o, const groups *gs)
{
    int md = o->format == RR_FORMAT_MD;
    char res[16];
    resolution_str(s, res, sizeof res);
    if (md)
        fprintf(out, "Ground truth `%s`%s%s%s, predictions `%s`, resolution %s, %zu samples", o->gt,
                s->opts.split ? " (split " : "", s->opts.split ? s->opts.split : "", s->opts.split ? ")" : "",
                o->pred, res, s->n);
    else
        fprintf(out, "ground truth %s%s%s%s, predictions %s, resolution %s, %zu samples", o->gt,
                s->opts.split ? " (split " : "", s->opts.split ? s->opts.split : "", s->opts.split ? ")" : "",
                o->pred, res, s->n);
    if (s->missing)
        fprintf(out, ", %ld missing predictions scored as empty", s->missing);
    fputc('\n', out);
    for (int p = RR_PROTOCOL_RMSIN; p <= RR_PROTOCOL_GRES; p <<= 1) {
        if (!(o->protocols & p))
            continue;
        const char *name = p == RR_PROTOCOL_RMSIN ? "rmsin" : "gres";
        table t;
        if (table_build(&t, gs, p, md)) {
            table_free(&t);
            return -1;
        }
        if (md) {
            fprintf(out, "\n**Protocol %s**: %s\n\n", name, protocol_title(p));
            table_md(out, &t);
        } else {
            fprintf(out, "\nprotocol %s: %s\n", name, protocol_title(p));
            table_text(out, &t);
        }
        table_free(&t);
    }
    return 0;
}

static void csv_field(FILE *out, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, out);
        return;
    }
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', out);
        fputc(*s, out);
    }
    fputc('"', out);
}

static void csv_pct(FILE *out, double v)
{
    fputc(',', out);
    if (isfinite(v))
        fprintf(out, "%.2f", v);
}

static void write_csv(FILE *out, const rr_score *s, const rr_report_opts *o, const groups *gs)
{
    char res[16];
    resolution_str(s, res, sizeof res);
    fputs("protocol,resolution,breakdown,group,samples,no_target,p50,p60,p70,p80,p90,oiou,miou,ciou,giou,nacc,"
          "tacc\n",
          out);
    for (int p = RR_PROTOCOL_RMSIN; p <= RR_PROTOCOL_GRES; p <<= 1) {
        if (!(o->protocols & p))
            continue;
        for (size_t i = 0; i < gs->n; i++) {
            const group *g = &gs->v[i];
            fprintf(out, "%s,%s,%s,", p == RR_PROTOCOL_RMSIN ? "rmsin" : "gres", res, g->by);
            csv_field(out, g->key);
            if (p == RR_PROTOCOL_RMSIN) {
                fprintf(out, ",%zu,%ld", g->n, g->r.no_target);
                for (int j = 0; j < RR_NTHRESH; j++)
                    csv_pct(out, g->r.prec[j]);
                csv_pct(out, g->r.oiou);
                csv_pct(out, g->r.miou);
                fputs(",,,,\n", out);
            } else {
                fprintf(out, ",%zu,%ld", g->n, g->g.no_target);
                for (int j = 0; j < RR_NTHRESH; j++)
                    csv_pct(out, g->g.prec[j]);
                fputs(",,", out);
                csv_pct(out, g->g.ciou);
                csv_pct(out, g->g.giou);
                csv_pct(out, g->g.nacc);
                csv_pct(out, g->g.tacc);
                fputc('\n', out);
            }
        }
    }
}

/* ---- JSON ---------------------------------------------------------------- */

static const char *const pkeys[RR_NTHRESH] = {"p50", "p60", "p70", "p80", "p90"};

static void json_group(FILE *out, const group *g, int protocol)
{
    fputs("{", out);
    if (protocol == RR_PROTOCOL_RMSIN) {
        const rr_rmsin_metrics *r = &g->r;
        fprintf(out, "\"samples\": %ld, \"no_target\": %ld, \"cum_i\": %lld, \"cum_u\": %lld", r->n, r->no_target,
                (long long)r->cum_i, (long long)r->cum_u);
        for (int j = 0; j < RR_NTHRESH; j++) {
            fprintf(out, ", \"%s\": ", pkeys[j]);
            json_num(out, r->prec[j]);
        }
        fputs(", \"oiou\": ", out);
        json_num(out, r->oiou);
        fputs(", \"miou\": ", out);
        json_num(out, r->miou);
    } else {
        const rr_gres_metrics *r = &g->g;
        fprintf(out,
                "\"samples\": %ld, \"targeted\": %ld, \"no_target\": %ld, \"tp\": %ld, \"fn\": %ld, \"fp\": %ld, "
                "\"tn\": %ld, \"cum_i\": %lld, \"cum_u\": %lld",
                r->n, r->targeted, r->no_target, r->tp, r->fn, r->fp, r->tn, (long long)r->cum_i,
                (long long)r->cum_u);
        for (int j = 0; j < RR_NTHRESH; j++) {
            fprintf(out, ", \"%s\": ", pkeys[j]);
            json_num(out, r->prec[j]);
        }
        const char *k[] = {"ciou", "giou", "nacc", "tacc"};
        double v[] = {r->ciou, r->giou, r->nacc, r->tacc};
        for (int j = 0; j < 4; j++) {
            fprintf(out, ", \"%s\": ", k[j]);
            json_num(out, v[j]);
        }
    }
    fputs("}", out);
}

static void write_json(FILE *out, const rr_score *s, const rr_report_opts *o, const groups *gs)
{
    char res[16];
    resolution_str(s, res, sizeof res);
    fputs("{\n  \"program\": \"rrsis-score\",\n  \"version\": ", out);
    json_str(out, RR_VERSION);
    fputs(",\n  \"gt\": ", out);
    json_str(out, o->gt);
    fputs(",\n  \"pred\": ", out);
    json_str(out, o->pred);
    fputs(",\n  \"split\": ", out);
    json_str_or_null(out, s->opts.split);
    fputs(",\n  \"resolution\": ", out);
    json_str(out, res);
    fprintf(out, ",\n  \"samples\": %zu,\n  \"missing\": %ld,\n  \"protocols\": [", s->n, s->missing);
    int first = 1;
    for (int p = RR_PROTOCOL_RMSIN; p <= RR_PROTOCOL_GRES; p <<= 1)
        if (o->protocols & p) {
            fprintf(out, "%s\"%s\"", first ? "" : ", ", p == RR_PROTOCOL_RMSIN ? "rmsin" : "gres");
            first = 0;
        }
    fputs("]", out);
    for (int p = RR_PROTOCOL_RMSIN; p <= RR_PROTOCOL_GRES; p <<= 1) {
        if (!(o->protocols & p))
            continue;
        fprintf(out, ",\n  \"%s\": {\n    \"all\": ", p == RR_PROTOCOL_RMSIN ? "rmsin" : "gres");
        json_group(out, &gs->v[0], p);
        fputs(",\n    \"by\": {", out);
        const char *open = NULL;
        for (size_t i = 1; i < gs->n; i++) {
            const group *g = &gs->v[i];
            if (!open || strcmp(open, g->by) != 0) {
                fprintf(out, "%s\n      \"%s\": {", open ? "\n      }," : "", g->by);
                open = g->by;
            } else {
                fputc(',', out);
            }
            fputs("\n        ", out);
            json_str(out, g->key);
            fputs(": ", out);
            json_group(out, g, p);
        }
        fputs(open ? "\n      }\n    }\n  }" : "}\n  }", out);
    }
    fputs("\n}\n", out);
}

int rr_report_write(FILE *out, const rr_score *s, const rr_report_opts *o)
{
    groups gs;
    int rc = groups_build(&gs, s, o->by, o->protocols);
    if (rc == 0) {
        switch (o->format) {
        case RR_FORMAT_TEXT:
        case RR_FORMAT_MD: rc = write_tables(out, s, o, &gs); break;
        case RR_FORMAT_CSV: write_csv(out, s, o, &gs); break;
        case RR_FORMAT_JSON: write_json(out, s, o, &gs); break;
        }
    }
    groups_free(&gs);
    return rc;
}

void rr_report_samples(FILE *out, const rr_score *s)
{
    for (size_t k = 0; k < s->n; k++) {
        const rr_sample *sm = rr_score_sample(s, k);
        const rr_iou *u = &s->iou[k];
        fputs("{\"id\": ", out);
        json_str(out, sm->id);
        fputs(", \"split\": ", out);
        json_str(out, sm->split);
        fprintf(out, ", \"type\": \"%s\", \"category\": ", type_names[sm->type]);
        json_str_or_null(out, sm->category);
        fputs(", \"lang\": ", out);
        json_str(out, sm->lang);
        fprintf(out, ", \"missing\": %s, \"pred\": %lld, \"gt\": %lld, \"i\": %lld, \"u\": %lld, \"iou_rmsin\": ",
                s->seen[k] == 2 ? "true" : "false", (long long)u->pred, (long long)u->gt, (long long)u->inter,
                (long long)u->uni);
        json_num(out, rr_iou_rmsin(u));
        fputs(", \"iou_gres\": ", out);
        json_num(out, rr_iou_gres(u));
        fprintf(out, ", \"gres\": \"%s\"}\n", rr_gres_outcome_name(rr_gres_classify(u)));
    }
}

/* ---- comparison tables ------------------------------------------------------ */

/* A value as printed (2 decimals), for finding the best of a column: values
 * that print the same are equally best. */
static double printed(double v) { return round(v * 100) / 100; }

/* best[c]: the highest printed value of column c, NaN when it has none. */
static void column_best(const rr_cmp_table *t, double *best)
{
    for (size_t c = 0; c < t->ncols; c++) {
        best[c] = NAN;
        for (size_t r = 0; r < t->nrows; r++) {
            double v = t->v[r * t->ncols + c];
            if (isfinite(v) && !(printed(v) <= best[c]))
                best[c] = printed(v);
        }
    }
}

static int is_best(const rr_cmp_table *t, const double *best, size_t r, size_t c)
{
    double v = t->v[r * t->ncols + c];
    return isfinite(v) && printed(v) == best[c];
}

/* A column's heading: its keys' headings joined by spaces ("P@0.7 val"). */
static char *col_heading(const rr_cmp_table *t, size_t c)
{
    size_t n = 1;
    for (int k = 0; k < t->nckey; k++)
        n += strlen(rr_cmp_heading(t, t->ckey[k], t->col[c * (size_t)t->nckey + (size_t)k])) + 1;
    char *s = malloc(n);
    if (!s)
        return NULL;
    *s = 0;
    for (int k = 0; k < t->nckey; k++) {
        if (k)
            strcat(s, " ");
        strcat(s, rr_cmp_heading(t, t->ckey[k], t->col[c * (size_t)t->nckey + (size_t)k]));
    }
    return s;
}

static char *bold(char *s)
{
    if (!s)
        return NULL;
    char *b = malloc(strlen(s) + 5);
    if (b)
        sprintf(b, "**%s**", s);
    free(s);
    return b;
}

/* Text, Markdown or CSV: one column per row key, then the table's columns. */
static int compare_table(FILE *out, rr_report_format format, const rr_cmp_table *t, const double *best,
                         int bold_best)
{
    size_t nk = (size_t)t->nrkey, ncol = nk + t->ncols;
    const char **head = calloc(ncol, sizeof *head);
    table tb = {.ncol = (int)ncol, .head = head, .rows = t->nrows};
    tb.cell = calloc(t->nrows * ncol + 1, sizeof *tb.cell);
    int rc = head && tb.cell ? 0 : rr_error("report: out of memory");
    for (size_t k = 0; !rc && k < nk; k++)
        head[k] = rr_cmp_key_name(t->rkey[k]);
    for (size_t c = 0; !rc && c < t->ncols; c++)
        if (!(head[nk + c] = col_heading(t, c)))
            rc = rr_error("report: out of memory");
    for (size_t r = 0; !rc && r < t->nrows; r++) {
        char **row = tb.cell + r * ncol;
        for (size_t k = 0; k < nk; k++)
            row[k] = strdup(rr_cmp_heading(t, t->rkey[k], t->row[r * nk + k]));
        for (size_t c = 0; c < t->ncols; c++) {
            double v = t->v[r * t->ncols + c];
            row[nk + c] = pct(v, format == RR_FORMAT_CSV ? "" : "-");
            if (bold_best && format == RR_FORMAT_MD && is_best(t, best, r, c))
                row[nk + c] = bold(row[nk + c]);
        }
        for (size_t j = 0; j < ncol; j++)
            if (!row[j])
                rc = rr_error("report: out of memory");
    }
    if (!rc) {
        if (format == RR_FORMAT_TEXT) {
            table_text(out, &tb);
        } else if (format == RR_FORMAT_MD) {
            table_md(out, &tb);
        } else {
            for (size_t i = 0; i <= t->nrows; i++)
                for (size_t j = 0; j < ncol; j++) {
                    csv_field(out, i ? tb.cell[(i - 1) * ncol + j] : head[j]);
                    fputc(j + 1 < ncol ? ',' : '\n', out);
                }
        }
    }
    for (size_t c = 0; head && c < t->ncols; c++)
        free((char *)head[nk + c]);
    free(head);
    table_free(&tb);
    return rc;
}

static void json_keys(FILE *out, const int *keys, int nkeys, const char *const *values)
{
    fputc('{', out);
    for (int k = 0; k < nkeys; k++) {
        fprintf(out, "%s\"%s\": ", k ? ", " : "", rr_cmp_key_name(keys[k]));
        json_str(out, values[k]);
    }
    fputc('}', out);
}

static void compare_json(FILE *out, const rr_cmp_table *t, const double *best)
{
    fputs("{\n  \"program\": \"rrsis-score\",\n  \"version\": ", out);
    json_str(out, RR_VERSION);
    fprintf(out, ",\n  \"protocol\": \"%s\",\n  \"resolution\": ", t->protocol == RR_PROTOCOL_RMSIN ? "rmsin" : "gres");
    json_str(out, t->resolution);
    fputs(",\n  \"files\": [", out);
    for (size_t i = 0; i < t->nfiles; i++) {
        fputs(i ? ",\n    {\"file\": " : "\n    {\"file\": ", out);
        json_str(out, t->file[i]);
        fputs(", \"run\": ", out);
        json_str(out, t->file_run[i]);
        fputs(", \"set\": ", out);
        json_str(out, t->file_set[i]);
        fprintf(out, ", \"samples\": %ld}", t->file_samples[i]);
    }
    fputs("\n  ],\n  \"rows\": [", out);
    for (size_t r = 0; r < t->nrows; r++) {
        fputs(r ? ",\n    " : "\n    ", out);
        json_keys(out, t->rkey, t->nrkey, t->row + r * (size_t)t->nrkey);
    }
    fputs("\n  ],\n  \"columns\": [", out);
    for (size_t c = 0; c < t->ncols; c++) {
        fputs(c ? ",\n    " : "\n    ", out);
        json_keys(out, t->ckey, t->nckey, t->col + c * (size_t)t->nckey);
    }
    for (int part = 0; part < 2; part++) {
        fprintf(out, "\n  ],\n  \"%s\": [", part ? "best" : "cells");
        for (size_t r = 0; r < t->nrows; r++) {
            fputs(r ? ",\n    [" : "\n    [", out);
            for (size_t c = 0; c < t->ncols; c++) {
                if (c)
                    fputs(", ", out);
                if (part)
                    fputs(is_best(t, best, r, c) ? "true" : "false", out);
                else
                    json_num(out, t->v[r * t->ncols + c]);
            }
            fputc(']', out);
        }
    }
    fputs("\n  ]\n}\n", out);
}

int rr_report_compare(FILE *out, rr_report_format format, const rr_cmp_table *t, int bold_best)
{
    double *best = malloc(t->ncols * sizeof *best + 1);
    if (!best)
        return rr_error("report: out of memory");
    column_best(t, best);
    int rc = 0;
    if (format == RR_FORMAT_JSON)
        compare_json(out, t, best);
    else
        rc = compare_table(out, format, t, best, bold_best);
    free(best);
    return rc;
}

/* ---- the manifest check -------------------------------------------------- */

static const char *const level_names[] = {"files", "masks", "images"};

int rr_report_check(FILE *out, rr_report_format format, const char *path, rr_check_level level,
                    const rr_manifest *m, const rr_findings *f)
{
    static const rr_field fields[] = {RR_FIELD_SPLIT, RR_FIELD_TYPE, RR_FIELD_CATEGORY, RR_FIELD_LANG};
    static const char *const field_names[] = {"split", "type", "category", "lang"};
    rr_counts c[4] = {{0}};
    long types[3] = {0};
    for (size_t i = 0; i < m->n; i++)
        types[m->samples[i].type]++;
    for (int j = 0; j < 4; j++)
        if (j != 1 && rr_manifest_count(m, fields[j], &c[j])) {
            for (int i = 0; i < 4; i++)
                rr_counts_free(&c[i]);
            return -1;
        }
    if (format == RR_FORMAT_JSON) {
        fputs("{\n  \"manifest\": ", out);
        json_str(out, path);
        fprintf(out, ",\n  \"level\": \"%s\",\n  \"samples\": %zu,\n  \"findings\": [", level_names[level], m->n);
        for (size_t i = 0; i < f->n; i++) {
            fprintf(out, "%s\n    {\"line\": %ld, \"message\": ", i ? "," : "", f->v[i].line);
            json_str(out, f->v[i].msg);
            fputs("}", out);
        }
        fputs(f->n ? "\n  ],\n  \"counts\": {" : "],\n  \"counts\": {", out);
        for (int j = 0; j < 4; j++) {
            fprintf(out, "%s\n    \"%s\": {", j ? "," : "", field_names[j]);
            if (j == 1) {
                fprintf(out, "\"single\": %ld, \"multi\": %ld, \"none\": %ld}", types[0], types[1], types[2]);
                continue;
            }
            for (size_t i = 0; i < c[j].n; i++) {
                fputs(i ? ", " : "", out);
                json_str(out, c[j].v[i].key);
                fprintf(out, ": %ld", c[j].v[i].n);
            }
            fputs("}", out);
        }
        fputs("\n  }\n}\n", out);
    } else {
        for (size_t i = 0; i < f->n; i++) {
            if (f->v[i].line > 0)
                fprintf(out, "%s:%ld: %s\n", path, f->v[i].line, f->v[i].msg);
            else
                fprintf(out, "%s: %s\n", path, f->v[i].msg);
        }
        fprintf(out, "%s: %zu samples, %zu finding%s (level %s)\n", path, m->n, f->n, f->n == 1 ? "" : "s",
                level_names[level]);
        for (int j = 0; j < 4; j++) {
            size_t w = width(field_names[j]);
            size_t n = j == 1 ? 3 : c[j].n;
            for (size_t i = 0; i < n; i++) {
                const char *k = j == 1 ? type_names[i] : *c[j].v[i].key ? c[j].v[i].key : "(null)";
                w = width(k) > w ? width(k) : w;
            }
            fputc('\n', out);
            pad(out, field_names[j], w, 0);
            fputs("  samples\n", out);
            for (size_t i = 0; i < n; i++) {
                const char *k = j == 1 ? type_names[i] : *c[j].v[i].key ? c[j].v[i].key : "(null)";
                pad(out, k, w, 0);
                fprintf(out, "  %7ld\n", j == 1 ? types[i] : c[j].v[i].n);
            }
        }
    }
    for (int i = 0; i < 4; i++)
        rr_counts_free(&c[i]);
    return 0;
}
