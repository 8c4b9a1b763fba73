#!/bin/sh
# share/experiments/paper.mk at nano scale on a small rrsis-synth set, a few
# updates a training: both tables made with make -j2, every cell filled and
# the layout the paper's; each run folder's configuration (the ablation's
# derived from MRSNet's), provenance and commands; nothing redone by a second
# make; a training stopped by a signal refused, then resumed; raising
# MAX_STEPS resumes; missing inputs named.
#   BIN     the programs (default bin)
# shellcheck source=tests/cli/lib.sh
. tests/cli/lib.sh
require rrsis-synth rrsis-train rrsis-tokenize rrsis-encode rrsis-fuse rrsis-decode rrsis-score jq make

# one thread a process: make -j2 runs two at once on this test's two cores
export OMP_NUM_THREADS=1
"$BIN/rrsis-synth" -q --train 16 --val 6 --test 6 --seed 4 -o "$T/data" || {
    fail "setup" "rrsis-synth failed"
    finish
    exit
}
set -- -f share/experiments/paper.mk DATA="$T/data" SCALE=nano BIN="$BIN" EPOCHS=1 BATCH=2 MAX_STEPS=2
O=$T/out

if make -j2 "$@" OUT="$O" all >"$T/make.log" 2>&1; then
    pass "make -j2 all"
else
    fail "make -j2 all" "$(tail -n 5 "$T/make.log")"
    finish
    exit
fi

# ---------------------------------------------------------------- Table II
j=$O/table2.json
expect_eq "table2: methods as rows" "LAVT RMSIN MRSNet" "$(jq -r '[.rows[].run] | join(" ")' "$j")"
expect_eq "table2: val and test per metric" \
    "p70/val p70/test p80/val p80/test p90/val p90/test oiou/val oiou/test miou/val miou/test" \
    "$(jq -r '[.columns[] | "\(.metric)/\(.set)"] | join(" ")' "$j")"
expect_eq "table2: every cell a number" "30" "$(jq '[.cells[][] | numbers] | length' "$j")"
expect_eq "table2: a best in every column" "true" \
    "$(jq '[range(.columns | length) as $c | [.best[][$c]] | any] | all' "$j")"
expect_eq "table2: MRSNet's row is its run's scores" \
    "$(jq -c '[.rmsin.all | .p70, .p80, .p90, .oiou, .miou]' "$O/mrsnet/score-test.json")" \
    "$(jq -c '[.cells[2][1, 3, 5, 7, 9]]' "$j")"
m=$O/table2.md
expect_eq "table2.md: caption" "Table II." "$(sed -n 1p "$m" | cut -c 1-9)"
expect_eq "table2.md: heading" \
    "| run | P@0.7 val | P@0.7 test | P@0.8 val | P@0.8 test | P@0.9 val | P@0.9 test | oIoU val | oIoU test | mIoU val | mIoU test |" \
    "$(sed -n 3p "$m")"
expect_eq "table2.md: three rows of ten numbers" "LAVT RMSIN MRSNet" "$(sed -n '5,$p' "$m" |
    grep -E '^\| [A-Za-z]+ (\| (\*\*)?[0-9]+\.[0-9]{2}(\*\*)? ){10}\|$' | cut -d ' ' -f 2 | tr '\n' ' ' | sed 's/ $//')"
bold=$(sed -n '5,$p' "$m" | awk -F'|' '{ for (i = 3; i < NF; i++) if ($i ~ /\*\*/) b[i] = 1 } END { print length(b) }')
expect_eq "table2.md: a bold value in every column" 10 "$bold"
c=$O/table2.csv
expect_eq "table2.csv: 4 lines of 11 fields, numbers below the heading" "4 11 30" \
    "$(lines "$c") $(awk -F, '{ print NF }' "$c" | sort -u) $(sed 1d "$c" | cut -d, -f 2- | tr ',' '\n' | grep -cE '^[0-9]+\.[0-9]{2}$')"

# ---------------------------------------------------------------- Table III
j=$O/table3.json
expect_eq "table3: the ablation's rows" "PSR only|CSR only|PSR + CSR" "$(jq -r '[.rows[].run] | join("|")' "$j")"
expect_eq "table3: the metrics on test" "p70 p80 p90 oiou miou|test" \
    "$(jq -r '"\([.columns[].metric] | join(" "))|\([.files[].set] | unique | join(" "))"' "$j")"
expect_eq "table3: every cell a number" 15 "$(jq '[.cells[][] | numbers] | length' "$j")"
expect_eq "table3: both = MRSNet's test scores of table2" \
    "$(jq -c '[.cells[2][1, 3, 5, 7, 9]]' "$O/table2.json")" "$(jq -c '.cells[2]' "$j")"
expect_eq "table3.md: heading and rows" "| run | P@0.7 | P@0.8 | P@0.9 | oIoU | mIoU |
PSR only
CSR only
PSR + CSR" "$(sed -n 3p "$O/table3.md"; sed -n '5,$p' "$O/table3.md" | cut -d '|' -f 2 | sed 's/^ //; s/ $//')"
expect_eq "table3.csv: 4 lines" 4 "$(lines "$O/table3.csv")"

# ---------------------------------------------------------------- run folders
expect_eq "ablation configurations: psr, csr" "true false|false true|true true" \
    "$(for r in psr-only csr-only mrsnet; do jq -r '"\(.ifim.psr) \(.ifim.csr)"' "$O/$r/config.json"; done |
        tr '\n' '|' | sed 's/|$//')"
bad=""
for r in lavt rmsin mrsnet psr-only csr-only; do
    d=$O/$r
    [ "$(jq -r .seed "$d/provenance.json")" = 2401 ] || bad="$bad $r:seed"
    jq -e '.versions["rrsis-train"] | startswith("rrsis-train (rrsis) ")' "$d/provenance.json" >/dev/null ||
        bad="$bad $r:versions"
    jq -e '.make | contains("paper.mk")' "$d/provenance.json" >/dev/null || bad="$bad $r:make"
    grep -q "rrsis-train -o $d -c $d/config.json .*--seed 2401" "$d/commands.log" || bad="$bad $r:commands"
    grep -q "rrsis-score --gt $T/data/test.jsonl --pred $d/masks-test" "$d/commands.log" || bad="$bad $r:score"
    case $r in *-only) sets=test ;; *) sets="val test" ;; esac
    for f in model.safetensors $(for s in $sets; do echo "score-$s.json"; done); do
        [ -s "$d/$f" ] || bad="$bad $r:$f"
    done
done
expect_eq "every run folder: provenance, commands, weights, scores" "" "$bad"
expect_eq "RMSIN trains with its random boxes, MRSNet without" "1 0" \
    "$(grep -c -- '--random-erase' "$O/rmsin/commands.log") $(grep -c -- '--random-erase' "$O/mrsnet/commands.log")"

# ---------------------------------------------------------------- make again
cat "$O"/*/commands.log | md5sum >"$T/before"
make "$@" OUT="$O" all >"$T/again.log" 2>&1
expect_eq "a second make: done, nothing run again" "0 $(cat "$T/before")" "$? $(cat "$O"/*/commands.log | md5sum)"
# raising MAX_STEPS resumes the trainings of the table asked for
make "$@" OUT="$O" MAX_STEPS=3 table3 >"$T/more.log" 2>&1
expect_eq "MAX_STEPS=3: table3's runs resumed to step 3" "0 3:1 3:1 3:1" \
    "$? $(for r in psr-only csr-only mrsnet; do
        jq -rs '"\(last.step):\([.[] | select(.type == "start" and .resumed)] | length)"' "$O/$r/log.jsonl"
    done | tr '\n' ' ' | sed 's/ $//')"
expect_eq "MAX_STEPS=3: LAVT untouched" 2 "$(tail -n 1 "$O/lavt/log.jsonl" | jq .step)"

# ---------------------------------------------------------------- interrupted
# A training stopped by SIGTERM writes its checkpoint and exits 0; make
# refuses to take its weights, and the next make resumes it.
O2=$T/out2
make "$@" OUT="$O2" MAX_STEPS= EPOCHS=1000 "$O2/mrsnet/model.safetensors" >"$T/int.log" 2>&1 &
mk=$!
# trainer_pid: the process of that training, from /proc (its command line)
trainer_pid() {
    for d in /proc/[0-9]*; do
        case $(tr '\0' ' ' 2>/dev/null <"$d/cmdline") in
        "$BIN/rrsis-train -o $O2/mrsnet "*) echo "${d#/proc/}" ;;
        esac
    done
}
pid=
for _ in $(seq 300); do
    grep -qs '"type": "step"' "$O2/mrsnet/log.jsonl" && pid=$(trainer_pid) && [ -n "$pid" ] && break
    sleep 0.1
done
[ -n "$pid" ] && kill -TERM "$pid"
wait "$mk"
expect_eq "a training stopped by a signal is refused" \
    "2 paper.mk: the training in $O2/mrsnet stopped early (signal): make again to resume it" \
    "$? $(grep '^paper.mk:' "$T/int.log")"
# two more updates than the checkpoint's
n=$(($("$BIN/rrsis-train" --check="$O2/mrsnet/last.safetensors" | jq .step) + 2))
make "$@" OUT="$O2" MAX_STEPS=$n EPOCHS=1000 "$O2/mrsnet/model.safetensors" >"$T/res.log" 2>&1
expect_eq "the next make resumes it" "0 true $n 1" "$? $(jq -s '[.[] | select(.type == "start")] | last | .resumed' \
    "$O2/mrsnet/log.jsonl") $(tail -n 1 "$O2/mrsnet/log.jsonl" | jq .step) $(grep -c -- '--resume' "$O2/mrsnet/commands.log")"

# ---------------------------------------------------------------- bad input
make "$@" OUT="$T/out3" DATA="$T/nodata" table3 >"$T/bad.log" 2>&1
expect_eq "DATA without manifests" "2 paper.mk: $T/nodata/train.jsonl is missing: DATA=$T/nodata must hold train.jsonl, val.jsonl and test.jsonl (share/experiments/README)" \
    "$? $(grep '^paper.mk:' "$T/bad.log" | head -n 1)"
make "$@" OUT="$T/out3" INIT="$T/none.safetensors" table3 >"$T/bad.log" 2>&1
expect_eq "INIT that does not exist" "2 yes" \
    "$? $(grep -q "INIT=$T/none.safetensors: no such file" "$T/bad.log" && echo yes)"
make "$@" OUT="$T/out3" MRSNET_CONFIG="$T/none.json" table3 >"$T/bad.log" 2>&1
expect_eq "a configuration that does not exist" \
    "2 paper.mk: no configuration $T/none.json (LAVT_CONFIG, RMSIN_CONFIG, MRSNET_CONFIG, SCALE)" \
    "$? $(grep '^paper.mk:' "$T/bad.log" | head -n 1)"
finish
