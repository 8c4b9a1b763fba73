"""BERT-uncased WordPiece (doc/network.md, Tokenizer), enough for the goldens' sentences.

    ids, mask = encode("the ship on the left", load_vocab("share/vocab/bert-base-uncased.txt"))
"""
import unicodedata

SPECIAL = {"[UNK]", "[SEP]", "[PAD]", "[CLS]", "[MASK]"}


def load_vocab(path):
    with open(path, encoding="utf-8") as f:
        return {line.rstrip("\n"): i for i, line in enumerate(f)}


def _is_punct(ch):
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def _is_cjk(cp):
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF
            or 0x2A700 <= cp <= 0x2B73F or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF
            or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)


def basic_tokens(text):
    text = "".join(f" {c} " if _is_cjk(ord(c)) else c for c in text)
    out = []
    for tok in text.split():
        if tok in SPECIAL:
            out.append(tok)
            continue
        tok = unicodedata.normalize("NFD", tok.lower())
        tok = "".join(c for c in tok if unicodedata.category(c) != "Mn")
        cur = ""
        for c in tok:
            if _is_punct(c):
                if cur:
                    out.append(cur)
                    cur = ""
                out.append(c)
            else:
                cur += c
        if cur:
            out.append(cur)
    return out


def wordpiece(word, vocab):
    if len(word) > 100:
        return [vocab["[UNK]"]]
    ids, start = [], 0
    while start < len(word):
        end = len(word)
        while end > start:
            piece = word[start:end] if start == 0 else "##" + word[start:end]
            if piece in vocab:
                ids.append(vocab[piece])
                break
            end -= 1
        if end == start:
            return [vocab["[UNK]"]]
        start = end
    return ids


def encode(text, vocab, max_len=20):
    """([CLS] ids [SEP]) cut to max_len, right-padded with 0; and the 0/1 mask."""
    ids = [vocab["[CLS]"]]
    for w in basic_tokens(text):
        ids += [vocab[w]] if w in SPECIAL else wordpiece(w, vocab)
    ids.append(vocab["[SEP]"])
    ids = ids[:max_len]
    mask = [1] * len(ids) + [0] * (max_len - len(ids))
    return ids + [0] * (max_len - len(ids)), mask
