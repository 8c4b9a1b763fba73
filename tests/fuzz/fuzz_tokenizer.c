/* libFuzzer target: a sentence's bytes to BERT ids, the way rrsis-tokenize
 * takes a line: the UTF-8 check, --lossy's repair, then the tokenizer and
 * the model's input ([CLS] ids [SEP], cut and padded).  The first byte
 * holds the options:
 *   bit 0  cased            bit 1  keep [SEP] when cut
 *   bit 2  lossy            bits 3-6  max_len - 2 (0 to 15)
 *   bit 7  the rest is a vocabulary, a NUL, then the sentence (else the
 *          vocabulary is bert-base-uncased from share/vocab)
 * Beyond "no crash, no leak, no undefined behaviour": ids are in the
 * vocabulary, the mask is ones then zeros, the length agrees with
 * rr_tokenize's count, and a short output buffer gets the first ids of a
 * long one. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "text/tokenizer.h"
#include "text/utf8.h"

#ifndef RR_FUZZ_VOCAB
#define RR_FUZZ_VOCAB "share/vocab/bert-base-uncased.txt"
#endif

static rr_tokenizer *bert[2]; /* uncased, cased */

static void check(rr_tokenizer *t, const char *s, size_t n, int max_len, int keep_sep)
{
    int32_t ids[32], mask[32], all[64];
    long length = rr_tokenizer_encode(t, s, n, max_len, keep_sep, ids, mask);
    long count = rr_tokenize(t, s, n, all, 64);
    if ((length < 0) != (count < 0))
        abort();
    if (length < 0)
        return;
    if (length != count + 2)
        abort();
    int32_t size = rr_tokenizer_size(t);
    for (int i = 0; i < max_len; i++) {
        if (ids[i] < 0 || ids[i] >= size || (mask[i] != 0 && mask[i] != 1) ||
            (i > 0 && mask[i] > mask[i - 1]) || (!mask[i] && ids[i] != 0))
            abort();
        if (mask[i] && i > 0 && i <= count && i < max_len - (keep_sep && length > max_len) &&
            ids[i] != all[i - 1])
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    int opts = data[0], cased = opts & 1, keep_sep = (opts >> 1) & 1, lossy = (opts >> 2) & 1;
    int max_len = 2 + ((opts >> 3) & 15);
    const char *s = (const char *)data + 1;
    size_t n = size - 1;
    rr_tokenizer *t, *own = NULL;
    if (opts & 128) {
        const char *nul = memchr(s, '\0', n);
        if (!nul)
            return 0;
        own = rr_tokenizer_new(s, (size_t)(nul - s), cased ? RR_TOKENIZER_CASED : 0);
        if (!own)
            return 0;
        n -= (size_t)(nul - s) + 1;
        s = nul + 1;
        t = own;
    } else {
        if (!bert[cased] && !(bert[cased] = rr_tokenizer_load(RR_FUZZ_VOCAB, cased ? RR_TOKENIZER_CASED : 0))) {
            fprintf(stderr, "fuzz_tokenizer: %s\n", rr_errmsg());
            abort();
        }
        t = bert[cased];
    }
    char *fixed = NULL;
    if (lossy && rr_utf8_invalid(s, n) >= 0) {
        if (!(fixed = rr_utf8_lossy(s, n, &n)) || rr_utf8_invalid(fixed, n) >= 0)
            abort();
        s = fixed;
    }
    check(t, s, n, max_len, keep_sep);
    free(fixed);
    rr_tokenizer_free(own);
    return 0;
}
