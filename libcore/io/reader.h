/* What the programs agree to read from a file a user names, and how much.
 *
 * A named input must be a regular file or a pipe (a FIFO, or the /dev/fd/N
 * of a shell's <(...)): a directory or a device (/dev/zero, /dev/urandom, a
 * terminal, a disk) is refused before it is opened, since reading one
 * either fails obscurely or never ends.  Standard input ("-") is whatever
 * the caller was given and is not checked here.
 *
 * Lines of text (manifests, query files, sentences on standard input) are
 * at most RR_LINE_MAX bytes: a longer one is an error, not a reason to
 * grow without end (an input with no newline at all, say). */
#ifndef RR_IO_READER_H
#define RR_IO_READER_H

#include <stdio.h>
#include <sys/types.h>

/* 16 MiB: a thousand times the longest line of RRSIS-D's or NWPU-Refer's
 * manifests (their polygons and RLE masks), far more than a sentence. */
#define RR_LINE_MAX ((size_t)16 << 20)

/* Opens a regular file or a pipe for reading ("rb").  NULL with rr_error
 * ("PATH: a directory, not a regular file or a pipe") otherwise. */
FILE *rr_file_open(const char *path);

/* Reads the next line (with its '\n', when it has one) into *line
 * (malloc'd and grown as getline does, NUL-terminated; it may hold NUL
 * bytes, which the length counts).  Returns its length; -1 at the end of
 * the input; -2 with rr_error for a line longer than RR_LINE_MAX, a read
 * error or no memory. */
ssize_t rr_line_read(FILE *f, char **line, size_t *cap);

/* Reads the whole of a named file (the rules of rr_file_open), at most max
 * bytes, into a malloc'd buffer with a NUL after its *len bytes.  NULL with
 * rr_error naming the file ("PATH: more than 16 MiB") otherwise. */
char *rr_file_read_all(const char *path, size_t max, size_t *len);

#endif
