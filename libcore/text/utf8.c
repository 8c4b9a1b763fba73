#include "utf8.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../error.h"

/* The length of the sequence at s: when it is well-formed, its length and
 * *ok = 1; otherwise the length of its maximal ill-formed subpart (at least
 * 1) and *ok = 0.  The ranges are those of Unicode Table 3-7. */
static size_t sequence(const unsigned char *s, size_t n, int *ok)
{
    unsigned b = s[0];
    size_t need;
    unsigned lo = 0x80, hi = 0xBF; /* the second byte's range */
    *ok = 0;
    if (b < 0x80) {
        *ok = 1;
        return 1;
    }
    if (b >= 0xC2 && b <= 0xDF)
        need = 1;
    else if (b >= 0xE0 && b <= 0xEF) {
        need = 2;
        if (b == 0xE0)
            lo = 0xA0; /* overlong */
        else if (b == 0xED)
            hi = 0x9F; /* surrogates */
    } else if (b >= 0xF0 && b <= 0xF4) {
        need = 3;
        if (b == 0xF0)
            lo = 0x90; /* overlong */
        else if (b == 0xF4)
            hi = 0x8F; /* above U+10FFFF */
    } else
        return 1;
    for (size_t i = 1; i <= need; i++) {
        if (i >= n || s[i] < lo || s[i] > hi)
            return i;
        lo = 0x80;
        hi = 0xBF;
    }
    *ok = 1;
    return need + 1;
}

long rr_utf8_invalid(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        if (u[i] < 0x80) {
            i++;
            continue;
        }
        int ok;
        size_t len = sequence(u + i, n - i, &ok);
        if (!ok)
            return (long)i;
        i += len;
    }
    return -1;
}

char *rr_utf8_lossy(const char *s, size_t n, size_t *out_n)
{
    static const char fffd[3] = {(char)0xEF, (char)0xBF, (char)0xBD};
    const unsigned char *u = (const unsigned char *)s;
    /* a replacement (3 bytes) stands for at least one byte */
    char *out = malloc(3 * n + 1);
    if (!out) {
        rr_error("out of memory");
        return NULL;
    }
    size_t i = 0, o = 0;
    while (i < n) {
        int ok;
        size_t len = sequence(u + i, n - i, &ok);
        if (ok) {
            memcpy(out + o, s + i, len);
            o += len;
        } else {
            memcpy(out + o, fffd, 3);
            o += 3;
        }
        i += len;
    }
    out[o] = 0;
    if (out_n)
        *out_n = o;
    return out;
}

/* The value of the 4 hex digits at s, or -1. */
static long hex4(const char *s)
{
    long v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0)
            return -1;
        v = 16 * v + d;
    }
    return v;
}

long rr_json_bad_escape(const char *s, size_t n, char what[32])
{
    int in_string = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"') {
            in_string = !in_string;
        } else if (in_string && s[i] == '\\') {
            if (i + 1 < n && s[i + 1] == 'u' && i + 6 <= n) {
                long u = hex4(s + i + 2);
                long low = u >= 0xD800 && u <= 0xDBFF && i + 12 <= n && s[i + 6] == '\\' && s[i + 7] == 'u'
                               ? hex4(s + i + 8)
                               : -1;
                if (u == 0) {
                    snprintf(what, 32, "\\u0000 (NUL)");
                    return (long)i;
                }
                if (u >= 0xD800 && u <= 0xDFFF && !(u <= 0xDBFF && low >= 0xDC00 && low <= 0xDFFF)) {
                    snprintf(what, 32, "lone surrogate \\u%.4s", s + i + 2);
                    return (long)i;
                }
                if (low >= 0)
                    i += 6; /* the pair's low half */
            }
            i++; /* the escaped character */
        }
    }
    return -1;
}
