#!/bin/sh
# rrsis-score --table: score files written by rrsis-score itself (a small
# rrsis-synth dataset; predictions that are the truth, nothing, or the truth
# for half the samples) merged into comparison tables in every format.  The
# cells are checked against the score files they come from, the best of each
# column against the cells, and every bad input for its message and status.
#   BIN     the programs (default bin)
# shellcheck source=tests/cli/lib.sh
. tests/cli/lib.sh

SCORE=$BIN/rrsis-score
require rrsis-score rrsis-synth jq

# ---------------------------------------------------------------- score files
D=$T/data
"$BIN/rrsis-synth" -q --train 2 --val 12 --test 10 --seed 5 -o "$D" || {
    fail "setup" "rrsis-synth failed"
    finish
    exit
}
mkdir -p "$T/none" "$T/half" "$T/truth" "$T/empty"
# half: the true masks of every other sample (the others scored as empty)
i=0
for f in "$D"/masks/*.png; do
    [ $((i % 2)) = 0 ] && cp "$f" "$T/half/"
    i=$((i + 1))
done
score() { # RUN SET PRED [OPTION]...: writes $T/RUN/score-SET.json
    r=$1 s=$2 p=$3
    shift 3
    mkdir -p "$T/$r"
    "$SCORE" --gt "$D/$s.jsonl" --pred "$p" --missing empty --format json "$@" >"$T/$r/score-$s.json"
}
for s in val test; do
    score truth "$s" "$D/masks"
    score half "$s" "$T/half"
    score none "$s" "$T/none"
done
score gres val "$D/masks" --protocol gres
score native val "$D/masks" --resolution native
# set val again, from a manifest of 5 of its samples
mkdir -p "$T/d5" "$T/short"
ln -s "$D/images" "$D/masks" "$T/d5/"
head -n 5 "$D/val.jsonl" >"$T/d5/val.jsonl"
"$SCORE" --gt "$T/d5/val.jsonl" --pred "$D/masks" --format json >"$T/short/score-val.json"
cp "$T/half/score-val.json" "$T/valonly.json"

# ----------------------------------------------------------- the paper's layout
# runs as rows, then per metric val | test; the cells are the files' values
"$SCORE" --table --format json --sets val,test --label=Truth="$T/truth" --label=Half="$T/half" \
    --label=None="$T/none" >"$T/t.json"
expect_eq "json rows in the order given" "Truth Half None" "$(jq -r '[.rows[].run] | join(" ")' "$T/t.json")"
expect_eq "json columns: metric, then set" \
    "p70:val p70:test p80:val p80:test p90:val p90:test oiou:val oiou:test miou:val miou:test" \
    "$(jq -r '[.columns[] | "\(.metric):\(.set)"] | join(" ")' "$T/t.json")"
bad=""
for r in 0 1 2; do
    dir=$(jq -r ".rows[$r].run | ascii_downcase" "$T/t.json")
    for c in 0 1 2 3 4 5 6 7 8 9; do
        m=$(jq -r ".columns[$c].metric" "$T/t.json")
        s=$(jq -r ".columns[$c].set" "$T/t.json")
        want=$(jq ".rmsin.all.$m" "$T/$dir/score-$s.json")
        got=$(jq ".cells[$r][$c]" "$T/t.json")
        [ "$want" = "$got" ] || bad="$bad $dir/$s/$m: $got, not $want;"
    done
done
if [ -z "$bad" ]; then pass "json cells are the score files' values"; else fail "json cells" "$bad"; fi
# best: the highest value of each column as printed (2 decimals), ties all
expect_eq "json best of each column" "true" "$(jq '
    [range(.columns | length) as $c | [.cells[][$c] | . * 100 | round] as $col | ($col | max) as $m
     | [range($col | length) as $r | .best[$r][$c] == ($col[$r] == $m)] | all] | all' "$T/t.json")"
expect_eq "json: the truth is best everywhere" "true" "$(jq '.best[0] | all' "$T/t.json")"
expect_eq "json files" "6 12 10" \
    "$(jq -r '"\(.files | length) \([.files[] | select(.set == "val") | .samples] | unique[0]) \([.files[] | select(.set == "test") | .samples] | unique[0])"' "$T/t.json")"

"$SCORE" --table --format md --bold-best --sets val,test --label=Truth="$T/truth" --label=Half="$T/half" \
    --label=None="$T/none" >"$T/t.md"
expect_eq "md heading" \
    "| run | P@0.7 val | P@0.7 test | P@0.8 val | P@0.8 test | P@0.9 val | P@0.9 test | oIoU val | oIoU test | mIoU val | mIoU test |" \
    "$(sed -n 1p "$T/t.md")"
expect_eq "md rule" "| :-- | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: |" "$(sed -n 2p "$T/t.md")"
expect_eq "md rows" 5 "$(lines "$T/t.md")"
# every cell as JSON's value with 2 decimals, in bold exactly where JSON says best
want=$(jq -r '.rows as $rows | .best as $b | .cells | to_entries[] | .key as $r
    | "| \($rows[$r].run) | " + ([.value | to_entries[] | (.value * 100 | round / 100) as $v
        | ($v | tostring | if test("\\.") then . else . + ".0" end | if test("\\.[0-9]$") then . + "0" else . end) as $s
        | if $b[$r][.key] then "**\($s)**" else $s end] | join(" | ")) + " |"' "$T/t.json")
expect_eq "md cells and bold" "$want" "$(sed -n '3,$p' "$T/t.md")"

"$SCORE" --table --sets val,test --label=Truth="$T/truth" --label=Half="$T/half" --label=None="$T/none" >"$T/t.txt"
expect_eq "text: 4 lines of one width" "4 1" \
    "$(lines "$T/t.txt") $(awk '{ print length($0) }' "$T/t.txt" | sort -u | wc -l | tr -d ' ')"
expect_eq "text: no bold" "" "$(grep -F '**' "$T/t.txt")"

"$SCORE" --table --format csv --sets val,test --label=Truth="$T/truth" --label=Half="$T/half" \
    --label=None="$T/none" >"$T/t.csv"
expect_eq "csv heading" "run,P@0.7 val,P@0.7 test,P@0.8 val,P@0.8 test,P@0.9 val,P@0.9 test,oIoU val,oIoU test,mIoU val,mIoU test" \
    "$(sed -n 1p "$T/t.csv")"
expect_eq "csv row" "Half,$(jq -r '[.cells[1][] | . * 100 | round / 100 | tostring] | join(",")' "$T/t.json")" \
    "$(sed -n 3p "$T/t.csv" | sed 's/\.\([0-9]\)0\b/.\1/g; s/\.0\b//g')"

# ------------------------------------------------------------- other layouts
# a run folder's label is its name, a file's its name without .json; keys
# moved between rows and columns; one set chosen for an ablation table
"$SCORE" --table --format json --rows set,run --cols metric --metrics miou,p50 "$T/truth" "$T/valonly.json" \
    >"$T/o.json"
expect_eq "rows set,run: the product, first key outermost" \
    "test/truth test/valonly val/truth val/valonly" "$(jq -r '[.rows[] | "\(.set)/\(.run)"] | join(" ")' "$T/o.json")"
expect_eq "--metrics in its order" "miou p50" "$(jq -r '[.columns[].metric] | join(" ")' "$T/o.json")"
expect_eq "a run without that set: null" "null" "$(jq '.cells[1][0]' "$T/o.json")"
"$SCORE" --table --format md --rows set,run --cols metric --metrics miou "$T/truth" "$T/valonly.json" >"$T/o.md"
expect_eq "md: a cell not scored is -" "| test | valonly | - |" "$(sed -n 4p "$T/o.md")"
"$SCORE" --table --format json --sets test --cols metric --label=A="$T/truth" --label=B="$T/none" >"$T/a.json"
expect_eq "--sets with set on no axis" "A B|p70 p80 p90 oiou miou" \
    "$(jq -r '"\([.rows[].run] | join(" "))|\([.columns[].metric] | join(" "))"' "$T/a.json")"
expect_eq "--sets: the chosen set's values" "$(jq '.rmsin.all.miou' "$T/truth/score-test.json")" \
    "$(jq '.cells[0][4]' "$T/a.json")"
"$SCORE" --table --format json --protocol gres --cols metric "$T/gres" >"$T/g.json"
expect_eq "gres: its default metrics" "p70 p80 p90 ciou giou" "$(jq -r '[.columns[].metric] | join(" ")' "$T/g.json")"
expect_eq "gres: its values" "$(jq '.gres.all.giou' "$T/gres/score-val.json")" "$(jq '.cells[0][4]' "$T/g.json")"

# ------------------------------------------------------------------ bad input
# STATUS MESSAGE ARG...: rrsis-score --table ARG... fails with that status and
# its first stderr line is MESSAGE.
refuses() {
    st=$1 msg=$2
    shift 2
    "$SCORE" --table "$@" >"$T/out" 2>"$T/err"
    rc=$?
    got=$(head -n 1 "$T/err")
    if [ "$rc" = "$st" ] && [ "$got" = "$msg" ] && [ ! -s "$T/out" ]; then
        pass "refuses: $msg"
    else
        fail "refuses: $msg" "status $rc, stderr '$got', stdout $(wc -c <"$T/out") bytes"
    fi
}
refuses 1 "rrsis-score: error: $T/missing.json: No such file or directory" "$T/truth" "$T/missing.json"
refuses 1 "rrsis-score: error: $T/gres/score-val.json: no rmsin scores (it was scored with --protocol=gres)" \
    "$T/truth" "$T/gres"
refuses 1 "rrsis-score: error: $D/val.jsonl: not a score file (the output of rrsis-score --format=json)" \
    "$T/truth" "$D/val.jsonl"
refuses 1 "rrsis-score: error: $T/empty: a folder without score files (score*.json)" "$T/empty"
refuses 1 "rrsis-score: error: $T/truth/score-test.json is scored at resolution 480 and $T/native/score-val.json at native: scores at different resolutions do not compare" \
    "$T/truth" "$T/native"
refuses 1 "rrsis-score: error: set 'val': $T/truth/score-val.json scored 12 samples and $T/short/score-val.json 5 (another manifest or --split?)" \
    "$T/truth" "$T/short"
refuses 1 "rrsis-score: error: $T/half/score-val.json and $T/valonly.json are both of run 'x' and set 'val' (name the runs with --label)" \
    --label=x="$T/half" --label=x="$T/valonly.json"
refuses 1 "rrsis-score: error: 2 values of set (test, val) but it is in neither --rows nor --cols; choose one with --sets" \
    --cols metric "$T/truth"
refuses 1 "rrsis-score: error: --sets: no score file is of set 'train' (the files' sets: test, val)" \
    --sets val,train "$T/truth"
refuses 2 "rrsis-score: --cols: 'split' is not one of the keys: run, set, metric" --cols metric,split "$T/truth"
refuses 2 "rrsis-score: --rows and --cols both name 'set'" --rows run,set "$T/truth"
refuses 2 "rrsis-score: --metrics: 'giou' is not a metric of protocol rmsin: p50, p60, p70, p80, p90, oiou, miou" \
    --metrics p70,giou "$T/truth"
refuses 2 "rrsis-score: --metrics: 'p70' is named twice" --metrics p70,p70 "$T/truth"
refuses 2 "rrsis-score: --sets: 'val,' has an empty item" --sets val, "$T/truth"
refuses 2 "rrsis-score: --label: '$T/truth' is not NAME=PATH" --label="$T/truth"
refuses 2 "rrsis-score: --bold-best goes with --format=md" --bold-best "$T/truth"
refuses 2 "rrsis-score: --table takes one protocol: rmsin or gres" --protocol both "$T/truth"
refuses 2 "rrsis-score: --table needs score files or run folders" --format md
refuses 2 "rrsis-score: --table excludes --gt, --pred and --check" --gt "$D/val.jsonl" "$T/truth"
refuses 2 "rrsis-score: --table excludes the scoring options (--resolution, --by, --missing, --split, --per-sample)" \
    --split val "$T/truth"
"$SCORE" --rows run "$T/truth" >/dev/null 2>"$T/err"
expect_eq "table options without --table" \
    "2 rrsis-score: --label, --metrics, --sets, --rows, --cols and --bold-best go with --table" \
    "$? $(head -n 1 "$T/err")"
finish
