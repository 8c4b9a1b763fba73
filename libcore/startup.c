/* What every program settles before any shared library's constructor runs.
 *
 * OpenBLAS (the OpenMP build we link) maps, in its constructor
 * (gotoblas_init -> blas_thread_init), a 128 MiB buffer for each OpenMP
 * thread, and each sgemm maps another for its caller (our batched products
 * call it from every thread at once); blas_memory_alloc retries a failed
 * mapping for ever.  Under an address-space limit (ulimit -v, RLIMIT_AS)
 * too small for them every program spun before main (or at its first
 * product), without a word.  OpenBLAS reads the thread count from
 * OMP_NUM_THREADS in that constructor, as libgomp does in its own, so the
 * count must be settled before either runs: here, in the executable's
 * DT_PREINIT_ARRAY, which the dynamic linker runs before the constructors
 * of all shared libraries.
 *
 * The C library is not initialised yet at that point: environ is NULL
 * (getenv finds nothing), and libc's initialisation then points it at the
 * array the kernel passed, so a setenv here would be lost.  The hook reads
 * envp itself, and a change to the environment re-executes the program
 * (/proc/self/exe, same arguments) with the new one; the second time round
 * the environment is already what the hook wants, so it goes on.
 *
 * The hook computes the variables the environment must have (settle) and
 * applies them.  Without a limit nothing changes and nothing is re-executed.
 *
 * One default is given without a re-execution, which would cost a second
 * start of the program (some 40 ms here, more than a short run takes): the
 * OpenMP wait policy, PASSIVE unless the user set OMP_WAIT_POLICY or
 * GOMP_SPINCOUNT (see getenv below and doc/architecture.md, "Start-up and
 * threads"). */
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define MIB (1ull << 20)
/* What the address space must hold beyond what is mapped at start-up: per
 * OpenMP thread two OpenBLAS buffers (128 MiB each, and their alignment)
 * and a thread stack; and room for the program's own work. */
#define PER_THREAD (2 * 129 * MIB + 8 * MIB)
#define WORK (128 * MIB)

typedef struct {
    const char *name;
    char value[24];
} setting;
enum { MAX_SETTINGS = 4 };

/* The value in an environment entry "NAME=VALUE" of variable name, or NULL. */
static const char *entry_value(const char *entry, const char *name)
{
    size_t n = strlen(name);
    return strncmp(entry, name, n) == 0 && entry[n] == '=' ? entry + n + 1 : NULL;
}

static const char *env_get(char **envp, const char *name)
{
    for (char **e = envp; e && *e; e++) {
        const char *v = entry_value(*e, name);
        if (v)
            return v;
    }
    return NULL;
}

/* The address space mapped now (the program and its libraries), in bytes. */
static unsigned long long mapped(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long long pages = 0;
    if (!f || fscanf(f, "%llu", &pages) != 1)
        pages = 0;
    if (f)
        fclose(f);
    return pages ? pages * (unsigned long long)sysconf(_SC_PAGESIZE) : 64 * MIB;
}

/* The OpenMP threads a program would get: OMP_NUM_THREADS's first number,
 * else the CPUs it may run on (libgomp's default). */
static long threads(char **envp, int *given)
{
    const char *v = env_get(envp, "OMP_NUM_THREADS");
    char *end;
    long n = v ? strtol(v, &end, 10) : 0;
    *given = v && n > 0 && end != v;
    if (*given)
        return n;
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return CPU_COUNT(&set);
    n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? n : 1;
}

/* Fills s with the variables the environment must have; their number, or
 * -1 when the program cannot run here (a message is printed). */
static int settle(const char *prog, char **envp, setting *s)
{
    int n = 0;
    struct rlimit rl;
    if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
        unsigned long long limit = rl.rlim_cur, base = mapped() + WORK;
        long fit = limit > base ? (long)((limit - base) / PER_THREAD) : 0;
        int given;
        long want = threads(envp, &given);
        if (fit < 1) {
            unsigned long long need = (base + PER_THREAD + MIB - 1) / MIB;
            fprintf(stderr,
                    "%s: error: the address-space limit (ulimit -v) of %llu MiB is too small: OpenBLAS alone "
                    "maps 256 MiB for one thread; the programs need %llu MiB or more (ulimit -v %llu)\n",
                    prog, limit / MIB, need, need * 1024);
            return -1;
        }
        if (fit < want) {
            if (given)
                fprintf(stderr,
                        "%s: warning: OMP_NUM_THREADS lowered from %ld to %ld, as many as the address-space limit "
                        "(ulimit -v) of %llu MiB holds\n",
                        prog, want, fit, limit / MIB);
            s[n].name = "OMP_NUM_THREADS";
            snprintf(s[n++].value, sizeof s[0].value, "%ld", fit);
        }
    }
    return n;
}

/* The program again, with s[0..n) set in its environment. */
static void reexec(const char *prog, char **argv, char **envp, const setting *s, int n)
{
    size_t k = 0, m = 0;
    while (envp[m])
        m++;
    char **env = malloc((m + (size_t)n + 1) * sizeof *env);
    if (!env) {
        fprintf(stderr, "%s: error: out of memory at start-up\n", prog);
        _exit(1);
    }
    for (char **e = envp; *e; e++) {
        int replaced = 0;
        for (int i = 0; i < n; i++)
            replaced |= entry_value(*e, s[i].name) != NULL;
        if (!replaced)
            env[k++] = *e;
    }
    for (int i = 0; i < n; i++)
        if (asprintf(&env[k++], "%s=%s", s[i].name, s[i].value) < 0) {
            fprintf(stderr, "%s: error: out of memory at start-up\n", prog);
            _exit(1);
        }
    env[k] = NULL;
    execve("/proc/self/exe", argv, env);
    fprintf(stderr, "%s: error: cannot start again with %s=%s (/proc/self/exe: %m); set it so\n", prog, s[0].name,
            s[0].value);
    _exit(1);
}

static void startup(int argc, char **argv, char **envp)
{
    (void)argc;
    const char *slash = argv[0] ? strrchr(argv[0], '/') : NULL;
    const char *prog = slash ? slash + 1 : argv[0] ? argv[0] : "rrsis";
    setting s[MAX_SETTINGS];
    int n = settle(prog, envp, s);
    if (n < 0)
        _exit(1);
    for (int i = 0; i < n; i++) {
        const char *v = env_get(envp, s[i].name);
        if (!v || strcmp(v, s[i].value) != 0) {
            reexec(prog, argv, envp, s, n);
            return;
        }
    }
}

__attribute__((section(".preinit_array"), used)) static void (*const preinit)(int, char **, char **) = startup;

/* The programs' default OpenMP wait policy.  libgomp's threads spin for a
 * while (300,000 iterations) before they sleep, waiting for work; on a
 * machine where another process is busy, or in our own pipelines, whose
 * stages run at once on the same cores, the spinning threads take the
 * cores that the working ones need: the README's typical run took about
 * ten times as long with spinning threads on a shared machine, and beside
 * one more busy process (bench/README, "Busy machines").  Alone on an idle
 * machine, sleeping threads cost a program a few per cent (the wake-ups;
 * bench/README, "CPU against PyTorch"); OMP_WAIT_POLICY=ACTIVE or a
 * GOMP_SPINCOUNT buys that back.
 *
 * libgomp reads the policy with getenv in its constructor, before main
 * and before any constructor of ours, and the environment cannot be
 * changed before it without a re-execution (see the top of this file).
 * So the programs define getenv: a definition in the executable comes
 * first in the lookup scope of every shared library (the ELF rules of
 * symbol interposition), so libgomp's getenv is this one.  It is glibc's
 * (the same search of environ), but answers PASSIVE for OMP_WAIT_POLICY
 * when neither OMP_WAIT_POLICY nor GOMP_SPINCOUNT is set: the user's
 * setting always wins.  The environment itself is left as it is.  The CLI
 * test test_busy.sh checks, through libgomp's own OMP_DISPLAY_ENV, that
 * the policy reaches libgomp, so a libgomp that stopped reading it through
 * getenv would fail there, not silently. */
char *getenv(const char *name)
{
    const char *v = env_get(environ, name);
    if (!v && strcmp(name, "OMP_WAIT_POLICY") == 0 && !env_get(environ, "GOMP_SPINCOUNT"))
        return (char *)"PASSIVE";
    return (char *)v;
}
