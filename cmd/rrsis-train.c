/* rrsis-train: trains MRSNet on one device, resumably and deterministically,
 * with validation.  The work is libcore/train (trainer.h). */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "cli.h"
#include "error.h"
#include "train/trainer.h"

static const char help[] =
    "Usage: rrsis-train -o RUNDIR --config=FILE --train=MANIFEST --val=MANIFEST [OPTION]...\n"
    "  or:  rrsis-train -o RUNDIR --resume [OPTION]...\n"
    "  or:  rrsis-train --check=CHECKPOINT\n"
    "Train MRSNet on a dataset manifest, on one CPU or GPU.  RUNDIR receives\n"
    "last.safetensors (the checkpoint: weights, optimizer state, data position,\n"
    "random state, configuration and options), best.safetensors (the weights of\n"
    "the best validation) and log.jsonl (every update's loss and learning rate,\n"
    "every validation's metrics).  SIGINT or SIGTERM writes the checkpoint and\n"
    "exits 0 (a second one ends the program at once, as does one before the\n"
    "first update); --resume continues the run exactly where it stopped.\n"
    "\n"
    "The run:\n"
    "  -o, --output=RUNDIR        the run's folder (made when missing, with its\n"
    "                             parents)\n"
    "  -c, --config=FILE          the model configuration (share/configs/*.json)\n"
    "      --train=MANIFEST       the training samples\n"
    "      --val=MANIFEST         the validation samples\n"
    "      --init=WEIGHTS         start from these weights, matched by name (a\n"
    "                             converted pretrained Swin and BERT, or a model);\n"
    "                             without --config, its configuration is used\n"
    "      --allow-unused         ignore tensors of --init that the model does not\n"
    "                             have (otherwise an error)\n"
    "      --resume               continue the run in RUNDIR (its options and\n"
    "                             manifests, unless given)\n"
    "      --vocab=FILE           the WordPiece vocabulary (default\n"
    "                             bert-base-uncased, in share/vocab beside the programs)\n"
    "\n"
    "Training options (a resumed run keeps them; giving another value is an error):\n"
    "      --epochs=N             epochs (default 40)\n"
    "      --batch=N              samples per micro-batch (default 8)\n"
    "      --accum=N              micro-batches per update, gradients summed and\n"
    "                             averaged (default 1)\n"
    "      --lr=X                 learning rate (default 6e-4)\n"
    "      --schedule=NAME        cosine (to 0, the default) or poly (power 0.9,\n"
    "                             LAVT/RMSIN), stepped every update\n"
    "      --warmup-epochs=X      linear warmup (default 0)\n"
    "      --backbone-lr-mult=X   learning-rate factor of the pretrained parts:\n"
    "                             Swin patch embedding, blocks and patch merging,\n"
    "                             BERT (default 1; 0.1 is the recommended fallback)\n"
    "      --weight-decay=X       AdamW weight decay (default 0.01; backbone norms,\n"
    "                             position tables: 0)\n"
    "      --clip=X               clip the global gradient norm to X (default 0: off)\n"
    "      --seed=N               weights, data order, boxes and dropout (default 2401)\n"
    "      --random-erase         RMSIN's random black boxes on 20% of the samples\n"
    "      --best-metric=NAME     what best.safetensors maximises: oiou (default),\n"
    "                             miou, p50, p60, p70, p80, p90, ciou, giou, nacc,\n"
    "                             tacc, or loss (minimised)\n"
    "\n"
    "Running:\n"
    "      --threads=N            data-loading threads (default 2); compute threads\n"
    "                             follow OMP_NUM_THREADS\n"
    "      --device=DEV           auto (the default: CUDA when present), cpu or cuda\n"
    "      --log-every=N          a progress line every N updates when standard\n"
    "                             error is not a terminal (default 10)\n"
    "      --val-every=N          validate every N updates (default 0: every epoch)\n"
    "      --ckpt-every=N         write the checkpoint every N updates too\n"
    "                             (default 1000; 0: at validations and the end only)\n"
    "      --max-steps=N          stop after update N (the schedule still spans\n"
    "                             the epochs)\n"
    "      --max-bad-steps=K      stop after K updates in a row with a NaN or an Inf\n"
    "                             in the loss or the gradients (default 5)\n"
    "      --check=CHECKPOINT     verify a checkpoint and print a JSON summary\n"
    "      --bands=LIST           the image bands that become red, green, blue\n"
    "                             (3,2,1), or one for gray (as rrsis-encode; not\n"
    "                             saved: give it again with --resume)\n"
    "      --scale=MIN,MAX        map MIN..MAX to 0..255 in every band (default\n"
    "                             for data of more than 8 bits: each image's 2nd\n"
    "                             to 98th percentiles per band; not saved)\n"
    "      --max-pixels=N         the most pixels an image or mask read may have\n"
    "      --help                 display this help and exit\n"
    "      --version              output version information and exit\n"
    "\n"
    "Images and masks of more pixels than --max-pixels, else $RRSIS_MAX_PIXELS,\n"
    "else 16384x16384 are refused; manifests must be regular files or pipes.\n"
    "Exit status: 0 when the run is complete, stopped at --max-steps or by a\n"
    "signal (with a checkpoint written), 1 on an error (--max-bad-steps included;\n"
    "the last checkpoint is then left as it was), 2 on a usage error; ended by\n"
    "the signal (128+N) before the first update or on a second signal.\n"
    "\n"
    "Examples:\n"
    "  rrsis-train -c share/configs/mrsnet-nano.json --train=synth/train.jsonl \\\n"
    "      --val=synth/val.jsonl -o runs/nano --epochs=20 --lr=1e-3\n"
    "  rrsis-train -o runs/nano --resume\n"
    "  tools/plot_log.py runs/nano/log.jsonl -o runs/nano/curves.png\n";

enum {
    OPT_CONFIG = 'c',
    OPT_OUTPUT = 'o',
    OPT_TRAIN = 0x100,
    OPT_MAX_PIXELS,
    OPT_BANDS,
    OPT_SCALE,
    OPT_VAL,
    OPT_INIT,
    OPT_ALLOW_UNUSED,
    OPT_RESUME,
    OPT_VOCAB,
    OPT_EPOCHS,
    OPT_BATCH,
    OPT_ACCUM,
    OPT_LR,
    OPT_SCHEDULE,
    OPT_WARMUP,
    OPT_BACKBONE_LR_MULT,
    OPT_WEIGHT_DECAY,
    OPT_CLIP,
    OPT_SEED,
    OPT_RANDOM_ERASE,
    OPT_BEST_METRIC,
    OPT_THREADS,
    OPT_DEVICE,
    OPT_LOG_EVERY,
    OPT_VAL_EVERY,
    OPT_CKPT_EVERY,
    OPT_MAX_STEPS,
    OPT_MAX_BAD_STEPS,
    OPT_CHECK,
};

static const struct option options[] = {
    {"output", required_argument, NULL, OPT_OUTPUT},
    {"config", required_argument, NULL, OPT_CONFIG},
    {"train", required_argument, NULL, OPT_TRAIN},
    {"val", required_argument, NULL, OPT_VAL},
    {"init", required_argument, NULL, OPT_INIT},
    {"allow-unused", no_argument, NULL, OPT_ALLOW_UNUSED},
    {"resume", no_argument, NULL, OPT_RESUME},
    {"vocab", required_argument, NULL, OPT_VOCAB},
    {"epochs", required_argument, NULL, OPT_EPOCHS},
    {"batch", required_argument, NULL, OPT_BATCH},
    {"accum", required_argument, NULL, OPT_ACCUM},
    {"lr", required_argument, NULL, OPT_LR},
    {"schedule", required_argument, NULL, OPT_SCHEDULE},
    {"warmup-epochs", required_argument, NULL, OPT_WARMUP},
    {"backbone-lr-mult", required_argument, NULL, OPT_BACKBONE_LR_MULT},
    {"weight-decay", required_argument, NULL, OPT_WEIGHT_DECAY},
    {"clip", required_argument, NULL, OPT_CLIP},
    {"seed", required_argument, NULL, OPT_SEED},
    {"random-erase", no_argument, NULL, OPT_RANDOM_ERASE},
    {"best-metric", required_argument, NULL, OPT_BEST_METRIC},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"device", required_argument, NULL, OPT_DEVICE},
    {"log-every", required_argument, NULL, OPT_LOG_EVERY},
    {"val-every", required_argument, NULL, OPT_VAL_EVERY},
    {"ckpt-every", required_argument, NULL, OPT_CKPT_EVERY},
    {"max-steps", required_argument, NULL, OPT_MAX_STEPS},
    {"max-bad-steps", required_argument, NULL, OPT_MAX_BAD_STEPS},
    {"check", required_argument, NULL, OPT_CHECK},
    {"max-pixels", required_argument, NULL, OPT_MAX_PIXELS},
    {"bands", required_argument, NULL, OPT_BANDS},
    {"scale", required_argument, NULL, OPT_SCALE},
    RR_CLI_COMMON_OPTIONS,
    {NULL, 0, NULL, 0},
};

static volatile sig_atomic_t stop;

/* The first SIGINT or SIGTERM asks for a checkpoint and a clean exit (the
 * trainer looks at stop between updates); any later one, of either kind and
 * on whichever thread, ends the program at once by the default action.  The
 * exchange decides which one was first when two arrive together; the
 * checkpoint on disk stays whole either way (it is replaced by rename). */
static void on_signal(int sig)
{
    struct sigaction dfl = {.sa_handler = SIG_DFL};
    sigaction(SIGINT, &dfl, NULL);
    sigaction(SIGTERM, &dfl, NULL);
    if (__atomic_exchange_n(&stop, 1, __ATOMIC_SEQ_CST))
        raise(sig);
}

/* The trainer's started hook: until the first update, SIGINT and SIGTERM
 * keep their default action (set in main), which ends set-up at once. */
static void catch_signals(void)
{
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGINT); /* a second signal waits for the handler */
    sigaddset(&sa.sa_mask, SIGTERM);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

static double positive(const char *opt, const char *arg)
{
    double v = rr_cli_double(opt, arg, 0, 1e30);
    if (!(v > 0))
        rr_cli_usage_error("%s: '%s' is not positive", opt, arg);
    return v;
}

int main(int argc, char **argv)
{
    rr_cli_init(argv);
    rr_train_opts o;
    rr_raster_opts raster = {0};
    rr_train_defaults(&o);
    o.raster = &raster;
    o.progress = stderr;
    o.tty = isatty(STDERR_FILENO);
    o.stop = &stop;
    const char *device = "auto", *check = NULL;
    int opt;
    while ((opt = getopt_long(argc, argv, "c:o:", options, NULL)) != -1) {
        switch (opt) {
        case OPT_OUTPUT: o.rundir = optarg; break;
        case OPT_CONFIG: o.config = optarg; break;
        case OPT_TRAIN: o.train = optarg; break;
        case OPT_VAL: o.val = optarg; break;
        case OPT_INIT: o.init = optarg; break;
        case OPT_ALLOW_UNUSED: o.allow_unused = 1; break;
        case OPT_RESUME: o.resume = 1; break;
        case OPT_VOCAB: o.vocab = optarg; break;
        case OPT_EPOCHS: o.epochs = (int)rr_cli_long("--epochs", optarg, 1, 1000000); o.given |= RR_OPT_EPOCHS; break;
        case OPT_BATCH: o.batch = (int)rr_cli_long("--batch", optarg, 1, 65536); o.given |= RR_OPT_BATCH; break;
        case OPT_ACCUM: o.accum = (int)rr_cli_long("--accum", optarg, 1, 65536); o.given |= RR_OPT_ACCUM; break;
        case OPT_LR: o.lr = positive("--lr", optarg); o.given |= RR_OPT_LR; break;
        case OPT_SCHEDULE:
            if (rr_sched_parse(optarg, &o.schedule))
                rr_cli_usage_error("--schedule: '%s' is not cosine or poly", optarg);
            o.given |= RR_OPT_SCHEDULE;
            break;
        case OPT_WARMUP:
            o.warmup_epochs = rr_cli_double("--warmup-epochs", optarg, 0, 1e6);
            o.given |= RR_OPT_WARMUP;
            break;
        case OPT_BACKBONE_LR_MULT:
            o.backbone_lr_mult = rr_cli_double("--backbone-lr-mult", optarg, 0, 1e6);
            o.given |= RR_OPT_BACKBONE_LR_MULT;
            break;
        case OPT_WEIGHT_DECAY:
            o.weight_decay = rr_cli_double("--weight-decay", optarg, 0, 1e6);
            o.given |= RR_OPT_WEIGHT_DECAY;
            break;
        case OPT_CLIP: o.clip = rr_cli_double("--clip", optarg, 0, 1e30); o.given |= RR_OPT_CLIP; break;
        case OPT_SEED: {
            char *end;
            errno = 0;
            o.seed = strtoull(optarg, &end, 10);
            if (errno || end == optarg || *end || *optarg == '-')
                rr_cli_usage_error("--seed: '%s' is not an integer from 0 to 2^64-1", optarg);
            o.given |= RR_OPT_SEED;
            break;
        }
        case OPT_RANDOM_ERASE: o.random_erase = 1; o.given |= RR_OPT_RANDOM_ERASE; break;
        case OPT_BEST_METRIC:
            if (rr_metric_parse(optarg, &o.best_metric))
                rr_cli_usage_error("--best-metric: '%s' is not one of oiou, miou, p50, p60, p70, p80, p90, ciou, "
                                   "giou, nacc, tacc, loss", optarg);
            o.given |= RR_OPT_BEST_METRIC;
            break;
        case OPT_THREADS: o.threads = (int)rr_cli_long("--threads", optarg, 1, 256); break;
        case OPT_MAX_PIXELS: rr_cli_max_pixels(optarg); break;
        case OPT_BANDS: rr_cli_bands(&raster, optarg); break;
        case OPT_SCALE: rr_cli_scale(&raster, optarg); break;
        case OPT_DEVICE: device = optarg; break;
        case OPT_LOG_EVERY: o.log_every = rr_cli_long("--log-every", optarg, 1, LONG_MAX); break;
        case OPT_VAL_EVERY: o.val_every = rr_cli_long("--val-every", optarg, 0, LONG_MAX); break;
        case OPT_CKPT_EVERY: o.ckpt_every = rr_cli_long("--ckpt-every", optarg, 0, LONG_MAX); break;
        case OPT_MAX_STEPS: o.max_steps = rr_cli_long("--max-steps", optarg, 1, LONG_MAX); break;
        case OPT_MAX_BAD_STEPS: o.max_bad_steps = (int)rr_cli_long("--max-bad-steps", optarg, 1, 1000000); break;
        case OPT_CHECK: check = optarg; break;
        default: rr_cli_common_option(opt, help);
        }
    }
    if (optind < argc)
        rr_cli_usage_error("unexpected argument '%s'", argv[optind]);
    if (check) {
        if (rr_train_check(check, stdout))
            rr_cli_die_lib();
        return 0;
    }
    if (!o.rundir)
        rr_cli_usage_error("give the run's folder with -o RUNDIR");
    if (o.resume && o.init)
        rr_cli_usage_error("--resume and --init exclude each other (a resumed run has its weights)");
    if (o.allow_unused && !o.init)
        rr_cli_usage_error("--allow-unused needs --init");
    if (!o.resume && (!o.train || !o.val))
        rr_cli_usage_error("give --train and --val (or --resume)");
    if (!o.resume && !o.config && !o.init)
        rr_cli_usage_error("give --config (or --init with weights that carry one)");
    if (rr_device_parse(device, &o.device))
        rr_cli_usage_error("--device: %s", rr_errmsg());
    if (!o.vocab)
        o.vocab = rr_cli_default_vocab();

    /* even where the caller ignores them (a shell's background job ignores SIGINT) */
    struct sigaction dfl = {.sa_handler = SIG_DFL};
    sigaction(SIGINT, &dfl, NULL);
    sigaction(SIGTERM, &dfl, NULL);
    o.started = catch_signals;
    if (rr_train(&o))
        rr_cli_die_lib();
    return 0;
}
