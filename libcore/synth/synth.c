/* A synthetic dataset on disk (see synth.h). */
#include "synth/synth.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "io/folder.h"
#include "rng.h"

static const char *const split_names[RR_SYNTH_NSPLIT] = {"train", "val", "test"};

const char *rr_synth_split_name(int split)
{
    return split >= 0 && split < RR_SYNTH_NSPLIT ? split_names[split] : "?";
}

void rr_synth_options_default(rr_synth_options *o)
{
    memset(o, 0, sizeof *o);
    o->seed = 1;
    o->size = 128;
    o->per_image = 2;
    o->none_fraction = 0.15;
    o->multi_fraction = 0.25;
    o->preset = RR_SYNTH_FULL;
    o->object_pct = 100;
}

void rr_synth_type_counts(long n, double none_fraction, double multi_fraction, long *none, long *multi)
{
    *none = (long)(n * none_fraction + 0.5);
    *multi = (long)(n * multi_fraction + 0.5);
    if (*none > n)
        *none = n;
    if (*multi > n - *none)
        *multi = n - *none;
}

void rr_synth_types(long n, double none_fraction, double multi_fraction, uint64_t seed, rr_sample_type *out)
{
    long none, multi;
    rr_synth_type_counts(n, none_fraction, multi_fraction, &none, &multi);
    for (long i = 0; i < n; i++)
        out[i] = i < none ? RR_TYPE_NONE : i < none + multi ? RR_TYPE_MULTI : RR_TYPE_SINGLE;
    rr_rng r = {rr_mix64(seed ^ 0x7970657300000000ull), 0}; /* "types" */
    for (long i = n - 1; i > 0; i--) {
        long j = (long)(rr_rng_next(&r) % (uint64_t)(i + 1));
        rr_sample_type t = out[i];
        out[i] = out[j], out[j] = t;
    }
}

uint64_t rr_synth_split_seed(uint64_t seed, int split) { return rr_rand64(seed, 0x5eed0000ull + (uint64_t)split); }
uint64_t rr_synth_image_seed(uint64_t split_seed, long i) { return rr_rand64(split_seed, (uint64_t)i); }

int rr_synth_image(rr_synth_scene *s, uint64_t seed, const rr_sample_type *types, int k, rr_synth_sentence *out)
{
    int need_repeat = 0;
    for (int j = 0; j < k; j++)
        need_repeat |= types[j] == RR_TYPE_MULTI;
    for (int attempt = 0; attempt < 100; attempt++) {
        rr_synth_scene_make(s, rr_rand64(seed, 2 * (uint64_t)attempt), need_repeat);
        uint64_t sseed = rr_rand64(seed, 2 * (uint64_t)attempt + 1);
        int j = 0;
        while (j < k && rr_synth_sentence_make(s, types[j], rr_rand64(sseed, (uint64_t)j), out, j, &out[j]) == 0)
            j++;
        if (j == k)
            return 0;
    }
    return -1;
}

/* ---- files --------------------------------------------------------------- */

/* 1 when dir exists and holds anything, 0 when empty or missing, -1 on error. */
static int has_files(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT)
            return 0;
        return rr_error("%s: %s", dir, strerror(errno));
    }
    struct dirent *e;
    int found = 0;
    while (!found && (e = readdir(d)))
        found = strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return found;
}

static char *path_join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s%s%s", dir, dir[0] && dir[strlen(dir) - 1] == '/' ? "" : "/", name);
    return p;
}

/* What one sample of a split needs for its manifest line. */
typedef struct {
    rr_synth_sentence sen;
} sample_out;

static int write_manifest(const char *dir, int split, const sample_out *smp, long n, int per_image, int size)
{
    char name[64], tmpname[64];
    snprintf(name, sizeof name, "%s.jsonl", split_names[split]);
    snprintf(tmpname, sizeof tmpname, ".%s.jsonl.tmp", split_names[split]);
    char *path = path_join(dir, name), *tmp = path_join(dir, tmpname);
    if (!path || !tmp) {
        free(path);
        free(tmp);
        return rr_error("out of memory");
    }
    int rc = 0;
    FILE *f = fopen(tmp, "w");
    if (!f)
        rc = rr_error("%s: %s", tmp, strerror(errno));
    for (long j = 0; j < n && rc == 0; j++) {
        char id[64], image[64], mask[80];
        long img = j / per_image;
        snprintf(id, sizeof id, "%s_%06ld_%ld", split_names[split], img, j % per_image);
        snprintf(image, sizeof image, "images/%s_%06ld.png", split_names[split], img);
        snprintf(mask, sizeof mask, "masks/%s.png", id);
        const rr_synth_sentence *sen = &smp[j].sen;
        rr_sample s = {0};
        s.id = id;
        s.split = (char *)split_names[split];
        s.image = image;
        s.width = s.height = size;
        s.sentence = (char *)sen->text;
        s.lang = "en";
        s.type = sen->type;
        s.category = (char *)rr_synth_cat_name(sen->cat);
        s.mask.png = sen->type == RR_TYPE_NONE ? NULL : mask;
        if (rr_sample_write(f, &s) < 0)
            rc = rr_error_prefix("%s: ", tmp);
    }
    if (f) {
        if ((fflush(f) != 0 || fsync(fileno(f)) != 0) && rc == 0)
            rc = rr_error("%s: %s", tmp, strerror(errno));
        if (fclose(f) != 0 && rc == 0)
            rc = rr_error("%s: %s", tmp, strerror(errno));
        if (rc == 0 && rename(tmp, path) != 0)
            rc = rr_error("%s: %s", path, strerror(errno));
        if (rc)
            unlink(tmp);
    }
    free(path);
    free(tmp);
    return rc;
}

/* Generates and writes the images and masks of one split; fills smp. */
static int write_split(const char *dir, const rr_synth_options *o, int split, sample_out *smp,
                       rr_sample_type *types)
{
    long n = o->count[split], nimg = (n + o->per_image - 1) / o->per_image;
    uint64_t sseed = rr_synth_split_seed(o->seed, split);
    rr_synth_types(n, o->none_fraction, o->multi_fraction, sseed, types);
    int failed = 0;
    long done = 0; /* images written, for the progress */
    char errmsg[512] = "";
#pragma omp parallel
    {
        rr_synth_scene s;
        rr_image mask = {0};
        int ready = rr_synth_scene_init(&s, o->size, o->preset) == 0 &&
                    rr_image_alloc(&mask, o->size, o->size, 1) == 0;
        s.object_pct = o->object_pct;
        if (o->unit)
            s.unit = o->unit;
        if (!ready) {
#pragma omp critical(synth_error)
            if (!failed) {
                failed = 1;
                snprintf(errmsg, sizeof errmsg, "%s", rr_errmsg());
            }
        }
#pragma omp for schedule(dynamic, 8)
        for (long i = 0; i < nimg; i++) {
            int stop;
#pragma omp atomic read
            stop = failed;
            if (stop || !ready)
                continue;
            long j0 = i * o->per_image;
            int k = (int)(n - j0 < o->per_image ? n - j0 : o->per_image);
            rr_synth_sentence sen[16];
            int rc = rr_synth_image(&s, rr_synth_image_seed(sseed, i), types + j0, k, sen);
            if (rc < 0)
                rr_error("synth: no scene for the sentences of image %ld of %s (seed %llu)", i,
                         split_names[split], (unsigned long long)o->seed);
            char name[96];
            if (rc == 0) {
                snprintf(name, sizeof name, "images/%s_%06ld.png", split_names[split], i);
                char *p = path_join(dir, name);
                rc = p ? rr_image_write_png(p, &s.image) : rr_error("out of memory");
                free(p);
            }
            for (int j = 0; j < k && rc == 0; j++) {
                smp[j0 + j].sen = sen[j];
                rr_synth_scene_mask(&s, sen[j].targets, &mask);
                snprintf(name, sizeof name, "masks/%s_%06ld_%d.png", split_names[split], i, j);
                char *p = path_join(dir, name);
                rc = p ? rr_mask_write_png(p, &mask) : rr_error("out of memory");
                free(p);
            }
            if (rc == 0 && o->progress) {
#pragma omp critical(synth_progress)
            {
                /* the last count is always drawn */
                if (++done == nimg)
                    rr_progress_force(o->progress, "%s: %ld/%ld images", split_names[split], done, nimg);
                else
                    rr_progress_update(o->progress, "%s: %ld/%ld images", split_names[split], done, nimg);
            }
            }
            if (rc) {
#pragma omp critical(synth_error)
                if (!failed) {
                    snprintf(errmsg, sizeof errmsg, "%s", rr_errmsg());
#pragma omp atomic write
                    failed = 1;
                }
            }
        }
        rr_synth_scene_free(&s);
        rr_image_free(&mask);
    }
    if (failed)
        return rr_error("%s", errmsg);
    return 0;
}

int rr_synth_write(const char *dir, const rr_synth_options *o, rr_synth_stats *st)
{
    rr_synth_stats local;
    if (!st)
        st = &local;
    memset(st, 0, sizeof *st);
    if (o->per_image < 1 || o->per_image > 16)
        return rr_error("synth: %d sentences per image is not in 1..16", o->per_image);
    if (o->size < RR_SYNTH_MIN_SIZE || o->size > RR_SYNTH_SCENE_MAX_SIZE)
        return rr_error("synth: image size %d is not in %d..%d", o->size, RR_SYNTH_MIN_SIZE,
                        RR_SYNTH_SCENE_MAX_SIZE);
    if (o->unit && (o->unit < RR_SYNTH_MIN_SIZE || o->unit > o->size))
        return rr_error("synth: a scale of %d pixels is not in %d..%d", o->unit, RR_SYNTH_MIN_SIZE, o->size);
    int busy = has_files(dir);
    if (busy < 0)
        return -1;
    if (busy && !o->force) {
        rr_error("%s: the folder is not empty", dir);
        return RR_SYNTH_NOT_EMPTY;
    }
    char *images = path_join(dir, "images"), *masks = path_join(dir, "masks");
    int rc = images && masks ? 0 : rr_error("out of memory");
    if (rc == 0)
        rc = rr_make_folder(dir);
    if (rc == 0)
        rc = rr_make_folder(images);
    if (rc == 0)
        rc = rr_make_folder(masks);
    free(images);
    free(masks);
    /* an old manifest of a split about to be rewritten goes first: an
       interrupted run must not leave it pointing at new files */
    for (int split = 0; split < RR_SYNTH_NSPLIT && rc == 0; split++) {
        if (!o->count[split])
            continue;
        char name[32];
        snprintf(name, sizeof name, "%s.jsonl", split_names[split]);
        char *p = path_join(dir, name);
        if (!p)
            rc = rr_error("out of memory");
        else if (unlink(p) != 0 && errno != ENOENT)
            rc = rr_error("%s: %s", p, strerror(errno));
        free(p);
    }
    sample_out *smp[RR_SYNTH_NSPLIT] = {0};
    for (int split = 0; split < RR_SYNTH_NSPLIT && rc == 0; split++) {
        long n = o->count[split];
        if (!n)
            continue;
        smp[split] = calloc((size_t)n, sizeof *smp[split]);
        rr_sample_type *types = malloc((size_t)n * sizeof *types);
        if (!smp[split] || !types)
            rc = rr_error("synth: out of memory for %ld samples", n);
        else
            rc = write_split(dir, o, split, smp[split], types);
        free(types);
        if (rc)
            break;
        st->split[split] = n;
        st->samples += n;
        st->images += (n + o->per_image - 1) / o->per_image;
        for (long j = 0; j < n; j++) {
            const rr_synth_sentence *s = &smp[split][j].sen;
            st->type[s->type]++;
            st->cats[s->cat]++;
            for (int d = 0; d < RR_SYNTH_NDIM; d++)
                st->dims[d] += s->dims >> d & 1;
        }
    }
    /* the manifests last */
    for (int split = 0; split < RR_SYNTH_NSPLIT && rc == 0; split++)
        if (o->count[split])
            rc = write_manifest(dir, split, smp[split], o->count[split], o->per_image, o->size);
    for (int split = 0; split < RR_SYNTH_NSPLIT; split++)
        free(smp[split]);
    return rc;
}
