#include "error.h"

#include <stdio.h>
#include <string.h>

#define RR_ERRMSG_MAX 1024

static _Thread_local char errmsg[RR_ERRMSG_MAX];

int rr_verror(const char *fmt, va_list ap)
{
    vsnprintf(errmsg, sizeof errmsg, fmt, ap);
    return -1;
}

int rr_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    rr_verror(fmt, ap);
    va_end(ap);
    return -1;
}

int rr_error_prefix(const char *fmt, ...)
{
    char old[RR_ERRMSG_MAX], pre[RR_ERRMSG_MAX];
    va_list ap;
    memcpy(old, errmsg, sizeof old);
    va_start(ap, fmt);
    vsnprintf(pre, sizeof pre, fmt, ap);
    va_end(ap);
    if (snprintf(errmsg, sizeof errmsg, "%s%s", pre, old) >= (int)sizeof errmsg)
        errmsg[sizeof errmsg - 2] = '.'; /* mark the cut */
    return -1;
}

const char *rr_errmsg(void) { return errmsg; }

void rr_error_clear(void) { errmsg[0] = '\0'; }
