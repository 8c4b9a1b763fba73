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
