#include "atomic.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../error.h"

static int begin(rr_atomic_file *w, const char *path, int want_file)
{
    memset(w, 0, sizeof *w);
    w->name = path;
    /* a link's target; a name that does not exist yet is its own */
    char *real = realpath(path, NULL);
    w->path = real ? real : strdup(path);
    if (!w->path)
        return rr_error("%s: out of memory", path);
    struct stat st;
    if (real && stat(real, &st) == 0 && !S_ISREG(st.st_mode)) {
        if (want_file && !(w->f = fopen(w->path, "wb"))) {
            rr_error("%s: %s", path, strerror(errno));
            free(w->path);
            memset(w, 0, sizeof *w);
            return -1;
        }
        return 0;
    }
    const char *slash = strrchr(w->path, '/');
    size_t dir = slash ? (size_t)(slash - w->path + 1) : 0, n = strlen(w->path) + 64;
    if (!(w->tmp = malloc(n))) {
        free(w->path);
        memset(w, 0, sizeof *w);
        return rr_error("%s: out of memory", path);
    }
    snprintf(w->tmp, n, "%.*s.%s.%ld.%ld~", (int)dir, w->path, w->path + dir, (long)getpid(), (long)gettid());
    int fd = -1;
    for (int tries = 0; fd < 0 && tries < 2; tries++)
        if ((fd = open(w->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666)) < 0 &&
            (errno != EEXIST || unlink(w->tmp)))
            break;
    int ok = fd >= 0 && (!want_file || (w->f = fdopen(fd, "wb")));
    int err = errno;
    if (fd >= 0 && !w->f) /* the name's writer opens it again */
        close(fd);
    if (!ok) {
        rr_error("%s: %s", path, strerror(err));
        free(w->tmp);
        free(w->path);
        memset(w, 0, sizeof *w);
        return -1;
    }
    return 0;
}

int rr_atomic_open(rr_atomic_file *w, const char *path) { return begin(w, path, 1); }

int rr_atomic_open_name(rr_atomic_file *w, const char *path) { return begin(w, path, 0); }

/* Makes a rename durable: the folder's entry is synced too. */
static void sync_folder(const char *path)
{
    char *dir = strdup(path), *slash = dir ? strrchr(dir, '/') : NULL;
    if (slash)
        *(slash == dir ? slash + 1 : slash) = '\0';
    int fd = dir ? open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(dir);
}

int rr_atomic_close(rr_atomic_file *w, int keep, int durability)
{
    int rc = 0;
    if (w->f && keep &&
        (fflush(w->f) != 0 || ferror(w->f) ||
         (w->tmp && durability == RR_ATOMIC_DURABLE && fsync(fileno(w->f)) != 0)))
        rc = rr_error("%s: write error: %s", w->name, strerror(errno));
    if (w->f && fclose(w->f) != 0 && keep && rc == 0)
        rc = rr_error("%s: write error: %s", w->name, strerror(errno));
    if (w->tmp) {
        if (keep && rc == 0 && rename(w->tmp, w->path) != 0)
            rc = rr_error("%s: %s", w->name, strerror(errno));
        if (!keep || rc)
            unlink(w->tmp);
        else if (durability == RR_ATOMIC_DURABLE)
            sync_folder(w->path);
    }
    free(w->tmp);
    free(w->path);
    memset(w, 0, sizeof *w);
    return rc;
}

/* ".NAME.PID.TID~" */
static int is_temporary_of(const char *entry, const char *name)
{
    size_t n = strlen(name);
    if (entry[0] != '.' || strncmp(entry + 1, name, n) != 0)
        return 0;
    const char *p = entry + 1 + n;
    for (int part = 0; part < 2; part++) {
        if (*p++ != '.' || !isdigit((unsigned char)*p))
            return 0;
        while (isdigit((unsigned char)*p))
            p++;
    }
    return strcmp(p, "~") == 0;
}

void rr_atomic_remove_stale(const char *dir, const char *name)
{
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));)
        if (is_temporary_of(e->d_name, name)) {
            char *path = malloc(strlen(dir) + strlen(e->d_name) + 2);
            if (path) {
                sprintf(path, "%s/%s", dir, e->d_name);
                unlink(path);
                free(path);
            }
        }
    if (d)
        closedir(d);
}
