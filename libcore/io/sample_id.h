/* The id of a sample that was given none: one that names its image and its
 * sentence, so that the files named after it (rrsis-decode's
 * OUTDIR/<id>.png) do not collide between runs, and the same image and
 * sentence always get the same id.
 *
 *   rr_sample_id("data/airport.png", "the red plane")  "airport-c03b77d9"
 *   rr_sample_id(NULL, "the red plane")                "c03b77d9"
 *   rr_sample_id_prefix("data/airport.png", "c03b77d9") "airport-c03b77d9"
 *
 * The hash is the 32-bit FNV-1a of the sentence's UTF-8 bytes, in 8
 * lower-case hex digits; the image's part is its file name without the
 * folder and the last extension (the whole name when that leaves nothing).
 * rrsis-tokenize gives these ids to sentences without an id (arguments,
 * lines, --images, --sentences, queries without "id"), and rrsis-encode
 * --image prefixes the id of a record that names no image, so that both
 * ways to one image and sentence meet on the same id. */
#ifndef RR_IO_SAMPLE_ID_H
#define RR_IO_SAMPLE_ID_H

#include <stddef.h>

/* Writes the id into buf (n bytes); -1 with a message when it does not fit. */
int rr_sample_id(char *buf, size_t n, const char *image, const char *sentence);
/* "STEM-id" into buf; -1 with a message when it does not fit. */
int rr_sample_id_prefix(char *buf, size_t n, const char *image, const char *id);

#endif
