/* safetensors: weight files and the records of a tensor stream.
 *
 * A blob is an 8-byte little-endian header length N, N bytes of JSON
 *   {"__metadata__": {"key": "value", ...},
 *    "name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}, ...}
 * and then the data, the tensors packed back to back (offsets relative to
 * the end of the header).  A record is one parsed blob: its entries in header
 * order, and its string metadata in header order.
 *
 *   rr_record rec;
 *   rr_record_init(&rec);
 *   if (rr_safetensors_load("model.safetensors", &rec) < 0) ... rr_errmsg() ...
 *   rr_tensor *w = rr_record_to_tensor(c, &rec, "decoder.proj.weight", RR_F32);
 *   rr_record_free(&rec);
 *
 * Parsing is strict and each rejection has one precise message (which tensor,
 * which field, which numbers).  Entry data in files written by others may be
 * unaligned: read it with memcpy or through rr_record_to_tensor. */
#ifndef RR_SAFETENSORS_H
#define RR_SAFETENSORS_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include "../ctx.h"
#include "../tensor.h"

/* The reference implementation's bound on the header (100 MB). */
#define RR_SAFETENSORS_MAX_HEADER 100000000

typedef struct rr_entry {
    char *name;                /* non-empty UTF-8 */
    rr_dtype dtype;
    int ndim;
    int64_t shape[RR_MAXDIM];
    size_t nbytes;             /* product of the shape x dtype size */
    size_t offset;             /* where the data starts in the data section */
    void *data;                /* host memory: into the record's buffer or mapping */
    void *owned;               /* malloc'd copy (rr_record_add), else NULL */
} rr_entry;

typedef struct rr_meta {
    char *key, *value;
} rr_meta;

typedef struct rr_record {
    rr_entry *entries;
    int nentries, cap_entries;
    rr_meta *meta;
    int nmeta, cap_meta;
    void *buf;                 /* malloc'd data of a stream record, or NULL */
    void *map;                 /* mapping of a loaded file, or NULL */
    size_t map_len;
} rr_record;

/* Unmaps the pages of entry i's data from a record mapped from a file
 * (rr_safetensors_load), for a reader that has read them and may not read
 * them again: they stay in the page cache, and a later read maps them
 * again.  Nothing for a record in memory. */
void rr_record_release_pages(const rr_record *rec, int i);

/* An empty record. */
void rr_record_init(rr_record *rec);
/* Frees everything the record holds and leaves it empty (initialised). */
void rr_record_free(rr_record *rec);

/* Adds a tensor, copying nbytes of data (NULL: zero-filled).  Rejects an
 * empty or duplicate name, a bad shape, and the reserved "__metadata__". */
int rr_record_add(rr_record *rec, const char *name, rr_dtype dtype, int ndim,
                  const int64_t *shape, const void *data);
/* Adds a copy of a tensor (any device), in its dtype. */
int rr_record_add_tensor(rr_record *rec, const char *name, const rr_tensor *t);

/* Sets (or replaces) a metadata value; both strings are copied. */
int rr_record_set_meta(rr_record *rec, const char *key, const char *value);
/* The value of a metadata key, or NULL when absent. */
const char *rr_record_meta(const rr_record *rec, const char *key);

/* The entry of that name, or NULL (with a message) when absent. */
const rr_entry *rr_record_find(const rr_record *rec, const char *name);
static inline int rr_record_count(const rr_record *rec) { return rec->nentries; }
static inline const rr_entry *rr_record_entry(const rr_record *rec, int i) { return &rec->entries[i]; }

/* A new tensor in c (on c's device) from an entry.  want = RR_F32 converts
 * any numeric dtype (F16, BF16, F64, I64, ...); want = RR_I32 takes the
 * integer dtypes and BOOL and rejects values outside the int32 range.  The
 * tensor's name is the entry's name.  NULL with a message on failure. */
rr_tensor *rr_entry_to_tensor(rr_ctx *c, const rr_entry *e, rr_dtype want);
/* Same, found by name ("no tensor 'x'" when absent). */
rr_tensor *rr_record_to_tensor(rr_ctx *c, const rr_record *rec, const char *name, rr_dtype want);

/* Parses and validates one blob of len bytes.  The record's entries point
 * into buf, which must outlive it.  Replaces rec's contents; on failure rec
 * is left empty. */
int rr_safetensors_parse(const void *buf, size_t len, rr_record *rec);
/* Maps a file read-only (reads it when it cannot be mapped, e.g. a pipe) and
 * parses it; the record keeps the mapping.  Messages start with the path. */
int rr_safetensors_load(const char *path, rr_record *rec);
/* Writes a record atomically: a temporary file in the same folder, fsync,
 * rename (over the file a symbolic link points to; a device or a pipe is
 * written in place).  Metadata first, then the tensors largest dtype first
 * and by name (the reference writer's order, so that every tensor is
 * aligned), the header padded with spaces to a multiple of 8 bytes. */
int rr_safetensors_save(const char *path, const rr_record *rec);

/* A copy of s fit for a one-line message: control characters escaped, cut
 * (ending in "...") to fit n bytes.  Returns buf. */
char *rr_printable(const char *s, char *buf, size_t n);

/* The pieces the stream reader and writer (stream.h) are made of. */

/* Decodes the 8-byte little-endian header length and checks it against
 * RR_SAFETENSORS_MAX_HEADER.  With `what` (what the blob should begin: "a
 * weight file (safetensors)"), a length over it from bytes that look like
 * something else says so ("not a weight file (safetensors): it looks like a
 * PNG image", io/sniff.h). */
int rr_safetensors_header_len(const unsigned char b[8], const char *what, uint64_t *n);
/* Parses and validates a header of n bytes (without the length before it):
 * entries get their offsets and no data yet; *data_len is the size of the
 * data section the header describes. */
int rr_safetensors_parse_header(const char *json, size_t n, rr_record *rec, size_t *data_len);
/* Points every entry at data + its offset. */
void rr_record_bind(rr_record *rec, void *data);
/* Writes the blob (length, header, data) to f; a message on a write error. */
int rr_safetensors_write(FILE *f, const rr_record *rec);

#endif
