/* What loading a weight file costs, phase by phase: mapping and parsing it,
 * verifying it (format and checksums, rr_mrsnet_verify_file), building the
 * model, and taking the tensors (rr_params_load_mapped: dtypes, shapes, F32
 * used in place or others converted, the finiteness scan), the model's
 * identity (rr_mrsnet_identity: from the stored checksums, and from the data
 * as for a file without them); then rr_mrsnet_load as the programs call it.
 * FILE may hold F32 or BF16 tensors (tools/weights_dtype.py writes a BF16
 * copy).  Run it
 * twice: the first run reads from disk, the next from the page cache.  On a
 * busy machine the CPU time of the checksums says more than the wall time.
 *
 *   build/cpu/bench/load FILE [CONFIG]
 *
 * With CONFIG and no FILE yet, first writes FILE: the model of CONFIG with
 * its seeded initial weights (mrsnet-b: about 1 GB). */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "io/checksum.h"
#include "nn/mrsnet.h"

static double clock_s(clockid_t id)
{
    struct timespec t;
    clock_gettime(id, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double now(void) { return clock_s(CLOCK_MONOTONIC); }

static int make(const char *path, const char *config)
{
    rr_config cfg;
    rr_mrsnet m;
    double t0 = now();
    if (rr_config_load(&cfg, config) || rr_mrsnet_init(&m, &cfg, RR_PART_ALL, RR_CPU, 2401, 0))
        return -1;
    int rc = rr_mrsnet_save(&m, path, RR_F32);
    rr_mrsnet_free(&m);
    fprintf(stderr, "load: wrote %s (%s) in %.1f s\n", path, cfg.name, now() - t0);
    return rc;
}

/* Wall and CPU seconds of a phase. */
typedef struct {
    double wall, cpu;
} stamp;

static stamp mark(void) { return (stamp){now(), clock_s(CLOCK_PROCESS_CPUTIME_ID)}; }

static void row(const char *what, stamp a, stamp b, double gb)
{
    printf("  %-34s %7.3f s wall  %7.3f s CPU", what, b.wall - a.wall, b.cpu - a.cpu);
    if (gb > 0)
        printf("  %6.2f GB/s per CPU second", gb / (b.cpu - a.cpu));
    printf("\n");
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s FILE [CONFIG]\n", argv[0]);
        return 2;
    }
    if (argc == 3 && access(argv[1], F_OK) != 0 && make(argv[1], argv[2])) {
        fprintf(stderr, "load: %s\n", rr_errmsg());
        return 1;
    }
    rr_record rec;
    rr_record_init(&rec);
    rr_mrsnet m;
    rr_config cfg;
    stamp t[10];
    t[0] = mark();
    int rc = rr_safetensors_load(argv[1], &rec);
    t[1] = mark();
    double gb = (double)rec.map_len / 1e9; /* before the model takes the mapping */
    if (!rc)
        rc = rr_mrsnet_verify_file(&rec);
    t[2] = mark();
    uint64_t legacy = 0; /* the earlier checksum, for comparison */
    for (int i = 0; !rc && i < rec.nentries; i++)
        legacy ^= rr_hash64(0, rec.entries[i].data, rec.entries[i].nbytes);
    t[3] = mark();
    const char *json = rc ? NULL : rr_record_meta(&rec, "config");
    if (!rc)
        rc = json ? rr_config_parse(&cfg, json, strlen(json)) : rr_error("no config");
    if (!rc)
        rc = rr_mrsnet_init(&m, &cfg, RR_PART_ALL, RR_CPU, 0, 0);
    t[4] = mark();
    if (!rc)
        rc = rr_params_load_mapped(&m.params, &rec, 0, NULL, NULL);
    t[5] = mark();
    uint64_t id[2] = {0, 0};
    if (!rc)
        rc = rr_mrsnet_identity(&rec, &cfg, &id[0]);
    t[8] = mark();
    rr_record bare = rec; /* the same tensors, no metadata: no checksums (not freed) */
    bare.nmeta = 0;
    if (!rc)
        rc = rr_mrsnet_identity(&bare, &cfg, &id[1]);
    t[9] = mark();
    if (rc) {
        fprintf(stderr, "load: %s\n", rr_errmsg());
        return 1;
    }
    rr_mrsnet_free(&m);
    rr_record_free(&rec);
    t[6] = mark();
    if (rr_mrsnet_load(&m, argv[1], RR_PART_ALL, RR_CPU, 0, 0, NULL)) {
        fprintf(stderr, "load: %s\n", rr_errmsg());
        return 1;
    }
    t[7] = mark();
    rr_mrsnet_free(&m);
    printf("%s: %.2f GB (%s), legacy hash %016llx, identity %016llx (%s from the data)\n", argv[1], gb, cfg.name,
           (unsigned long long)legacy, (unsigned long long)id[0], id[0] == id[1] ? "the same" : "not the same");
    row("map (populated) and parse", t[0], t[1], 0);
    row("verify: format, checksums", t[1], t[2], gb);
    row("the legacy checksums, one thread", t[2], t[3], gb);
    row("build the model, seeded draw", t[3], t[4], 0);
    row("in place or convert, finiteness scan", t[4], t[5], gb);
    row("identity from the checksums", t[5], t[8], 0);
    row("identity from the data", t[8], t[9], gb);
    row("rr_mrsnet_load (no draw)", t[6], t[7], 0);
    return 0;
}
