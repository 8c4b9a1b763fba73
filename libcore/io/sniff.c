#include "sniff.h"

#include <string.h>

#include "../error.h"

static int starts(const unsigned char *b, size_t n, const char *magic, size_t m)
{
    return n >= m && memcmp(b, magic, m) == 0;
}

/* Bytes of text: printable ASCII, whitespace, or well-formed UTF-8
 * sequences (the last may be cut by the end of what was read).  Random
 * bytes pass this for 8 bytes about once in a thousand; without the UTF-8
 * check, a third of them did. */
static int is_text(const unsigned char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (b[i] < 0x80) {
            if (b[i] < 0x20 ? !strchr("\t\n\r\f", b[i]) || !b[i] : b[i] == 0x7f)
                return 0;
            continue;
        }
        size_t len = b[i] >= 0xc2 && b[i] <= 0xdf ? 2 : b[i] >= 0xe0 && b[i] <= 0xef ? 3
                   : b[i] >= 0xf0 && b[i] <= 0xf4 ? 4 : 0;
        if (!len)
            return 0;
        for (size_t k = 1; k < len && i + k < n; k++)
            if ((b[i + k] & 0xc0) != 0x80)
                return 0;
        i += len - 1;
    }
    return n > 0;
}

const char *rr_sniff(const unsigned char *b, size_t n)
{
    if (starts(b, n, "\x89PNG\r\n\x1a\n", 8))
        return "a PNG image";
    if (starts(b, n, "\xff\xd8\xff", 3))
        return "a JPEG image";
    if (starts(b, n, "II*\0", 4) || starts(b, n, "MM\0*", 4))
        return "a TIFF image";
    if (starts(b, n, "\x1f\x8b\x08", 3)) /* deflate, gzip's one method */
        return "gzip-compressed data";
    if (starts(b, n, "PK\x03\x04", 4))
        return "a zip archive (a PyTorch checkpoint? tools/convert.py converts one into a weight file)";
    if (!is_text(b, n))
        return NULL;
    size_t i = 0;
    while (i < n && strchr(" \t\n\r\f", b[i]))
        i++;
    if (i < n && (b[i] == '{' || b[i] == '['))
        return "JSON (a model configuration? rrsis-train takes one with -c, tools/convert.py with --config)";
    return "text";
}

int rr_not_a(const unsigned char *b, size_t n, const char *what)
{
    const char *kind = rr_sniff(b, n);
    return kind ? rr_error("not %s: it looks like %s", what, kind) : 0;
}
