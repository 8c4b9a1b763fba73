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
    "Images: PNG and JPEG through the Pillow-exact decoders; GeoTIFF, COG, JPEG\n"
    "2000, VRT and any other raster GDAL reads through GDAL.  Data of more than\n"
    "8 bits is scaled to 8 bits per band, NoData pixels are marked in a tensor\n"
    "valid (U8 HxW, 1 valid, 0 NoData, at the image's size before resizing), and\n"
    "each record carries the scene's crs, geotransform, nodata, bands, scale\n"
    "(scale_min, scale_max), scene_width and scene_height.\n"
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
    "      --bands=LIST   the source bands that become red, green, blue (3,2,1),\n"
    "                     or one band for gray (default: the bands marked red,\n"
    "                     green, blue, else band 1 when fewer than 3, else 1,2,3)\n"
    "      --scale=MIN,MAX  map MIN..MAX to 0..255 in every band (default for\n"
    "                     data of more than 8 bits: each band's 2nd to 98th\n"
    "                     percentile over its valid pixels, once per scene)\n"
    "      --gsd=METRES   resample the scene to this ground sample distance first\n"
    "                     (GDAL's bilinear; a projected CRS in metres)\n"
    "      --tile=SIZE    tiled mode: a record per SIZE x SIZE window of the\n"
    "                     scene, in raster order, read one window at a time; the\n"
    "                     last row and column are moved back inside the scene\n"
    "      --overlap=PX   pixels shared by neighbouring tiles (default 0)\n"
    "      --context      tiled mode: first a record of the whole scene shrunk to\n"
    "                     at most 1024 pixels a side (role context)\n"
    "      --max-pixels=N the most pixels an image or mask read at once may have\n"
    "                     (a tile in tiled mode)\n"
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
    "In tiled mode a record's id is the sample's with -t1, -t2, ... (-ctx for the\n"
    "context record), and its metadata adds role (tile or context), window (x y\n"
    "w h in the scene's pixels), tile and tiles.\n"
    "\n"
    "Examples:\n"
    "  rrsis-tokenize 'the ship on the left' | rrsis-encode -m model.safetensors \\\n"
    "    --image scene.png | rrsis-fuse -m model.safetensors \\\n"
    "    | rrsis-decode -m model.safetensors -o mask.png\n"
    "  rrsis-tokenize 'all ships' | rrsis-encode -m model.safetensors \\\n"
    "    --image scene.tif --bands 3,2,1 --tile 480 --overlap 64 > tiles.st\n";

enum {
    OPT_IMAGE = 1,
    OPT_DEVICE,
    OPT_ALLOW_UNUSED,
    OPT_MAX_PIXELS,
    OPT_BANDS,
    OPT_SCALE,
    OPT_GSD,
    OPT_TILE,
    OPT_OVERLAP,
    OPT_CONTEXT
};

static const struct option options[] = {
    {"model", required_argument, NULL, 'm'},
    {"image", required_argument, NULL, OPT_IMAGE},
    {"batch", required_argument, NULL, 'b'},
    {"device", required_argument, NULL, OPT_DEVICE},
    {"allow-unused", no_argument, NULL, OPT_ALLOW_UNUSED},
    {"verbose", no_argument, NULL, 'v'},
    {"max-pixels", required_argument, NULL, OPT_MAX_PIXELS},
    {"bands", required_argument, NULL, OPT_BANDS},
    {"scale", required_argument, NULL, OPT_SCALE},
    {"gsd", required_argument, NULL, OPT_GSD},
    {"tile", required_argument, NULL, OPT_TILE},
    {"overlap", required_argument, NULL, OPT_OVERLAP},
    {"context", no_argument, NULL, OPT_CONTEXT},
    RR_CLI_COMMON_OPTIONS,
    {NULL, 0, NULL, 0},
};

int main(int argc, char **argv)
{
    rr_cli_init(argv);
    const char *model = getenv("RRSIS_MODEL"), *device = "auto";
    rr_raster_opts raster = {0};
    rr_encode_opts o = {.batch = 8, .raster = &raster};
    int verbose = 0, allow_unused = 0, opt;
    while ((opt = getopt_long(argc, argv, "m:b:v", options, NULL)) != -1) {
        switch (opt) {
        case 'm': model = optarg; break;
        case OPT_IMAGE: o.image = optarg; break;
        case 'b': o.batch = (int)rr_cli_long("--batch", optarg, 1, 4096); break;
        case OPT_MAX_PIXELS: rr_cli_max_pixels(optarg); break;
        case OPT_BANDS: rr_cli_bands(&raster, optarg); break;
        case OPT_SCALE: rr_cli_scale(&raster, optarg); break;
        case OPT_GSD: raster.gsd = rr_cli_double("--gsd", optarg, 1e-6, 1e9); break;
        case OPT_TILE: o.tile = (int)rr_cli_long("--tile", optarg, 16, 1 << 20); break;
        case OPT_OVERLAP: o.overlap = (int)rr_cli_long("--overlap", optarg, 0, 1 << 20); break;
        case OPT_CONTEXT: o.context = 1; break;
        case OPT_DEVICE: device = optarg; break;
        case OPT_ALLOW_UNUSED: allow_unused = 1; break;
        case 'v': verbose = 1; break;
        default: rr_cli_common_option(opt, help);
        }
    }
    if (o.overlap && !o.tile)
        rr_cli_usage_error("--overlap needs --tile");
    if (o.context && !o.tile)
        rr_cli_usage_error("--context needs --tile");
    if (o.tile && o.overlap >= o.tile)
        rr_cli_usage_error("--overlap %d: must be less than --tile %d", o.overlap, o.tile);
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
