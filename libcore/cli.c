#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "io/image.h"
#include "io/raster.h"
#include "io/reader.h"

static const char *prog = "rrsis";
static int reported; /* an error has been printed: exit quietly */

const char *rr_cli_prog(void) { return prog; }

/* Closing stdout is where a buffered write to a full disk finally fails. */
static void close_stdout(void)
{
    int failed = fflush(stdout) != 0 || ferror(stdout);
    int err = errno;
    if (fclose(stdout) != 0 && !failed) {
        failed = 1;
        err = errno;
    }
    if (failed && !reported)
        fprintf(stderr, "%s: error: write error on standard output: %s\n", prog, strerror(err));
    if (failed)
        _exit(1);
}

void rr_cli_init(char **argv)
{
    const char *slash = strrchr(argv[0], '/');
    prog = slash ? slash + 1 : argv[0];
    argv[0] = (char *)prog;
    signal(SIGPIPE, SIG_DFL);
    /* A file-size limit (ulimit -f) then makes write() fail with EFBIG, which
     * every write reports as "File too large"; its default action killed the
     * program without a word, leaving a truncated file. */
    signal(SIGXFSZ, SIG_IGN);
    atexit(close_stdout);
}

/* One line in one write, so that lines of processes sharing a terminal or a
 * pipe (the ranks under mpirun, the stages of a pipeline) never interleave. */
static void vmessage(const char *kind, const char *fmt, va_list ap)
{
    char *msg = NULL, *line = NULL;
    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    int n = asprintf(&line, "%s: %s%s\n", prog, kind, msg ? msg : "(no memory for the message)");
    if (n > 0) {
        fwrite(line, 1, (size_t)n, stderr);
        free(line);
    }
    free(msg);
}

void rr_cli_usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmessage("", fmt, ap);
    va_end(ap);
    fprintf(stderr, "Try '%s --help' for more information.\n", prog);
    reported = 1;
    exit(2);
}

void rr_cli_die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmessage("error: ", fmt, ap);
    va_end(ap);
    reported = 1;
    exit(1);
}

void rr_cli_die_lib(void) { rr_cli_die("%s", *rr_errmsg() ? rr_errmsg() : "unknown failure"); }

void rr_cli_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmessage("warning: ", fmt, ap);
    va_end(ap);
}

void rr_cli_help(const char *text)
{
    fputs(text, stdout);
    exit(0); /* close_stdout reports a failed write */
}

void rr_cli_version(void)
{
    printf("%s (rrsis) %s\n", prog, RR_VERSION);
    exit(0);
}

void rr_cli_common_option(int opt, const char *help)
{
    if (opt == RR_CLI_HELP)
        rr_cli_help(help);
    if (opt == RR_CLI_VERSION)
        rr_cli_version();
    /* getopt has already said what was wrong */
    fprintf(stderr, "Try '%s --help' for more information.\n", prog);
    exit(2);
}

long rr_cli_long(const char *opt, const char *arg, long min, long max)
{
    char *end;
    errno = 0;
    long v = strtol(arg, &end, 10);
    if (errno || end == arg || *end)
        rr_cli_usage_error("%s: '%s' is not an integer", opt, arg);
    if (v < min || v > max)
        rr_cli_usage_error("%s: %ld is out of range [%ld, %ld]", opt, v, min, max);
    return v;
}

double rr_cli_double(const char *opt, const char *arg, double min, double max)
{
    char *end;
    errno = 0;
    double v = strtod(arg, &end);
    if (errno || end == arg || *end || !isfinite(v))
        rr_cli_usage_error("%s: '%s' is not a number", opt, arg);
    if (v < min || v > max)
        rr_cli_usage_error("%s: %g is out of range [%g, %g]", opt, v, min, max);
    return v;
}

FILE *rr_cli_open_read(const char *path)
{
    if (strcmp(path, "-") == 0)
        return stdin;
    FILE *f = rr_file_open(path); /* a regular file or a pipe */
    if (!f)
        rr_cli_die_lib();
    return f;
}

FILE *rr_cli_open_write(const char *path)
{
    if (strcmp(path, "-") == 0)
        return stdout;
    FILE *f = fopen(path, "wb");
    if (!f)
        rr_cli_die("%s: %s", path, strerror(errno));
    return f;
}

void rr_cli_refuse_tty(FILE *f, const char *what)
{
    if (isatty(fileno(f)))
        rr_cli_die("%s is binary and not written to a terminal; redirect it to a file or a pipe", what);
}

void rr_cli_write(FILE *f, const void *buf, size_t n)
{
    if (n && fwrite(buf, 1, n, f) != n)
        rr_cli_die("write error: %s", strerror(errno));
}

void rr_cli_close(FILE *f, const char *path)
{
    if (f == stdout) {
        if (fflush(f) != 0)
            rr_cli_die("write error on standard output: %s", strerror(errno));
        return; /* closed (and checked again) at exit */
    }
    if (ferror(f) | fclose(f))
        rr_cli_die("%s: write error: %s", path, strerror(errno));
}

const char *rr_cli_share_file(const char *rel)
{
    static const char *const dirs[] = {"/../share/", "/../share/rrsis/"};
    static char path[PATH_MAX + 256];
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return NULL;
    exe[n] = 0;
    *strrchr(exe, '/') = 0;
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s%s%s", exe, dirs[i], rel);
        if (access(path, R_OK) == 0)
            return path;
    }
    return NULL;
}

const char *rr_cli_default_vocab(void)
{
    const char *rel = "vocab/bert-base-uncased.txt";
    const char *path = rr_cli_share_file(rel);
    if (!path)
        rr_cli_die("cannot find the vocabulary share/%s beside the programs; give --vocab", rel);
    return path;
}

void rr_cli_max_pixels(const char *arg)
{
    rr_image_set_max_pixels(rr_cli_long("--max-pixels", arg, 1, RR_IMAGE_MAX_PIXELS));
}

void rr_cli_bands(struct rr_raster_opts *o, const char *arg)
{
    if (rr_raster_parse_bands(o, arg))
        rr_cli_usage_error("%s", rr_errmsg());
}

void rr_cli_scale(struct rr_raster_opts *o, const char *arg)
{
    if (rr_raster_parse_scale(o, arg))
        rr_cli_usage_error("%s", rr_errmsg());
}
