"""Writes the seed corpus of fuzz_tokenizer into the folder given as
argument (see fuzz_tokenizer.c for the option byte): sentences in several
scripts, special tokens, invalid UTF-8, and a vocabulary of its own."""
import os
import sys

CASED, KEEP_SEP, LOSSY, OWN_VOCAB = 1, 2, 4, 128


def opts(flags, max_len):
    return bytes([flags | (max_len - 2) << 3])


def main(out):
    os.makedirs(out, exist_ok=True)
    seeds = {
        "plain": opts(0, 17) + b"the white plane on the left",
        "cased": opts(CASED, 8) + b"The White PLANE, near Paris!",
        "accents": opts(0, 17) + "Caf\u00e9 na\u00efve \u00c5ngstr\u00f6m \u1e9e".encode(),
        "cjk": opts(KEEP_SEP, 5) + "\u5de6\u8fb9\u7684\u98de\u673a \U00020001 \uff10".encode(),
        "special": opts(0, 12) + b"[CLS] a [MASK] b[SEP][UNK]x[PAD] [cls]",
        "controls": opts(0, 12) + b"a\tb\r\nc\x01\x7f d\xe2\x80\x8be \xef\xbf\xbd f\xe2\x80\xa8g",
        "marks": opts(0, 10) + "e\u0301\u0327 \u03a3\u03b1\u03c3 \u0130 \ufb01".encode(),
        "long-word": opts(KEEP_SEP, 4) + b"a" * 101 + b" " + b"b" * 100,
        "punct": opts(0, 17) + "x,y.z!?\u00bfw\u2014v\u3001u".encode(),
        "invalid": opts(0, 6) + b"ok \xff\xfe bad \xc0\xaf \xed\xa0\x80",
        "lossy": opts(LOSSY, 6) + b"ok \xff\xfe bad \xc0\xaf \xed\xa0\x80 \xf4\x90\x80\x80",
        "own-vocab": opts(OWN_VOCAB, 9) + b"[PAD]\n[UNK]\r\n[CLS]\n[SEP]\nplane\n##s\n##\nplane\n\x00planes of planez",
        "own-vocab-bad": opts(OWN_VOCAB, 9) + b"[UNK]\n[CLS]\n\x00a",
    }
    for name, data in seeds.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main(sys.argv[1])
