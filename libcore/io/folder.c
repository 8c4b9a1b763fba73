#include "folder.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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
