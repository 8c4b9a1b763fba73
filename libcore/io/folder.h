/* Output folders, made the way `mkdir -p` makes them.
 *
 * Every program that is given an output folder (rrsis-decode --outdir and
 * --overlay, rrsis-train -o, rrsis-synth -o) or an output file
 * (rrsis-decode -o, rrsis-score --per-sample) makes the folders missing on
 * its way, (doc/architecture.md, Programs), with one message
 * that names the part that could not be made:
 *   "runs/b: cannot make the folder 'runs': Permission denied"
 *   "a/b/c: 'a/b' is not a folder". */
#ifndef RR_IO_FOLDER_H
#define RR_IO_FOLDER_H

/* Makes the folder path and its missing parents (mode 0777 less the
 * umask).  0, or -1 with a message. */
int rr_make_folder(const char *path);

/* Makes the folder a file path will be written in (its parents); nothing
 * for a bare file name or "-". */
int rr_make_parent(const char *path);

/* Whether path exists (as anything: a dangling link counts). */
int rr_path_exists(const char *path);

/* A file replaced whole: written under a hidden temporary name beside it
 * (.NAME.PID.TID~, made here, empty) and renamed into place, so that a
 * failed write leaves nothing and a killed program at most that temporary,
 * never a partial file under the final name.  *tmp is the name to write
 * (malloc'd), or NULL when path is a device, a pipe or a symbolic link,
 * written in place.  rr_replacing_end, given the write's result rc: renames
 * on success, removes the temporary otherwise, frees tmp; returns rc or
 * the rename's error. */
int rr_replacing_begin(const char *path, char **tmp);
int rr_replacing_end(const char *path, char *tmp, int rc);

#endif
