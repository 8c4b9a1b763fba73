#include "reader.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../error.h"

FILE *rr_file_open(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        rr_error("%s: %s", path, strerror(errno));
        return NULL;
    }
    if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode)) {
        const char *kind = S_ISDIR(st.st_mode)   ? "a directory"
                           : S_ISCHR(st.st_mode) ? "a character device"
                           : S_ISBLK(st.st_mode) ? "a block device"
                           : S_ISSOCK(st.st_mode) ? "a socket"
                                                  : "not a plain file";
        rr_error("%s: %s, not a regular file or a pipe", path, kind);
        return NULL;
    }
    FILE *f = fopen(path, "rb");
    if (!f)
        rr_error("%s: %s", path, strerror(errno));
    return f;
}

ssize_t rr_line_read(FILE *f, char **line, size_t *cap)
{
    size_t n = 0;
    int c;
    while ((c = getc_unlocked(f)) != EOF) {
        if (n + 2 > *cap) {
            if (n >= RR_LINE_MAX) {
                rr_error("a line longer than %zu MiB", RR_LINE_MAX >> 20);
                return -2;
            }
            size_t ncap = *cap < 256 ? 256 : 2 * *cap;
            if (ncap > RR_LINE_MAX + 1)
                ncap = RR_LINE_MAX + 1;
            char *p = realloc(*line, ncap);
            if (!p) {
                rr_error("out of memory");
                return -2;
            }
            *line = p;
            *cap = ncap;
        }
        (*line)[n++] = (char)c;
        if (c == '\n')
            break;
    }
    if (ferror(f)) {
        rr_error("read error: %s", strerror(errno));
        return -2;
    }
    if (n == 0)
        return -1;
    (*line)[n] = 0;
    return (ssize_t)n;
}

char *rr_file_read_all(const char *path, size_t max, size_t *len)
{
    FILE *f = rr_file_open(path);
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t n = 0, cap = 0, got;
    do {
        if (n == cap) {
            if (n > max)
                break;
            cap = cap ? 2 * cap : 4096;
            char *p = realloc(buf, cap + 1);
            if (!p) {
                rr_error("%s: out of memory", path);
                goto fail;
            }
            buf = p;
        }
        n += got = fread(buf + n, 1, cap - n, f);
    } while (got > 0);
    if (ferror(f)) {
        rr_error("%s: read error: %s", path, strerror(errno));
        goto fail;
    }
    if (n > max) {
        rr_error("%s: more than %zu MiB", path, max >> 20);
        goto fail;
    }
    fclose(f);
    buf[n] = 0;
    *len = n;
    return buf;
fail:
    fclose(f);
    free(buf);
    return NULL;
}
