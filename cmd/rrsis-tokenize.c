/* rrsis-tokenize: sentences to the BERT ids of the text encoder, as a
 * tokens stream (one record per sentence) or as text or JSON lines. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "error.h"
#include "io/reader.h"
#include "io/sample_id.h"
#include "io/stream.h"
#include "text/tokenizer.h"
#include "text/utf8.h"

static const char help[] =
    "Usage: rrsis-tokenize [OPTION]... [SENTENCE]...\n"
    "  or:  rrsis-tokenize --images=DIR [OPTION]... SENTENCE...\n"
    "Tokenize sentences for the BERT text encoder: BERT's basic and WordPiece\n"
    "tokenizer, [CLS] pieces [SEP], cut to 20 ids and padded with 0, as LAVT and\n"
    "RMSIN do.  Sentences come from the arguments, from --queries, --images or\n"
    "--sentences, or else from standard input, one a line.\n"
    "Writes a tokens stream to standard output: one record per sentence with\n"
    "input_ids and attention_mask (I32, MAX_LEN values), and the id, sentence and\n"
    "image in the metadata, then the stream's end mark.\n"
    "\n"
    "A sample's id names its mask file (rrsis-decode writes DIR/ID.png).  Unless\n"
    "a query gives one, it is made from the image's file name without its\n"
    "extension and 8 hex digits of the sentence's hash, so that the same image\n"
    "and sentence always get the same id and others do not collide:\n"
    "airport-c03b77d9 (a sentence without an image: c03b77d9, to which\n"
    "rrsis-encode adds the name of the image it is given).\n"
    "\n"
    "      --queries=FILE   read queries from JSON Lines FILE (- for standard input):\n"
    "                       {\"id\", \"sentence\", \"image\"}, image optional, relative\n"
    "                       to FILE's folder; a dataset manifest will do\n"
    "      --images=DIR     every SENTENCE for every image of DIR (.png, .jpg,\n"
    "                       .jpeg, .tif, .tiff), in the order of their names\n"
    "      --sentences=FILE read lines IMAGE<TAB>SENTENCE from FILE (- for\n"
    "                       standard input), IMAGE relative to FILE's folder\n"
    "      --format=FORMAT  stream (the default), text (id, tokens and ids, one\n"
    "                       tab-separated line per sentence) or json (one object\n"
    "                       per line)\n"
    "      --max-len=N      ids per sentence, 2 to 512 (default 20)\n"
    "      --keep-sep       when a sentence is cut, keep [SEP] as its last id (the\n"
    "                       reference loses it)\n"
    "      --vocab=FILE     the vocabulary, one token per line (default\n"
    "                       bert-base-uncased, in share/vocab beside the programs)\n"
    "      --cased          neither lower-case nor strip accents (for a cased\n"
    "                       vocabulary)\n"
    "      --lossy          replace invalid UTF-8 with U+FFFD, which the tokenizer\n"
    "                       drops, instead of failing\n"
    "      --help           display this help and exit\n"
    "      --version        output version information and exit\n"
    "\n"
    "Exit status: 0 on success, 1 on invalid input (not UTF-8, a NUL character,\n"
    "a lone surrogate, a bad query or sentence line, a line over 16 MiB, a folder\n"
    "without images) or an I/O error, 2 on a usage error.  How many sentences\n"
    "were cut is said on standard error.\n"
    "\n"
    "Examples:\n"
    "  rrsis-tokenize --format text 'the white plane on the left'\n"
    "  rrsis-tokenize --queries test.jsonl | rrsis-encode -m model.safetensors | ...\n"
    "  rrsis-tokenize --images tiles/ 'all ships' | rrsis-encode -m model.safetensors | ...\n"
    "  printf 'a.png\\tthe red plane\\nb.jpg\\tall cars\\n' > list.tsv\n"
    "  rrsis-tokenize --sentences list.tsv | rrsis-encode -m model.safetensors | ...\n";

enum {
    OPT_QUERIES = 1,
    OPT_IMAGES,
    OPT_SENTENCES,
    OPT_FORMAT,
    OPT_MAX_LEN,
    OPT_KEEP_SEP,
    OPT_VOCAB,
    OPT_CASED,
    OPT_LOSSY
};

static const struct option options[] = {
    {"queries", required_argument, NULL, OPT_QUERIES},
    {"images", required_argument, NULL, OPT_IMAGES},
    {"sentences", required_argument, NULL, OPT_SENTENCES},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"max-len", required_argument, NULL, OPT_MAX_LEN},
    {"keep-sep", no_argument, NULL, OPT_KEEP_SEP},
    {"vocab", required_argument, NULL, OPT_VOCAB},
    {"cased", no_argument, NULL, OPT_CASED},
    {"lossy", no_argument, NULL, OPT_LOSSY},
    RR_CLI_COMMON_OPTIONS,
    {NULL, 0, NULL, 0},
};

typedef enum { FORMAT_STREAM, FORMAT_TEXT, FORMAT_JSON } out_format;

typedef struct {
    rr_tokenizer *tok;
    out_format format;
    int max_len, keep_sep, lossy;
    int32_t *ids, *mask;
    long sentences, cut;
} job;

/* A failed write ends the program; the check of stdout's close at exit
 * (rr_cli_init) says why, once. */
static void exit_on_write_error(void)
{
    if (ferror(stdout))
        exit(1);
}

static void print_json(const job *j, const char *id, const char *sentence, const char *image, long length)
{
    int kept = 0;
    while (kept < j->max_len && j->mask[kept])
        kept++;
    cJSON *o = cJSON_CreateObject(), *tokens = cJSON_CreateArray();
    cJSON_AddStringToObject(o, "id", id);
    cJSON_AddStringToObject(o, "sentence", sentence);
    if (image)
        cJSON_AddStringToObject(o, "image", image);
    for (int i = 0; i < kept; i++)
        cJSON_AddItemToArray(tokens, cJSON_CreateString(rr_tokenizer_token(j->tok, j->ids[i])));
    cJSON_AddItemToObject(o, "tokens", tokens);
    cJSON_AddItemToObject(o, "input_ids", cJSON_CreateIntArray(j->ids, j->max_len));
    cJSON_AddItemToObject(o, "attention_mask", cJSON_CreateIntArray(j->mask, j->max_len));
    cJSON_AddNumberToObject(o, "length", (double)length);
    char *text = cJSON_PrintUnformatted(o);
    if (!text)
        rr_cli_die("out of memory");
    puts(text);
    free(text);
    cJSON_Delete(o);
}

static void print_text(const job *j, const char *id)
{
    printf("%s\t", id);
    for (int i = 0; i < j->max_len && j->mask[i]; i++)
        printf(i ? " %s" : "%s", rr_tokenizer_token(j->tok, j->ids[i]));
    putchar('\t');
    for (int i = 0; i < j->max_len && j->mask[i]; i++)
        printf(i ? " %d" : "%d", j->ids[i]);
    putchar('\n');
}

static void write_record(const job *j, const char *id, const char *sentence, const char *image)
{
    rr_record rec;
    rr_record_init(&rec);
    int64_t shape[1] = {j->max_len};
    if (rr_stream_tag(&rec, "tokens", id) < 0 || rr_record_set_meta(&rec, "sentence", sentence) < 0 ||
        (image && rr_record_set_meta(&rec, "image", image) < 0) ||
        rr_record_add(&rec, "input_ids", RR_I32, 1, shape, j->ids) < 0 ||
        rr_record_add(&rec, "attention_mask", RR_I32, 1, shape, j->mask) < 0)
        rr_cli_die_lib();
    if (rr_stream_write(stdout, &rec) < 0) {
        exit_on_write_error();
        rr_cli_die_lib();
    }
    rr_record_free(&rec);
}

/* One sentence of n bytes; `where` names it in messages ("<stdin>:12").
 * A NULL id is made from the image and the sentence (io/sample_id.h). */
static void tokenize(job *j, const char *where, const char *id, const char *s, size_t n, const char *image)
{
    char *fixed = NULL;
    const char *nul = memchr(s, 0, n); /* the metadata would keep the sentence up to it only */
    if (nul)
        rr_cli_die("%s: NUL byte at byte %ld", where, (long)(nul - s) + 1);
    long bad = rr_utf8_invalid(s, n);
    if (bad >= 0) {
        if (!j->lossy)
            rr_cli_die("%s: invalid UTF-8 at byte %ld (--lossy replaces it)", where, bad + 1);
        if (!(fixed = rr_utf8_lossy(s, n, &n)))
            rr_cli_die_lib();
        s = fixed;
    }
    char derived[PATH_MAX + 16];
    if (!id) {
        if (rr_sample_id(derived, sizeof derived, image, s))
            rr_cli_die("%s: %s", where, rr_errmsg());
        id = derived;
    }
    long length = rr_tokenizer_encode(j->tok, s, n, j->max_len, j->keep_sep, j->ids, j->mask);
    if (length < 0)
        rr_cli_die("%s: %s", where, rr_errmsg());
    j->sentences++;
    j->cut += length > j->max_len;
    switch (j->format) {
    case FORMAT_STREAM: write_record(j, id, s, image); break;
    case FORMAT_TEXT: print_text(j, id); break;
    case FORMAT_JSON: print_json(j, id, s, image, length); break;
    }
    exit_on_write_error();
    free(fixed);
}

static void from_lines(job *j)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    long no = 1;
    for (; (n = rr_line_read(stdin, &line, &cap)) >= 0; no++) {
        if (n && line[n - 1] == '\n')
            line[--n] = 0;
        if (n && line[n - 1] == '\r')
            line[--n] = 0;
        char where[32];
        snprintf(where, sizeof where, "<stdin>:%ld", no);
        tokenize(j, where, NULL, line, (size_t)n, NULL);
    }
    if (n == -2)
        rr_cli_die("<stdin>:%ld: %s", no, rr_errmsg());
    free(line);
}

/* The folder that relative image paths of a query file resolve against:
 * the file's own folder, made absolute (the working folder for stdin, or
 * for a pipe with no folder, a shell's <(...) whose /dev/fd/N path
 * realpath cannot resolve). */
static char *query_dir(const char *path, FILE *f)
{
    char *dir;
    struct stat st;
    if (strcmp(path, "-") == 0 ||
        (!(dir = realpath(path, NULL)) && fstat(fileno(f), &st) == 0 && S_ISFIFO(st.st_mode))) {
        if (!(dir = getcwd(NULL, 0)))
            rr_cli_die("cannot get the working folder: %s", strerror(errno));
        return dir;
    }
    if (!dir)
        rr_cli_die("%s: %s", path, strerror(errno));
    *strrchr(dir, '/') = 0; /* realpath's result is absolute: there is a '/' */
    return dir;
}

/* An image path of a line of the file whose folder is dir: relative to
 * dir unless absolute.  malloc'd. */
static char *image_path(const char *dir, const char *p)
{
    size_t len = strlen(dir) + strlen(p) + 2;
    char *path = malloc(len);
    if (!path)
        rr_cli_die("out of memory");
    snprintf(path, len, "%s%s%s", p[0] == '/' ? "" : dir, p[0] == '/' ? "" : "/", p);
    return path;
}

/* One line of n bytes (its end included) of a file of queries or
 * sentences; `where` names it ("FILE:12"), dir is the file's folder. */
typedef void (*line_fn)(job *j, const char *where, char *line, size_t n, const char *dir);

/* Every line of the file path ("-": standard input) but the blank ones. */
static void each_line(job *j, const char *path, line_fn fn)
{
    FILE *f = rr_cli_open_read(path);
    const char *name = f == stdin ? "<stdin>" : path;
    char *dir = query_dir(path, f);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    long no = 1;
    for (; (n = rr_line_read(f, &line, &cap)) >= 0; no++) {
        char where[PATH_MAX + 32];
        snprintf(where, sizeof where, "%s:%ld", name, no);
        if (strspn(line, " \t\r\n") != (size_t)n) /* else blank */
            fn(j, where, line, (size_t)n, dir);
    }
    if (n == -2)
        rr_cli_die("%s:%ld: %s", name, no, rr_errmsg());
    if (f != stdin)
        fclose(f);
    free(line);
    free(dir);
}

/* A line of --queries: a JSON object. */
static void query_line(job *j, const char *where, char *line, size_t n, const char *dir)
{
    char *fixed = NULL, what[32];
    const char *nul = memchr(line, 0, n);
    if (nul)
        rr_cli_die("%s: NUL byte at byte %ld", where, (long)(nul - line) + 1);
    long bad = rr_json_bad_escape(line, n, what);
    if (bad >= 0)
        rr_cli_die("%s: %s at byte %ld: not a character a sentence may hold", where, what, bad + 1);
    bad = rr_utf8_invalid(line, n);
    if (bad >= 0) {
        if (!j->lossy)
            rr_cli_die("%s: invalid UTF-8 at byte %ld (--lossy replaces it)", where, bad + 1);
        if (!(fixed = rr_utf8_lossy(line, n, NULL)))
            rr_cli_die_lib();
    }
    const char *text = fixed ? fixed : line, *end = NULL;
    cJSON *q = cJSON_ParseWithLengthOpts(text, fixed ? strlen(fixed) : n, &end, 0);
    if (!q)
        rr_cli_die("%s: malformed JSON at byte %ld", where, end ? (long)(end - text) + 1 : 1L);
    if (!cJSON_IsObject(q))
        rr_cli_die("%s: not a JSON object", where);
    const cJSON *sentence = cJSON_GetObjectItemCaseSensitive(q, "sentence");
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(q, "id");
    const cJSON *image = cJSON_GetObjectItemCaseSensitive(q, "image");
    if (!cJSON_IsString(sentence))
        rr_cli_die("%s: \"sentence\" is missing or not a string", where);
    char idbuf[32];
    const char *idstr = idbuf;
    if (cJSON_IsString(id))
        idstr = id->valuestring;
    else if (cJSON_IsNumber(id) && id->valuedouble == floor(id->valuedouble) && fabs(id->valuedouble) < 1e15)
        snprintf(idbuf, sizeof idbuf, "%.0f", id->valuedouble);
    else if (!id || cJSON_IsNull(id))
        idstr = NULL; /* made from the image and the sentence */
    else
        rr_cli_die("%s: \"id\" is not a string or an integer", where);
    char *imgpath = NULL;
    if (cJSON_IsString(image)) {
        const char *p = image->valuestring;
        if (!*p)
            rr_cli_die("%s: \"image\" is empty", where);
        imgpath = image_path(dir, p);
    } else if (image && !cJSON_IsNull(image))
        rr_cli_die("%s: \"image\" is not a string", where);
    tokenize(j, where, idstr, sentence->valuestring, strlen(sentence->valuestring), imgpath);
    free(imgpath);
    free(fixed);
    cJSON_Delete(q);
}

/* The image files of a folder (by extension: .png, .jpg, .jpeg, .tif,
 * .tiff, in any case), in the order of their name stems. */
typedef struct {
    char *name;
    size_t stem; /* the length of the name without its extension */
} image_file;

static int by_stem(const void *a, const void *b)
{
    const image_file *x = a, *y = b;
    size_t n = x->stem < y->stem ? x->stem : y->stem;
    int c = memcmp(x->name, y->name, n);
    return c ? c : x->stem != y->stem ? (x->stem < y->stem ? -1 : 1) : strcmp(x->name, y->name);
}

static int is_image_name(const char *name, size_t *stem)
{
    static const char *const ext[] = {".png", ".jpg", ".jpeg", ".tif", ".tiff"};
    const char *dot = strrchr(name, '.');
    if (!dot || dot == name)
        return 0;
    *stem = (size_t)(dot - name);
    for (size_t i = 0; i < sizeof ext / sizeof *ext; i++)
        if (strcasecmp(dot, ext[i]) == 0)
            return 1;
    return 0;
}

/* Every sentence of sentences[0..n) for every image of the folder dir: the
 * records of one image together, its sentences in the order given. */
static void from_images(job *j, const char *dir, char **sentences, int n)
{
    char *abs = realpath(dir, NULL);
    DIR *d = abs ? opendir(abs) : NULL;
    if (!d)
        rr_cli_die("--images: %s: %s", dir, strerror(errno));
    image_file *files = NULL;
    size_t count = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t stem;
        if (e->d_name[0] == '.' || !is_image_name(e->d_name, &stem))
            continue;
        if (count == cap && !(files = realloc(files, (cap = cap ? 2 * cap : 64) * sizeof *files)))
            rr_cli_die("out of memory");
        if (!(files[count].name = strdup(e->d_name)))
            rr_cli_die("out of memory");
        files[count++].stem = stem;
    }
    closedir(d);
    if (!count)
        rr_cli_die("--images: %s: no image files (.png, .jpg, .jpeg, .tif, .tiff)", dir);
    qsort(files, count, sizeof *files, by_stem);
    for (size_t i = 1; i < count; i++)
        if (files[i].stem == files[i - 1].stem && memcmp(files[i].name, files[i - 1].name, files[i].stem) == 0)
            rr_cli_die("--images: %s: %s and %s have the same name without extension, which names their "
                       "samples; rename one", dir, files[i - 1].name, files[i].name);
    for (size_t i = 0; i < count; i++) {
        size_t len = strlen(abs) + strlen(files[i].name) + 2;
        char *path = malloc(len);
        if (!path)
            rr_cli_die("out of memory");
        snprintf(path, len, "%s/%s", abs, files[i].name);
        for (int k = 0; k < n; k++) {
            char where[64];
            snprintf(where, sizeof where, "argument %d", k + 1);
            tokenize(j, where, NULL, sentences[k], strlen(sentences[k]), path);
        }
        free(path);
        free(files[i].name);
    }
    free(files);
    free(abs);
}

/* A line of --sentences: IMAGE<TAB>SENTENCE. */
static void sentence_line(job *j, const char *where, char *line, size_t n, const char *dir)
{
    if (n && line[n - 1] == '\n')
        line[--n] = 0;
    if (n && line[n - 1] == '\r')
        line[--n] = 0;
    char *tab = memchr(line, '\t', n);
    if (!tab)
        rr_cli_die("%s: no tab between the image and the sentence (IMAGE<TAB>SENTENCE)", where);
    if (tab == line)
        rr_cli_die("%s: no image before the tab", where);
    *tab = 0;
    char *image = image_path(dir, line);
    tokenize(j, where, NULL, tab + 1, (size_t)(line + n - tab - 1), image);
    free(image);
}

int main(int argc, char **argv)
{
    rr_cli_init(argv);
    job j = {.format = FORMAT_STREAM, .max_len = 20};
    const char *queries = NULL, *images = NULL, *sentence_file = NULL, *vocab = NULL;
    int flags = 0, opt;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case OPT_QUERIES: queries = optarg; break;
        case OPT_IMAGES: images = optarg; break;
        case OPT_SENTENCES: sentence_file = optarg; break;
        case OPT_FORMAT:
            if (strcmp(optarg, "stream") == 0)
                j.format = FORMAT_STREAM;
            else if (strcmp(optarg, "text") == 0)
                j.format = FORMAT_TEXT;
            else if (strcmp(optarg, "json") == 0)
                j.format = FORMAT_JSON;
            else
                rr_cli_usage_error("--format: '%s' is not stream, text or json", optarg);
            break;
        case OPT_MAX_LEN: j.max_len = (int)rr_cli_long("--max-len", optarg, 2, 512); break;
        case OPT_KEEP_SEP: j.keep_sep = 1; break;
        case OPT_VOCAB: vocab = optarg; break;
        case OPT_CASED: flags |= RR_TOKENIZER_CASED; break;
        case OPT_LOSSY: j.lossy = 1; break;
        default: rr_cli_common_option(opt, help);
        }
    }
    if (!!queries + !!images + !!sentence_file > 1)
        rr_cli_usage_error("--queries, --images and --sentences exclude each other");
    if ((queries || sentence_file) && optind < argc)
        rr_cli_usage_error("sentences in arguments and %s exclude each other", queries ? "--queries" : "--sentences");
    if (images && optind == argc)
        rr_cli_usage_error("--images wants the sentences as arguments");
    if (j.format == FORMAT_STREAM)
        rr_cli_refuse_tty(stdout, "the token stream");
    if (!(j.tok = rr_tokenizer_load(vocab ? vocab : rr_cli_default_vocab(), flags)))
        rr_cli_die_lib();
    j.ids = malloc(j.max_len * sizeof *j.ids);
    j.mask = malloc(j.max_len * sizeof *j.mask);
    if (!j.ids || !j.mask)
        rr_cli_die("out of memory");

    if (queries)
        each_line(&j, queries, query_line);
    else if (images)
        from_images(&j, images, argv + optind, argc - optind);
    else if (sentence_file)
        each_line(&j, sentence_file, sentence_line);
    else if (optind < argc)
        for (int i = optind; i < argc; i++) {
            char where[32];
            snprintf(where, sizeof where, "argument %d", i - optind + 1);
            tokenize(&j, where, NULL, argv[i], strlen(argv[i]), NULL);
        }
    else
        from_lines(&j);
    /* the end mark, once every sentence is written (an error exits before) */
    if (j.format == FORMAT_STREAM && rr_stream_end(stdout, j.sentences) < 0) {
        exit_on_write_error();
        rr_cli_die_lib();
    }

    if (j.cut)
        rr_cli_warn("%ld of %ld sentences had more than %d ids and were cut%s", j.cut, j.sentences, j.max_len,
                    j.keep_sep ? " (keeping [SEP])" : ", losing [SEP] as the reference does (--keep-sep keeps it)");
    rr_tokenizer_free(j.tok);
    free(j.ids);
    free(j.mask);
    return 0; /* stdout's close is checked at exit */
}
