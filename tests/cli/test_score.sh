#!/bin/sh
# rrsis-score through real files and pipes: a small manifest with PNG masks
# (and one RLE mask) written here by Python, predictions as a folder of PNGs
# and as logits streams (tools/rrsis_stream.py) on standard input and in a
# file, every output format, --missing, --split, --per-sample, the 480
# protocol, errors that name the sample, --check with line numbers, and
# usage errors.  The expected numbers come from test.py's and ReLA's
# evaluation loops transcribed into numpy here, and must be equal to the
# last bit.
#   BIN     the programs (default bin)
#   PYTHON  a Python 3 with numpy (default /usr/bin/python3)
# shellcheck source=tests/cli/lib.sh
. tests/cli/lib.sh
# (from lib.sh: pass, fail, finish, lines, expect_eq, $T, $BIN, $PYTHON)

SCORE=$BIN/rrsis-score
D=$T/d
if [ ! -x "$SCORE" ]; then
    fail "rrsis-score" "$SCORE is not built"
    finish
    exit
fi
if ! command -v jq >/dev/null 2>&1; then
    fail "jq" "jq is not installed"
    finish
    exit
fi

# ---------------------------------------------------------------- the dataset
# 14 samples of 4 image sizes: single, multi and none; en and zh; splits test
# and val; a category with a comma; one RLE ground truth; predictions exact,
# part of the truth (IoU about .55 to .95), empty, disjoint, full, noisy, and
# one written as 0/1.
"$PYTHON" - "$D" <<'EOF' >"$T/err" 2>&1 || { fail "setup" "$(cat "$T/err")"; finish; exit; }
import json, os, random, struct, sys, zlib
import numpy as np
import rrsis_stream as rs

D = sys.argv[1]
for sub in ("images", "masks", "pred", "pred480"):
    os.makedirs(os.path.join(D, sub))
rng = np.random.default_rng(3)

def png(path, a):
    a = np.ascontiguousarray(a, np.uint8)
    h, w = a.shape[:2]
    raw = b"".join(b"\0" + a[y].tobytes() for y in range(h))
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0 if a.ndim == 2 else 2, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))

def blob(h, w):
    m = np.zeros((h, w), bool)
    for _ in range(rng.integers(1, 3)):
        y0, x0 = rng.integers(0, h - 2), rng.integers(0, w - 2)
        m[y0:y0 + rng.integers(2, h // 2 + 2), x0:x0 + rng.integers(2, w // 2 + 2)] = True
    return m

sizes = [(20, 16), (24, 24), (31, 9), (12, 40)]
#        type      pred       split   lang  category
plan = [("single", "exact",   "test", "en", "car"),
        ("single", "keep.55", "test", "en", "car"),
        ("single", "empty",   "test", "en", "ship"),
        ("multi",  "noisy",   "test", "en", "ship,car"),
        ("multi",  "keep.95", "test", "zh", "car"),
        ("none",   "empty",   "test", "en", "car"),
        ("none",   "noisy",   "test", "en", "ship"),
        ("single", "disjoint", "test", "en", "plane"),
        ("single", "keep.65", "test", "en", "plane"),  # written as 0/1
        ("none",   "empty",   "test", "zh", None),
        ("single", "keep.75", "test", "en", "plane"),  # RLE truth
        ("multi",  "full",    "test", "en", "ship,car"),
        ("single", "keep.85", "val",  "en", "car"),
        ("none",   "empty",   "val",  "en", "car")]
lines, gts, preds = [], [], []
for k, (typ, how, split, lang, cat) in enumerate(plan):
    w, h = sizes[k % 4]
    sid = f"s{k:02d}"
    png(f"{D}/images/{sid}.png", rng.integers(0, 256, (h, w, 3)))
    g = np.zeros((h, w), bool) if typ == "none" else blob(h, w)
    if how == "exact":
        p = g.copy()
    elif how.startswith("keep"):  # the first pixels of the truth: IoU about the fraction
        p = g & (np.cumsum(g).reshape(g.shape) <= max(1, round(float(how[4:]) * g.sum())))
    elif how == "shift":
        p = np.roll(g, (1, 2), (0, 1))
    elif how == "empty":
        p = np.zeros_like(g)
    elif how == "disjoint":
        p = ~g & (rng.random(g.shape) < 0.3)
    elif how == "full":
        p = np.ones_like(g)
    else:
        p = (g & (rng.random(g.shape) < 0.8)) | (rng.random(g.shape) < 0.1)
    if typ == "none":
        mask = None
    elif k == 10:
        flat = g.flatten(order="F").astype(np.uint8)
        counts, cur, run = [], 0, 0
        for v in flat:
            if v != cur:
                counts.append(run)
                cur, run = v, 0
            run += 1
        counts.append(run)
        mask = {"rle": {"size": [h, w], "counts": counts}}
    else:
        png(f"{D}/masks/{sid}.png", g.astype(np.uint8) * 255)
        mask = {"png": f"masks/{sid}.png"}
    png(f"{D}/pred/{sid}.png", p.astype(np.uint8) * (1 if k == 8 else 255))
    lines.append({"id": sid, "split": split, "image": f"images/{sid}.png", "width": w, "height": h,
                  "sentence": f"sentence {k}", "lang": lang, "type": typ, "category": cat, "mask": mask})
    gts.append(g)
    preds.append(p)
with open(f"{D}/gt.jsonl", "w") as f:
    for l in lines:
        f.write(json.dumps(l, ensure_ascii=False) + "\n")

# --- the reference evaluations, transcribed ---------------------------------
def computeIoU(pred_seg, gd_seg):
    I = np.sum(np.logical_and(pred_seg, gd_seg))
    U = np.sum(np.logical_or(pred_seg, gd_seg))
    return I, U

def rmsin(pairs):  # RMSIN/LAVT test.py, evaluate()
    cum_I, cum_U = 0, 0
    eval_seg_iou_list = [.5, .6, .7, .8, .9]
    seg_correct = np.zeros(len(eval_seg_iou_list), dtype=np.int32)
    seg_total = 0
    mean_IoU = []
    for output_mask, target in pairs:
        I, U = computeIoU(output_mask, target)
        if U == 0:
            this_iou = 0.0
        else:
            this_iou = I*1.0/U
        mean_IoU.append(this_iou)
        cum_I += I
        cum_U += U
        for n_eval_iou in range(len(eval_seg_iou_list)):
            eval_seg_iou = eval_seg_iou_list[n_eval_iou]
            seg_correct[n_eval_iou] += (this_iou >= eval_seg_iou)
        seg_total += 1
    mean_IoU = np.array(mean_IoU)
    mIoU = np.mean(mean_IoU)
    r = {"samples": seg_total, "cum_i": int(cum_I), "cum_u": int(cum_U),
         "miou": float(mIoU * 100.), "oiou": float(cum_I * 100. / cum_U) if cum_U else None}
    for n, key in enumerate(["p50", "p60", "p70", "p80", "p90"]):
        r[key] = float(seg_correct[n] * 100. / seg_total)
    return r

def gres(samples):  # ReLA refer_evaluation.py, evaluate(), one source
    pr_thres = [.5, .6, .7, .8, .9]
    accum_I = accum_U = accum_IoU = 0.
    pr_count = {t: 0 for t in pr_thres}
    total_count = not_empty_count = empty_count = 0
    nt = {"TP": 0, "TN": 0, "FP": 0, "FN": 0}
    for pred_mask, gt_mask, gt_nt in samples:
        pred_nt = pred_mask.sum() == 0       # ours: no head, an empty mask says "no target"
        I, U = computeIoU(pred_mask, gt_mask)
        if gt_nt:
            empty_count += 1
            if pred_nt:
                nt["TP"] += 1
                accum_IoU += 1
                accum_I += 0
                accum_U += 0
            else:
                nt["FN"] += 1
                accum_IoU += 0
                accum_I += 0
                accum_U += int(U)
        else:
            if pred_nt:
                nt["FP"] += 1
                I = 0
            else:
                nt["TN"] += 1
            this_iou = float(0) if U == 0 else float(I) / float(U)
            accum_IoU += this_iou
            accum_I += I
            accum_U += U
            not_empty_count += 1
            for thres in pr_thres:
                if this_iou >= thres:
                    pr_count[thres] += 1
        total_count += 1
    r = {"samples": total_count, "targeted": not_empty_count, "no_target": empty_count,
         "tp": nt["TP"], "fn": nt["FN"], "fp": nt["FP"], "tn": nt["TN"],
         "cum_i": int(accum_I), "cum_u": int(accum_U),
         "giou": 100. * (accum_IoU / total_count),
         "ciou": float(accum_I * 100. / accum_U) if accum_U else None,
         # ReLA gives fractions; rrsis-score gives percentages, computed so:
         "nacc": nt["TP"] * 100. / (nt["TP"] + nt["FN"]) if empty_count else None,
         "tacc": nt["TN"] * 100. / (nt["TN"] + nt["FP"]) if not_empty_count else None}
    for t, key in zip(pr_thres, ["p50", "p60", "p70", "p80", "p90"]):
        r[key] = float(pr_count[t] * 100. / not_empty_count) if not_empty_count else None
    return r

def expect(sel, P, G):
    out = {"rmsin": {"all": rmsin([(P[k], G[k]) for k in sel])},
           "gres": {"all": gres([(P[k], G[k], plan[k][0] == "none") for k in sel])}, "by": {}}
    for field, col in (("type", 0), ("lang", 3), ("category", 4)):
        keys = sorted({plan[k][col] or "" for k in sel}, key=lambda s: s.encode())
        if field == "type":
            keys = ["single", "multi", "none"]
        for key in keys:
            sub = [k for k in sel if (plan[k][col] or "") == key]
            if sub:
                out["by"].setdefault(field, {})[key] = {
                    "rmsin": rmsin([(P[k], G[k]) for k in sub]),
                    "gres": gres([(P[k], G[k], plan[k][0] == "none") for k in sub])}
    return out

every = list(range(len(plan)))
exp = {"native": expect(every, preds, gts),
       "val": expect([k for k in every if plan[k][2] == "val"], preds, gts)}
missing = [p.copy() for p in preds]
missing[1] = np.zeros_like(missing[1])
exp["missing"] = expect(every, missing, gts)
try:
    from PIL import Image
    def r480(m):
        return np.array(Image.fromarray(m.astype(np.uint8)).resize((480, 480), Image.NEAREST)) > 0
    exp["480"] = expect(every, [r480(p) for p in preds], [r480(g) for g in gts])
    # predictions at 480x480 already, as the reference model outputs them
    for k, p in enumerate(preds):
        png(f"{D}/pred480/s{k:02d}.png", r480(p).astype(np.uint8) * 255)
except ImportError:
    pass
with open(f"{D}/expected.json", "w") as f:
    json.dump(exp, f)

# --- logits streams ----------------------------------------------------------
def logits(p):
    a = rng.standard_normal((2,) + p.shape).astype(np.float32)
    a[1] = np.where(p, a[0] + 0.5 + rng.random(p.shape), a[0] - rng.random(p.shape)).astype(np.float32)
    return a

def meta(sid, stage="logits"):
    return {"format": rs.FORMAT, "stage": stage, "id": sid}

order = list(every)
random.Random(5).shuffle(order)
with open(f"{D}/logits.st", "wb") as f, rs.StreamWriter(f) as w:
    for k in order:
        w.write(meta(f"s{k:02d}"), {"logits": logits(preds[k])})
with open(f"{D}/mixed.st", "wb") as f, rs.StreamWriter(f) as w:     # U8 masks, [1,2,H,W] F16 logits and [2,H,W] F64
    for k in order:
        p = preds[k]
        t = ({"mask": p.astype(np.uint8)} if k % 3 == 0 else
             {"logits": logits(p)[None].astype(np.float16)} if k % 3 == 1 else
             {"logits": logits(p).astype(np.float64)})
        w.write(meta(f"s{k:02d}"), t)
with open(f"{D}/short.st", "wb") as f, rs.StreamWriter(f) as w:     # s01 missing
    for k in order:
        if k != 1:
            w.write(meta(f"s{k:02d}"), {"logits": logits(preds[k])})
with open(f"{D}/dup.st", "wb") as f, rs.StreamWriter(f) as w:
    for k in (0, 2, 0):
        w.write(meta(f"s{k:02d}"), {"logits": logits(preds[k])})
with open(f"{D}/unknown.st", "wb") as f, rs.StreamWriter(f) as w:
    w.write(meta("s00"), {"logits": logits(preds[0])})
    w.write(meta("nobody"), {"logits": logits(preds[0])})
with open(f"{D}/tokens.st", "wb") as f, rs.StreamWriter(f) as w:
    w.write(meta("s00", "tokens"), {"input_ids": np.zeros(20, np.int32)})
with open(f"{D}/badshape.st", "wb") as f, rs.StreamWriter(f) as w:
    w.write(meta("s00"), {"logits": np.zeros((2, 3, 3), np.float32)})
EOF
pass "setup: dataset, predictions and streams written"

# cmpjson NAME RESULT.json EXPECTED_KEY [PROTOCOLS]: every metric of the JSON
# equal to the transcribed reference (Python floats compared with ==).
cat >"$T/cmp.py" <<'EOF'
import json, math, sys
res = json.load(open(sys.argv[1]))
exp = json.load(open(sys.argv[2]))[sys.argv[3]]
bad = []
def same(where, got, want):
    for key, w in want.items():
        g = got.get(key, "absent")
        if isinstance(w, float) and isinstance(g, (int, float)) and not isinstance(g, bool):
            ok = float(g) == w
        else:
            ok = g == w
        if not ok:
            bad.append(f"{where}.{key}: got {g!r}, want {w!r}")
for proto in ("rmsin", "gres"):
    same(f"{proto}.all", res[proto]["all"], exp[proto]["all"])
    for field, groups in exp["by"].items():
        if field not in res[proto]["by"]:
            continue
        extra = set(res[proto]["by"][field]) - set(groups)
        # the type breakdown always has single, multi and none; an empty one holds nothing
        if field == "type" and all(res[proto]["by"][field][k]["samples"] == 0 for k in extra):
            extra = set()
        if extra or set(groups) - set(res[proto]["by"][field]):
            bad.append(f"{proto}.by.{field}: groups {sorted(res[proto]['by'][field])}, want {sorted(groups)}")
        for key, e in groups.items():
            same(f"{proto}.by.{field}.{key}", res[proto]["by"][field].get(key, {}), e[proto])
if bad:
    print("; ".join(bad[:6]) + (f" ... ({len(bad)} differences)" if len(bad) > 6 else ""))
    sys.exit(1)
EOF
cmpjson() {
    if out=$("$PYTHON" "$T/cmp.py" "$2" "$D/expected.json" "$3" 2>&1); then pass "$1"; else fail "$1" "$out"; fi
}
# run NAME WANT_STATUS PATTERN ARGS...: exit status and a stderr line
run() {
    name=$1 want=$2 pat=$3
    shift 3
    "$SCORE" "$@" >"$T/out" 2>"$T/err"
    st=$?
    if [ "$st" -eq "$want" ] && grep -q -- "$pat" "$T/err" && [ "$(lines "$T/err")" -le 2 ]; then
        pass "$name"
    else
        fail "$name" "exit $st (wanted $want), stderr: $(head -c 400 "$T/err")"
    fi
}

# ---------------------------------------------------------------- JSON, folder
A="--by=type,category,lang --format=json"
# shellcheck disable=SC2086
if "$SCORE" --gt="$D/gt.jsonl" --pred="$D/pred" --resolution=native $A >"$T/native.json" 2>"$T/err"; then
    pass "score a folder (native)"
else
    fail "score a folder (native)" "$(cat "$T/err")"
fi
cmpjson "native: every metric and group equals test.py and ReLA, bit for bit" "$T/native.json" native
expect_eq "json: top-level keys" \
    "program,version,gt,pred,split,resolution,samples,missing,protocols,rmsin,gres" \
    "$(jq -r 'keys_unsorted | join(",")' "$T/native.json")"
expect_eq "json: rmsin group keys" "samples,no_target,cum_i,cum_u,p50,p60,p70,p80,p90,oiou,miou" \
    "$(jq -r '.rmsin.all | keys_unsorted | join(",")' "$T/native.json")"
expect_eq "json: gres group keys" \
    "samples,targeted,no_target,tp,fn,fp,tn,cum_i,cum_u,p50,p60,p70,p80,p90,ciou,giou,nacc,tacc" \
    "$(jq -r '.gres.all | keys_unsorted | join(",")' "$T/native.json")"
expect_eq "json: header values" "native 14 0 rmsin,gres null" \
    "$(jq -r '"\(.resolution) \(.samples) \(.missing) \(.protocols | join(",")) \(.split)"' "$T/native.json")"
expect_eq "json: type groups in order" "single,multi,none" \
    "$(jq -r '.gres.by.type | keys_unsorted | join(",")' "$T/native.json")"
expect_eq "json: the none group's undefined metrics are null" "0 null 75 null" \
    "$(jq -r '.gres.by.type.none | "\(.ciou) \(.p50) \(.nacc) \(.tacc)"' "$T/native.json")"
expect_eq "json: a null category is the empty string" "true" \
    "$(jq -r '.rmsin.by.category | has("")' "$T/native.json")"

# the same from logits streams: on standard input, in a file, other dtypes
"$SCORE" --gt="$D/gt.jsonl" --pred=- --resolution=native $A <"$D/logits.st" >"$T/stdin.json" 2>"$T/err" ||
    fail "score a logits stream on stdin" "$(cat "$T/err")"
cmpjson "stream on stdin: the same numbers as the folder" "$T/stdin.json" native
"$SCORE" --gt="$D/gt.jsonl" --pred="$D/mixed.st" --resolution=native $A >"$T/mixed.json" 2>"$T/err" ||
    fail "score a stream file" "$(cat "$T/err")"
cmpjson "stream file (U8 masks, F16 [1,2,H,W], F64 logits): the same numbers" "$T/mixed.json" native
expect_eq "stream: pred is '-'" "-" "$(jq -r .pred "$T/stdin.json")"

# ---------------------------------------------------------------- the 480 protocol
if jq -e 'has("480")' "$D/expected.json" >/dev/null; then
    "$SCORE" --gt="$D/gt.jsonl" --pred="$D/pred" $A >"$T/480.json" 2>"$T/err" ||
        fail "score at 480 (the default)" "$(cat "$T/err")"
    cmpjson "480 (default): both masks resized as Pillow's NEAREST" "$T/480.json" 480
    "$SCORE" --gt="$D/gt.jsonl" --pred="$D/pred480" $A >"$T/480b.json" 2>"$T/err" ||
        fail "score 480x480 predictions" "$(cat "$T/err")"
    cmpjson "480: predictions already at 480x480" "$T/480b.json" 480
    expect_eq "480: resolution named" "480" "$(jq -r .resolution "$T/480.json")"
    run "native: a 480x480 prediction of an image of another size is an error naming it" 1 \
        "gt.jsonl:1: sample 's00': .*pred480/s00.png is 480x480 but the image is 20x16" \
        --gt="$D/gt.jsonl" --pred="$D/pred480" --resolution=native
else
    echo "SKIP: 480 protocol: Pillow is not installed for $PYTHON (make deps installs python3-pil)"
fi

# ---------------------------------------------------------------- text, md, csv
"$SCORE" --gt="$D/gt.jsonl" --pred="$D/pred" --resolution=native >"$T/text" 2>"$T/err" || fail "text" "$(cat "$T/err")"
expect_eq "text: the protocols named in headers" "1 1" \
    "$(grep -c '^protocol rmsin: RMSIN/LAVT test.py: IoU 0 when' "$T/text") $(grep -c '^protocol gres: GRES generalized metrics (ReLA): an empty prediction on a no-target sample scores IoU 1' "$T/text")"
expect_eq "text: the first line says what was scored" "ground truth $D/gt.jsonl, predictions $D/pred, resolution native, 14 samples" \
    "$(head -1 "$T/text")"
# each table's rows are equally long (aligned), and its "all" row holds
# the JSON's numbers at 2 decimals
awk '/^protocol /{t++; next} NF && t {print t, length($0)}' "$T/text" | sort -u | awk '{print $1}' | uniq -c |
    awk '$1 != 1 {bad = 1} END {exit bad}' && pass "text: tables aligned" || fail "text: tables aligned" "$(cat "$T/text")"
want=$(jq -r '.rmsin.all | [.p50, .p60, .p70, .p80, .p90, .oiou, .miou] | map(. * 100 | round / 100) | map(tostring) | join(" ")' "$T/native.json")
got=$(awk '/^protocol rmsin/{getline; getline; print; exit}' "$T/text" | awk '{$1=""; $2=""; print}' | sed 's/^ *//')
"$PYTHON" -c "import sys; a=[float(x) for x in sys.argv[1].split()]; b=[float(x) for x in sys.argv[2].split()]; sys.exit(not (len(a)==7 and all(abs(x-y)<0.0051 for x,y in zip(a,b))))" "$want" "$got" &&
    pass "text: the rmsin 'all' row" || fail "text: the rmsin 'all' row" "got '$got', json '$want'"
expect_eq "text: 2 decimals and '-' for undefined" "type=none 4 4 - - - - - 0.00 75.00 75.00 -" \
    "$(grep '^type=none' "$T/text" | tail -1 | tr -s ' ')"
"$SCORE" --gt="$D/gt.jsonl" --pred="$D/pred" --format=md --by=lang >"$T/md" 2>"$T/err" || fail "md" "$(cat "$T/err")"
expect_eq "md: headings name the protocols" "**Protocol rmsin**:|**Protocol gres**:" \
    "$(grep -o '^\*\*Protocol [a-z]*\*\*:' "$T/md" | tr '\n' '|' | sed 's/|$//')"
expect_eq "md: table rows" "10" "$(grep -c '^| ' "$T/md")"
expect_eq "md: alignment row" "| :-- | --: | --: | --: | --: | --: | --: | --: | --: |" "$(grep -m1 '^| :--' "$T/md")"
"$SCORE" --gt="$D/gt.jsonl" --pred="$D/pred" --format=csv --by=type,category >"$T/csv" 2>"$T/err" || fail "csv" "$(cat "$T/err")"
if "$PYTHON" - "$T/csv" "$T/native.json" <<'EOF' >"$T/err" 2>&1; then pass "csv: columns, quoting, rows"; else fail "csv: columns, quoting, rows" "$(cat "$T/err")"; fi
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
head = open(sys.argv[1]).readline().strip()
assert head == "protocol,resolution,breakdown,group,samples,no_target,p50,p60,p70,p80,p90,oiou,miou,ciou,giou,nacc,tacc", head
assert len(rows) == 2 * (1 + 3 + 5), len(rows)
assert {r["protocol"] for r in rows} == {"rmsin", "gres"}
sc = [r for r in rows if r["group"] == "ship,car"]
assert len(sc) == 2 and sc[0]["breakdown"] == "category" and sc[0]["samples"] == "2", sc
assert '"ship,car"' in open(sys.argv[1]).read()
g = [r for r in rows if r["protocol"] == "gres" and r["group"] == "all"][0]
assert g["oiou"] == "" and g["miou"] == "" and g["giou"] != "", g
r = [r for r in rows if r["protocol"] == "rmsin" and r["group"] == "none"][0]
assert r["ciou"] == "" and r["oiou"] != "" and r["resolution"] == "480", r
j = json.load(open(sys.argv[2]))
EOF

# ---------------------------------------------------------------- options
"$SCORE" --gt="$D/gt.jsonl" --pred="$D/pred" --resolution=native --split=val $A >"$T/val.json" 2>"$T/err" ||
    fail "--split" "$(cat "$T/err")"
cmpjson "--split=val scores the val samples only" "$T/val.json" val
expect_eq "--split named in the JSON" "val 2" "$(jq -r '"\(.split) \(.samples)"' "$T/val.json")"
expect_eq "--split: an empty type group is there, with null metrics" "0 null null" \
    "$(jq -r '.rmsin.by.type.multi | "\(.samples) \(.miou) \(.p50)"' "$T/val.json")"
"$SCORE" --gt="$D/gt.jsonl" --pred="$D/pred" --protocol=gres --by=none --format=json >"$T/g.json" 2>"$T/err"
expect_eq "--protocol=gres --by=none" "gres|absent|{}" \
    "$(jq -r '"\(.protocols | join(","))|\(if has("rmsin") then "present" else "absent" end)|\(.gres.by | tostring)"' "$T/g.json")"
"$SCORE" --gt="$D/gt.jsonl" --pred="$D/pred" --protocol=rmsin >"$T/r.txt" 2>&1
expect_eq "--protocol=rmsin prints one table" "1" "$(grep -c '^protocol ' "$T/r.txt")"

"$SCORE" --gt="$D/gt.jsonl" --pred="$D/pred" --resolution=native --per-sample="$T/ps.jsonl" --format=json \
    >"$T/ps.json" 2>"$T/err" || fail "--per-sample" "$(cat "$T/err")"
expect_eq "--per-sample: one line per sample, in manifest order" "14 s00 s13" \
    "$(jq -rs '"\(length) \(.[0].id) \(.[-1].id)"' "$T/ps.jsonl")"
expect_eq "--per-sample: keys" "id,split,type,category,lang,missing,pred,gt,i,u,iou_rmsin,iou_gres,gres" \
    "$(head -1 "$T/ps.jsonl" | jq -r 'keys_unsorted | join(",")')"
expect_eq "--per-sample: its sums are the JSON's" "true" \
    "$(jq -rs --slurpfile r "$T/ps.json" '(map(.i) | add) == $r[0].rmsin.all.cum_i and (map(.u) | add) == $r[0].rmsin.all.cum_u' "$T/ps.jsonl")"
expect_eq "--per-sample: outcomes" "FN:1,FP:1,TN:9,TP:3" \
    "$(jq -rs 'group_by(.gres) | map("\(.[0].gres):\(length)") | join(",")' "$T/ps.jsonl")"
if "$PYTHON" - "$T/ps.jsonl" "$T/ps.json" <<'EOF' >"$T/err" 2>&1; then pass "--per-sample: np.mean of its IoUs is the mIoU, bit for bit"; else fail "--per-sample: np.mean" "$(cat "$T/err")"; fi
import json, sys
import numpy as np
ious = [json.loads(l)["iou_rmsin"] for l in open(sys.argv[1])]
r = json.load(open(sys.argv[2]))
assert float(np.mean(np.array(ious)) * 100.) == r["rmsin"]["all"]["miou"], (np.mean(ious) * 100, r["rmsin"]["all"]["miou"])
EOF
"$SCORE" --gt="$D/gt.jsonl" --pred="$D/pred" --per-sample=- >"$T/ps2" 2>"$T/err"
expect_eq "--per-sample=-: the lines instead of the tables" "14 0" \
    "$(lines "$T/ps2") $(grep -c '^protocol' "$T/ps2")"

# ---------------------------------------------------------------- missing predictions
cp -r "$D/pred" "$T/pm"
rm "$T/pm/s01.png"
run "a missing prediction is an error naming the sample" 1 \
    "^rrsis-score: error: no prediction for sample 's01' (.*gt.jsonl:2): .*pm/s01.png does not exist" \
    --gt="$D/gt.jsonl" --pred="$T/pm" --resolution=native
rm "$T/pm/s05.png"
run "several missing: the first and how many more" 1 "s01.*(and 1 more samples have none)" \
    --gt="$D/gt.jsonl" --pred="$T/pm" --resolution=native
cp "$D/pred/s05.png" "$T/pm/"
"$SCORE" --gt="$D/gt.jsonl" --pred="$T/pm" --resolution=native --missing=empty $A >"$T/m.json" 2>"$T/err" ||
    fail "--missing=empty" "$(cat "$T/err")"
cmpjson "--missing=empty scores it as an empty mask" "$T/m.json" missing
expect_eq "--missing=empty: counted" "1" "$(jq .missing "$T/m.json")"
"$SCORE" --gt="$D/gt.jsonl" --pred="$T/pm" --resolution=native --missing=empty >"$T/m.txt" 2>&1
expect_eq "--missing=empty: said in the text header" "1" "$(grep -c '1 missing predictions scored as empty' "$T/m.txt")"
run "stream: a missing record is an error naming the sample" 1 "no prediction for sample 's01' (.*gt.jsonl:2) in the stream" \
    --gt="$D/gt.jsonl" --pred="$D/short.st"
"$SCORE" --gt="$D/gt.jsonl" --pred=- --resolution=native --missing=empty $A <"$D/short.st" >"$T/m2.json" 2>"$T/err" ||
    fail "stream --missing=empty" "$(cat "$T/err")"
cmpjson "stream --missing=empty: the same as the folder's" "$T/m2.json" missing

# ---------------------------------------------------------------- errors
run "stream: a second record for a sample" 1 "record 3: a second prediction for sample 's00' (the first was record 1)" \
    --gt="$D/gt.jsonl" --pred="$D/dup.st"
run "stream: an id not in the manifest" 1 "record 2: sample 'nobody' is not in .*gt.jsonl" \
    --gt="$D/gt.jsonl" --pred="$D/unknown.st"
run "stream: the wrong stage" 1 "record 1: stage is 'tokens', expected 'logits'" \
    --gt="$D/gt.jsonl" --pred=- <"$D/tokens.st"
run "stream: logits of another size than the image (native)" 1 \
    "gt.jsonl:1: sample 's00': the prediction in record 1 of .*badshape.st is 3x3 but the image is 20x16" \
    --gt="$D/gt.jsonl" --pred="$D/badshape.st" --resolution=native --missing=empty
head -c 100 /dev/urandom >"$T/random.st"
run "stream: random bytes" 1 "^rrsis-score: error: .*random.st: \(record 1\|not an rrsis stream\)" --gt="$D/gt.jsonl" --pred="$T/random.st"
run "no such manifest" 1 "^rrsis-score: error: .*nope.jsonl: No such file" --gt="$T/nope.jsonl" --pred="$D/pred"
run "no such predictions" 1 "^rrsis-score: error: .*nope: No such file" --gt="$D/gt.jsonl" --pred="$T/nope"
run "an unknown split" 1 "no sample of split 'train'" --gt="$D/gt.jsonl" --pred="$D/pred" --split=train
printf 'not png' >"$T/pm/s01.png"
run "a corrupt prediction names its file" 1 "pm/s01.png" --gt="$D/gt.jsonl" --pred="$T/pm"
sed '3s/.*/{"id": "s00"/' "$D/gt.jsonl" >"$D/bad.jsonl"
run "a bad manifest line" 1 "bad.jsonl:3: " --gt="$D/bad.jsonl" --pred="$D/pred"
sed '3s/"s02"/"s00"/' "$D/gt.jsonl" >"$D/dupid.jsonl"
run "duplicate ids" 1 "dupid.jsonl:3: duplicate id \"s00\" (first on line 1)" --gt="$D/dupid.jsonl" --pred="$D/pred"
if [ -n "$FULL" ]; then
    "$SCORE" --gt="$D/gt.jsonl" --pred="$D/pred" >"$FULL" 2>"$T/err"
    st=$?
    [ $st -eq 1 ] && grep -q "^rrsis-score: error: " "$T/err" && pass "stdout on a full disk" ||
        fail "stdout on a full disk" "exit $st: $(cat "$T/err")"
fi

# ---------------------------------------------------------------- --check
if "$SCORE" --check="$D/gt.jsonl" >"$T/check" 2>"$T/err"; then pass "--check: a good manifest"; else fail "--check: a good manifest" "$(cat "$T/check" "$T/err")"; fi
expect_eq "--check: the summary line" "$D/gt.jsonl: 14 samples, 0 findings (level masks)" "$(head -1 "$T/check")"
expect_eq "--check: counts per type" "single 7|multi 3|none 4" \
    "$(awk '/^type /{f=1; next} f && NF == 0 {exit} f {print $1, $2}' "$T/check" | tr '\n' '|' | sed 's/|$//')"
expect_eq "--check: counts per split, category, lang" "test 12|val 2|(null) 1|car 6|plane 3|ship 2|ship,car 2|en 12|zh 2" \
    "$(awk '/^(split|category|lang) /{f=1; next} NF == 0 {f=0} f {print $1, $2}' "$T/check" | tr '\n' '|' | sed 's/|$//')"
# a broken manifest: bad JSON, a missing image, a duplicate id, an empty
# mask on a single sample, a mask of another size, an unknown split
B=$D/broken.jsonl
{
    sed -n 1p "$D/gt.jsonl"
    echo '{"id": "x", "split": "test"'
    sed -n 2p "$D/gt.jsonl" | sed 's#images/s01.png#images/nope.png#'
    sed -n 1p "$D/gt.jsonl"
    sed -n 6p "$D/gt.jsonl" | sed 's/"none"/"single"/; s/"mask": null/"mask": {"png": "masks\/empty.png"}/'
    sed -n 3p "$D/gt.jsonl" | sed 's#masks/s02.png#masks/s00.png#'
    sed -n 4p "$D/gt.jsonl" | sed 's/"test"/"dev"/'
} >"$B"
"$PYTHON" -c "
import struct, zlib, sys
w, h = 24, 24
raw = b''.join(b'\0' + bytes(w) for _ in range(h))
c = lambda t, d: struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d) & 0xffffffff)
open(sys.argv[1], 'wb').write(b'\x89PNG\r\n\x1a\n' + c(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, 0, 0, 0, 0)) + c(b'IDAT', zlib.compress(raw)) + c(b'IEND', b''))
" "$D/masks/empty.png"
"$SCORE" --check="$B" >"$T/check" 2>"$T/err"
st=$?
expect_eq "--check: findings exit 1" "1" "$st"
expect_eq "--check: findings as PATH:LINE: at the right lines" "2 3 4 5 6 7" \
    "$(grep "^$B:[0-9]*: " "$T/check" | cut -d: -f2 | tr '\n' ' ' | sed 's/ $//')"
expect_eq "--check: what each finding says" "1|1|1|1|1|1" \
    "$(for p in ':2: .*' ':3: image .*nope.png' ':4: duplicate id "s00" (first on line 1)' ':5: empty mask on a single sample' \
        ':6: mask .*s00.png is 20x16 but its image is 31x9' ':7: .*dev'; do grep -c "^$B$p" "$T/check"; done | tr '\n' '|' | sed 's/|$//')"
expect_eq "--check: the summary counts the well-formed samples" "$B: 5 samples, 6 findings (level masks)" \
    "$(grep "^$B: [0-9]* samples" "$T/check")"
"$SCORE" --check="$B" --check-level=files >"$T/check" 2>"$T/err"
expect_eq "--check-level=files: no mask decoded" "0" "$(grep -c 'empty mask' "$T/check")"
"$SCORE" --check="$B" --format=json >"$T/check.json" 2>"$T/err"
expect_eq "--check --format=json" "5|2,3,4,5,6,7|6|masks|{\"single\":5,\"multi\":0,\"none\":0}" \
    "$(jq -r '"\(.samples)|\(.findings | map(.line) | map(tostring) | join(","))|\(.findings | length)|\(.level)|\(.counts.type | tojson)"' "$T/check.json")"
"$SCORE" --check="$D/gt.jsonl" --check-level=images >/dev/null 2>&1 && pass "--check-level=images on a good manifest" ||
    fail "--check-level=images on a good manifest" "exit $?"
run "--check: no such manifest" 1 "^rrsis-score: error: .*nope.jsonl" --check="$T/nope.jsonl"

# ------------------------------------------------------------- perfect predictions score 100
# rrsis-synth's own masks as predictions: 100 on every gres metric, and under
# rmsin a mIoU (and P@) equal to the share of targeted samples, oIoU 100.
if [ -x "$BIN/rrsis-synth" ]; then
    S=$T/synth
    if "$BIN/rrsis-synth" -n 200 -o "$S/" >/dev/null 2>"$T/err"; then
        M=$(ls "$S"/*.jsonl | head -1)
        mkdir -p "$S/own"
        jq -r 'select(.mask.png) | "\(.mask.png)\t\(.id)"' "$M" | while IFS="$(printf '\t')" read -r png id; do
            cp "$S/$png" "$S/own/$id.png"
        done
        if "$SCORE" --gt="$M" --pred="$S/own" --missing=empty --format=json >"$T/own.json" 2>"$T/err"; then
            expect_eq "synth: its own masks score 100 on every gres metric" "true" \
                "$(jq '.gres.all | [.p50, .p60, .p70, .p80, .p90, .ciou, .giou, .nacc, .tacc] | all(. == 100)' "$T/own.json")"
            expect_eq "synth: rmsin mIoU and P@ = the share of targeted samples, oIoU 100" "true" \
                "$(jq '.rmsin.all | (100 * (.samples - .no_target) / .samples) as $s
                       | .oiou == 100 and ([.miou, .p50, .p90] | all(. - $s | fabs < 1e-9)) and .no_target > 0' "$T/own.json")"
        else
            fail "synth: score its own masks" "$(cat "$T/err")"
        fi
    else
        fail "synth: rrsis-synth -n 200" "$(head -c 300 "$T/err")"
    fi
else
    echo "note: $BIN/rrsis-synth is not built: the synthetic self-score is not run"
fi

# ---------------------------------------------------------------- usage errors
run "usage: nothing to do" 2 "--gt and --pred are required" --format=json
run "usage: --gt without --pred" 2 "Try 'rrsis-score --help'" --gt="$D/gt.jsonl"
run "usage: a bad --protocol" 2 "--protocol: 'lavt' is not one of rmsin, gres, both" --gt=a --pred=b --protocol=lavt
run "usage: a bad --resolution" 2 "--resolution: 'big' is not an integer" --gt=a --pred=b --resolution=big
run "usage: a bad --format" 2 "--format: 'xml' is not one of text, md, csv, json" --gt=a --pred=b --format=xml
run "usage: a bad --by" 2 "--by: 'size' is not one of type, category, lang" --gt=a --pred=b --by=type,size
run "usage: a bad --missing" 2 "--missing: 'skip' is not one of error, empty" --gt=a --pred=b --missing=skip
run "usage: --check with --gt" 2 "--check excludes" --check=a --gt=b
run "usage: --check with csv" 2 "--check prints text or json" --check=a --format=csv
run "usage: --check-level alone" 2 "--check-level goes with --check" --gt=a --pred=b --check-level=files
run "usage: a bad --check-level" 2 "is not one of files, masks, images" --check=a --check-level=all
run "usage: an operand" 2 "unexpected argument 'extra'" --gt=a --pred=b extra
run "usage: both on stdin" 2 "cannot both be standard input" --gt=- --pred=-

finish
