/* Files written whole or not at all.
 *
 * A file is written under a hidden temporary name in its folder and renamed
 * over its name once complete, so that a program killed while writing (a
 * signal, a crash, a full disk) leaves no partial file under the name of a
 * whole one: the reader sees the old file or the new one.  The name is
 * ".NAME.PID.TID~" (images are written from several threads at once); one
 * left by a killed process of the same number is stale and replaced.
 *
 * A symbolic link is followed: the file it points to is replaced and the
 * link kept.  A name that is not a regular file (a FIFO, /dev/stdout, a
 * device) is written in place, since renaming over it would replace it.
 * New files get the mode open(2) gives (0666 less the umask).
 *
 *   rr_atomic_file w;
 *   if (rr_atomic_open(&w, path) < 0) return -1;
 *   int rc = write_things(w.f);
 *   return rr_atomic_close(&w, rc == 0, RR_ATOMIC_DURABLE) || rc;
 */
#ifndef RR_IO_ATOMIC_H
#define RR_IO_ATOMIC_H

#include <stdio.h>

typedef struct {
    FILE *f;      /* write here */
    const char *name; /* the caller's name of the file, for messages */
    char *path;   /* the name being written (the link's target, if a link) */
    char *tmp;    /* the temporary name, or NULL when written in place */
} rr_atomic_file;

enum {
    RR_ATOMIC_FAST = 0,    /* rename only: safe from a killed program */
    RR_ATOMIC_DURABLE = 1, /* fsync the file before and its folder after the rename: safe from a power cut */
};

/* Opens the temporary file (or path itself, in place).  Returns 0, or -1
 * with "PATH: reason". */
int rr_atomic_open(rr_atomic_file *w, const char *path);

/* For a library that opens the file by its name (GDAL): as rr_atomic_open,
 * but the temporary is made empty and closed (w->f is NULL), and the
 * library writes to rr_atomic_name(w) and closes it before rr_atomic_close. */
int rr_atomic_open_name(rr_atomic_file *w, const char *path);
static inline const char *rr_atomic_name(const rr_atomic_file *w) { return w->tmp ? w->tmp : w->path; }

/* Closes the file (when rr_atomic_open opened it); when keep, flushes it (fsync with RR_ATOMIC_DURABLE) and
 * renames it over path, else removes the temporary.  Returns 0, or -1 with
 * "PATH: reason" (the temporary removed).  Frees what rr_atomic_open took,
 * in every case. */
int rr_atomic_close(rr_atomic_file *w, int keep, int durability);

/* Removes the temporaries of NAME in folder dir that killed writers left
 * (".NAME.PID.TID~"); for a caller that knows no other writer of NAME runs
 * (rrsis-train holds its run folder's lock). */
void rr_atomic_remove_stale(const char *dir, const char *name);

#endif
