/* Tensor streams: safetensors records concatenated on a pipe.
 *
 * Each record is one complete safetensors blob (safetensors.h), read without
 * seeking.  Its metadata follows one convention:
 *   "format"  "rrsis-stream/2" (RR_STREAM_FORMAT)
 *   "stage"   tokens | encoded | fused | logits: what the tensors are
 *   "id"      the sample id, carried unchanged through every stage
 * and keys of the stage that later stages need (the sentence, the image path,
 * the original image size, ...), defined by the program writing the stage.
 *
 * Every stream ends with its end mark: one more record, with no tensors and
 * the metadata "format", "stage" "end" and "records", the count of the
 * records before it.  A writer writes it once it has written everything, so a
 * reader that meets the end of its input without it knows that the program
 * writing the stream stopped early (killed, or failed), even exactly at a
 * record boundary; a stream of no records is the end mark alone, and an
 * empty input (0 bytes) is an error.  Nothing may follow the end mark: one
 * input holds one stream (rrsis-inspect --copy joins streams).
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

/* The version of the convention: rrsis-stream/1 had no end mark. */
#define RR_STREAM_FORMAT "rrsis-stream/2"

/* rr_stream_read's result at the end of the input after records but
 * without the end mark (an error like -1, which a reader of plain
 * safetensors files may accept: rrsis-inspect). */
#define RR_STREAM_UNENDED (-2)

/* Reads the next record into rec (whatever rec held is freed first).
 * recno, counted from 1, names the record in messages.  Returns 1 for a
 * record; 0 at the end mark, once it is checked (it counts recno - 1
 * records, and the input ends after it; rec is left empty); -1 with a
 * message ("record 3: truncated: expected 4096 data bytes, got 100", "the
 * end mark counts 3 records, but 2 came before it: ...", "the stream is
 * empty, ..."); RR_STREAM_UNENDED at the end of the input after records
 * without the end mark ("stream ended after 2 records without its end mark:
 * the program writing it stopped early").  Read no further after 0. */
int rr_stream_read(FILE *f, rr_record *rec, long recno);
/* Appends a record; -1 with a message on a write error. */
int rr_stream_write(FILE *f, const rr_record *rec);
/* Appends the end mark of a stream of `records` records: the last write of
 * a writer that succeeded (one that fails writes none). */
int rr_stream_end(FILE *f, long records);
/* Whether rec is a record of this stream format (its "format" is
 * RR_STREAM_FORMAT): a stream that must end with its end mark. */
int rr_stream_is_record(const rr_record *rec);
/* Checks that every floating-point tensor of rec (F32, F16, BF16, F64)
 * holds finite values: -1 with a message naming the first other value
 * ("tensor 'D3' holds NaN at element 1234"; +Inf, -Inf). */
int rr_stream_check_finite(const rr_record *rec);

/* Sets "format", "stage" and "id": the metadata every record carries. */
int rr_stream_tag(rr_record *rec, const char *stage, const char *id);
/* Checks the format version and the stage ("record 2: stage is 'tokens',
 * expected 'encoded'"); a wrong or missing format says what was found and
 * gives a hint. */
int rr_stream_expect_stage(const rr_record *rec, const char *stage, long recno);

#endif
