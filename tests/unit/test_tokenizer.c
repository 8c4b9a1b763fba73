/* The BERT tokenizer (libcore/text): the goldens of a real BERT tokenizer,
 * then the rules one at a time on a small vocabulary, and UTF-8 checks. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "text/tokenizer.h"
#include "text/utf8.h"

#define VOCAB "share/vocab/bert-base-uncased.txt"
#define GOLDEN "tests/golden/tokenizer/corpus.jsonl"

static char *read_all(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 20, len = 0;
    char *buf = malloc(cap + 1);
    size_t got;
    while (buf && (got = fread(buf + len, 1, cap - len, f)) > 0) {
        len += got;
        if (len == cap) {
            char *b = realloc(buf, 2 * cap + 1);
            if (!b)
                free(buf);
            buf = b;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf)
        buf[len] = 0;
    *n = len;
    return buf;
}

/* Whether the pieces of `text` are the golden ids less [CLS] and [SEP];
 * says how they differ when not. */
static int matches(rr_tokenizer *t, const char *what, const char *text, const cJSON *want, int line)
{
    int n = cJSON_GetArraySize(want);
    int32_t got[4096];
    long m = rr_tokenize(t, text, strlen(text), got, 4096);
    int ok = m == n - 2 && n >= 2 && cJSON_GetArrayItem(want, 0)->valueint == 101 &&
             cJSON_GetArrayItem(want, n - 1)->valueint == 102;
    for (int i = 0; ok && i < m; i++)
        ok = got[i] == cJSON_GetArrayItem(want, i + 1)->valueint;
    if (!ok) {
        char *w = cJSON_PrintUnformatted(want);
        test_fail(__FILE__, __LINE__, "%s line %d (%s): %s: %ld pieces, wanted %s", GOLDEN, line, what, text, m,
                  w);
        for (long i = 0; i < m && i < 64; i++)
            printf("   got %ld: %d %s\n", i, got[i], rr_tokenizer_token(t, got[i]));
        free(w);
    }
    return ok;
}

TEST(tokenizer_matches_bert_goldens)
{
    rr_tokenizer *uncased = rr_tokenizer_load(VOCAB, 0);
    rr_tokenizer *cased = rr_tokenizer_load(VOCAB, RR_TOKENIZER_CASED);
    size_t n;
    char *corpus = read_all(GOLDEN, &n);
    CHECK(uncased && cased, "%s", rr_errmsg());
    CHECK(corpus, "cannot read %s", GOLDEN);
    if (!uncased || !cased || !corpus)
        goto done;
    int sentences = 0, ok_uncased = 0, with_cased = 0, ok_cased = 0, failures = 0, line = 0;
    for (char *s = corpus, *nl; *s && failures < 10; s = nl + 1) {
        nl = strchr(s, '\n');
        if (!nl)
            nl = s + strlen(s);
        line++;
        cJSON *o = cJSON_ParseWithLength(s, (size_t)(nl - s));
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(o, "text");
        const cJSON *u = cJSON_GetObjectItemCaseSensitive(o, "uncased");
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(o, "cased");
        if (!cJSON_IsString(text) || !cJSON_IsArray(u)) {
            CHECK(0, "%s line %d: not a golden", GOLDEN, line);
            failures++;
        } else {
            sentences++;
            if (matches(uncased, "uncased", text->valuestring, u, line))
                ok_uncased++;
            else
                failures++;
            if (cJSON_IsArray(c)) {
                with_cased++;
                if (matches(cased, "cased", text->valuestring, c, line))
                    ok_cased++;
                else
                    failures++;
            }
        }
        cJSON_Delete(o);
        if (!*nl)
            break;
    }
    printf("tokenizer goldens: %d of %d sentences match uncased, %d of %d cased\n", ok_uncased, sentences,
           ok_cased, with_cased);
    CHECK(sentences >= 2000, "only %d sentences in %s", sentences, GOLDEN);
done:
    free(corpus);
    rr_tokenizer_free(uncased);
    rr_tokenizer_free(cased);
}

/* A small vocabulary: ids are line numbers. */
static const char small_vocab[] = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n" /* 0-4 */
                                  "un\n##aff\n##able\nthe\nplane\n"       /* 5-9 */
                                  "a\n##b\n.\n,\ncafe\n"                   /* 10-14 */
                                  "中\nσ\n##a\nab\n-\n";                   /* 15-19 */

static rr_tokenizer *small(int flags)
{
    rr_tokenizer *t = rr_tokenizer_new(small_vocab, sizeof small_vocab - 1, flags);
    CHECK(t, "%s", rr_errmsg());
    return t;
}

/* The pieces of s as a string of ids, "5 6 7". */
static const char *pieces(rr_tokenizer *t, const char *s, size_t n)
{
    static char out[1024];
    int32_t ids[256];
    long m = rr_tokenize(t, s, n, ids, 256);
    if (m < 0)
        return rr_errmsg();
    out[0] = 0;
    for (long i = 0; i < m && i < 256; i++)
        snprintf(out + strlen(out), sizeof out - strlen(out), i ? " %d" : "%d", ids[i]);
    return out;
}
#define EXPECT(t, s, want)                                                                  \
    do {                                                                                    \
        const char *got_ = pieces(t, s, sizeof(s) - 1);                                     \
        CHECK(strcmp(got_, want) == 0, "%s: got \"%s\", wanted \"%s\"", #s, got_, want);   \
    } while (0)

TEST(tokenizer_rules)
{
    rr_tokenizer *t = small(0);
    if (!t)
        return;
    EXPECT(t, "unaffable", "5 6 7");              /* greedy longest match, continuations */
    EXPECT(t, "UnAffable The", "5 6 7 8");        /* lower-cased */
    EXPECT(t, "unaffablex", "1");                 /* a word no piece continues: all of it [UNK] */
    EXPECT(t, "the,plane.", "8 13 9 12");         /* punctuation split */
    EXPECT(t, "  the\t\nplane\r ", "8 9");        /* white space */
    EXPECT(t, "Café CAFE\xcc\x81", "14 14");      /* accents stripped, composed or not */
    EXPECT(t, "th\x01" "e pl\xe2\x80\x8b" "ane", "8 9"); /* control and format characters dropped */
    EXPECT(t, "the\xef\xbf\xbdplane", "1");       /* U+FFFD dropped: one word "theplane" */
    EXPECT(t, "a\xe4\xb8\xad" "a", "10 15 10");   /* CJK stands alone */
    EXPECT(t, "the\xe3\x80\x80plane", "8 9");     /* U+3000 is white space */
    EXPECT(t, "the\xe2\x80\xa8plane", "8 9");     /* so is U+2028 */
    EXPECT(t, "\xce\xa3", "16");                  /* Σ lower-cased to σ */
    EXPECT(t, "ab", "18");                        /* the longest match, not a ##b */
    EXPECT(t, "aba", "18 17");
    EXPECT(t, "abb", "18 11");
    EXPECT(t, "[CLS]the[SEP] [MASK][PAD]x[UNK]", "2 8 3 4 0 1 1");
    EXPECT(t, "[cls] [CLS", "1 1 1 1 1");         /* not special: [ cls ] [ cls, all [UNK] here */
    EXPECT(t, "a-a", "10 19 10");
    EXPECT(t, "", "");
    EXPECT(t, " \t ", "");
    /* a NUL is dropped too (only through the length: a C string cannot hold it) */
    EXPECT(t, "the\0plane", "1");
    /* 100 characters are looked up; 101 are [UNK] at once */
    char word[102];
    memset(word, 'a', 101);
    word[101] = 0;
    int32_t ids[128];
    CHECK(rr_tokenize(t, word, 100, ids, 128) == 100 && ids[99] == 17, "100 characters");
    CHECK(rr_tokenize(t, word, 101, ids, 128) == 1 && ids[0] == 1, "101 characters");
    rr_tokenizer_free(t);

    /* NFD orders marks by combining class: the spacing marks U+1D16D (226)
     * and U+1D165 (216) are not stripped, and come out swapped */
    static const char marks[] = "[UNK]\n[CLS]\n[SEP]\nx\xf0\x9d\x85\xa5\xf0\x9d\x85\xad\n";
    t = rr_tokenizer_new(marks, sizeof marks - 1, 0);
    CHECK(t, "%s", rr_errmsg());
    if (t)
        EXPECT(t, "X\xf0\x9d\x85\xad\xf0\x9d\x85\xa5", "3");
    rr_tokenizer_free(t);

    t = small(RR_TOKENIZER_CASED);
    if (!t)
        return;
    EXPECT(t, "the The", "8 1");
    EXPECT(t, "cafe cafe\xcc\x81", "14 1");       /* no accent stripping */
    rr_tokenizer_free(t);
}

TEST(tokenizer_encode_cuts_and_pads)
{
    rr_tokenizer *t = small(0);
    if (!t)
        return;
    int32_t ids[8], mask[8];
    const char *s = "the plane";
    CHECK(rr_tokenizer_encode(t, s, strlen(s), 6, 0, ids, mask) == 4, "length");
    const int32_t want[6] = {2, 8, 9, 3, 0, 0}, want_mask[6] = {1, 1, 1, 1, 0, 0};
    CHECK(memcmp(ids, want, sizeof want) == 0 && memcmp(mask, want_mask, sizeof want_mask) == 0, "padded");
    /* 5 pieces in 4 ids: the reference loses [SEP] */
    s = "the plane the plane the";
    CHECK(rr_tokenizer_encode(t, s, strlen(s), 4, 0, ids, mask) == 7, "length before the cut");
    const int32_t cut[4] = {2, 8, 9, 8}, ones[4] = {1, 1, 1, 1};
    CHECK(memcmp(ids, cut, sizeof cut) == 0 && memcmp(mask, ones, sizeof ones) == 0, "cut");
    CHECK(rr_tokenizer_encode(t, s, strlen(s), 4, 1, ids, mask) == 7, "length, keep_sep");
    const int32_t kept[4] = {2, 8, 9, 3};
    CHECK(memcmp(ids, kept, sizeof kept) == 0 && memcmp(mask, ones, sizeof ones) == 0, "keep_sep");
    /* exactly max_len: nothing cut */
    s = "the plane";
    CHECK(rr_tokenizer_encode(t, s, strlen(s), 4, 0, ids, mask) == 4 && ids[3] == 3, "exact fit");
    CHECK(rr_tokenizer_encode(t, s, strlen(s), 1, 0, ids, mask) == -1 && strstr(rr_errmsg(), "below 2"),
          "max_len 1: %s", rr_errmsg());
    rr_tokenizer_free(t);
}

TEST(tokenizer_rejects_invalid_utf8)
{
    rr_tokenizer *t = small(0);
    if (!t)
        return;
    int32_t ids[8];
    CHECK(rr_tokenize(t, "the \xff plane", 11, ids, 8) == -1, "accepted 0xff");
    CHECK(strcmp(rr_errmsg(), "invalid UTF-8 at byte 5") == 0, "message: %s", rr_errmsg());
    CHECK(rr_tokenize(t, "[CLS]a\xed\xa0\x80", 9, ids, 8) == -1 && strcmp(rr_errmsg(), "invalid UTF-8 at byte 7") == 0,
          "surrogate after a special token: %s", rr_errmsg());
    rr_tokenizer_free(t);
}

TEST(tokenizer_vocabulary)
{
    rr_tokenizer *t = rr_tokenizer_load(VOCAB, 0);
    CHECK(t, "%s", rr_errmsg());
    if (!t)
        return;
    CHECK(rr_tokenizer_size(t) == 30522, "size %d", rr_tokenizer_size(t));
    CHECK(rr_tokenizer_id(t, "[CLS]") == 101 && rr_tokenizer_id(t, "[SEP]") == 102 &&
              rr_tokenizer_id(t, "[PAD]") == 0 && rr_tokenizer_id(t, "[UNK]") == 100 &&
              rr_tokenizer_id(t, "[MASK]") == 103,
          "special ids");
    CHECK(rr_tokenizer_id(t, "the") == 1996 && strcmp(rr_tokenizer_token(t, 1996), "the") == 0, "the");
    CHECK(rr_tokenizer_id(t, "##ing") > 0 && strcmp(rr_tokenizer_token(t, rr_tokenizer_id(t, "##ing")), "##ing") == 0,
          "##ing");
    CHECK(rr_tokenizer_id(t, "no-such-token") == -1 && rr_tokenizer_token(t, 30522) == NULL, "absent");
    rr_tokenizer_free(t);

    /* CRLF lines, a token listed twice (the later wins), no final newline */
    static const char crlf[] = "[UNK]\r\n[CLS]\r\n[SEP]\r\nab\r\nab\r\n##c";
    t = rr_tokenizer_new(crlf, sizeof crlf - 1, 0);
    CHECK(t && rr_tokenizer_size(t) == 6 && rr_tokenizer_id(t, "ab") == 4 && rr_tokenizer_id(t, "##c") == 5,
          "CRLF vocabulary: %s", rr_errmsg());
    rr_tokenizer_free(t);

    static const char no_cls[] = "[UNK]\n[SEP]\n";
    CHECK(!rr_tokenizer_new(no_cls, sizeof no_cls - 1, 0) && strstr(rr_errmsg(), "[CLS]"), "no [CLS]: %s",
          rr_errmsg());
    CHECK(!rr_tokenizer_load("no/such/vocab.txt", 0) && strstr(rr_errmsg(), "no/such/vocab.txt"), "missing file: %s",
          rr_errmsg());
}

TEST(utf8_validation_and_replacement)
{
    CHECK(rr_utf8_invalid("plain ascii", 11) == -1, "ascii");
    CHECK(rr_utf8_invalid("\xe4\xb8\xad\xf0\x9f\x98\x80", 7) == -1, "CJK and emoji");
    CHECK(rr_utf8_invalid("ab\xc0\xaf", 4) == 2, "overlong");
    CHECK(rr_utf8_invalid("\xed\xa0\x80", 3) == 0, "surrogate");
    CHECK(rr_utf8_invalid("x\xf4\x90\x80\x80", 5) == 1, "above U+10FFFF");
    CHECK(rr_utf8_invalid("xy\xe4\xb8", 4) == 2, "truncated");
    /* Python: b"a\xe4\xb8b\xff\xf0\x9f\x98".decode("utf-8", "replace") == "a\ufffdb\ufffd\ufffd" */
    size_t n;
    char *s = rr_utf8_lossy("a\xe4\xb8" "b\xff\xf0\x9f\x98", 8, &n);
    CHECK(s && n == 11 && strcmp(s, "a\xef\xbf\xbd" "b\xef\xbf\xbd\xef\xbf\xbd") == 0, "lossy: %s", s);
    free(s);
    /* an overlong pair is two replacements (0xC0 can start nothing) */
    s = rr_utf8_lossy("\xc0\xaf", 2, &n);
    CHECK(s && n == 6, "overlong: %zu bytes", n);
    free(s);
}
