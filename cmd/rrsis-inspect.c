/* rrsis-inspect: what the records of a tensor stream (or a safetensors file)
 * hold, one JSON line per record; or their count; or the records again,
 * re-serialised. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "error.h"
#include "io/stream.h"

static const char help[] =
    "Usage: rrsis-inspect [OPTION]... [FILE]...\n"
    "Print what each record of rrsis tensor streams (or safetensors files) holds:\n"
    "one JSON line per record with the file, the record number, the metadata and\n"
    "every tensor's dtype and shape.  Every record is read and checked in full,\n"
    "and so is a stream's end mark (its count of records), which is not listed.\n"
    "With no FILE, or when FILE is -, read standard input.\n"
    "\n"
    "  -s, --stats    add min, max, mean and the count of NaN and infinite values\n"
    "                 of every floating-point tensor\n"
    "  -c, --count    print only the number of records (of all FILEs together)\n"
    "      --copy     write the records to standard output, re-serialised (checks\n"
    "                 a stream and normalises its layout), and one end mark after\n"
    "                 them all: streams in several FILEs become one\n"
    "      --help     display this help and exit\n"
    "      --version  output version information and exit\n"
    "\n"
    "Exit status: 0 when every record was read, 1 on a malformed or truncated\n"
    "record, a stream without its end mark (or an empty input) or an I/O error,\n"
    "2 on a usage error.\n"
    "\n"
    "Examples:\n"
    "  rrsis-tokenize 'the white plane' | rrsis-inspect | jq .tensors\n"
    "  rrsis-inspect --stats model.safetensors\n";

enum { OPT_COPY = 1 };

static const struct option options[] = {
    {"stats", no_argument, NULL, 's'},
    {"count", no_argument, NULL, 'c'},
    {"copy", no_argument, NULL, OPT_COPY},
    RR_CLI_COMMON_OPTIONS,
    {NULL, 0, NULL, 0},
};

static void add_number(cJSON *obj, const char *key, const char *fmt, double v)
{
    char num[64];
    snprintf(num, sizeof num, fmt, v);
    cJSON_AddRawToObject(obj, key, num);
}

/* min, max and mean over the finite values, and how many are not finite. */
static void add_stats(cJSON *obj, rr_ctx *c, const rr_entry *e)
{
    rr_tensor *t = rr_entry_to_tensor(c, e, RR_F32);
    if (!t)
        rr_cli_die_lib();
    double lo = INFINITY, hi = -INFINITY, sum = 0;
    int64_t finite = 0;
    for (int64_t i = 0; i < t->numel; i++) {
        float v = rr_f32(t)[i];
        if (!isfinite(v))
            continue;
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
        sum += v;
        finite++;
    }
    if (finite) {
        add_number(obj, "min", "%.9g", lo);
        add_number(obj, "max", "%.9g", hi);
        add_number(obj, "mean", "%.9g", sum / (double)finite);
    } else {
        cJSON_AddNullToObject(obj, "min");
        cJSON_AddNullToObject(obj, "max");
        cJSON_AddNullToObject(obj, "mean");
    }
    add_number(obj, "nonfinite", "%.0f", (double)(t->numel - finite));
    rr_ctx_reset(c); /* one tensor at a time: a weight file is one big record */
}

static void print_summary(const char *file, long recno, const rr_record *rec, int stats, rr_ctx *c)
{
    cJSON *line = cJSON_CreateObject(), *meta = cJSON_CreateObject(), *tensors = cJSON_CreateObject();
    cJSON_AddStringToObject(line, "file", file);
    add_number(line, "record", "%.0f", (double)recno);
    cJSON_AddItemToObject(line, "metadata", meta);
    cJSON_AddItemToObject(line, "tensors", tensors);
    for (int i = 0; i < rec->nmeta; i++)
        cJSON_AddStringToObject(meta, rec->meta[i].key, rec->meta[i].value);
    for (int i = 0; i < rr_record_count(rec); i++) {
        const rr_entry *e = rr_record_entry(rec, i);
        cJSON *t = cJSON_CreateObject();
        cJSON_AddItemToObject(tensors, e->name, t);
        cJSON_AddStringToObject(t, "dtype", rr_dtype_name(e->dtype));
        char shape[RR_MAXDIM * 24 + 4] = "[";
        for (int d = 0, n = 1; d < e->ndim; d++)
            n += snprintf(shape + n, sizeof shape - (size_t)n, d ? ",%lld" : "%lld", (long long)e->shape[d]);
        strcat(shape, "]");
        cJSON_AddRawToObject(t, "shape", shape);
        if (stats && (e->dtype == RR_F32 || e->dtype == RR_F16 || e->dtype == RR_BF16 || e->dtype == RR_F64))
            add_stats(t, c, e);
    }
    char *text = cJSON_PrintUnformatted(line);
    if (!text)
        rr_cli_die("out of memory");
    puts(text);
    free(text);
    cJSON_Delete(line);
}

int main(int argc, char **argv)
{
    rr_cli_init(argv);
    int stats = 0, count = 0, copy = 0, opt;
    while ((opt = getopt_long(argc, argv, "sc", options, NULL)) != -1) {
        switch (opt) {
        case 's': stats = 1; break;
        case 'c': count = 1; break;
        case OPT_COPY: copy = 1; break;
        default: rr_cli_common_option(opt, help);
        }
    }
    if (stats + count + copy > 1)
        rr_cli_usage_error("--stats, --count and --copy exclude each other");
    if (copy)
        rr_cli_refuse_tty(stdout, "the stream");

    static char *stdin_only[] = {"-", NULL};
    char **files = optind < argc ? argv + optind : stdin_only;
    rr_ctx c;
    rr_ctx_init(&c, RR_CPU);
    rr_record rec;
    rr_record_init(&rec);
    long total = 0;
    int streams = 0; /* inputs that ended with a stream's end mark */
    for (; *files; files++) {
        FILE *f = rr_cli_open_read(*files);
        const char *name = f == stdin ? "standard input" : *files;
        long recno = 1;
        int r, stream = 0;
        for (; (r = rr_stream_read(f, &rec, recno)) == 1; recno++) {
            stream = rr_stream_is_record(&rec);
            if (copy && rr_stream_write(stdout, &rec) < 0)
                exit(1); /* the check of stdout's close at exit says why */
            if (!copy && !count)
                print_summary(*files, recno, &rec, stats, &c);
            if (ferror(stdout))
                exit(1);
        }
        /* records of no stream (a weight file, a stream of an older rrsis)
         * have no end mark to wait for */
        if (r < 0 && !(r == RR_STREAM_UNENDED && !stream))
            rr_cli_die("%s: %s", name, rr_errmsg());
        streams += r == 0;
        total += recno - 1;
        if (f != stdin)
            fclose(f);
    }
    if (copy && streams && rr_stream_end(stdout, total) < 0)
        exit(1);
    if (count)
        printf("%ld\n", total);
    rr_record_free(&rec);
    rr_ctx_free(&c);
    return 0;
}
