#!/bin/sh
# The dataset importers, tools/import_refer.py and tools/import_refsegrs.py,
# on the small datasets that tests/fixtures/make_datasets.py writes: a
# RRSIS-D layout (a real pickle, COCO json), an NWPU-Refer layout (a Python 2
# pickle, Chinese sentences), refs with numpy scalars, RefSegRS (text and
# TIFFs) and broken inputs.  The manifests are checked with jq; when a
# manifest checker is built ($BIN/rrsis-score --check, or $BIN/rrsis-check),
# they must pass it.
# shellcheck source=tests/cli/lib.sh
. tests/cli/lib.sh
# (from lib.sh: pass, fail, finish, lines, $T, $BIN, $PYTHON)

refer() { "$PYTHON" tools/import_refer.py "$@"; }
refsegrs() { "$PYTHON" tools/import_refsegrs.py "$@"; }
F=$T/fx
O=$T/out
mkdir -p "$O"

# is NAME ACTUAL EXPECTED
is() {
    if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "got '$2', expected '$3'"; fi
}
# q FILE FILTER: jq over all the records of FILE (slurped), raw output
q() { jq -r -s "$2" "$1" 2>&1 | tr '\n' ' ' | sed 's/ $//'; }
# status NAME EXPECTED_STATUS PATTERN COMMAND...: the exit status and one
# stderr line matching PATTERN
status() {
    name=$1 want=$2 pat=$3
    shift 3
    "$@" >"$T/stdout" 2>"$T/stderr"
    st=$?
    if [ "$st" -eq "$want" ] && grep -q -- "$pat" "$T/stderr"; then
        pass "$name"
    else
        fail "$name" "exit $st (expected $want), stderr: $(head -c 300 "$T/stderr")"
    fi
}

if ! command -v jq >/dev/null 2>&1; then
    fail "jq" "jq is not installed"
    finish
    exit
fi

if "$PYTHON" tests/fixtures/make_datasets.py "$F" 2>"$T/err"; then
    pass "fixtures written"
else
    fail "fixtures written" "$(head -c 300 "$T/err")"
    finish
    exit
fi

# ---------------------------------------------------------------- RRSIS-D layout
status "refer: RRSIS-D imports" 0 "14 samples" \
    refer --root "$F/rrsisd" -o "$O/rrsisd/" --report "$O/rrsisd.json"
M=$O/rrsisd/all.jsonl
cat "$O/rrsisd/train.jsonl" "$O/rrsisd/val.jsonl" "$O/rrsisd/test.jsonl" >"$M" 2>/dev/null
is "refer: samples per split" \
    "$(for s in train val test; do lines "$O/rrsisd/$s.jsonl"; done | tr '\n' ' ')" "4 3 7 "
is "refer: split field matches its file" \
    "$(jq -r .split "$O/rrsisd/val.jsonl" | sort -u)" "val"
is "refer: counts per type" \
    "$(q "$M" 'group_by(.type) | map("\(.[0].type)=\(length)") | join(",")')" "multi=4,none=5,single=5"
is "refer: ids unique" "$(q "$M" 'map(.id) | (length == (unique | length))')" "true"
is "refer: record keys" "$(q "$M" '.[0] | keys_unsorted | join(",")')" \
    "id,split,image,width,height,sentence,lang,type,category,mask"
is "refer: merged multi-target sample (refs 1 and 2, 'all cars' = 'All cars')" \
    "$(q "$M" '.[] | select(.id == "train-1-503") | [.type, .sentence, .category, (.mask.polygons | length)] | join("|")')" \
    "multi|all cars|vehicle|3"
is "refer: merged sample is the union of both refs' polygons" \
    "$(q "$M" '.[] | select(.id == "train-1-503") | .mask.polygons | map(.[0:2] | join(",")) | join(" ")')" \
    "20,4 31,20 2,2"
is "refer: merged refs' other sentences make no sample" \
    "$(q "$M" 'map(select(.id == "train-2-504")) | length')" "0"
is "refer: RLE and polygons merged as a union" \
    "$(q "$M" '.[] | select(.id == "val-4-506") | .mask.union | map(keys[0]) | join(",")')" "polygons,rle"
is "refer: uncompressed RLE kept" \
    "$(q "$M" '.[] | select(.id == "val-4-506") | .mask.union[1].rle | [(.size | join("x")), (.counts | type)] | join(" ")')" \
    "48x48 array"
is "refer: compressed RLE kept" \
    "$(q "$M" '.[] | select(.id == "train-3-505") | .mask.rle | [(.size | join("x")), .counts] | join(" ")')" \
    "32x40 Z5:f000000000000000000fh0"
is "refer: a list holding one RLE" \
    "$(q "$M" '.[] | select(.id == "test-10-512") | .mask | keys[0]')" "rle"
is "refer: a box segmentation becomes the COCO API's polygon" \
    "$(q "$M" '.[] | select(.id == "test-11-513") | .mask.polygons | tostring')" "[[1,1,1,5,6,5,6,1]]"
is "refer: ann_id list is a multi-target sample" \
    "$(q "$M" '.[] | select(.id == "test-12-514") | [.type, (.mask.union | length)] | join(" ")')" "multi 2"
is "refer: no-target samples have a null mask" \
    "$(q "$M" 'map(select(.type == "none")) | map("\(.id):\(.mask)") | join(" ")')" \
    "val-6-508:null val-7-509:null test-8-510:null test-9-511:null test-13-516:null"
R=$O/rrsisd.json
is "refer: report counts ann_id -1" "$(jq .no_target_refs.ann_id_minus_one "$R")" 1
is "refer: report counts ann_id [-1]" "$(jq .no_target_refs.ann_id_list_minus_one "$R")" 1
is "refer: report counts a missing annotation" "$(jq .no_target_refs.ann_id_missing "$R")" 1
is "refer: report counts empty segmentations ([] and an empty RLE)" \
    "$(jq .no_target_refs.segmentation_empty "$R")" 2
is "refer: report counts merges" "$(jq -c '[.merged.samples, .merged.refs, .merged.repeated_sentences_in_ref]' "$R")" "[2,4,1]"
is "refer: report totals" "$(jq -c '[.refs, .sentences, .samples, .types.none]' "$R")" "[14,17,14,5]"
is "refer: zh detected" \
    "$(q "$M" 'map(select(.lang == "zh") | .id) | join(" ")')" "train-0-501 test-12-515"
is "refer: en elsewhere" "$(q "$M" 'map(select(.lang == "en")) | length')" 12
is "refer: size and category from instances.json" \
    "$(q "$M" '.[] | select(.id == "test-9-511") | [.width, .height, .category] | join(" ")')" "33 17 airplane"
is "refer: image paths relative to the manifest's folder" \
    "$(q "$M" '.[0].image')" "../../fx/rrsisd/images/rrsisd/JPEGImages/00001.jpg"
ok=yes
for p in $(jq -r .image "$M" | sort -u); do [ -f "$O/rrsisd/$p" ] || ok="no: $p"; done
is "refer: every image path resolves" "$ok" yes

status "refer: one file, --lang-filter en" 0 "12 samples" \
    refer --root "$F/rrsisd" --lang-filter en -o "$O/en.jsonl"
is "refer: --lang-filter en keeps English only" "$(q "$O/en.jsonl" 'map(.lang) | unique | join(",")'):$(lines "$O/en.jsonl")" "en:12"
status "refer: --splits test" 0 "7 samples" refer --root "$F/rrsisd" --splits test -o "$O/test.jsonl"
is "refer: --splits test keeps the test split" "$(q "$O/test.jsonl" 'map(.split) | unique | join(",")')" "test"
refer --root "$F/rrsisd" -q -o - >"$O/stdout.jsonl" 2>"$T/err"
is "refer: -o - writes absolute paths to stdout" \
    "$(q "$O/stdout.jsonl" "map(.image | startswith(\"/\")) | all"):$(lines "$O/stdout.jsonl"):$(grep -v ': warning: ' "$T/err")" \
    "true:14:"

# ---------------------------------------------------------------- NWPU-Refer layout
status "refer: NWPU-Refer (Python 2 pickle, new_ names) imports" 0 "9 samples" \
    refer --root "$F/nwpu" -o "$O/nwpu.jsonl" --report "$O/nwpu.json"
N=$O/nwpu.jsonl
is "nwpu: counts per type" "$(q "$N" 'group_by(.type) | map("\(.[0].type)=\(length)") | join(",")')" \
    "multi=3,none=3,single=3"
is "nwpu: three refs sharing a sentence merged, in English and Chinese" \
    "$(q "$N" 'map(select(.type == "multi") | "\(.id):\(.sentence):\(.mask.polygons | length)") | join(" ")')" \
    "train-100-1:all cars:3 train-100-2:所有汽车:3 val-107-13:all vehicles:2"
is "nwpu: the categories of a merged sample" \
    "$(q "$N" '.[] | select(.id == "val-107-13") | .category')" "ship,car"
is "nwpu: zh detected (UTF-8 str and unicode in a Python 2 pickle)" \
    "$(q "$N" 'map(select(.lang == "zh") | .sentence) | join(",")')" "所有汽车,船,红色的汽车"
is "nwpu: a Latin-1 Python 2 string" \
    "$(q "$N" '.[] | select(.id == "train-106-12") | .sentence')" "the car near the café"
is "nwpu: images found under image/image" \
    "$(q "$N" '.[0].image')" "../fx/nwpu/NWPU-Refer/image/image/P0001.jpg"
is "nwpu: report no-target kinds" \
    "$(jq -c '.no_target_refs | [.ann_id_minus_one, .ann_id_list_minus_one, .ann_id_missing]' "$O/nwpu.json")" "[1,1,0]"
status "nwpu: --lang-filter en" 0 "6 samples" refer --root "$F/nwpu" --lang-filter en -o "$O/nwpu-en.jsonl"

# ---------------------------------------------------------------- numpy scalars
status "refer: refs with numpy int64 scalars" 0 "2 samples" \
    refer --root "$F/rrsisd" --refs "$F/npscalar/refs(unc).p" --instances "$F/rrsisd/rrsisd/instances.json" \
    -o "$O/np.jsonl"
is "refer: numpy scalar ids" "$(q "$O/np.jsonl" 'map(.id) | join(" ")')" "train-0-900 train-1-901"

# ---------------------------------------------------------------- RefSegRS
status "refsegrs: imports" 0 "6 samples" \
    refsegrs --root "$F/refsegrs/RefSegRS" -o "$O/rs/" --report "$O/rs.json"
S=$O/rs/all.jsonl
cat "$O/rs/train.jsonl" "$O/rs/val.jsonl" "$O/rs/test.jsonl" >"$S" 2>/dev/null
is "refsegrs: samples per split" \
    "$(for s in train val test; do lines "$O/rs/$s.jsonl"; done | tr '\n' ' ')" "3 1 2 "
is "refsegrs: ids" "$(q "$S" 'map(.id) | join(" ")')" \
    "train-1361-0 train-1362-0 train-1361-2 val-1400-0 test-1401-0 test-1362-0"
is "refsegrs: a sample" \
    "$(q "$S" '.[0] | [.image, .width, .height, .sentence, .type, .category, .mask.png] | map(tostring) | join("|")')" \
    "../../fx/refsegrs/RefSegRS/images/1361.tif|24|16|paved road|single|null|../../fx/refsegrs/RefSegRS/masks/1361.tif"
is "refsegrs: size from a big-endian TIFF" "$(q "$S" '.[] | select(.id == "val-1400-0") | "\(.width)x\(.height)"')" "20x20"
is "refsegrs: tab and CRLF" "$(q "$S" '.[] | select(.id == "test-1362-0") | .sentence')" "the vehicle"
ok=yes
for p in $(jq -r '.image, .mask.png' "$S" | sort -u); do [ -f "$O/rs/$p" ] || ok="no: $p"; done
is "refsegrs: every image and mask path resolves" "$ok" yes
is "refsegrs: report counts the repeated line and the missing image" \
    "$(jq -c '[.skipped.repeated_line, .skipped.missing_image, .lines]' "$O/rs.json")" "[1,1,8]"
status "refsegrs: a split without its phrase file" 1 "^import_refsegrs.py: error: .*output_phrase_extra.txt" \
    refsegrs --root "$F/refsegrs/RefSegRS" --splits extra -o "$O/x.jsonl"

# ---------------------------------------------------------------- errors
E="^import_refer.py: error: "
status "refer: missing instances.json" 1 "${E}.*no instances.json" refer --root "$F/bad/noinst" -o "$O/x.jsonl"
status "refer: corrupt pickle" 1 "${E}.*not a readable pickle" refer --root "$F/bad/corrupt" -o "$O/x.jsonl"
status "refer: a pickle that is not a list" 1 "${E}.*not a list of ref dicts" refer --root "$F/bad/notlist" -o "$O/x.jsonl"
status "refer: invalid JSON" 1 "${E}.*invalid JSON.*line 2" refer --root "$F/bad/badjson" -o "$O/x.jsonl"
status "refer: a pickle that would run code is refused" 1 "${E}.*posix.system" refer --root "$F/bad/evil" -o "$O/x.jsonl"
if [ -e "$F/bad/evil/PWNED" ]; then fail "refer: evil pickle ran nothing" "it ran"; else pass "refer: evil pickle ran nothing"; fi
if [ -e "$O/x.jsonl" ]; then fail "errors leave no manifest" "$O/x.jsonl exists"; else pass "errors leave no manifest"; fi
status "refer: no refs in the folder" 1 "${E}.*no new_refs(unc).p" refer --root "$F/refsegrs" -o "$O/x.jsonl"
status "refer: usage error" 2 "Try 'import_refer.py --help'" refer --root "$F/rrsisd" -o "$O/x.jsonl" --no-such-option
status "refer: bad --lang-filter" 2 "Try 'import_refer.py --help'" refer --root "$F/rrsisd" -o "$O/x.jsonl" --lang-filter fr
status "refsegrs: usage error" 2 "Try 'import_refsegrs.py --help'" refsegrs -o "$O/x.jsonl"
for t in import_refer.py import_refsegrs.py; do
    if "$PYTHON" "tools/$t" --help >"$T/help" 2>"$T/err" && grep -q -- "--lang-filter" "$T/help" && [ ! -s "$T/err" ]; then
        pass "$t --help"
    else
        fail "$t --help" "no help on stdout"
    fi
done

# ---------------------------------------------------------------- the manifest check, where built
checker=""
if [ -x "$BIN/rrsis-score" ] && "$BIN/rrsis-score" --help 2>/dev/null | grep -q -- "--check"; then
    checker="$BIN/rrsis-score --check"
elif [ -x "$BIN/rrsis-check" ]; then
    checker="$BIN/rrsis-check"
fi
if [ -n "$checker" ]; then
    for m in "$O/rrsisd/train.jsonl" "$O/rrsisd/val.jsonl" "$O/rrsisd/test.jsonl" "$N" "$O/rs/train.jsonl" \
        "$O/rs/val.jsonl" "$O/rs/test.jsonl"; do
        # shellcheck disable=SC2086 # $checker is a command and an option
        if $checker "$m" >"$T/check" 2>&1; then
            pass "$checker $(basename "$(dirname "$m")")/$(basename "$m")"
        else
            fail "$checker $m" "$(head -c 400 "$T/check")"
        fi
    done
else
    echo "note: no manifest checker built ($BIN/rrsis-score --check or $BIN/rrsis-check); checked with jq only"
fi

finish
