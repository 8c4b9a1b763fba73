/* The BERT tokenizer: basic tokenization, then WordPiece (doc/network.md, Tokenizer).
 *
 * It gives the ids of BERT's own tokenizer (Google's tokenization.py, which
 * Hugging Face's Python BertTokenizer and LAVT's copy of it follow) for any
 * vocab.txt; tests/golden/tokenizer holds the proof:
 *
 *   1. The special tokens [PAD] [UNK] [CLS] [SEP] [MASK], written exactly
 *      so in the text, are cut out first and never split.
 *   2. Cleaning: U+0000, U+FFFD and every character of category C* (control,
 *      format, private use, unassigned) but tab, newline and return are
 *      dropped; white space becomes a space.
 *   3. CJK ideographs (the CJK Unified Ideograph blocks and their
 *      compatibility forms) stand alone, as if spaces were around them.
 *   4. The text is split at white space (Zs, Zl, Zp, tab, newline, return).
 *   5. Uncased (the default): each word is lower-cased character by
 *      character (as LAVT's copy does: a final Σ is σ, not ς), decomposed
 *      (NFD) and stripped of nonspacing marks (Mn).
 *   6. Words are split before and after each punctuation character: ASCII
 *      33-47, 58-64, 91-96, 123-126, and every Unicode P*.
 *   7. WordPiece: greedy longest match first, continuation pieces spelt
 *      "##piece"; a word of more than 100 characters, or one that some
 *      position cannot continue, becomes [UNK].
 *
 * Step 2 is BERT's _clean_text, which LAVT's copy leaves out (doc/network.md,
 * Tokenizer); it changes the ids only of text with such characters.  The
 * Unicode tables are libutf8proc's.  A tokenizer keeps scratch buffers: use
 * one per thread. */
#ifndef RR_TEXT_TOKENIZER_H
#define RR_TEXT_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

typedef struct rr_tokenizer rr_tokenizer;

/* Flags of rr_tokenizer_load. */
enum {
    RR_TOKENIZER_CASED = 1, /* no lower-casing, no accent stripping (--cased) */
};

/* Loads a vocab.txt: one token per line, the id of a token is its line
 * number counted from 0 (a token listed twice gets the later id, as in
 * Python).  [UNK], [CLS] and [SEP] must be in it.  NULL with rr_error. */
rr_tokenizer *rr_tokenizer_load(const char *path, int flags);
/* The same from the file's contents. */
rr_tokenizer *rr_tokenizer_new(const char *vocab, size_t n, int flags);
void rr_tokenizer_free(rr_tokenizer *t);

int32_t rr_tokenizer_size(const rr_tokenizer *t);
/* The text of token `id` ("##ing" for a continuation), NULL when out of range. */
const char *rr_tokenizer_token(const rr_tokenizer *t, int32_t id);
/* The id of a token, -1 when the vocabulary lacks it. */
int32_t rr_tokenizer_id(const rr_tokenizer *t, const char *token);

/* The word-piece ids of UTF-8 text s[0..n), without [CLS] and [SEP]: writes
 * the first `cap` of them to ids and returns how many there are in all.
 * -1 with rr_error("invalid UTF-8 at byte N"), N counted from 1. */
long rr_tokenize(rr_tokenizer *t, const char *s, size_t n, int32_t *ids, long cap);

/* The model's input (LAVT's dataset_refer_bert.py): [CLS] ids [SEP], cut to
 * max_len (>= 2) ids, padded with 0 to max_len; mask is 1 on the ids kept,
 * 0 on the padding.  The reference cuts after adding [SEP], so a sentence
 * of more than max_len - 2 pieces loses it; keep_sep cuts the pieces
 * instead and ends with [SEP].  Returns the length before the cut (pieces
 * + 2), so the sentence was cut when it is > max_len; -1 with rr_error. */
long rr_tokenizer_encode(rr_tokenizer *t, const char *s, size_t n, int max_len, int keep_sep,
                         int32_t *ids, int32_t *mask);

#endif
