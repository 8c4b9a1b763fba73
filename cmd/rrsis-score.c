/* rrsis-score: P@0.5-0.9, oIoU and mIoU (RMSIN protocol), and cIoU, gIoU,
 * N-acc and T-acc (GRES protocol), of predicted masks against a dataset
 * manifest; or, with --check, the manifest's findings and counts.  The
 * work is libcore/eval: score.h reads, metrics.h computes, report.h
 * prints. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "error.h"
#include "eval/report.h"
#include "eval/score.h"
#include "io/folder.h"

static const char help[] =
    "Usage: rrsis-score --gt=MANIFEST --pred=DIR|FILE|- [OPTION]...\n"
    "  or:  rrsis-score --check=MANIFEST [--check-level=LEVEL] [--format=text|json]\n"
    "Score predicted masks against the ground truth of a dataset manifest.\n"
    "Predictions are DIR/<id>.png masks (0/255 or 0/1; or DIR/<id>.tif, a\n"
    "GeoTIFF of any data type, NoData as background), or a tensor stream of\n"
    "stage 'logits' in FILE or on standard input (-), one record per sample with\n"
    "the tensor 'logits' [2,H,W] (foreground where logits[1] > logits[0]) or\n"
    "'mask' [H,W].\n"
    "\n"
    "  --gt=MANIFEST         the dataset manifest (JSON Lines) with the truth\n"
    "  --pred=DIR|FILE|-     the predictions: a folder of masks, or a stream\n"
    "  --protocol=NAME       rmsin (RMSIN/LAVT test.py), gres (generalized, with\n"
    "                        no-target accuracy) or both (the default)\n"
    "  --resolution=RES      480 (the default: both masks resized to 480x480 with\n"
    "                        Pillow's NEAREST, as the published numbers), another\n"
    "                        size N, or native (the image's size, no resizing)\n"
    "  --format=FORMAT       text (the default), md, csv or json\n"
    "  --by=LIST             breakdowns: a comma-separated list of type, category\n"
    "                        and lang, or none; type by default\n"
    "  --missing=WHAT        error (the default) or empty: score a sample without\n"
    "                        a prediction as an empty mask\n"
    "  --split=NAME          score only the samples of this split\n"
    "  --per-sample=FILE     also write one JSON line per sample (I, U, IoUs) to\n"
    "                        FILE (its folder made when missing); with -,\n"
    "                        write them instead of the tables\n"
    "  --check=MANIFEST      check a manifest: print its findings as PATH:LINE:\n"
    "                        MESSAGE and its samples counted by split, type,\n"
    "                        category and language\n"
    "  --check-level=LEVEL   files (images and masks exist with the right sizes),\n"
    "                        masks (also decode every mask: the default) or images\n"
    "                        (also decode every image)\n"
    "  --max-pixels=N        the most pixels an image or mask read may have\n"
    "  --help                display this help and exit\n"
    "  --version             output version information and exit\n"
    "\n"
    "All metrics are percentages; see rrsis-score(1) for their formulas.\n"
    "Images and masks of more pixels than --max-pixels, else $RRSIS_MAX_PIXELS,\n"
    "else 16384x16384 are refused; named inputs must be regular files or pipes.\n"

    "Exit status: 0 when scored (--check: when there is no finding), 1 on an\n"
    "error (--check: on findings), 2 on a usage error.\n"
    "\n"
    "Examples:\n"
    "  rrsis-score --gt=test.jsonl --pred=masks/ --format=md\n"
    "  rrsis-score --gt=test.jsonl --pred=- --format=json < logits.st | jq .gres.all.giou\n"
    "  rrsis-score --check=test.jsonl\n";

enum {
    OPT_GT = 1,
    OPT_PRED,
    OPT_PROTOCOL,
    OPT_RESOLUTION,
    OPT_FORMAT,
    OPT_BY,
    OPT_MISSING,
    OPT_SPLIT,
    OPT_PER_SAMPLE,
    OPT_CHECK,
    OPT_CHECK_LEVEL,
    OPT_MAX_PIXELS,
};

static const struct option options[] = {
    {"gt", required_argument, NULL, OPT_GT},
    {"pred", required_argument, NULL, OPT_PRED},
    {"protocol", required_argument, NULL, OPT_PROTOCOL},
    {"resolution", required_argument, NULL, OPT_RESOLUTION},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"by", required_argument, NULL, OPT_BY},
    {"missing", required_argument, NULL, OPT_MISSING},
    {"split", required_argument, NULL, OPT_SPLIT},
    {"per-sample", required_argument, NULL, OPT_PER_SAMPLE},
    {"check", required_argument, NULL, OPT_CHECK},
    {"check-level", required_argument, NULL, OPT_CHECK_LEVEL},
    {"max-pixels", required_argument, NULL, OPT_MAX_PIXELS},
    RR_CLI_COMMON_OPTIONS,
    {NULL, 0, NULL, 0},
};

/* The index of arg in the NULL-terminated words, or a usage error. */
static int choose(const char *opt, const char *arg, const char *const *words)
{
    char list[160] = "";
    for (int i = 0; words[i]; i++) {
        if (strcmp(arg, words[i]) == 0)
            return i;
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", words[i]);
    }
    rr_cli_usage_error("%s: '%s' is not one of %s", opt, arg, list);
}

static unsigned parse_by(const char *arg)
{
    if (strcmp(arg, "none") == 0)
        return 0;
    static const char *const names[] = {"type", "category", "lang", NULL};
    unsigned by = 0;
    char *copy = strdup(arg), *save = NULL;
    if (!copy)
        rr_cli_die("out of memory");
    for (char *w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save))
        by |= 1u << choose("--by", w, names);
    free(copy);
    if (!by)
        rr_cli_usage_error("--by: '%s' names no breakdown (type, category, lang or none)", arg);
    return by;
}

static int check(const char *path, rr_check_level level, rr_report_format format)
{
    rr_manifest m;
    rr_findings f;
    long n = rr_check_manifest(path, level, &m, &f);
    if (n < 0)
        rr_cli_die_lib();
    if (rr_report_check(stdout, format, path, level, &m, &f))
        rr_cli_die_lib();
    rr_findings_free(&f);
    rr_manifest_free(&m);
    return n ? 1 : 0;
}

int main(int argc, char **argv)
{
    rr_cli_init(argv);
    const char *gt = NULL, *pred = NULL, *per_sample = NULL, *check_path = NULL;
    rr_score_opts so = {.side = 480};
    rr_report_opts ro = {.format = RR_FORMAT_TEXT, .protocols = RR_PROTOCOL_RMSIN | RR_PROTOCOL_GRES,
                         .by = RR_BY_TYPE};
    int level = RR_CHECK_LEVEL_MASKS, level_given = 0, scoring_option = 0, opt;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case OPT_MAX_PIXELS: rr_cli_max_pixels(optarg); break;
        case OPT_GT: gt = optarg; break;
        case OPT_PRED: pred = optarg; break;
        case OPT_PROTOCOL: {
            static const char *const w[] = {"rmsin", "gres", "both", NULL};
            ro.protocols = (unsigned[]){RR_PROTOCOL_RMSIN, RR_PROTOCOL_GRES,
                                        RR_PROTOCOL_RMSIN | RR_PROTOCOL_GRES}[choose("--protocol", optarg, w)];
            scoring_option = 1;
            break;
        }
        case OPT_RESOLUTION:
            so.side = strcmp(optarg, "native") == 0 ? 0 : (int)rr_cli_long("--resolution", optarg, 1, 8192);
            scoring_option = 1;
            break;
        case OPT_FORMAT: {
            static const char *const w[] = {"text", "md", "csv", "json", NULL};
            ro.format = (rr_report_format)choose("--format", optarg, w);
            break;
        }
        case OPT_BY: ro.by = parse_by(optarg); scoring_option = 1; break;
        case OPT_MISSING: {
            static const char *const w[] = {"error", "empty", NULL};
            so.missing_empty = choose("--missing", optarg, w);
            scoring_option = 1;
            break;
        }
        case OPT_SPLIT: so.split = optarg; scoring_option = 1; break;
        case OPT_PER_SAMPLE: per_sample = optarg; scoring_option = 1; break;
        case OPT_CHECK: check_path = optarg; break;
        case OPT_CHECK_LEVEL: {
            static const char *const w[] = {"files", "masks", "images", NULL};
            level = choose("--check-level", optarg, w);
            level_given = 1;
            break;
        }
        default: rr_cli_common_option(opt, help);
        }
    }
    if (optind < argc)
        rr_cli_usage_error("unexpected argument '%s'", argv[optind]);
    if (check_path) {
        if (gt || pred || scoring_option)
            rr_cli_usage_error("--check excludes --gt, --pred and the scoring options");
        if (ro.format != RR_FORMAT_TEXT && ro.format != RR_FORMAT_JSON)
            rr_cli_usage_error("--check prints text or json");
        return check(check_path, (rr_check_level)level, ro.format);
    }
    if (level_given)
        rr_cli_usage_error("--check-level goes with --check");
    if (!gt || !pred)
        rr_cli_usage_error("--gt and --pred are required (or --check=MANIFEST)");
    if (strcmp(gt, "-") == 0 && strcmp(pred, "-") == 0)
        rr_cli_usage_error("--gt and --pred cannot both be standard input");
    /* a swapped --gt and --pred would otherwise read a folder as a manifest */
    struct stat st;
    if (strcmp(gt, "-") != 0 && stat(gt, &st) == 0 && S_ISDIR(st.st_mode))
        rr_cli_usage_error("--gt: '%s' is a folder; --gt takes the manifest (JSON Lines) and --pred the "
                           "folder of masks or a logits stream", gt);

    rr_manifest m;
    if (rr_manifest_read(gt, &m, NULL))
        rr_cli_die_lib();
    rr_progress progress; /* on a terminal only */
    rr_progress_init(&progress, stderr, isatty(STDERR_FILENO), 0);
    so.progress = &progress;
    rr_score s;
    if (rr_score_init(&s, &m, &so))
        rr_cli_die_lib();
    int rc;
    if (strcmp(pred, "-") != 0 && stat(pred, &st) == 0 && S_ISDIR(st.st_mode)) {
        rc = rr_score_folder(&s, pred);
    } else {
        FILE *in = rr_cli_open_read(pred);
        rc = rr_score_stream(&s, in, in == stdin ? "standard input" : pred);
        if (in != stdin)
            fclose(in);
    }
    rr_progress_end(&progress);
    if (rc)
        rr_cli_die_lib();
    ro.gt = gt;
    ro.pred = pred;
    if (per_sample) {
        if (rr_make_parent(per_sample))
            rr_cli_die_lib();
        FILE *out = rr_cli_open_write(per_sample);
        rr_report_samples(out, &s);
        rr_cli_close(out, per_sample);
    }
    if (!per_sample || strcmp(per_sample, "-") != 0)
        if (rr_report_write(stdout, &s, &ro))
            rr_cli_die_lib();
    rr_score_free(&s);
    rr_manifest_free(&m);
    return 0;
}
