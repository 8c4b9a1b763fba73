/* rrsis-synth: a synthetic aerial referring-segmentation dataset (images,
 * masks, manifests), deterministic from a seed. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "error.h"
#include "synth/synth.h"

static const char help[] =
    "Usage: rrsis-synth -o DIR [OPTION]...\n"
    "Write a synthetic aerial referring-segmentation dataset: scenes seen from\n"
    "above (grass, soil or sand, roads, water; planes, ships, cars, storage tanks,\n"
    "buildings, tennis courts) with exact masks and referring sentences of three\n"
    "types: single-target (\"the red plane on the left\", \"the largest ship\"),\n"
    "multi-target (\"all white cars\", \"the two ships at the bottom\") and no-target\n"
    "(a sentence that matches nothing in its scene).  Every sentence is\n"
    "unambiguous in its scene.  The same options give the same files.\n"
    "\n"
    "Writes DIR/images/SPLIT_N.png, DIR/masks/ID.png (0/255, one per sample, empty\n"
    "for a no-target sample) and DIR/SPLIT.jsonl, a manifest (the manifests last).\n"
    "\n"
    "  -o, --output=DIR             the folder to write (made when missing, with\n"
    "                               its parents)\n"
    "  -n, --count=N                N samples (manifest lines), all in the test\n"
    "                               split (default 1000)\n"
    "      --split                  divide the N samples into train, val and test\n"
    "                               (80%, 10%, 10%), each from its own seed\n"
    "      --train=N, --val=N, --test=N\n"
    "                               samples of each split, instead of -n\n"
    "  -s, --seed=N                 the seed, 0 to 2^64-1 (default 1)\n"
    "      --size=PIXELS            image width and height, 64 to 1024 (default 128)\n"
    "  -k, --sentences-per-image=K  samples that share an image, 1 to 16 (default 2)\n"
    "      --none-fraction=F        share of no-target samples (default 0.15)\n"
    "      --multi-fraction=F       share of multi-target samples (default 0.25)\n"
    "      --preset=NAME            full (the default): 6 categories, 5 colours,\n"
    "                               sentences by category, colour, size, position,\n"
    "                               heading and relation, a few synonyms; easy:\n"
    "                               planes, ships, cars and storage tanks in 4\n"
    "                               colours, by category, colour, size and position;\n"
    "                               scene4096: full's in 4096x4096 scenes with\n"
    "                               objects, roads and distances as small as at\n"
    "                               128 (a car 10 to 16 pixels long), for the\n"
    "                               tiled modes of rrsis-encode; with -k 4 unless\n"
    "                               given, and not with --size\n"
    "      --object-scale=X         objects' lengths times X, 0.75 to 2 in steps of\n"
    "                               0.01 (default 1: a car is 10 to 16 pixels long\n"
    "                               at 128, a plane 17 to 34); fewer objects fit\n"
    "                               in a scene when they are larger\n"
    "  -f, --force                  write into a folder that is not empty\n"
    "  -q, --quiet                  no progress and no summary on standard error\n"
    "      --help                   display this help and exit\n"
    "      --version                output version information and exit\n"
    "\n"
    "Exit status: 0 on success, 1 on an error (a folder that is not empty, a\n"
    "write error), 2 on a usage error.\n"
    "\n"
    "Examples:\n"
    "  rrsis-synth -n 200 -o demo/\n"
    "  rrsis-synth --train 20000 --val 1000 --test 1000 --seed 7 -o synth/\n";

enum { OPT_SPLIT = 1, OPT_TRAIN, OPT_VAL, OPT_TEST, OPT_SIZE, OPT_NONE, OPT_MULTI, OPT_PRESET, OPT_OBJECT_SCALE };

static const struct option options[] = {
    {"output", required_argument, NULL, 'o'},
    {"count", required_argument, NULL, 'n'},
    {"split", no_argument, NULL, OPT_SPLIT},
    {"train", required_argument, NULL, OPT_TRAIN},
    {"val", required_argument, NULL, OPT_VAL},
    {"test", required_argument, NULL, OPT_TEST},
    {"seed", required_argument, NULL, 's'},
    {"size", required_argument, NULL, OPT_SIZE},
    {"sentences-per-image", required_argument, NULL, 'k'},
    {"none-fraction", required_argument, NULL, OPT_NONE},
    {"multi-fraction", required_argument, NULL, OPT_MULTI},
    {"preset", required_argument, NULL, OPT_PRESET},
    {"object-scale", required_argument, NULL, OPT_OBJECT_SCALE},
    {"force", no_argument, NULL, 'f'},
    {"quiet", no_argument, NULL, 'q'},
    RR_CLI_COMMON_OPTIONS,
    {NULL, 0, NULL, 0},
};

#define MAX_SAMPLES 10000000L

static uint64_t parse_seed(const char *arg)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(arg, &end, 10);
    if (!*arg || *end || errno || arg[0] == '-')
        rr_cli_usage_error("--seed: '%s' is not an integer from 0 to 2^64-1", arg);
    return (uint64_t)v;
}

int main(int argc, char **argv)
{
    rr_cli_init(argv);
    rr_synth_options o;
    rr_synth_options_default(&o);
    const char *dir = NULL;
    long count = -1;
    int split = 0, explicit = 0, quiet = 0, scene = 0, sized = 0, per_image = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, "o:n:s:k:fq", options, NULL)) != -1) {
        switch (opt) {
        case 'o': dir = optarg; break;
        case 'n': count = rr_cli_long("--count", optarg, 1, MAX_SAMPLES); break;
        case OPT_SPLIT: split = 1; break;
        case OPT_TRAIN: o.count[RR_SYNTH_TRAIN] = rr_cli_long("--train", optarg, 0, MAX_SAMPLES), explicit = 1; break;
        case OPT_VAL: o.count[RR_SYNTH_VAL] = rr_cli_long("--val", optarg, 0, MAX_SAMPLES), explicit = 1; break;
        case OPT_TEST: o.count[RR_SYNTH_TEST] = rr_cli_long("--test", optarg, 0, MAX_SAMPLES), explicit = 1; break;
        case 's': o.seed = parse_seed(optarg); break;
        case OPT_SIZE:
            o.size = (int)rr_cli_long("--size", optarg, RR_SYNTH_MIN_SIZE, RR_SYNTH_MAX_SIZE), sized = 1;
            break;
        case 'k': o.per_image = (int)rr_cli_long("--sentences-per-image", optarg, 1, 16), per_image = 1; break;
        case OPT_NONE: o.none_fraction = rr_cli_double("--none-fraction", optarg, 0, 1); break;
        case OPT_MULTI: o.multi_fraction = rr_cli_double("--multi-fraction", optarg, 0, 1); break;
        case OPT_PRESET:
            if (strcmp(optarg, "full") == 0)
                o.preset = RR_SYNTH_FULL;
            else if (strcmp(optarg, "easy") == 0)
                o.preset = RR_SYNTH_EASY;
            else if (strcmp(optarg, "scene4096") == 0)
                o.preset = RR_SYNTH_FULL, scene = 1;
            else
                rr_cli_usage_error("--preset: '%s' is not full, easy or scene4096", optarg);
            break;
        case OPT_OBJECT_SCALE:
            o.object_pct = (int)lround(100 * rr_cli_double("--object-scale", optarg, 0.75, 2));
            break;
        case 'f': o.force = 1; break;
        case 'q': quiet = 1; break;
        default: rr_cli_common_option(opt, help);
        }
    }
    if (optind < argc)
        rr_cli_usage_error("unexpected argument '%s'", argv[optind]);
    if (!dir || !*dir)
        rr_cli_usage_error("no output folder (-o DIR)");
    if (explicit && (count >= 0 || split))
        rr_cli_usage_error("--train, --val and --test go without -n and --split");
    if (scene && sized)
        rr_cli_usage_error("--preset scene4096 goes without --size");
    if (scene) {
        o.size = RR_SYNTH_SCENE_MAX_SIZE;
        o.unit = 128;
        o.per_image = per_image ? o.per_image : 4; /* a large scene is slow to draw: more sentences each */
    }
    if (o.none_fraction + o.multi_fraction > 1)
        rr_cli_usage_error("--none-fraction and --multi-fraction add up to more than 1");
    if (!explicit) {
        if (count < 0)
            count = 1000;
        if (split) {
            o.count[RR_SYNTH_VAL] = o.count[RR_SYNTH_TEST] = count / 10;
            o.count[RR_SYNTH_TRAIN] = count - 2 * (count / 10);
        } else {
            o.count[RR_SYNTH_TEST] = count;
        }
    } else if (!o.count[RR_SYNTH_TRAIN] && !o.count[RR_SYNTH_VAL] && !o.count[RR_SYNTH_TEST]) {
        rr_cli_usage_error("--train, --val and --test are all 0");
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    rr_synth_stats st;
    rr_progress progress; /* on a terminal only */
    rr_progress_init(&progress, stderr, !quiet && isatty(STDERR_FILENO), 0);
    o.progress = &progress;
    int rc = rr_synth_write(dir, &o, &st);
    rr_progress_end(&progress);
    if (rc == RR_SYNTH_NOT_EMPTY)
        rr_cli_die("%s; nothing written (--force writes into it)", rr_errmsg());
    if (rc < 0)
        rr_cli_die_lib();
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (!quiet) {
        double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
        fprintf(stderr, "%s: %ld samples on %ld images of %dx%d in %s (", rr_cli_prog(), st.samples,
                st.images, o.size, o.size, dir);
        for (int s = 0, first = 1; s < RR_SYNTH_NSPLIT; s++)
            if (o.count[s]) {
                fprintf(stderr, "%s%s %ld", first ? "" : ", ", rr_synth_split_name(s), st.split[s]);
                first = 0;
            }
        fprintf(stderr, "), %.2f s\n  types: single %ld, multi %ld, none %ld\n  dimensions:", secs,
                st.type[RR_TYPE_SINGLE], st.type[RR_TYPE_MULTI], st.type[RR_TYPE_NONE]);
        for (int d = 0; d < RR_SYNTH_NDIM; d++)
            fprintf(stderr, "%s %s %ld", d ? "," : "", rr_synth_dim_name(d), st.dims[d]);
        fprintf(stderr, "\n  categories:");
        for (int c = 0, first = 1; c < RR_SYNTH_NCAT; c++)
            if (st.cats[c]) {
                fprintf(stderr, "%s %s %ld", first ? "" : ",", rr_synth_cat_name(c), st.cats[c]);
                first = 0;
            }
        fputc('\n', stderr);
    }
    return 0;
}
