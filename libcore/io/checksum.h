/* The checksums of a weight file or checkpoint: a metadata value, a JSON
 * object mapping every tensor's name to 16 hex digits, a 64-bit hash of
 * its bytes (as stored, whatever the dtype).  Two hashes, each under its own
 * key, so that a file says which it carries:
 *
 *   "checksums_sum64"  rr_sum64: written by the C programs and by
 *                      tools/convert.py (tools/rrsis_stream.py, checksums);
 *                      its words hash independently, so it runs on every
 *                      core at memory speed;
 *   "checksums"        rr_hash64, one serial chain per tensor: the earlier
 *                      files (the shipped demo model among them); still
 *                      verified, no longer written.
 *
 * A file without either (the PyTorch reference's goldens) loads unchecked
 * where checksums are optional; one with them must match every one. */
#ifndef RR_IO_CHECKSUM_H
#define RR_IO_CHECKSUM_H

#include <stddef.h>
#include <stdint.h>

#include "safetensors.h"

#define RR_CHECKSUMS_KEY "checksums_sum64"
#define RR_CHECKSUMS_LEGACY_KEY "checksums"

/* 64 bits, a word at a time through SplitMix64's finaliser, continuing from
 * h (the legacy checksums; also used to fingerprint a manifest). */
uint64_t rr_hash64(uint64_t h, const void *data, size_t n);
/* The checksum of n bytes: the little-endian 8-byte words w_i (the last
 * padded with zeros), s = sum over i of mix64(w_i ^ i * 0x9e3779b97f4a7c15)
 * modulo 2^64, then mix64(s ^ mix64(n)); mix64 is SplitMix64's finaliser
 * (rng.h).  In parallel over the words. */
uint64_t rr_sum64(const void *data, size_t n);

/* Sets the metadata RR_CHECKSUMS_KEY of every entry of rec. */
int rr_record_add_checksums(rr_record *rec);
/* Checks every entry against the checksums of the metadata (either key): a
 * tensor without one, a checksum without its tensor, or a mismatch
 * ("tensor 'x' fails its checksum: the file is corrupt") is an error.  No
 * checksums at all is an error when required, else nothing to check. */
int rr_record_verify_checksums(const rr_record *rec, int required);

/* A digest of the tensors of rec, whatever their order: every tensor's name,
 * dtype, shape and rr_sum64 (the stored RR_CHECKSUMS_KEY values when rec
 * carries them, checked by rr_record_verify_checksums, so no data is read;
 * else its data hashed, at memory speed), but those whose name starts with
 * skip (NULL: none).  The same tensors give the same digest in any file. */
int rr_record_digest(const rr_record *rec, const char *skip, uint64_t *digest);

#endif
