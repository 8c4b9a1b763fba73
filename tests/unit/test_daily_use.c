/* The helpers behind the programs' daily conventions: sample ids made from
 * an image and a sentence (io/sample_id.h) and folders made as mkdir -p
 * makes them (io/folder.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "harness.h"
#include "io/folder.h"
#include "io/sample_id.h"

/* The 32-bit FNV-1a of "the red plane", as tests/cli/lib.sh's sample_id
 * (Python, written apart from the C) computes it. */
#define HASH "c03b77d9"

TEST(sample_id_names_image_and_sentence)
{
    static const char *const cases[][2] = {
        {"/data/airport.png", "airport-" HASH},  {"airport.tar.gz", "airport.tar-" HASH},
        {"x.y/noext", "noext-" HASH},            {"/a/.hidden", ".hidden-" HASH},
        {"dir.v2/tile 7.JPG", "tile 7-" HASH},
    };
    char id[64];
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        CHECK_OK(rr_sample_id(id, sizeof id, cases[i][0], "the red plane"));
        CHECK(strcmp(id, cases[i][1]) == 0, "%s: %s, wanted %s", cases[i][0], id, cases[i][1]);
    }
    CHECK_OK(rr_sample_id(id, sizeof id, NULL, "the red plane"));
    CHECK(strcmp(id, HASH) == 0, "no image: %s", id);
    /* the two ways to an image's id meet */
    char pre[64];
    CHECK_OK(rr_sample_id_prefix(pre, sizeof pre, "/data/airport.png", id));
    CHECK(strcmp(pre, "airport-" HASH) == 0, "prefixed: %s", pre);
    CHECK(rr_sample_id(id, 8, "/data/airport.png", "x") < 0, "a buffer too small is an error");
    CHECK(strstr(rr_errmsg(), "too long") != NULL, "%s", rr_errmsg());
}

TEST(make_folder_makes_parents_and_names_what_failed)
{
    char base[] = "/tmp/rr_test_folder_XXXXXX", path[128], file[128];
    CHECK(mkdtemp(base) != NULL, "mkdtemp");
    snprintf(path, sizeof path, "%s/a//b/c/", base);
    CHECK_OK(rr_make_folder(path));
    CHECK_OK(rr_make_folder(path)); /* there already: fine */
    struct stat st;
    snprintf(path, sizeof path, "%s/a/b/c", base);
    CHECK(stat(path, &st) == 0 && S_ISDIR(st.st_mode), "%s was not made", path);
    snprintf(file, sizeof file, "%s/f", base);
    FILE *f = fopen(file, "w");
    CHECK(f != NULL, "%s", file);
    if (f)
        fclose(f);
    snprintf(path, sizeof path, "%s/f/g/h", base);
    CHECK(rr_make_folder(path) < 0, "a folder under a file");
    char want[512];
    snprintf(want, sizeof want, "%s: '%s' is not a folder", path, file);
    CHECK(strcmp(rr_errmsg(), want) == 0, "%s", rr_errmsg());
    CHECK(rr_make_folder(file) < 0 && strstr(rr_errmsg(), ": not a folder"), "%s", rr_errmsg());
    snprintf(path, sizeof path, "%s/p/q/mask.png", base);
    CHECK_OK(rr_make_parent(path));
    snprintf(path, sizeof path, "%s/p/q", base);
    CHECK(stat(path, &st) == 0 && S_ISDIR(st.st_mode), "the parent of a file was not made");
    CHECK_OK(rr_make_parent("mask.png"));
    CHECK(rr_path_exists(file) && rr_path_exists(path), "rr_path_exists");
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
    CHECK(system(cmd) == 0, "%s", cmd);
}
