#include "sample_id.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "../error.h"

/* The file name of path without its last extension: *len bytes at the
 * returned pointer. */
static const char *stem(const char *path, size_t *len)
{
    const char *slash = strrchr(path, '/'), *name = slash ? slash + 1 : path;
    const char *dot = strrchr(name, '.');
    *len = dot && dot > name ? (size_t)(dot - name) : strlen(name);
    return name;
}

int rr_sample_id_prefix(char *buf, size_t n, const char *image, const char *id)
{
    size_t len;
    const char *s = stem(image, &len);
    int k = snprintf(buf, n, "%.*s-%s", (int)len, s, id);
    if (k < 0 || (size_t)k >= n)
        return rr_error("%s: the file name is too long for a sample id", image);
    return 0;
}

int rr_sample_id(char *buf, size_t n, const char *image, const char *sentence)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)sentence; *p; p++)
        h = (h ^ *p) * 16777619u;
    char hex[9];
    snprintf(hex, sizeof hex, "%08x", h);
    if (image)
        return rr_sample_id_prefix(buf, n, image, hex);
    if (n < sizeof hex)
        return rr_error("no room for a sample id");
    memcpy(buf, hex, sizeof hex);
    return 0;
}
