/* Command-line conventions shared by every rrsis program.
 *
 * - getopt_long; --help prints the help on stdout and exits 0; --version.
 * - A usage error: one line "PROG: MESSAGE" and "Try 'PROG --help' for more
 *   information." on stderr, exit 2.
 * - A runtime error: one line "PROG: error: MESSAGE" on stderr, exit 1.
 * - "-" is stdin or stdout.  Binary data is never written to a terminal.
 * - Every write to stdout and its final close are checked (a full disk is an
 *   error, exit 1); a closed pipe ends the program quietly (SIGPIPE).
 * - Progress and timings go to stderr only. */
#ifndef RR_CLI_H
#define RR_CLI_H

#include <getopt.h>
#include <stdio.h>

/* Sets the program name (and argv[0] to it, so that getopt's messages name
 * the program as ours do), restores SIGPIPE's default action, ignores
 * SIGXFSZ (a file-size limit is a write error), and registers the check of
 * stdout's final close. */
void rr_cli_init(char **argv);
const char *rr_cli_prog(void);

_Noreturn void rr_cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void rr_cli_die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Dies with the library's last message (rr_errmsg). */
_Noreturn void rr_cli_die_lib(void);
void rr_cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints text on stdout and exits 0 (a failed write exits 1). */
_Noreturn void rr_cli_help(const char *text);
_Noreturn void rr_cli_version(void);

/* The options every program has; put them in the long-option table and
 * pass unknown results to rr_cli_common_option. */
#define RR_CLI_HELP 0x1000
#define RR_CLI_VERSION 0x1001
#define RR_CLI_COMMON_OPTIONS \
    {"help", no_argument, NULL, RR_CLI_HELP}, {"version", no_argument, NULL, RR_CLI_VERSION}
/* Handles --help, --version and getopt's '?' (a usage error: getopt has
 * printed its message, this adds the "Try" line).  Any other value is a
 * program bug. */
_Noreturn void rr_cli_common_option(int opt, const char *help);

/* Numbers in option arguments, with range checks; a bad value is a usage error. */
long rr_cli_long(const char *opt, const char *arg, long min, long max);
double rr_cli_double(const char *opt, const char *arg, double min, double max);

/* --max-pixels N: the most pixels an image or mask read may have
 * (io/image.h); a bad value is a usage error. */
void rr_cli_max_pixels(const char *arg);

/* --bands B and --scale MIN,MAX into the reading options (io/raster.h); a
 * bad value is a usage error. */
struct rr_raster_opts;
void rr_cli_bands(struct rr_raster_opts *o, const char *arg);
void rr_cli_scale(struct rr_raster_opts *o, const char *arg);

/* Opens a file for reading or writing; "-" is stdin / stdout.  Dies on failure,
 * and when a file to read is not a regular file or a pipe (io/reader.h). */
FILE *rr_cli_open_read(const char *path);
FILE *rr_cli_open_write(const char *path);
/* Dies when f is a terminal: binary data is not written to one. */
void rr_cli_refuse_tty(FILE *f, const char *what);
/* fwrite that dies on failure (EPIPE ends quietly through SIGPIPE). */
void rr_cli_write(FILE *f, const void *buf, size_t n);
/* A data file the programs ship: share/REL beside bin/ (the source tree)
 * or share/rrsis/REL (an installed tree).  NULL when neither has it. */
const char *rr_cli_share_file(const char *rel);
/* The default WordPiece vocabulary (share/vocab/bert-base-uncased.txt);
 * dies with a hint to give --vocab when it is missing. */
const char *rr_cli_default_vocab(void);
/* Flushes and closes a file opened for writing; dies on failure. */
void rr_cli_close(FILE *f, const char *path);

#endif
