#!/usr/bin/python3
"""Writes the tokenizer goldens, tests/golden/tokenizer/corpus.jsonl (run from the repository root).

    python3 -m venv /tmp/tokvenv && /tmp/tokvenv/bin/pip install transformers tokenizers
    /tmp/tokvenv/bin/python tools/make_tokenizer_goldens.py

The C tokenizer (libcore/text/tokenizer.c) must give the ids of a real BERT
tokenizer on every sentence of the corpus; tests/unit/test_tokenizer.c
compares them, without Python.  Each line of corpus.jsonl is

    {"group": G, "text": T, "uncased": [ids], "cased": [ids]}

where the ids are those of transformers' Python BertTokenizer
(BertTokenizerLegacy since transformers 5; LAVT and RMSIN copy it) with the
vocabulary share/vocab/bert-base-uncased.txt: encode(T), [CLS] ... [SEP],
not cut; "cased" with do_lower_case false.  Non-printable characters of T
are written as \\u escapes so that the file reads well; no sentence holds
U+0000 (a C string could not carry it).

The corpus (seeded; a rerun writes the same file):
  en       English referring expressions: remote-sensing objects, colours,
           positions, relations, numbers, hyphens, apostrophes, brackets,
           mixed case, accents, and very long ones (more than 18 pieces,
           words of more than 100 characters).
  zh       Chinese referring expressions.
  mixed    Chinese and English in one sentence.
  unicode  odd text: emoji, combining marks, full-width forms, control and
           format characters, odd white space, ligatures, Greek, Cyrillic,
           Arabic, Devanagari, kana, Hangul, special tokens in the text.
  sweep    "a{c}b {c}" for code points c all over Unicode, 16 to a sentence
           (every one outside the big blocks of letters, symbols and
           unassigned code points, a sample of those): every character
           class of the cleaner and the punctuation split, and every
           lower-casing and decomposition that leads into the vocabulary.

Two choices:
  - Uncased, the text is lower-cased character by character first, as
    LAVT's copy does (bert/tokenization_utils.py) and the fast tokenizer
    does.  It matters for one letter only: transformers 5's
    BertTokenizerLegacy lower-cases whole words, so that a word-final Σ
    becomes ς there and σ here.
  - Cased, a sentence that composition (NFC) changes gets no cased ids:
    BertTokenizerLegacy composes the text first, while Google's BERT, LAVT's
    copy and the fast tokenizer do not, and neither does the C tokenizer.
The sweep leaves out a code point when Python's Unicode tables
(unicodedata) and libutf8proc's, which the C tokenizer uses, give it
another category or lower-case form: they may be of different Unicode
versions, and there the ids depend on the version.

The script also runs the fast tokenizer (transformers' BertTokenizer, on
Hugging Face tokenizers) and counts where it differs: it keeps unassigned
code points that BERT's cleaner drops, its Unicode tables are older, and its
CJK ranges begin extension E at U+2B920 instead of U+2B820.  A difference
for any other reason is printed in full.
"""
import ctypes
import ctypes.util
import json
import random
import re
import sys
import unicodedata
import warnings

warnings.filterwarnings("ignore")
from transformers import BertTokenizer  # noqa: E402
from transformers.models.bert.tokenization_bert import load_vocab  # noqa: E402
from transformers.models.bert.tokenization_bert_legacy import BertTokenizerLegacy  # noqa: E402

VOCAB = "share/vocab/bert-base-uncased.txt"
OUT = "tests/golden/tokenizer/corpus.jsonl"
rng = random.Random(20240611)

# --- English ------------------------------------------------------------------------

OBJECTS = [
    "plane", "airplane", "ship", "boat", "vehicle", "car", "truck", "bus", "storage tank", "oil tank",
    "bridge", "harbor", "harbour", "dam", "chimney", "windmill", "stadium", "golf field", "golf course",
    "tennis court", "basketball court", "baseball diamond", "baseball field", "ground track field",
    "roundabout", "overpass", "train station", "expressway service area", "expressway toll station",
    "airport", "runway", "building", "house", "roof", "road", "river", "lake", "pond", "tree",
    "parking lot", "swimming pool", "soccer field", "container", "crane", "helicopter", "silo",
    "greenhouse", "warehouse", "factory", "church", "tower", "pier", "dock", "railway", "highway",
]
COLOURS = ["white", "black", "gray", "grey", "red", "blue", "green", "yellow", "dark", "light",
           "dark-gray", "light-blue", "blue-green", "reddish", "silver", "orange", "brown", "beige"]
SIZES = ["large", "small", "big", "tiny", "huge", "long", "short", "wide", "narrow", "round",
         "square", "rectangular", "circular", "L-shaped", "T-shaped", "oval", "medium-sized"]
PLACES = ["on the left", "on the right", "at the top", "at the bottom", "in the middle",
          "in the center", "in the centre", "in the upper left corner", "in the lower-right corner",
          "on the top-left", "near the edge", "at the bottom right", "on the far left",
          "on the right-hand side", "in the upper half", "in the bottom-left of the image"]
RELATIONS = ["next to", "near", "beside", "between", "above", "below", "behind", "in front of",
             "close to", "far from", "to the left of", "to the right of", "across from", "along",
             "surrounded by", "parallel to", "adjacent to", "opposite"]
ORDINALS = ["first", "second", "third", "fourth", "1st", "2nd", "3rd", "4th", "5th", "10th", "last"]
NUMBERS = ["two", "three", "four", "five", "2", "3", "4", "12", "100", "3.5", "0.75", "1,000"]
WORDS_ODD = ["café", "naïve", "Zürich", "résumé", "São Paulo", "Ångström", "Ærø", "Đà Nẵng",
             "Kraków", "Reykjavík", "piñata", "façade", "coöperate", "Øresund", "Málaga",
             "straße", "Ḱ", "señor", "Noël", "jalapeño"]
FILLERS = ["there is", "there are", "the image shows", "please find", "look at", "segment",
           "I mean", "you can see", "find me"]


def english():
    def noun():
        return rng.choice(OBJECTS)

    def np_(plural=False):
        n = noun()
        if plural:
            n = n + ("es" if n.endswith(("s", "ch", "sh")) else "s")
        adj = []
        if rng.random() < 0.6:
            adj.append(rng.choice(SIZES))
        if rng.random() < 0.7:
            adj.append(rng.choice(COLOURS))
        return " ".join(adj + [n])

    templates = [
        lambda: f"the {np_()} {rng.choice(PLACES)}",
        lambda: f"The {np_()} {rng.choice(RELATIONS)} the {np_()}",
        lambda: f"a {np_()} {rng.choice(RELATIONS)} the {np_()} {rng.choice(PLACES)}",
        lambda: f"the {rng.choice(ORDINALS)} {noun()} from the {rng.choice(['left', 'right', 'top', 'bottom'])}",
        lambda: f"{rng.choice(NUMBERS)} {np_(True)} {rng.choice(PLACES)}",
        lambda: f"{rng.choice(FILLERS)} {rng.choice(NUMBERS)} {np_(True)} {rng.choice(RELATIONS)} a {np_()}.",
        lambda: f"the {noun()}'s {rng.choice(['roof', 'shadow', 'edge', 'wing', 'deck'])} {rng.choice(PLACES)}",
        lambda: f"{np_()} ({rng.choice(PLACES)}), {rng.choice(RELATIONS)} the {noun()}",
        lambda: f"{np_()}; {rng.choice(COLOURS)} - {rng.choice(SIZES)} - {rng.choice(PLACES)}!",
        lambda: f"is it the {np_()}? yes, the one {rng.choice(PLACES)}...",
        lambda: f"\"{np_()}\" {rng.choice(PLACES)} / {rng.choice(RELATIONS)} #{rng.randint(1, 99)}",
        lambda: f"the {noun()} at {rng.randint(0, 23)}:{rng.randint(0, 59):02d}, {rng.randint(1, 99)}% "
                f"covered, {rng.uniform(0, 500):.1f}m long",
        lambda: f"{rng.choice(WORDS_ODD)} {np_()} {rng.choice(PLACES)}",
        lambda: f"the {np_()} near {rng.choice(WORDS_ODD)}",
        lambda: f"{np_()} & {np_()} @ ({rng.randint(0, 999)}, {rng.randint(0, 999)}) [approx.]",
        lambda: f"the {np_()} that's {rng.choice(PLACES)}, isn't it",
        lambda: f"e.g. the {np_()} {rng.choice(PLACES)} {{maybe}} <{rng.choice(COLOURS)}>",
        lambda: f"no {noun()} in this image",
        lambda: f"all {np_(True)} {rng.choice(PLACES)} except the {rng.choice(ORDINALS)} one",
        lambda: f"{np_()} {rng.choice(PLACES)} ~{rng.randint(1, 50)} km² away; $ {rng.randint(1, 9)}^{rng.randint(2, 3)}",
    ]
    sentences = []
    for _ in range(1150):
        s = rng.choice(templates)()
        r = rng.random()
        if r < 0.08:
            s = s.upper()
        elif r < 0.16:
            s = s.title()
        elif r < 0.22:
            s = "".join(c.upper() if rng.random() < 0.3 else c for c in s)
        elif r < 0.26:
            s = "  " + s.replace(" ", "   ") + " \t"
        sentences.append(s)
    # long: many pieces, so the default 20 ids cut them
    for _ in range(120):
        parts = [rng.choice(templates)() for _ in range(rng.randint(2, 6))]
        sentences.append(rng.choice([", and ", " which is ", "; ", " and then "]).join(parts))
    # long words: the 100-character limit, and words no piece continues
    for n in (99, 100, 101, 150):
        sentences.append("the " + "a" * n + " plane")
        sentences.append("x" + "b" * (n - 1) + "-ship " + "ab" * (n // 2))
    sentences += [
        "Pneumonoultramicroscopicsilicovolcanoconiosis is a long word",
        "supercalifragilisticexpialidocious storage tanks",
        "antidisestablishmentarianism-style bridges",
        "see https://example.com/a_b-c?d=1&e=2#frag or mail a.b@c.de",
        "the C++ / C# / F# road at 10:30 a.m., 3.14159 and -42 and +7 and 1e-5",
        "tennis-court-shaped building...", "!!!???", "...", "-", "'", "''quoted''",
        "", " ", "   \t  ", "a", "A", "I", "the", "[", "]", "##", "##ing", "un##aff##able",
        "unaffable", "the plane's", "planes'", "o'clock", "rock'n'roll", "U.S.A.", "Mr. Smith's car",
        "well-known", "state-of-the-art", "a-b-c-d-e-f-g", "3-way", "x-ray", "T-junction",
        "#1 ship", "ship #2", "100%", "$5", "50°", "1/2", "3x4", "10×20", "½ of the field", "2³",
    ]
    return sentences


# --- Chinese ------------------------------------------------------------------------

ZH_OBJECTS = ["飞机", "船只", "轮船", "车辆", "汽车", "卡车", "储油罐", "储罐", "桥梁", "港口", "水坝",
              "烟囱", "风车", "体育场", "高尔夫球场", "网球场", "篮球场", "棒球场", "田径场", "环岛",
              "立交桥", "火车站", "服务区", "收费站", "机场", "跑道", "建筑", "房屋", "道路", "河流",
              "湖泊", "树木", "停车场", "游泳池", "足球场", "集装箱", "直升机", "仓库", "工厂", "塔"]
ZH_COLOURS = ["白色的", "黑色的", "灰色的", "红色的", "蓝色的", "绿色的", "黄色的", "深色的", "浅色的"]
ZH_SIZES = ["大型", "小型", "长的", "短的", "宽阔的", "狭窄的", "圆形的", "方形的", "最大的", "最小的"]
ZH_PLACES = ["左边的", "右边的", "上方的", "下方的", "中间的", "左上角的", "右下角的", "图像中心的",
             "最左侧的", "靠近边缘的", "图片底部的"]
ZH_RELATIONS = ["旁边的", "附近的", "之间的", "上面的", "下面的", "后面的", "前面的", "左侧的", "右侧的"]


def chinese():
    def np_():
        return rng.choice(ZH_SIZES + [""]) + rng.choice(ZH_COLOURS + [""]) + rng.choice(ZH_OBJECTS)

    templates = [
        lambda: f"{rng.choice(ZH_PLACES)}{np_()}",
        lambda: f"位于{rng.choice(ZH_OBJECTS)}{rng.choice(ZH_RELATIONS)}{np_()}",
        lambda: f"{np_()}，{rng.choice(ZH_PLACES)}那个。",
        lambda: f"图中{rng.choice(ZH_PLACES)}{rng.randint(2, 9)}个{rng.choice(ZH_OBJECTS)}",
        lambda: f"“{np_()}”在{rng.choice(ZH_OBJECTS)}{rng.choice(ZH_RELATIONS)}位置（约{rng.randint(1, 99)}米）",
        lambda: f"第{rng.choice('一二三四五六七八九十')}个{rng.choice(ZH_OBJECTS)}、{np_()}；{np_()}？",
        lambda: f"请分割出{rng.choice(ZH_PLACES)}所有{rng.choice(ZH_OBJECTS)}！",
        lambda: f"图像中没有{rng.choice(ZH_OBJECTS)}",
        lambda: f"{np_()}{rng.choice(ZH_RELATIONS)}{np_()}{rng.choice(ZH_RELATIONS)}{np_()}",
    ]
    sentences = [rng.choice(templates)() for _ in range(300)]
    # traditional characters, rarer ideographs (extension A and B) and compatibility ideographs
    sentences += ["機場上的飛機與橋樑", "左邊的儲油罐", "㐀㐁㐂 in extension A", "𠀀𠀁𠀂 in extension B",
                  "豈更車 compatibility ideographs", "鿐鿑鿒", "〇 and 々 and 〆"]
    return sentences


def mixed():
    templates = [
        lambda: f"{rng.choice(ZH_PLACES)}{rng.choice(OBJECTS)}",
        lambda: f"the {rng.choice(ZH_OBJECTS)} {rng.choice(PLACES)}",
        lambda: f"NWPU-Refer数据集中的{rng.choice(OBJECTS)}，{rng.choice(COLOURS)}",
        lambda: f"{rng.choice(ZH_COLOURS)}{rng.choice(OBJECTS).upper()}在{rng.choice(ZH_PLACES)}位置 ({rng.randint(1, 9)} m)",
        lambda: f"{rng.choice(SIZES)}{rng.choice(ZH_OBJECTS)}{rng.choice(RELATIONS)}{rng.choice(ZH_OBJECTS)}",
        lambda: f"RRSIS-D：{rng.choice(ZH_OBJECTS)}/{rng.choice(OBJECTS)} #{rng.randint(1, 99)}",
    ]
    return [rng.choice(templates)() for _ in range(220)]


# --- odd Unicode ------------------------------------------------------------------------

def odd_unicode():
    fixed = [
        "the plane 😀 on the left", "🚢🚢 two ships", "👨‍👩‍👧 family", "🇨🇳 flag", "1️⃣ first", "❤️ love",
        "e\u0301 composed later", "cafe\u0301", "n\u0303o", "Z\u0335\u0321a\u0336l\u0334g\u0337o text",
        "\u0301\u0302 lone marks", "a\u0323\u0307 reordered marks", "a\u0307\u0323 marks",
        "ＡＢＣ full-width ｐｌａｎｅ １２３", "ﾊﾝｶｸ half-width", "ﬁre ﬂy ﬀ ﬃ ligatures", "ＳＨＩＰ！？",
        "tab\tseparated\twords", "line\nbreaks\r\ninside", "vertical\x0btab and\x0cform feed",
        "non\u00a0breaking\u00a0space", "ideographic\u3000space", "em\u2003space thin\u2009space",
        "line\u2028separator", "paragraph\u2029separator", "next\u0085line",
        "zero\u200bwidth\u200bspace", "zero\u200dwidth\u200cjoiners", "soft\u00adhyphen", "\ufeffbom start",
        "left\u200eto\u200fright marks", "\u202eright-to-left override\u202c",
        "control\x01chars\x07here\x1b[0m", "delete\x7fchar", "c1\x80\x9fcontrols",
        "replacement \ufffd char", "private \ue000 use \U000f0000", "unassigned \u0378 \U000e0080",
        "variation\ufe0f selector", "tags \U000e0041\U000e0042",
        "ΟΔΟΣ ΣΑΣ (final sigma)", "σοφία Σοφία ΣΟΦΙΑ", "Ελληνικά αεροπλάνα", "όχημα",
        "самолёт слева", "Москва", "ЁЖИК", "طائرة على اليسار", "מטוס משמאל", "विमान बाईं ओर",
        "เครื่องบินทางซ้าย", "ひだりのひこうき", "カタカナ", "비행기 왼쪽", "한국어", "ᄀᄁ jamo",
        "İstanbul ıı", "ß ẞ straße STRASSE", "ǅ ǆ Ǆ titlecase", "K Kelvin Å Ångström Ω ohm",
        "Ⅻ roman Ⅳ", "① ② circled", "x² y³ superscripts", "H₂O subscripts", "½ ¾ fractions",
        "€ £ ¥ ₹ currencies", "± × ÷ √ ∞ math", "“smart” ‘quotes’ «guillemets» „low“",
        "em — dash – en dash ‐ hyphen", "ellipsis… bullet • middle·dot", "¿qué? ¡sí!", "§ ¶ † ‡",
        "①②③ ⓐⓑ", "℃ ℉ № ™ ©", "a\u030a vs å vs Å", "\u1e9b\u0323 long s dot",
        "[CLS] the plane [SEP]", "a[SEP]b", "[MASK] ship", "[mask] [cls] [Sep]", "[UNK][UNK]",
        "[PAD] padding", "[CLS", "CLS]", "[[CLS]]", "x[CLS]y[SEP]z",
        "g\u0308ottingen", "\u0915\u094d\u0937 conjunct", "a\u1fefb varia",
    ]
    pool = [chr(c) for c in range(0x20, 0x7f)] + list("αβγΣσςÄÖÜäöüéèêàç中文飞机😀👍🏽\u0301\u0308\u200b\u200d"
                                                      "\u00a0\u3000\ufffd\t\n，。！？「」ＡＢＣ")
    randoms = ["".join(rng.choice(pool) for _ in range(rng.randint(1, 40))) for _ in range(200)]
    return fixed + randoms


# --- the code-point sweep ------------------------------------------------------------------

CATEGORIES = ["Cn", "Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Me", "Nd", "Nl", "No", "Pc", "Pd", "Ps",
              "Pe", "Pi", "Pf", "Po", "Sm", "Sc", "Sk", "So", "Zs", "Zl", "Zp", "Cc", "Cf", "Cs", "Co"]


def sweep_chars():
    """The code points of the sweep, thinned out in the big uniform blocks."""
    lib = ctypes.CDLL(ctypes.util.find_library("utf8proc") or "libutf8proc.so.2")
    lib.utf8proc_category.restype = ctypes.c_int
    lib.utf8proc_category.argtypes = [ctypes.c_int32]
    lib.utf8proc_tolower.restype = ctypes.c_int32
    lib.utf8proc_tolower.argtypes = [ctypes.c_int32]
    thin = [(0x3400, 0x4DBF, 37), (0x4E00, 0x9FFF, 37), (0xAC00, 0xD7A3, 29), (0xE000, 0xF8FF, 301),
            (0x17000, 0x18CFF, 61), (0x20000, 0x323AF, 97), (0xF0000, 0x10FFFF, 4001)]
    chars, drift = [], 0
    for cp in range(0x80, 0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        cat = unicodedata.category(chr(cp))
        # the letters of most scripts and the symbols behave alike: a sample; unassigned: a small one
        step = max(next((s for lo, hi, s in thin if lo <= cp <= hi), 1), {"Lo": 5, "So": 3, "Cn": 2003}.get(cat, 1))
        if cp % step:
            continue
        low = chr(cp).lower()
        if (CATEGORIES[lib.utf8proc_category(cp)] != cat
                or (len(low) == 1 and lib.utf8proc_tolower(cp) != ord(low))):
            drift += 1
            continue
        chars.append(chr(cp))
    print(f"sweep: {len(chars)} code points, {drift} left out for differing Unicode tables", file=sys.stderr)
    return chars


SPECIAL = re.compile(r"(\[PAD\]|\[UNK\]|\[CLS\]|\[SEP\]|\[MASK\])|(.+?)")


def lavt_lower(text):
    """LAVT's copy lower-cases the text character by character, special
    tokens apart, before its basic tokenizer (bert/tokenization_utils.py)."""
    return SPECIAL.sub(lambda m: m.group(1) or m.group(2).lower(), text)


def fast_differs_why(text):
    """Why the fast tokenizer may give other ids than the Python one."""
    if any(unicodedata.category(c) == "Cn" for c in text):
        return "unassigned code points (it keeps them)"
    if any(0x2B820 <= ord(c) <= 0x2B91F for c in text):
        return "U+2B820..U+2B91F (its CJK ranges start extension E at U+2B920)"
    return None


def main():
    vocab = load_vocab(VOCAB)
    legacy = {True: BertTokenizerLegacy(VOCAB, do_lower_case=True),
              False: BertTokenizerLegacy(VOCAB, do_lower_case=False)}
    fast = {True: BertTokenizer(vocab=vocab, do_lower_case=True),
            False: BertTokenizer(vocab=vocab, do_lower_case=False)}

    groups = [("en", english()), ("zh", chinese()), ("mixed", mixed()), ("unicode", odd_unicode())]
    chars = sweep_chars()
    groups.append(("sweep", [" ".join(f"a{c}b {c}" for c in chars[i:i + 16]) for i in range(0, len(chars), 16)]))

    def printable(s):
        # json.dumps escapes quotes, backslashes and C0 controls; escape the rest of what is invisible
        out = []
        for c in json.dumps(s, ensure_ascii=False):
            if c.isprintable():
                out.append(c)
            elif ord(c) > 0xFFFF:
                v = ord(c) - 0x10000
                out.append(f"\\u{0xD800 + (v >> 10):04x}\\u{0xDC00 + (v & 0x3FF):04x}")
            else:
                out.append(f"\\u{ord(c):04x}")
        return "".join(out)

    n = no_cased = 0
    fast_differs = {}
    seen = set()
    with open(OUT, "w", encoding="utf-8") as f:
        for group, sentences in groups:
            for text in sentences:
                if text in seen or "\0" in text:
                    continue
                seen.add(text)
                uncased = legacy[True].encode(lavt_lower(text))
                # the legacy tokenizer composes (NFC) before splitting: left out where that matters
                cased = legacy[False].encode(text) if unicodedata.normalize("NFC", text) == text else None
                no_cased += cased is None
                for lower, want in ((True, uncased), (False, cased)):
                    if want is not None and fast[lower].encode(text) != want:
                        why = fast_differs_why(text)
                        if why is None and group == "sweep":
                            why = "characters that its older Unicode tables classify otherwise"
                        if why is None:
                            why = "other"
                            print(f"the fast tokenizer differs ({'uncased' if lower else 'cased'}): {text!r}: "
                                  f"{fast[lower].encode(text)} instead of {want}", file=sys.stderr)
                        fast_differs[why] = fast_differs.get(why, 0) + 1
                f.write(f'{{"group": "{group}", "text": {printable(text)}, "uncased": {json.dumps(uncased)}, '
                        f'"cased": {json.dumps(cased)}}}\n')
                n += 1
    print(f"{OUT}: {n} sentences ({no_cased} without cased ids)", file=sys.stderr)
    for why, count in sorted(fast_differs.items()):
        print(f"the fast tokenizer differs on {count}: {why}", file=sys.stderr)


if __name__ == "__main__":
    main()
