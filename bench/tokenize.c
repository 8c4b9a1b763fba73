/* Benchmark of the BERT tokenizer (libcore/text): a million short referring
 * expressions, each to 20 ids with rr_tokenizer_encode, on one core.  The
 * goal is under a minute.  Prints sentences/s (and a checksum of the ids, the
 * same on every run).
 *
 *   bench/tokenize [VOCAB [N]]   (default share/vocab/bert-base-uncased.txt, 1000000)
 *
 * Built like a program: the library's objects and LDLIBS, e.g.
 *   $(CC) $(CPPFLAGS) $(CFLAGS) bench/tokenize.c $(LIB_OBJ) $(LDLIBS) -o build/bench/tokenize
 * and run from the repository root. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "error.h"
#include "text/tokenizer.h"

static const char *const objects[] = {"plane", "ship", "vehicle", "storage tank", "bridge", "harbor",
                                      "tennis court", "baseball diamond", "ground track field", "chimney",
                                      "expressway service area", "windmill", "dam", "golf field", "overpass"};
static const char *const adjectives[] = {"white", "large", "small", "dark-gray", "red", "long", "L-shaped",
                                         "blue", "round", "tiny"};
static const char *const places[] = {"on the left", "on the right", "at the top", "in the middle",
                                     "in the upper-left corner", "next to the road", "near the river's bank",
                                     "at the bottom, by the lake"};

#define COUNT(a) (sizeof a / sizeof *a)

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    rr_cli_init(argv);
    const char *vocab = argc > 1 ? argv[1] : "share/vocab/bert-base-uncased.txt";
    long n = argc > 2 ? rr_cli_long("N", argv[2], 1, 100000000) : 1000000;
    rr_tokenizer *t = rr_tokenizer_load(vocab, 0);
    if (!t)
        rr_cli_die_lib();

    /* The sentences, made before the clock starts: "the 3 large white planes on the left". */
    char **sentences = malloc((size_t)n * sizeof *sentences);
    if (!sentences)
        rr_cli_die("out of memory");
    unsigned long long bytes = 0, x = 88172645463325252ull;
    for (long i = 0; i < n; i++) {
        const char *w[4];
        for (int k = 0; k < 4; k++) { /* xorshift64 */
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            w[k] = k < 2 ? adjectives[x % COUNT(adjectives)] : k == 2 ? objects[x % COUNT(objects)]
                                                                   : places[x % COUNT(places)];
        }
        char s[160];
        int len = snprintf(s, sizeof s, "the %s %s %s %s", w[0], w[1], w[2], w[3]);
        if (!(sentences[i] = strdup(s)))
            rr_cli_die("out of memory");
        bytes += (unsigned long long)len;
    }

    int32_t ids[20], mask[20];
    unsigned long long checksum = 0;
    double start = now();
    for (long i = 0; i < n; i++) {
        if (rr_tokenizer_encode(t, sentences[i], strlen(sentences[i]), 20, 0, ids, mask) < 0)
            rr_cli_die_lib();
        for (int k = 0; k < 20; k++)
            checksum = checksum * 31 + (unsigned)ids[k];
    }
    double seconds = now() - start;
    printf("tokenize: %ld sentences (%.1f MB) in %.2f s: %.0f sentences/s, %.1f MB/s (checksum %016llx)\n", n,
           (double)bytes / 1e6, seconds, (double)n / seconds, (double)bytes / 1e6 / seconds, checksum);

    for (long i = 0; i < n; i++)
        free(sentences[i]);
    free(sentences);
    rr_tokenizer_free(t);
    return 0;
}
