/* rrsis-encode: a tokens stream to an encoded stream (the image read,
 * resized and normalised; the sentence through the text encoder).  The work
 * is rr_encode_run's (libcore/pipeline/encode.h). */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "error.h"
#include "pipeline/encode.h"

static const char help[] =
    "Usage: rrsis-encode -m MODEL [OPTION]... [FILE]\n"
    "Encode the samples of a tokens stream (rrsis-tokenize) for rrsis-fuse: the\n"
    "image a record names is read, resized to the model's input size S x S with\n"
    "the data pipeline's bilinear filter (the aspect ratio ignored) and\n"
    "normalised, and the token ids go through the model's text encoder (BERT).\n"
    "Reads FILE, or standard input when FILE is - or absent.  Writes an encoded\n"
    "stream to standard output, one record per sample in the order read: the\n"
    "tensors image (F32 3xSxS), L (F32 D_l x N_l, the word features) and\n"
    "attention_mask (I32 N_l), and the tokens record's metadata with the image's\n"
    "path, width and height, and the model that made it: model (a digest of the\n"
    "weight file's tensors and configuration) and model_file (its name), which\n"
    "rrsis-fuse and rrsis-decode check.\n"
    "\n"
    "  -m, --model=FILE   the weight file (default: the file $RRSIS_MODEL names)\n"
    "      --allow-unused ignore tensors of the weight file that its configuration\n"
    "                     does not use (otherwise an error)\n"
    "      --image=FILE   the image of every record, instead of the one it names;\n"
    "                     a record that names none gets FILE's name before its\n"
    "                     id (airport-c03b77d9), as rrsis-tokenize names samples\n"
    "  -b, --batch=N      records per run of the network, 1 to 4096 (default 8)\n"
    "      --device=DEV   auto (the default: the GPU when there is one), cpu or\n"
    "                     cuda\n"
    "  -v, --verbose      say which model and device on standard error, and\n"
    "                     the progress as a line per batch when standard error\n"
    "                     is not a terminal (on a terminal it is always shown,\n"
    "                     on one line)\n"
    "      --max-pixels=N the most pixels an image or mask read may have\n"
    "      --help         display this help and exit\n"
    "      --version      output version information and exit\n"
    "\n"
    "Images of more pixels than --max-pixels, else $RRSIS_MAX_PIXELS, else\n"
    "16384x16384 are refused; named inputs must be regular files or pipes.\n"
    "Exit status: 0 on success, 1 on invalid input (a malformed or truncated\n"
    "record, a stream without its end mark, a NaN or infinite value, a record of\n"
    "another stage, an image that cannot be read) or an I/O error, 2 on a usage\n"
    "error.  The stream written ends with its end mark once every record is.\n"
    "\n"
    "Examples:\n"
    "  rrsis-tokenize 'the ship on the left' | rrsis-encode -m model.safetensors \\\n"
    "    --image scene.png | rrsis-fuse -m model.safetensors \\\n"
    "    | rrsis-decode -m model.safetensors -o mask.png\n";

enum { OPT_IMAGE = 1, OPT_DEVICE, OPT_ALLOW_UNUSED, OPT_MAX_PIXELS };

static const struct option options[] = {
    {"model", required_argument, NULL, 'm'},
    {"image", required_argument, NULL, OPT_IMAGE},
    {"batch", required_argument, NULL, 'b'},
    {"device", required_argument, NULL, OPT_DEVICE},
    {"allow-unused", no_argument, NULL, OPT_ALLOW_UNUSED},
    {"verbose", no_argument, NULL, 'v'},
    {"max-pixels", required_argument, NULL, OPT_MAX_PIXELS},
    RR_CLI_COMMON_OPTIONS,
    {NULL, 0, NULL, 0},
};

int main(int argc, char **argv)
{
    rr_cli_init(argv);
    const char *model = getenv("RRSIS_MODEL"), *device = "auto";
    rr_encode_opts o = {.batch = 8};
    int verbose = 0, allow_unused = 0, opt;
    while ((opt = getopt_long(argc, argv, "m:b:v", options, NULL)) != -1) {
        switch (opt) {
        case 'm': model = optarg; break;
        case OPT_IMAGE: o.image = optarg; break;
        case 'b': o.batch = (int)rr_cli_long("--batch", optarg, 1, 4096); break;
        case OPT_MAX_PIXELS: rr_cli_max_pixels(optarg); break;
        case OPT_DEVICE: device = optarg; break;
        case OPT_ALLOW_UNUSED: allow_unused = 1; break;
        case 'v': verbose = 1; break;
        default: rr_cli_common_option(opt, help);
        }
    }
    rr_stage_check(argc - optind, model, device);
    rr_cli_refuse_tty(stdout, "the encoded stream");
    rr_stage_cli s;
    rr_stage_open(&s, optind < argc ? argv[optind] : "-", model, RR_PART_TEXT, device, allow_unused, verbose);
    o.model = &s.model;
    o.progress = rr_stage_progress;
    o.progress_arg = &s.progress;
    rr_stage_close(&s, rr_encode_run(&o, s.in, stdout));
    return 0; /* stdout's close is checked at exit */
}
