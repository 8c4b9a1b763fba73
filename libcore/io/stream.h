/* Tensor streams: safetensors records concatenated on a pipe.
 *
 * Each record is one complete safetensors blob (safetensors.h), read without
 * seeking.  Its metadata follows one convention:
 *   "format"  "rrsis-stream/1" (RR_STREAM_FORMAT)
 *   "stage"   tokens | encoded | fused | logits: what the tensors are
 *   "id"      the sample id, carried unchanged through every stage
 * and keys of the stage that later stages need (the sentence, the image path,
 * the original image size, ...), defined by the program writing the stage.
 *
 *   rr_record rec;
 *   rr_record_init(&rec);
 *   for (long n = 1; (r = rr_stream_read(in, &rec, n)) == 1; n++) {
 *       if (rr_stream_expect_stage(&rec, "encoded", n) < 0) ...
 *       ...
 *   }
 *   if (r < 0) ... rr_errmsg() is "record 3: truncated: ..." ...
 *   rr_record_free(&rec);
 */
#ifndef RR_STREAM_H
#define RR_STREAM_H

#include <stdio.h>

#include "safetensors.h"

#define RR_STREAM_FORMAT "rrsis-stream/1"

/* Reads the next record into rec (whatever rec held is freed first).
 * recno, counted from 1, names the record in messages.  Returns 1 for a
 * record, 0 at the end of the input exactly at a record boundary, -1 with a
 * message ("record 3: truncated: expected 4096 data bytes, got 100"). */
int rr_stream_read(FILE *f, rr_record *rec, long recno);
/* Appends a record; -1 with a message on a write error. */
int rr_stream_write(FILE *f, const rr_record *rec);

/* Sets "format", "stage" and "id": the metadata every record carries. */
int rr_stream_tag(rr_record *rec, const char *stage, const char *id);
/* Checks the format version and the stage ("record 2: stage is 'tokens',
 * expected 'encoded'"); a wrong or missing format says what was found and
 * gives a hint. */
int rr_stream_expect_stage(const rr_record *rec, const char *stage, long recno);

#endif
