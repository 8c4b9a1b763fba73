#include "folder.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../error.h"

/* One step of rr_make_folder: the prefix p (of the whole path) must end as
 * a folder. */
static int make_one(const char *path, const char *p)
{
    struct stat st;
    if (mkdir(p, 0777) == 0)
        return 0;
    int e = errno;
    if (stat(p, &st) == 0) {
        if (S_ISDIR(st.st_mode))
            return 0;
        return strcmp(p, path) ? rr_error("%s: '%s' is not a folder", path, p) : rr_error("%s: not a folder", path);
    }
    return strcmp(p, path) ? rr_error("%s: cannot make the folder '%s': %s", path, p, strerror(e))
                           : rr_error("%s: cannot make the folder: %s", path, strerror(e));
}

int rr_make_folder(const char *path)
{
    if (!*path)
        return rr_error("an empty folder name");
    char *p = strdup(path);
    if (!p)
        return rr_error("out of memory");
    int rc = 0;
    for (char *q = p + 1; rc == 0; q++) {
        if (*q && *q != '/')
            continue;
        if (q[-1] != '/') { /* not a run of slashes */
            char c = *q;
            *q = 0;
            rc = make_one(path, p);
            *q = c;
        }
        if (!*q)
            break;
    }
    free(p);
    return rc;
}

int rr_make_parent(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash || slash == path)
        return 0;
    char *dir = strndup(path, (size_t)(slash - path));
    if (!dir)
        return rr_error("out of memory");
    int rc = rr_make_folder(dir);
    free(dir);
    return rc;
}

int rr_path_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

int rr_replacing_begin(const char *path, char **tmp)
{
    *tmp = NULL;
    struct stat st;
    if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode))
        return 0; /* renaming over it would replace it */
    /* The name is the process's and the thread's (files are written from
     * several threads at once); one left by a killed process of the same
     * number is stale.  open's mode lets the umask apply, as to any file. */
    const char *slash = strrchr(path, '/');
    size_t dir = slash ? (size_t)(slash - path + 1) : 0, n = strlen(path) + 64;
    char *t = malloc(n);
    if (!t)
        return rr_error("%s: out of memory", path);
    snprintf(t, n, "%.*s.%s.%ld.%ld~", (int)dir, path, path + dir, (long)getpid(), (long)gettid());
    int fd = -1;
    for (int tries = 0; fd < 0 && tries < 2; tries++)
        if ((fd = open(t, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666)) < 0 && (errno != EEXIST || unlink(t)))
            break;
    if (fd < 0) {
        int rc = rr_error("%s: %s", path, strerror(errno));
        free(t);
        return rc;
    }
    close(fd);
    *tmp = t;
    return 0;
}

int rr_replacing_end(const char *path, char *tmp, int rc)
{
    if (tmp && rc == 0 && rename(tmp, path) != 0)
        rc = rr_error("%s", strerror(errno));
    if (tmp && rc)
        unlink(tmp);
    free(tmp);
    return rc;
}
