/* UTF-8 checks for text that comes from users (arguments, lines, JSONL).
 *
 * Valid means what Python's decoder accepts: no overlong forms, no
 * surrogates (U+D800..U+DFFF), nothing above U+10FFFF. */
#ifndef RR_UTF8_H
#define RR_UTF8_H

#include <stddef.h>

/* The offset (from 0) of the first byte of the first invalid sequence in
 * s[0..n), or -1 when the whole text is valid. */
long rr_utf8_invalid(const char *s, size_t n);

/* A malloc'd, NUL-terminated copy of s[0..n) in which every invalid
 * sequence is replaced by U+FFFD, one per maximal ill-formed subpart as
 * Unicode §3.9 recommends (so the result equals Python's
 * bytes.decode("utf-8", "replace")).  Its length goes to *out_n when not
 * NULL.  NULL (with rr_error) when out of memory. */
char *rr_utf8_lossy(const char *s, size_t n, size_t *out_n);

/* JSON text's \u escapes that decode to no character a C string holds:
 * \u0000 (cJSON would cut the string there) or a surrogate outside a
 * high-low pair (cJSON refuses it with no word of why).  The offset of the
 * first one's backslash, with *what naming it ("\\u0000 (NUL)", "lone
 * surrogate \\ud800"), or -1 when there is none.  Only strings are
 * scanned; malformed JSON is left to the parser. */
long rr_json_bad_escape(const char *s, size_t n, char what[32]);

#endif
