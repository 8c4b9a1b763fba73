/* Files written whole or not at all (io/atomic.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "harness.h"
#include "io/atomic.h"

static int entries(const char *dir)
{
    int n = 0;
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));)
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    if (d)
        closedir(d);
    return n;
}

static void touch(const char *dir, const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (f)
        fclose(f);
}

TEST(atomic_file_appears_whole_or_not_at_all)
{
    char dir[] = "/tmp/rr_atomic_XXXXXX", path[256], got[16] = "";
    CHECK(mkdtemp(dir) != NULL, "mkdtemp: %s", strerror(errno));
    snprintf(path, sizeof path, "%s/a.txt", dir);
    rr_atomic_file w;
    CHECK_OK(rr_atomic_open(&w, path));
    fputs("new", w.f);
    CHECK(access(path, F_OK) != 0, "the name exists before the close");
    CHECK(entries(dir) == 1, "no temporary beside the name");
    CHECK_OK(rr_atomic_close(&w, 1, RR_ATOMIC_DURABLE));
    FILE *f = fopen(path, "r");
    CHECK(f && fgets(got, sizeof got, f) && strcmp(got, "new") == 0, "read back '%s'", got);
    if (f)
        fclose(f);
    /* a write given up leaves the old file and nothing else */
    CHECK_OK(rr_atomic_open(&w, path));
    fputs("half", w.f);
    CHECK(rr_atomic_close(&w, 0, RR_ATOMIC_FAST) == 0, "discarding is not an error");
    f = fopen(path, "r");
    CHECK(f && fgets(got, sizeof got, f) && strcmp(got, "new") == 0, "the old file was touched: '%s'", got);
    if (f)
        fclose(f);
    CHECK(entries(dir) == 1, "%d entries: a temporary was left", entries(dir));
    /* a FIFO is written in place: renaming over it would replace it */
    snprintf(path, sizeof path, "%s/fifo", dir);
    CHECK(mkfifo(path, 0600) == 0, "mkfifo: %s", strerror(errno));
    int rd = open(path, O_RDONLY | O_NONBLOCK);
    CHECK_OK(rr_atomic_open(&w, path));
    CHECK(w.tmp == NULL, "a FIFO got a temporary");
    fputs("x", w.f);
    CHECK_OK(rr_atomic_close(&w, 1, RR_ATOMIC_FAST));
    struct stat st;
    CHECK(stat(path, &st) == 0 && S_ISFIFO(st.st_mode), "the FIFO was replaced");
    char c = 0;
    CHECK(read(rd, &c, 1) == 1 && c == 'x', "nothing came through the FIFO");
    close(rd);
    unlink(path);
    /* a folder that does not exist: the message names the file */
    snprintf(path, sizeof path, "%s/no/such", dir);
    CHECK(rr_atomic_open(&w, path) < 0 && strstr(rr_errmsg(), path) && strstr(rr_errmsg(), "No such file"), "%s",
          rr_errmsg());
    snprintf(path, sizeof path, "%s/a.txt", dir);
    unlink(path);
    rmdir(dir);
}

TEST(atomic_stale_temporaries_are_recognised_exactly)
{
    char dir[] = "/tmp/rr_atomic_XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "mkdtemp: %s", strerror(errno));
    static const char *const stale[] = {".last.safetensors.12.34~", ".last.safetensors.1.1~"};
    static const char *const kept[] = {"last.safetensors", ".last.safetensors.12~", ".last.safetensors.x.1~",
                                       ".last.safetensors.1.2", "last.safetensors.12.34~", ".best.safetensors.1.2~"};
    for (size_t i = 0; i < 2; i++)
        touch(dir, stale[i]);
    for (size_t i = 0; i < 6; i++)
        touch(dir, kept[i]);
    rr_atomic_remove_stale(dir, "last.safetensors");
    CHECK(entries(dir) == 6, "%d entries left, wanted the 6 that are not stale", entries(dir));
    char path[256];
    for (size_t i = 0; i < 6; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, kept[i]);
        CHECK(access(path, F_OK) == 0, "%s was removed", kept[i]);
        unlink(path);
    }
    rmdir(dir);
}
