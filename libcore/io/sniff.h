/* What a file looks like from its first bytes, for the messages of readers
 * that find something else than they read: a safetensors blob starts with
 * its header length, so an image or a text given by mistake shows up as an
 * absurd length ("header length 727905341920923785 ..."), which says
 * nothing to the user; its first bytes say what it is.
 *
 *   if (header length absurd && rr_not_a(b, 8, "a weight file (safetensors)"))
 *       return -1;  // "not a weight file (safetensors): it looks like a PNG image"
 */
#ifndef RR_IO_SNIFF_H
#define RR_IO_SNIFF_H

#include <stddef.h>

/* A description of the n bytes b (a file's beginning): "a PNG image", "a
 * JPEG image", "a TIFF image", "gzip-compressed data", "a zip archive (...)",
 * "JSON (...)", "text"; NULL when they are none of these. */
const char *rr_sniff(const unsigned char *b, size_t n);
/* When rr_sniff recognises b: -1 with the message "not WHAT: it looks like
 * KIND"; else 0 (the caller says what else is wrong). */
int rr_not_a(const unsigned char *b, size_t n, const char *what);

#endif
