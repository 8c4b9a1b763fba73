#include "compare.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <glob.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../error.h"
#include "../io/reader.h"
#include "report.h"

static const char *const key_names[RR_NKEYS] = {"run", "set", "metric"};
static const char *const rmsin_ids[] = {"p50", "p60", "p70", "p80", "p90", "oiou", "miou"};
static const char *const rmsin_heads[] = {"P@0.5", "P@0.6", "P@0.7", "P@0.8", "P@0.9", "oIoU", "mIoU"};
static const char *const gres_ids[] = {"p50", "p60", "p70", "p80", "p90", "ciou", "giou", "nacc", "tacc"};
static const char *const gres_heads[] = {"P@0.5", "P@0.6", "P@0.7", "P@0.8", "P@0.9",
                                         "cIoU",  "gIoU",  "N-acc", "T-acc"};

const char *rr_cmp_key_name(int key) { return key_names[key]; }

int rr_cmp_nmetrics(int protocol) { return protocol == RR_PROTOCOL_RMSIN ? 7 : 9; }

const char *rr_cmp_metric_id(int protocol, int m)
{
    return protocol == RR_PROTOCOL_RMSIN ? rmsin_ids[m] : gres_ids[m];
}

const char *rr_cmp_metric_heading(int protocol, int m)
{
    return protocol == RR_PROTOCOL_RMSIN ? rmsin_heads[m] : gres_heads[m];
}

const char *rr_cmp_heading(const rr_cmp_table *t, int key, const char *value)
{
    if (key == RR_KEY_METRIC)
        for (int m = 0; m < rr_cmp_nmetrics(t->protocol); m++)
            if (strcmp(value, rr_cmp_metric_id(t->protocol, m)) == 0)
                return rr_cmp_metric_heading(t->protocol, m);
    return value;
}

/* ---- lists ----------------------------------------------------------------- */

/* Calls word(w, arg) for each comma-separated word of list; an empty word
 * is an error. */
static int each_word(const char *list, int (*word)(const char *w, void *arg), void *arg)
{
    char *copy = strdup(list);
    if (!copy)
        return rr_error("out of memory");
    int rc = 0;
    char *p = copy;
    for (;;) {
        char *comma = strchr(p, ',');
        if (comma)
            *comma = 0;
        if (!*p) {
            rc = rr_error("'%s' has an empty item", list);
            break;
        }
        if ((rc = word(p, arg)))
            break;
        if (!comma)
            break;
        p = comma + 1;
    }
    free(copy);
    return rc;
}

typedef struct {
    int *v, n, max;
    const char *const *names;
    int nnames;
    const char *what;
} choice_list;

static int choose_word(const char *w, void *arg)
{
    choice_list *c = arg;
    int i = 0;
    while (i < c->nnames && strcmp(w, c->names[i]) != 0)
        i++;
    if (i == c->nnames) {
        char list[160] = "";
        for (int j = 0; j < c->nnames; j++)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", j ? ", " : "", c->names[j]);
        return rr_error("'%s' is not %s: %s", w, c->what, list);
    }
    for (int j = 0; j < c->n; j++)
        if (c->v[j] == i)
            return rr_error("'%s' is named twice", w);
    if (c->n == c->max)
        return rr_error("more than %d items", c->max);
    c->v[c->n++] = i;
    return 0;
}

int rr_cmp_parse_keys(const char *list, int keys[RR_NKEYS], int *n)
{
    choice_list c = {keys, 0, RR_NKEYS, key_names, RR_NKEYS, "one of the keys"};
    int rc = each_word(list, choose_word, &c);
    *n = c.n;
    return rc;
}

int rr_cmp_parse_metrics(const char *list, int protocol, int metric[RR_CMP_MAXMETRIC], int *n)
{
    const char *what = protocol == RR_PROTOCOL_RMSIN ? "a metric of protocol rmsin" : "a metric of protocol gres";
    choice_list c = {metric, 0, RR_CMP_MAXMETRIC, protocol == RR_PROTOCOL_RMSIN ? rmsin_ids : gres_ids,
                     rr_cmp_nmetrics(protocol), what};
    int rc = each_word(list, choose_word, &c);
    *n = c.n;
    return rc;
}

/* ---- reading ----------------------------------------------------------------- */

/* The index of s in v[0..*n), appended when absent (a copy); -1 out of memory. */
static long intern(char ***v, size_t *n, const char *s)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp((*v)[i], s) == 0)
            return (long)i;
    char **nv = realloc(*v, (*n + 1) * sizeof *nv);
    if (!nv)
        return -1;
    *v = nv;
    if (!(nv[*n] = strdup(s)))
        return -1;
    return (long)(*n)++;
}

/* A file's or a folder's name without its folder and, for a file, without
 * the extension ext (when it has it). */
static char *stem(const char *path, const char *ext)
{
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/')
        n--;
    const char *b = path + n;
    while (b > path && b[-1] != '/')
        b--;
    size_t k = (size_t)(path + n - b);
    for (const char *e = ext; e && *e; e += strlen(e) + 1) {
        size_t m = strlen(e);
        if (k > m && memcmp(b + k - m, e, m) == 0) {
            k -= m;
            break;
        }
    }
    return strndup(b, k);
}

typedef struct {
    char *path, *run, *set, *resolution;
    long samples;
    double v[RR_CMP_MAXMETRIC]; /* by the protocol's metric index */
} score_file;

static int read_score(score_file *sf, int protocol)
{
    size_t len;
    char *text = rr_file_read_all(sf->path, (size_t)256 << 20, &len);
    if (!text)
        return -1;
    cJSON *o = cJSON_ParseWithLength(text, len);
    free(text);
    const cJSON *prog = cJSON_GetObjectItemCaseSensitive(o, "program");
    const cJSON *gt = cJSON_GetObjectItemCaseSensitive(o, "gt");
    const cJSON *split = cJSON_GetObjectItemCaseSensitive(o, "split");
    const cJSON *res = cJSON_GetObjectItemCaseSensitive(o, "resolution");
    const cJSON *samples = cJSON_GetObjectItemCaseSensitive(o, "samples");
    const char *pname = protocol == RR_PROTOCOL_RMSIN ? "rmsin" : "gres";
    const cJSON *all = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(o, pname), "all");
    int rc = 0;
    if (!cJSON_IsObject(o) || !cJSON_IsString(prog) || strcmp(prog->valuestring, "rrsis-score") != 0 ||
        !cJSON_IsString(gt) || !cJSON_IsString(res) || !cJSON_IsNumber(samples) ||
        !cJSON_GetObjectItemCaseSensitive(o, "protocols")) {
        rc = rr_error("%s: not a score file (the output of rrsis-score --format=json)", sf->path);
    } else if (!all) {
        rc = rr_error("%s: no %s scores (it was scored with --protocol=%s)", sf->path, pname,
                      protocol == RR_PROTOCOL_RMSIN ? "gres" : "rmsin");
    } else {
        sf->set = cJSON_IsString(split) ? strdup(split->valuestring) : stem(gt->valuestring, ".jsonl\0.json\0");
        sf->resolution = strdup(res->valuestring);
        sf->samples = (long)samples->valuedouble;
        if (!sf->set || !sf->resolution)
            rc = rr_error("out of memory");
        for (int m = 0; !rc && m < rr_cmp_nmetrics(protocol); m++) {
            const char *id = rr_cmp_metric_id(protocol, m);
            const cJSON *x = cJSON_GetObjectItemCaseSensitive(all, id);
            if (cJSON_IsNumber(x))
                sf->v[m] = x->valuedouble;
            else if (cJSON_IsNull(x))
                sf->v[m] = NAN; /* a ratio over nothing */
            else
                rc = rr_error("%s: %s.all has no metric '%s'", sf->path, pname, id);
        }
    }
    cJSON_Delete(o);
    return rc;
}

typedef struct {
    score_file *v;
    size_t n;
} score_files;

static int add_file(score_files *fs, const char *path, const char *run)
{
    score_file *v = realloc(fs->v, (fs->n + 1) * sizeof *v);
    if (!v)
        return rr_error("out of memory");
    fs->v = v;
    v[fs->n] = (score_file){.path = strdup(path), .run = strdup(run)};
    fs->n++;
    if (!v[fs->n - 1].path || !v[fs->n - 1].run)
        return rr_error("out of memory");
    return 0;
}

/* One input: a score file, or a run folder's score*.json files. */
static int expand(score_files *fs, const rr_cmp_input *in)
{
    struct stat st;
    if (stat(in->path, &st) != 0)
        return rr_error("%s: %s", in->path, strerror(errno));
    char *name = in->label ? strdup(in->label) : stem(in->path, S_ISDIR(st.st_mode) ? NULL : ".json\0");
    if (!name)
        return rr_error("out of memory");
    int rc = 0;
    if (!S_ISDIR(st.st_mode)) {
        rc = add_file(fs, in->path, name);
    } else {
        size_t n = strlen(in->path);
        char *pattern = malloc(n + 16);
        glob_t g = {0};
        if (!pattern) {
            rc = rr_error("out of memory");
        } else {
            sprintf(pattern, "%s%sscore*.json", in->path, n && in->path[n - 1] == '/' ? "" : "/");
            int grc = glob(pattern, 0, NULL, &g);
            if (grc == GLOB_NOMATCH)
                rc = rr_error("%s: a folder without score files (score*.json)", in->path);
            else if (grc)
                rc = rr_error("%s: cannot list the folder", in->path);
            for (size_t i = 0; !rc && i < g.gl_pathc; i++)
                rc = add_file(fs, g.gl_pathv[i], name);
            globfree(&g);
        }
        free(pattern);
    }
    free(name);
    return rc;
}

/* ---- the table --------------------------------------------------------------- */

void rr_cmp_free(rr_cmp_table *t)
{
    for (size_t i = 0; i < t->nfiles; i++)
        free(t->file[i]);
    for (size_t i = 0; i < t->nruns; i++)
        free(t->runs[i]);
    for (size_t i = 0; i < t->nsetnames; i++)
        free(t->setnames[i]);
    free(t->file);
    free(t->file_run);
    free(t->file_set);
    free(t->file_samples);
    free(t->runs);
    free(t->setnames);
    free(t->resolution);
    free(t->row);
    free(t->col);
    free(t->v);
    memset(t, 0, sizeof *t);
}

static void files_free(score_files *fs)
{
    for (size_t i = 0; i < fs->n; i++) {
        free(fs->v[i].path);
        free(fs->v[i].run);
        free(fs->v[i].set);
        free(fs->v[i].resolution);
    }
    free(fs->v);
}

/* "a, b, c" of a key's values, for messages. */
static void value_list(char *buf, size_t size, char *const *v, size_t n)
{
    buf[0] = 0;
    for (size_t i = 0; i < n; i++)
        snprintf(buf + strlen(buf), size - strlen(buf), "%s%s", i ? ", " : "", v[i]);
}

/* The checks across files, and the runs and sets (t->runs, t->setnames). */
static int merge(rr_cmp_table *t, const score_files *fs, const rr_cmp_opts *o, long *at)
{
    for (size_t i = 0; i < fs->n; i++) {
        const score_file *a = &fs->v[i];
        if (strcmp(a->resolution, fs->v[0].resolution) != 0)
            return rr_error("%s is scored at resolution %s and %s at %s: scores at different resolutions do "
                            "not compare",
                            fs->v[0].path, fs->v[0].resolution, a->path, a->resolution);
        for (size_t j = 0; j < i; j++) {
            const score_file *b = &fs->v[j];
            if (strcmp(a->set, b->set) != 0)
                continue;
            if (strcmp(a->run, b->run) == 0)
                return rr_error("%s and %s are both of run '%s' and set '%s' (name the runs with --label)",
                                b->path, a->path, a->run, a->set);
            if (a->samples != b->samples)
                return rr_error("set '%s': %s scored %ld samples and %s %ld (another manifest or --split?)",
                                a->set, b->path, b->samples, a->path, a->samples);
        }
        if (intern(&t->runs, &t->nruns, a->run) < 0)
            return rr_error("out of memory");
    }
    if (o->sets) {
        for (size_t k = 0; k < o->nsets; k++) {
            size_t i = 0;
            while (i < fs->n && strcmp(fs->v[i].set, o->sets[k]) != 0)
                i++;
            if (i == fs->n) {
                char all[512];
                char **names = NULL;
                size_t nn = 0;
                for (size_t j = 0; j < fs->n; j++)
                    intern(&names, &nn, fs->v[j].set);
                value_list(all, sizeof all, names, nn);
                for (size_t j = 0; j < nn; j++)
                    free(names[j]);
                free(names);
                return rr_error("--sets: no score file is of set '%s' (the files' sets: %s)", o->sets[k], all);
            }
            if (intern(&t->setnames, &t->nsetnames, o->sets[k]) < 0)
                return rr_error("out of memory");
        }
    } else {
        for (size_t i = 0; i < fs->n; i++)
            if (intern(&t->setnames, &t->nsetnames, fs->v[i].set) < 0)
                return rr_error("out of memory");
    }
    /* at[run][set]: the file, or -1 */
    for (size_t r = 0; r < t->nruns * t->nsetnames; r++)
        at[r] = -1;
    for (size_t i = 0; i < fs->n; i++) {
        long r = intern(&t->runs, &t->nruns, fs->v[i].run);
        for (size_t s = 0; s < t->nsetnames; s++)
            if (strcmp(t->setnames[s], fs->v[i].set) == 0)
                at[(size_t)r * t->nsetnames + s] = (long)i;
    }
    return 0;
}

/* The values of key k: their count, and value i's name. */
static size_t key_count(const rr_cmp_table *t, const rr_cmp_opts *o, int k)
{
    return k == RR_KEY_RUN ? t->nruns : k == RR_KEY_SET ? t->nsetnames : (size_t)o->nmetric;
}

static const char *key_value(const rr_cmp_table *t, const rr_cmp_opts *o, int k, size_t i)
{
    return k == RR_KEY_RUN ? t->runs[i] : k == RR_KEY_SET ? t->setnames[i] : rr_cmp_metric_id(t->protocol, o->metric[i]);
}

/* Lays out one axis: the product of its keys' values, the first key
 * outermost; idx[j * RR_NKEYS + k] is tuple j's index of key k. */
static int axis(const rr_cmp_table *t, const rr_cmp_opts *o, const int *keys, int nkeys, size_t *n,
                const char ***names, size_t **idx)
{
    size_t count = 1;
    for (int k = 0; k < nkeys; k++)
        count *= key_count(t, o, keys[k]);
    *n = count;
    *names = malloc((count * (size_t)nkeys + 1) * sizeof **names);
    *idx = malloc((count * RR_NKEYS + 1) * sizeof **idx);
    if (!*names || !*idx)
        return rr_error("out of memory");
    for (size_t j = 0; j < count; j++) {
        size_t rest = j;
        for (int k = nkeys - 1; k >= 0; k--) {
            size_t m = key_count(t, o, keys[k]);
            size_t i = rest % m;
            rest /= m;
            (*idx)[j * RR_NKEYS + (size_t)keys[k]] = i;
            (*names)[j * (size_t)nkeys + (size_t)k] = key_value(t, o, keys[k], i);
        }
    }
    return 0;
}

int rr_cmp_build(rr_cmp_table *t, const rr_cmp_input *in, size_t n, const rr_cmp_opts *o)
{
    memset(t, 0, sizeof *t);
    t->protocol = o->protocol;
    score_files fs = {0};
    long *at = NULL;
    size_t *ridx = NULL, *cidx = NULL;
    int rc = 0;
    for (size_t i = 0; !rc && i < n; i++)
        rc = expand(&fs, &in[i]);
    for (size_t i = 0; !rc && i < fs.n; i++)
        rc = read_score(&fs.v[i], o->protocol);
    if (!rc && !fs.n)
        rc = rr_error("no score files");
    if (!rc && !(at = malloc(fs.n * fs.n * sizeof *at + 1)))
        rc = rr_error("out of memory");
    if (!rc)
        rc = merge(t, &fs, o, at);
    /* a key in neither --rows nor --cols must have one value */
    int placed[RR_NKEYS] = {0};
    for (int k = 0; k < o->nrows; k++)
        placed[o->rows[k]] = 1;
    for (int k = 0; k < o->ncols; k++)
        placed[o->cols[k]] = 1;
    for (int k = 0; !rc && k < RR_NKEYS; k++) {
        size_t m = key_count(t, o, k);
        if (!placed[k] && m != 1) {
            char vals[512] = "";
            for (size_t i = 0; i < m; i++)
                snprintf(vals + strlen(vals), sizeof vals - strlen(vals), "%s%s", i ? ", " : "",
                         key_value(t, o, k, i));
            rc = rr_error("%zu values of %s (%s) but it is in neither --rows nor --cols%s", m, key_names[k], vals,
                          k == RR_KEY_SET ? "; choose one with --sets" : "");
        }
    }
    if (!rc) {
        memcpy(t->rkey, o->rows, sizeof t->rkey);
        memcpy(t->ckey, o->cols, sizeof t->ckey);
        t->nrkey = o->nrows;
        t->nckey = o->ncols;
        rc = axis(t, o, o->rows, o->nrows, &t->nrows, &t->row, &ridx);
    }
    if (!rc)
        rc = axis(t, o, o->cols, o->ncols, &t->ncols, &t->col, &cidx);
    if (!rc && !(t->v = malloc(t->nrows * t->ncols * sizeof *t->v + 1)))
        rc = rr_error("out of memory");
    for (size_t r = 0; !rc && r < t->nrows; r++)
        for (size_t c = 0; c < t->ncols; c++) {
            size_t k[RR_NKEYS] = {0}; /* a key on no axis has its one value, 0 */
            for (int j = 0; j < t->nrkey; j++)
                k[t->rkey[j]] = ridx[r * RR_NKEYS + (size_t)t->rkey[j]];
            for (int j = 0; j < t->nckey; j++)
                k[t->ckey[j]] = cidx[c * RR_NKEYS + (size_t)t->ckey[j]];
            long f = at[k[RR_KEY_RUN] * t->nsetnames + k[RR_KEY_SET]];
            t->v[r * t->ncols + c] = f < 0 ? NAN : fs.v[f].v[o->metric[k[RR_KEY_METRIC]]];
        }
    if (!rc) {
        t->resolution = strdup(fs.v[0].resolution);
        t->nfiles = fs.n;
        t->file = calloc(fs.n, sizeof *t->file);
        t->file_run = calloc(fs.n, sizeof *t->file_run);
        t->file_set = calloc(fs.n, sizeof *t->file_set);
        t->file_samples = calloc(fs.n, sizeof *t->file_samples);
        if (!t->resolution || !t->file || !t->file_run || !t->file_set || !t->file_samples)
            rc = rr_error("out of memory");
        for (size_t i = 0; !rc && i < fs.n; i++) {
            t->file[i] = fs.v[i].path;
            fs.v[i].path = NULL;
            t->file_run[i] = t->runs[intern(&t->runs, &t->nruns, fs.v[i].run)];
            long s = intern(&t->setnames, &t->nsetnames, fs.v[i].set);
            if (s < 0)
                rc = rr_error("out of memory");
            else
                t->file_set[i] = t->setnames[s];
            t->file_samples[i] = fs.v[i].samples;
        }
    }
    files_free(&fs);
    free(at);
    free(ridx);
    free(cidx);
    if (rc)
        rr_cmp_free(t);
    return rc;
}
