/* Error reporting of the core library.
 *
 * Library functions never print and never exit.  A failing function records
 * one message with rr_error() and returns -1 (or NULL); the caller decides
 * what to do with it.  The message is per thread, so loader threads and the
 * main thread do not overwrite each other's messages. */
#ifndef RR_ERROR_H
#define RR_ERROR_H

#include <stdarg.h>

/* Records a printf-style message; always returns -1 so that
 * `return rr_error("...")` reads naturally. */
int rr_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int rr_verror(const char *fmt, va_list ap);

/* Prefixes the recorded message with more context ("file.png: " + old). */
int rr_error_prefix(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The last message of this thread ("" when none). */
const char *rr_errmsg(void);
void rr_error_clear(void);

#endif
