/* rrsis-fuse: an encoded stream to a fused stream (the Swin backbone with
 * the IFIMs, then the HFIM).  The work is rr_fuse_run's
 * (libcore/pipeline/fuse.h). */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "error.h"
#include "pipeline/fuse.h"

static const char help[] =
    "Usage: rrsis-fuse -m MODEL [OPTION]... [FILE]\n"
    "Fuse image and sentence for rrsis-decode: the encoded stream of rrsis-encode\n"
    "goes through the model's Swin backbone, with an IFIM fusing the word\n"
    "features into each of its four stages, and the HFIM over the four scales.\n"
    "Reads FILE, or standard input when FILE is - or absent.  Writes a fused\n"
    "stream to standard output, one record per sample in the order read: the\n"
    "tensors D1 to D4 (F32 C_i x H_i x W_i, the HFIM's outputs at strides 4, 8,\n"
    "16 and 32) and the encoded record's metadata (id, sentence, image, width,\n"
    "height).\n"
    "\n"
    "  -m, --model=FILE   the weight file (default: the file $RRSIS_MODEL names)\n"
    "      --allow-unused ignore tensors of the weight file that its configuration\n"
    "                     does not use (otherwise an error)\n"
    "  -b, --batch=N      records per run of the network, 1 to 4096 (default 8)\n"
    "      --device=DEV   auto (the default: the GPU when there is one), cpu or\n"
    "                     cuda\n"
    "  -v, --verbose      say which model and device on standard error, and\n"
    "                     the progress as a line per batch when standard error\n"
    "                     is not a terminal (on a terminal it is always shown,\n"
    "                     on one line)\n"
    "      --help         display this help and exit\n"
    "      --version      output version information and exit\n"
    "\n"
    "Exit status: 0 on success, 1 on invalid input (a malformed or truncated\n"
    "record, a stream without its end mark, a NaN or infinite value, a record of\n"
    "another stage, tensors of another model's shapes, a record made by another\n"
    "model than this one, or naming none) or an I/O error, 2 on a usage error.\n"
    "The stream written ends with its end mark once every record is.\n"
    "\n"
    "Example:\n"
    "  rrsis-encode -m model.safetensors < tokens.st \\\n"
    "    | rrsis-fuse -m model.safetensors > fused.st\n";

enum { OPT_DEVICE = 1, OPT_ALLOW_UNUSED };

static const struct option options[] = {
    {"model", required_argument, NULL, 'm'},
    {"batch", required_argument, NULL, 'b'},
    {"device", required_argument, NULL, OPT_DEVICE},
    {"allow-unused", no_argument, NULL, OPT_ALLOW_UNUSED},
    {"verbose", no_argument, NULL, 'v'},
    RR_CLI_COMMON_OPTIONS,
    {NULL, 0, NULL, 0},
};

int main(int argc, char **argv)
{
    rr_cli_init(argv);
    const char *model = getenv("RRSIS_MODEL"), *device = "auto";
    rr_fuse_opts o = {.batch = 8};
    int verbose = 0, allow_unused = 0, opt;
    while ((opt = getopt_long(argc, argv, "m:b:v", options, NULL)) != -1) {
        switch (opt) {
        case 'm': model = optarg; break;
        case 'b': o.batch = (int)rr_cli_long("--batch", optarg, 1, 4096); break;
        case OPT_DEVICE: device = optarg; break;
        case OPT_ALLOW_UNUSED: allow_unused = 1; break;
        case 'v': verbose = 1; break;
        default: rr_cli_common_option(opt, help);
        }
    }
    rr_stage_check(argc - optind, model, device);
    rr_cli_refuse_tty(stdout, "the fused stream");
    rr_stage_cli s;
    rr_stage_open(&s, optind < argc ? argv[optind] : "-", model, RR_PART_BACKBONE, device, allow_unused, verbose);
    o.model = &s.model;
    o.progress = rr_stage_progress;
    o.progress_arg = &s.progress;
    rr_stage_close(&s, rr_fuse_run(&o, s.in, stdout));
    return 0; /* stdout's close is checked at exit */
}
