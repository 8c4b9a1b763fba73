#include "tokenizer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "../error.h"

#define MAX_WORD_CHARS 100 /* WordPiece's max_input_chars_per_word */

/* What the cleaner makes of a character (steps 2-4 of tokenizer.h). */
enum { K_WORD, K_DROP, K_SPACE, K_CJK };

static const char *const special_names[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
#define NSPECIAL 5

struct rr_tokenizer {
    int flags;
    int32_t size;
    char *pool;       /* the tokens, each NUL-terminated */
    size_t *offset;   /* of each id's token in pool */
    uint32_t *length; /* of each id's token */
    /* Open addressing over the ids, keyed by (text, continuation): a
     * continuation "##ing" is stored under "ing" so that WordPiece can hash
     * the pieces of a word in place. */
    int32_t *slot;
    uint32_t *slot_hash;
    uint32_t slot_mask;
    uint32_t max_key;                /* the longest key, in bytes */
    int32_t special[NSPECIAL];       /* ids of special_names */
    int32_t unk, cls, sep;
    int32_t *word, *norm;            /* scratch: a word's code points, normalised */
    size_t word_cap, norm_cap;
};

/* The output of rr_tokenize: the first cap ids are stored, all are counted. */
typedef struct {
    int32_t *ids;
    long cap, count;
} output;

static void emit(output *o, int32_t id)
{
    if (o->count < o->cap)
        o->ids[o->count] = id;
    o->count++;
}

/* FNV-1a; continuations start from another basis. */
#define HASH_BASIS 2166136261u
#define HASH_BASIS_CONT (2166136261u ^ 0x5bd1e995u)
static uint32_t hash_step(uint32_t h, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

static int is_continuation(const rr_tokenizer *t, int32_t id)
{
    return t->length[id] >= 2 && t->pool[t->offset[id]] == '#' && t->pool[t->offset[id] + 1] == '#';
}

static int32_t lookup(const rr_tokenizer *t, const char *key, size_t n, uint32_t h, int cont)
{
    for (uint32_t i = h & t->slot_mask;; i = (i + 1) & t->slot_mask) {
        int32_t id = t->slot[i];
        if (id < 0)
            return -1;
        if (t->slot_hash[i] != h || is_continuation(t, id) != cont)
            continue;
        size_t skip = cont ? 2 : 0;
        if (t->length[id] - skip == n && memcmp(t->pool + t->offset[id] + skip, key, n) == 0)
            return id;
    }
}

static void insert(rr_tokenizer *t, int32_t id)
{
    int cont = is_continuation(t, id);
    const char *key = t->pool + t->offset[id] + (cont ? 2 : 0);
    size_t n = t->length[id] - (cont ? 2 : 0);
    uint32_t h = hash_step(cont ? HASH_BASIS_CONT : HASH_BASIS, key, n);
    if (n > t->max_key)
        t->max_key = (uint32_t)n;
    uint32_t i = h & t->slot_mask;
    for (;; i = (i + 1) & t->slot_mask) {
        int32_t old = t->slot[i];
        if (old < 0)
            break;
        /* a token listed twice: the later line wins, as in Python's dict */
        if (t->slot_hash[i] == h && t->length[old] == t->length[id] &&
            memcmp(t->pool + t->offset[old], t->pool + t->offset[id], t->length[id]) == 0)
            break;
    }
    t->slot[i] = id;
    t->slot_hash[i] = h;
}

int32_t rr_tokenizer_id(const rr_tokenizer *t, const char *token)
{
    size_t n = strlen(token);
    int cont = n >= 2 && token[0] == '#' && token[1] == '#';
    if (cont) {
        token += 2;
        n -= 2;
    }
    return lookup(t, token, n, hash_step(cont ? HASH_BASIS_CONT : HASH_BASIS, token, n), cont);
}

int32_t rr_tokenizer_size(const rr_tokenizer *t) { return t->size; }

const char *rr_tokenizer_token(const rr_tokenizer *t, int32_t id)
{
    return id >= 0 && id < t->size ? t->pool + t->offset[id] : NULL;
}

void rr_tokenizer_free(rr_tokenizer *t)
{
    if (!t)
        return;
    free(t->pool);
    free(t->offset);
    free(t->length);
    free(t->slot);
    free(t->slot_hash);
    free(t->word);
    free(t->norm);
    free(t);
}

rr_tokenizer *rr_tokenizer_new(const char *vocab, size_t n, int flags)
{
    rr_tokenizer *t = calloc(1, sizeof *t);
    if (!t)
        goto oom;
    t->flags = flags;
    int32_t lines = 0;
    for (size_t i = 0; i < n; i++)
        if (vocab[i] == '\n' || i == n - 1)
            lines++;
    if (lines == 0) {
        rr_error("the vocabulary is empty");
        goto fail;
    }
    uint32_t slots = 2;
    while (slots < 2u * (uint32_t)lines)
        slots *= 2;
    t->pool = malloc(n + 1);
    t->offset = malloc(lines * sizeof *t->offset);
    t->length = malloc(lines * sizeof *t->length);
    t->slot = malloc(slots * sizeof *t->slot);
    t->slot_hash = malloc(slots * sizeof *t->slot_hash);
    if (!t->pool || !t->offset || !t->length || !t->slot || !t->slot_hash)
        goto oom;
    memcpy(t->pool, vocab, n);
    t->pool[n] = 0;
    memset(t->slot, 0xff, slots * sizeof *t->slot); /* -1: empty */
    t->slot_mask = slots - 1;
    size_t start = 0;
    for (int32_t id = 0; id < lines; id++) {
        char *nl = memchr(t->pool + start, '\n', n - start);
        size_t end = nl ? (size_t)(nl - t->pool) : n;
        size_t len = end - start;
        if (len && t->pool[start + len - 1] == '\r') /* CRLF files */
            len--;
        t->pool[start + len] = 0;
        t->offset[id] = start;
        t->length[id] = (uint32_t)len;
        start = end + 1;
    }
    t->size = lines;
    for (int32_t id = 0; id < lines; id++)
        insert(t, id);
    for (int i = 0; i < NSPECIAL; i++)
        t->special[i] = rr_tokenizer_id(t, special_names[i]);
    t->unk = t->special[1];
    t->cls = t->special[2];
    t->sep = t->special[3];
    if (t->unk < 0 || t->cls < 0 || t->sep < 0) {
        rr_error("the vocabulary lacks %s", t->unk < 0 ? "[UNK]" : t->cls < 0 ? "[CLS]" : "[SEP]");
        goto fail;
    }
    for (int i = 0; i < NSPECIAL; i++)
        if (t->special[i] < 0)
            t->special[i] = t->unk;
    return t;
oom:
    rr_error("out of memory");
fail:
    rr_tokenizer_free(t);
    return NULL;
}

/* A bound on what rr_tokenizer_load reads, so that a device named as the
 * vocabulary (/dev/zero) is an error, not a read without end. */
#define RR_VOCAB_MAX (64 << 20)

rr_tokenizer *rr_tokenizer_load(const char *path, int flags)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        rr_error("%s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n == cap) {
            if (cap >= RR_VOCAB_MAX) {
                free(buf);
                fclose(f);
                rr_error("%s: over %d MiB, not a vocabulary (BERT's is 0.2 MiB)", path, RR_VOCAB_MAX >> 20);
                return NULL;
            }
            cap = cap ? 2 * cap : 1 << 18;
            char *b = realloc(buf, cap);
            if (!b) {
                free(buf);
                fclose(f);
                rr_error("out of memory");
                return NULL;
            }
            buf = b;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    int failed = ferror(f);
    fclose(f);
    rr_tokenizer *t = NULL;
    if (failed)
        rr_error("%s: read error", path);
    else if (!(t = rr_tokenizer_new(buf, n, flags)))
        rr_error_prefix("%s: ", path);
    free(buf);
    return t;
}

/* --- character classes ------------------------------------------------------ */

static int is_cjk(int32_t c)
{
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
           (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
           (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

static int kind(int32_t c)
{
    if (c < 0x80) {
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
            return K_SPACE;
        return c < 0x20 || c == 0x7F ? K_DROP : K_WORD;
    }
    if (c == 0xFFFD)
        return K_DROP;
    switch (utf8proc_category(c)) {
    case UTF8PROC_CATEGORY_CN:
    case UTF8PROC_CATEGORY_CC:
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_CS:
    case UTF8PROC_CATEGORY_CO:
        return K_DROP;
    /* Zl and Zp: Python's str.split splits there too */
    case UTF8PROC_CATEGORY_ZS:
    case UTF8PROC_CATEGORY_ZL:
    case UTF8PROC_CATEGORY_ZP:
        return K_SPACE;
    default:
        return is_cjk(c) ? K_CJK : K_WORD;
    }
}

static int is_punct(int32_t c)
{
    if (c < 0x80)
        return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) ||
               (c >= 123 && c <= 126);
    utf8proc_category_t k = utf8proc_category(c);
    return k >= UTF8PROC_CATEGORY_PC && k <= UTF8PROC_CATEGORY_PO;
}

/* --- WordPiece ----------------------------------------------------------------- */

static size_t encode_utf8(int32_t c, char *out)
{
    return (size_t)utf8proc_encode_char(c, (utf8proc_uint8_t *)out);
}

/* One word (no spaces, no punctuation inside) to pieces. */
static void wordpiece(const rr_tokenizer *t, const int32_t *w, size_t m, output *o)
{
    if (m > MAX_WORD_CHARS) {
        emit(o, t->unk);
        return;
    }
    char bytes[4 * MAX_WORD_CHARS];
    size_t off[MAX_WORD_CHARS + 1];
    uint32_t prefix_hash[MAX_WORD_CHARS + 1];
    off[0] = 0;
    for (size_t i = 0; i < m; i++)
        off[i + 1] = off[i] + encode_utf8(w[i], bytes + off[i]);
    long first = o->count;
    size_t start = 0;
    while (start < m) {
        int cont = start > 0;
        /* the hash of every candidate piece w[start..end), no longer than the longest key */
        uint32_t h = cont ? HASH_BASIS_CONT : HASH_BASIS;
        size_t end = start;
        while (end < m && off[end + 1] - off[start] <= t->max_key) {
            h = hash_step(h, bytes + off[end], off[end + 1] - off[end]);
            prefix_hash[++end] = h;
        }
        int32_t id = -1;
        for (; end > start; end--)
            if ((id = lookup(t, bytes + off[start], off[end] - off[start], prefix_hash[end], cont)) >= 0)
                break;
        if (id < 0) {
            o->count = first; /* the whole word is unknown */
            emit(o, t->unk);
            return;
        }
        emit(o, id);
        start = end;
    }
}

/* --- basic tokenization ------------------------------------------------------ */

static int grow(int32_t **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap : 64;
    while (c < need)
        c *= 2;
    int32_t *b = realloc(*buf, c * sizeof *b);
    if (!b)
        return rr_error("out of memory");
    *buf = b;
    *cap = c;
    return 0;
}

/* Lower-cases, decomposes and strips nonspacing marks (uncased only), then
 * splits at punctuation and runs WordPiece on each part. */
static int finish_word(rr_tokenizer *t, size_t n, output *o)
{
    const int32_t *w = t->word;
    if (!(t->flags & RR_TOKENIZER_CASED)) {
        size_t m = 0;
        int ascii = 1;
        for (size_t i = 0; i < n; i++) {
            int32_t c = w[i];
            if (grow(&t->norm, &t->norm_cap, m + 16) < 0)
                return -1;
            if (c < 0x80) {
                t->norm[m++] = c >= 'A' && c <= 'Z' ? c + 32 : c;
                continue;
            }
            ascii = 0;
            int bound = 0;
            /* a canonical decomposition has at most 4 code points */
            utf8proc_ssize_t k =
                utf8proc_decompose_char(utf8proc_tolower(c), t->norm + m, 16, UTF8PROC_DECOMPOSE, &bound);
            if (k < 0 || k > 16)
                return rr_error("cannot decompose U+%04X", (unsigned)c);
            m += (size_t)k;
        }
        int32_t *d = t->norm;
        if (!ascii) {
            /* canonical ordering: a stable sort of each run of marks by combining class */
            for (size_t i = 1; i < m; i++) {
                int cc = utf8proc_get_property(d[i])->combining_class;
                for (size_t j = i; cc && j > 0 && utf8proc_get_property(d[j - 1])->combining_class > cc; j--) {
                    int32_t x = d[j];
                    d[j] = d[j - 1];
                    d[j - 1] = x;
                }
            }
            size_t kept = 0;
            for (size_t i = 0; i < m; i++)
                if (d[i] < 0x80 || utf8proc_category(d[i]) != UTF8PROC_CATEGORY_MN)
                    d[kept++] = d[i];
            m = kept;
        }
        w = d;
        n = m;
    }
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_punct(w[i]))
            continue;
        if (i > start)
            wordpiece(t, w + start, i - start, o);
        wordpiece(t, w + i, 1, o);
        start = i + 1;
    }
    if (n > start)
        wordpiece(t, w + start, n - start, o);
    return 0;
}

/* Text without special tokens; `at` is its offset in the whole text. */
static int basic(rr_tokenizer *t, const char *s, size_t n, size_t at, output *o)
{
    size_t len = 0; /* of the word being read */
    size_t i = 0;
    while (i < n) {
        int32_t c;
        if ((unsigned char)s[i] < 0x80)
            c = (unsigned char)s[i++];
        else {
            utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(n - i), &c);
            if (k < 0)
                return rr_error("invalid UTF-8 at byte %zu", at + i + 1);
            i += (size_t)k;
        }
        int k = kind(c);
        if (k == K_DROP)
            continue;
        if (k == K_WORD) {
            if (grow(&t->word, &t->word_cap, len + 1) < 0)
                return -1;
            t->word[len++] = c;
            continue;
        }
        if (len && finish_word(t, len, o) < 0)
            return -1;
        len = 0;
        if (k == K_CJK) { /* a word of its own */
            if (grow(&t->word, &t->word_cap, 1) < 0)
                return -1;
            t->word[0] = c;
            if (finish_word(t, 1, o) < 0)
                return -1;
        }
    }
    return len ? finish_word(t, len, o) : 0;
}

long rr_tokenize(rr_tokenizer *t, const char *s, size_t n, int32_t *ids, long cap)
{
    output o = {ids, cap, 0};
    size_t start = 0; /* of the text before the next special token */
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '[')
            continue;
        for (int k = 0; k < NSPECIAL; k++) {
            size_t len = strlen(special_names[k]);
            if (n - i < len || memcmp(s + i, special_names[k], len) != 0)
                continue;
            if (basic(t, s + start, i - start, start, &o) < 0)
                return -1;
            emit(&o, t->special[k]);
            start = i + len;
            i = start - 1;
            break;
        }
    }
    if (basic(t, s + start, n - start, start, &o) < 0)
        return -1;
    return o.count;
}

long rr_tokenizer_encode(rr_tokenizer *t, const char *s, size_t n, int max_len, int keep_sep,
                         int32_t *ids, int32_t *mask)
{
    if (max_len < 2)
        return rr_error("the maximum length %d is below 2", max_len);
    long pieces = rr_tokenize(t, s, n, ids + 1, max_len - 1);
    if (pieces < 0)
        return -1;
    ids[0] = t->cls;
    long total = pieces + 2, kept = max_len;
    if (total <= max_len) {
        ids[pieces + 1] = t->sep;
        kept = total;
    } else if (keep_sep)
        ids[max_len - 1] = t->sep;
    for (long i = 0; i < max_len; i++) {
        if (i >= kept)
            ids[i] = 0;
        mask[i] = i < kept;
    }
    return total;
}
