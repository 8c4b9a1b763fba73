#include "progress.h"

#include <time.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

void rr_progress_init(rr_progress *p, FILE *f, int tty, int lines)
{
    p->f = f;
    p->tty = f && tty;
    p->lines = lines;
    p->bar = 0;
    p->last = -1;
}

void rr_progress_end(rr_progress *p)
{
    if (p->bar) {
        fputs("\r\033[K", p->f);
        fflush(p->f);
        p->bar = 0;
    }
}

static void line(rr_progress *p, const char *fmt, va_list ap)
{
    rr_progress_end(p);
    vfprintf(p->f, fmt, ap);
    fputc('\n', p->f);
    fflush(p->f);
}

static void update(rr_progress *p, int force, const char *fmt, va_list ap)
{
    if (!p->f)
        return;
    if (!p->tty) {
        if (p->lines)
            line(p, fmt, ap);
        return;
    }
    double t = now();
    if (!force && p->bar && t - p->last < 0.1)
        return;
    fputs("\r\033[K", p->f);
    vfprintf(p->f, fmt, ap);
    fflush(p->f);
    p->bar = 1;
    p->last = t;
}

void rr_progress_update(rr_progress *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    update(p, 0, fmt, ap);
    va_end(ap);
}

void rr_progress_force(rr_progress *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    update(p, 1, fmt, ap);
    va_end(ap);
}

void rr_progress_vnote(rr_progress *p, const char *fmt, va_list ap)
{
    if (p->f)
        line(p, fmt, ap);
}

void rr_progress_note(rr_progress *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    rr_progress_vnote(p, fmt, ap);
    va_end(ap);
}
