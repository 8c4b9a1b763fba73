/* The checksums of a weight file or checkpoint: metadata "checksums", a JSON
 * object mapping every tensor's name to 16 hex digits, the rr_hash64 of its
 * bytes (as stored, whatever the dtype).
 *
 * The C programs write them into every weight file and checkpoint; a file
 * without them (tools/convert.py writes none) loads unchecked, a file with
 * them must match every one of them. */
#ifndef RR_IO_CHECKSUM_H
#define RR_IO_CHECKSUM_H

#include <stddef.h>
#include <stdint.h>

#include "safetensors.h"

/* 64 bits, a word at a time through SplitMix64's finaliser, continuing from
 * h; also used to fingerprint a manifest. */
uint64_t rr_hash64(uint64_t h, const void *data, size_t n);

/* Sets the metadata "checksums" of every entry of rec. */
int rr_record_add_checksums(rr_record *rec);
/* Checks every entry against the metadata "checksums": a tensor without one,
 * a checksum without its tensor, or a mismatch ("tensor 'x' fails its
 * checksum: the file is corrupt") is an error.  No "checksums" at all is an
 * error when required, else nothing to check. */
int rr_record_verify_checksums(const rr_record *rec, int required);

#endif
