/* rrsis-decode: a fused stream to masks (PNG or GeoTIFF files), polygons,
 * overlays, and one JSON
 * line or one logits record per sample.  The work is rr_decode_run's
 * (libcore/pipeline/decode.h). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "error.h"
#include "io/mask_writer.h"
#include "io/polygons.h"
#include "pipeline/decode.h"

static const char help[] =
    "Usage: rrsis-decode -m MODEL [OPTION]... [FILE]\n"
    "Segment: the fused stream of rrsis-fuse goes through the model's decoder;\n"
    "its logits are upsampled (bilinear, corners aligned) to the model's input\n"
    "size S x S, then to the image's own size, and a pixel is foreground where\n"
    "the foreground logit exceeds the background one.  Reads FILE, or standard\n"
    "input when FILE is - or absent.  Writes one JSON line per sample, in the\n"
    "order read, to standard output: {\"id\", \"mask\" (the PNG's path or null),\n"
    "\"overlay\" (with --overlay), \"width\", \"height\", \"empty\", \"area\" (pixels),\n"
    "\"bbox\" ([x, y, w, h] of the foreground, or null)}.\n"
    "\n"
    "Tiles of a scene (records with \"window\", \"tile\" and \"tiles\": the\n"
    "tiled mode of rrsis-encode) are stitched into one mask of the scene's\n"
    "size, their logits blended where they overlap (linear ramp weights),\n"
    "written a band of rows at a time, and named by the scene's id; its JSON\n"
    "line follows its last tile, with \"tiles\": the count.  A \"context\"\n"
    "record before the tiles (the gated mode) gates them: a pixel stays\n"
    "foreground only where the whole scene's prediction, dilated, says so\n"
    "too.  NoData pixels of the source (the \"valid\" tensor) are never\n"
    "foreground.\n"
    "\n"
    "  -m, --model=FILE   the weight file (default: the file $RRSIS_MODEL names)\n"
    "      --allow-unused ignore tensors of the weight file that its configuration\n"
    "                     does not use (otherwise an error)\n"
    "      --outdir=DIR   write each mask to DIR/ID.png, 0 and 255 (the layout\n"
    "                     rrsis-score reads); DIR is made when missing, with\n"
    "                     its parents; a DIR/ID.png already there is an error\n"
    "                     (nothing is overwritten without --force)\n"
    "  -o, --output=FILE  write the mask of a one-sample (or one-scene) stream\n"
    "                     to FILE (- for standard output, which then holds\n"
    "                     only the PNG); its folder is made when missing, and\n"
    "                     FILE is replaced\n"
    "      --mask-format=FMT  png (0 and 255) or gtiff (a tiled DEFLATE\n"
    "                     GeoTIFF of 0 and 255 with the scene's CRS and\n"
    "                     geotransform, NoData as its mask band); default: by\n"
    "                     the name of -o (.tif, .tiff: gtiff), png for --outdir\n"
    "      --vector=FILE  write the masks' polygons (4-connected pixels) to\n"
    "                     FILE, .geojson, .gpkg or .shp, one layer \"masks\"\n"
    "                     for every sample, with id, sentence, pixels, area_m2\n"
    "                     (a projected CRS; else null) and mean_prob; its\n"
    "                     folder is made when missing, and FILE is replaced\n"
    "      --vector-crs=CRS  EPSG:4326 (longitude, latitude; the default for\n"
    "                     .geojson, as RFC 7946 wants) or native (the scene's\n"
    "                     CRS; the default for .gpkg and .shp)\n"
    "      --simplify=TOL simplify the polygons by TOL map units (topology\n"
    "                     kept); 0, the default, keeps every pixel's corner\n"
    "      --gate-threshold=P  the gated mode: the least context probability\n"
    "                     (0 to 1, default 0.5) where tiles keep foreground\n"
    "      --gate-dilate=N   the gated mode: the context's probabilities are\n"
    "                     first dilated by N of its pixels (default 1)\n"
    "      --overlay=DIR  write DIR/ID.png: the mask tinted over the image, with\n"
    "                     the sentence written on it (made and kept as --outdir)\n"
    "  -f, --force        replace files already in --outdir and --overlay\n"
    "      --size=SIZE    the masks' size: original (the default: the image's)\n"
    "                     or model (S x S, the published evaluation protocol)\n"
    "      --logits       write a logits stream to standard output instead of\n"
    "                     the JSON lines: one record per sample with the tensor\n"
    "                     logits (F32 2 x H x W, at the masks' size)\n"
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
    "An image read for an overlay may have at most --max-pixels pixels, else\n"
    "$RRSIS_MAX_PIXELS, else 16384x16384.\n"
    "Exit status: 0 on success, 1 on invalid input (a malformed or truncated\n"
    "record, a stream without its end mark, a NaN or infinite value, a record of\n"
    "another stage, tensors of another model's shapes, a record made by another\n"
    "model than this one or naming none, an image that cannot be\n"
    "read for an overlay, a mask or overlay file that exists, a scene's tiles\n"
    "out of order or missing, a scene without a CRS for polygons in EPSG:4326)\n"
    "or an I/O error,\n"
    "2 on a usage error.  A logits stream ends with its end mark once every\n"
    "record is written.\n"
    "\n"
    "Examples:\n"
    "  rrsis-fuse -m model.safetensors < encoded.st \\\n"
    "    | rrsis-decode -m model.safetensors --outdir masks > results.jsonl\n"
    "  rrsis-decode -m model.safetensors --size model --logits < fused.st > lg.st\n"
    "  rrsis-decode -m model.safetensors -o mask.tif --vector ships.gpkg < fused.st\n";

enum {
    OPT_OUTDIR = 1, OPT_OVERLAY, OPT_SIZE, OPT_LOGITS, OPT_DEVICE, OPT_ALLOW_UNUSED, OPT_MAX_PIXELS,
    OPT_MASK_FORMAT, OPT_VECTOR, OPT_VECTOR_CRS, OPT_SIMPLIFY, OPT_GATE_THRESHOLD, OPT_GATE_DILATE
};

static const struct option options[] = {
    {"model", required_argument, NULL, 'm'},
    {"outdir", required_argument, NULL, OPT_OUTDIR},
    {"output", required_argument, NULL, 'o'},
    {"overlay", required_argument, NULL, OPT_OVERLAY},
    {"size", required_argument, NULL, OPT_SIZE},
    {"logits", no_argument, NULL, OPT_LOGITS},
    {"force", no_argument, NULL, 'f'},
    {"batch", required_argument, NULL, 'b'},
    {"device", required_argument, NULL, OPT_DEVICE},
    {"allow-unused", no_argument, NULL, OPT_ALLOW_UNUSED},
    {"verbose", no_argument, NULL, 'v'},
    {"max-pixels", required_argument, NULL, OPT_MAX_PIXELS},
    {"mask-format", required_argument, NULL, OPT_MASK_FORMAT},
    {"vector", required_argument, NULL, OPT_VECTOR},
    {"vector-crs", required_argument, NULL, OPT_VECTOR_CRS},
    {"simplify", required_argument, NULL, OPT_SIMPLIFY},
    {"gate-threshold", required_argument, NULL, OPT_GATE_THRESHOLD},
    {"gate-dilate", required_argument, NULL, OPT_GATE_DILATE},
    RR_CLI_COMMON_OPTIONS,
    {NULL, 0, NULL, 0},
};

int main(int argc, char **argv)
{
    rr_cli_init(argv);
    const char *model = getenv("RRSIS_MODEL"), *device = "auto";
    rr_decode_opts o = {.batch = 8, .mask_format = -1, .gate_dilate = 1, .gate_threshold = 0.5f};
    const char *vector_crs = NULL;
    int verbose = 0, allow_unused = 0, opt;
    while ((opt = getopt_long(argc, argv, "m:o:b:vf", options, NULL)) != -1) {
        switch (opt) {
        case 'm': model = optarg; break;
        case OPT_OUTDIR: o.outdir = optarg; break;
        case 'o': o.output = optarg; break;
        case OPT_OVERLAY: o.overlay = optarg; break;
        case OPT_SIZE:
            if (strcmp(optarg, "original") == 0)
                o.model_size = 0;
            else if (strcmp(optarg, "model") == 0)
                o.model_size = 1;
            else
                rr_cli_usage_error("--size: '%s' is not original or model", optarg);
            break;
        case OPT_LOGITS: o.logits = 1; break;
        case 'f': o.force = 1; break;
        case 'b': o.batch = (int)rr_cli_long("--batch", optarg, 1, 4096); break;
        case OPT_MAX_PIXELS: rr_cli_max_pixels(optarg); break;
        case OPT_DEVICE: device = optarg; break;
        case OPT_ALLOW_UNUSED: allow_unused = 1; break;
        case 'v': verbose = 1; break;
        case OPT_MASK_FORMAT:
            if (strcmp(optarg, "png") == 0)
                o.mask_format = RR_MASK_PNG;
            else if (strcmp(optarg, "gtiff") == 0)
                o.mask_format = RR_MASK_GTIFF;
            else
                rr_cli_usage_error("--mask-format: '%s' is not png or gtiff", optarg);
            break;
        case OPT_VECTOR: o.vector = optarg; break;
        case OPT_VECTOR_CRS:
            if (strcmp(optarg, "native") && strcasecmp(optarg, "EPSG:4326"))
                rr_cli_usage_error("--vector-crs: '%s' is not EPSG:4326 or native", optarg);
            vector_crs = optarg;
            break;
        case OPT_SIMPLIFY: o.simplify = rr_cli_double("--simplify", optarg, 0, 1e12); break;
        case OPT_GATE_THRESHOLD: o.gate_threshold = (float)rr_cli_double("--gate-threshold", optarg, 0, 1); break;
        case OPT_GATE_DILATE: o.gate_dilate = (int)rr_cli_long("--gate-dilate", optarg, 0, 64); break;
        default: rr_cli_common_option(opt, help);
        }
    }
    rr_stage_check(argc - optind, model, device);
    if (o.outdir && o.output)
        rr_cli_usage_error("--outdir and --output exclude each other");
    int png_out = o.output && strcmp(o.output, "-") == 0;
    if (png_out && o.mask_format == RR_MASK_GTIFF)
        rr_cli_usage_error("--mask-format=gtiff: a GeoTIFF cannot go to standard output");
    if (o.vector && !rr_polygons_format_known(o.vector))
        rr_cli_usage_error("--vector: '%s' does not end in .geojson, .gpkg or .shp", o.vector);
    if ((vector_crs || o.simplify > 0) && !o.vector)
        rr_cli_usage_error("%s without --vector", vector_crs ? "--vector-crs" : "--simplify");
    if (o.vector)
        o.vector_wgs84 = vector_crs ? strcmp(vector_crs, "native") != 0 : rr_polygons_is_geojson(o.vector);
    if (png_out && o.logits)
        rr_cli_usage_error("--output=- and --logits both write to standard output");
    if (o.logits || png_out)
        rr_cli_refuse_tty(stdout, o.logits ? "the logits stream" : "the PNG");
    rr_stage_cli s;
    rr_stage_open(&s, optind < argc ? argv[optind] : "-", model, RR_PART_DECODER, device, allow_unused, verbose);
    o.model = &s.model;
    o.progress = rr_stage_progress;
    o.progress_arg = &s.progress;
    rr_stage_close(&s, rr_decode_run(&o, s.in, stdout));
    return 0; /* stdout's close is checked at exit */
}
