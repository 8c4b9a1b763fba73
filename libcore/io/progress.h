/* Progress on standard error, the one way every long-running program
 * shows it (doc/architecture.md, Programs): on a terminal, one line redrawn
 * in place (at most ten times a second); elsewhere (a file, a pipe) nothing,
 * or with `lines` one line per update, which logs keep.
 *
 *   rr_progress p;
 *   rr_progress_init(&p, stderr, isatty(STDERR_FILENO), verbose);
 *   for (...) rr_progress_update(&p, "%ld/%ld images", i, n);
 *   rr_progress_note(&p, "a line that stays");   (clears the bar first)
 *   rr_progress_end(&p);                          (clears the bar)
 *
 * The library prints only through this, and only to the stream its caller
 * hands it. */
#ifndef RR_IO_PROGRESS_H
#define RR_IO_PROGRESS_H

#include <stdarg.h>
#include <stdio.h>

typedef struct {
    FILE *f;     /* NULL: quiet */
    int tty;     /* f is a terminal: a bar redrawn in place */
    int lines;   /* not a terminal: a line per update (else nothing) */
    int bar;     /* a bar is on the terminal's last line */
    double last; /* when the bar was drawn (monotonic seconds) */
} rr_progress;

void rr_progress_init(rr_progress *p, FILE *f, int tty, int lines);
/* The bar on a terminal (forced: drawn whatever the time since the last),
 * a line with `lines`, else nothing. */
void rr_progress_update(rr_progress *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void rr_progress_force(rr_progress *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A line that stays, on a terminal or not (the bar cleared first). */
void rr_progress_note(rr_progress *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void rr_progress_vnote(rr_progress *p, const char *fmt, va_list ap);
/* Clears the bar, if one is drawn. */
void rr_progress_end(rr_progress *p);

#endif
