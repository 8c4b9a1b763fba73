#!/bin/sh
# make demo-model: trains the demo model, mrsnet-nano from scratch on
# synthetic scenes (rrsis-synth's easy preset with objects twice the standard
# length), on the CPU, and scores it on a held-out test split under the gres
# protocol.  Writes share/models/mrsnet-nano-synth.safetensors,
# share/models/scores.json and share/models/README (the commands, seeds,
# times and scores of this run between the model card,
# tools/demo-model-card.txt, and tools/demo-model-history.txt).
#
#   sh tools/demo-model.sh            train, score, write the three files
#   sh tools/demo-model.sh --readme   print that README for the finished run
#                                     in $DEMO_MODEL_DIR (run/log.jsonl,
#                                     run/best.safetensors, scores.json, times)
#   DEMO_MODEL_DIR  the work folder (default build/demo-model; emptied first)
set -eu
# Threads that wait sleep instead of spinning: on a busy machine a spinning
# OpenMP barrier turned 0.3 s steps into 9 s ones.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
. tools/openblas-coretype.sh
out=${DEMO_MODEL_DIR:-build/demo-model}

# The demo's configuration: mrsnet-nano without dropout (the small model
# underfits: its training-set scores equal its validation scores, so dropout
# only slows it), with the presence term (share/configs/README) at 0.2, and
# with Swin's absolute position embedding (swin.ape): without it the model
# missed a third of the sentences that name a place ("the car at the top
# left") and none of those that name a colour.
config_filter='.swin.drop_path_rate = 0 | .text.hidden_dropout = 0 | .text.attention_dropout = 0
        | .decoder.arc_dropout = 0 | .loss.presence_weight = 0.2 | .swin.ape = true'
# Objects twice the standard length: the model's finest map has one cell per
# 4 x 4 pixels, and a car of 10 x 4 pixels is below what it can outline.
synth_args="--preset easy --object-scale 2 --train 12000 --val 400 --test 400 --seed 11"
train_args="--lr 1e-3 --epochs 10 --batch 8 --warmup-epochs 0.2 --seed 2401 --best-metric giou --log-every 100"
model=$out/run/best.safetensors

# The README of share/models from the run in $out and its times file.
readme() {
    log=$out/run/log.jsonl
    sc=$out/scores.json
    t_synth=$(sed -n 's/^synth //p' "$out/times")
    t_train=$(sed -n 's/^train //p' "$out/times")
    t_score=$(sed -n 's/^score //p' "$out/times")
    t_all=$((t_synth + t_train + t_score))
    params=$(jq -r 'select(.type == "start") | .parameters' "$log" | tail -n 1)
    updates=$(jq -r 'select(.type == "start") | .total' "$log" | tail -n 1)
    images=$(jq -s '[.[] | select(.type == "step") | .images] | add' "$log")
    best=$(jq -rs '[.[] | select(.type == "val")] | max_by(.giou) | "\(.giou) \(.step)"' "$log" |
        awk '{ printf "validation gIoU %.2f at step %d", $1, $2 }')
    seed() { echo "$1" | sed 's/.*--seed \([0-9]*\).*/\1/'; }
    g() { jq -r "$1" "$sc" | awk '{ printf "%.2f", $1 }'; }
    cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
    cat <<EOF
mrsnet-nano-synth.safetensors: the demo model
=============================================

EOF
    cat tools/demo-model-card.txt
    cat <<EOF

mrsnet-nano (share/configs/mrsnet-nano.json, $params parameters, 128x128 input;
trained without dropout, with the presence term at 0.2 and with Swin's
absolute position embedding, swin.ape; share/configs/README) trained from
scratch, on the CPU, on synthetic scenes from rrsis-synth's easy preset with
objects twice the standard length (planes, ships, cars and storage tanks in
four colours; sentences by category, colour, size and position; 60%
single-target, 25% multi-target, 15% no-target).  \`make demo\` segments new
scenes of the same kind with it.  This file is written by \`make demo-model\`
(tools/demo-model.sh) from the run it describes.

The commands, exactly (OMP_WAIT_POLICY=$OMP_WAIT_POLICY OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}):

    jq '$config_filter' \\
        share/configs/mrsnet-nano.json > $out/mrsnet-nano-demo.json
    bin/rrsis-synth -o $out/data \\
        $synth_args -q
    bin/rrsis-train -c $out/mrsnet-nano-demo.json \\
        --train $out/data/train.jsonl --val $out/data/val.jsonl -o $out/run \\
        $train_args

then run/best.safetensors ($best of $updates) was
scored on the held-out test split through tokenize | encode | fuse | decode
and rrsis-score --protocol both --resolution native.  Seeds: scenes
$(seed "$synth_args"), training $(seed "$train_args").

Time on $(nproc) CPUs ($cpu), no GPU: $t_all s in all

    scenes     $t_synth s
    training   $t_train s ($images images, $(echo "$images $t_train" | awk '{ printf "%.1f", $1 / $2 }') images/s)
    scoring    $t_score s

Stored in F32: $(stat -c %s "$model" | awk '{ printf "%.1f", $1 / 1e6 }') MB.

Scores on the $(jq .samples "$sc") test samples (scores.json holds rrsis-score's JSON):

    gres:  gIoU $(g .gres.all.giou)  cIoU $(g .gres.all.ciou)  N-acc $(g .gres.all.nacc)  T-acc $(g .gres.all.tacc)  P@0.5 $(g .gres.all.p50)
    rmsin: oIoU $(g .rmsin.all.oiou)  mIoU $(g .rmsin.all.miou)  P@0.5 $(g .rmsin.all.p50)
    by type (gres gIoU): single $(g .gres.by.type.single.giou), multi $(g .gres.by.type.multi.giou), none $(g .gres.by.type.none.giou) ($(jq .gres.all.tp "$sc") of $(jq .gres.all.no_target "$sc"))

Validation during training (gIoU / cIoU / N-acc after each epoch):
$(jq -r 'select(.type == "val") | "\(.giou) \(.ciou) \(.nacc)"' "$log" |
        awk '{ printf "%s%.1f/%.1f/%.1f", (NR > 1 ? ", " : ""), $1, $2, $3 }' | fold -s -w 78 | sed 's/ $//').

The targets set for this model on the test split: gIoU >= 60, cIoU >= 70,
N-acc >= 70 (stretch: 80, 85, 90).

EOF
    cat tools/demo-model-history.txt
}

if [ "${1:-}" = --readme ]; then
    readme
    exit 0
fi

rm -rf "$out"
mkdir -p "$out"
start=$(date +%s)
jq "$config_filter" share/configs/mrsnet-nano.json >"$out/mrsnet-nano-demo.json"
# shellcheck disable=SC2086 # the argument lists split on spaces
bin/rrsis-synth -o "$out/data" $synth_args -q
synthed=$(date +%s)
# shellcheck disable=SC2086
bin/rrsis-train -c "$out/mrsnet-nano-demo.json" --train "$out/data/train.jsonl" \
    --val "$out/data/val.jsonl" -o "$out/run" $train_args
trained=$(date +%s)
bin/rrsis-tokenize --queries "$out/data/test.jsonl" \
    | bin/rrsis-encode -m "$model" | bin/rrsis-fuse -m "$model" \
    | bin/rrsis-decode -m "$model" --outdir "$out/masks" >"$out/results.jsonl"
bin/rrsis-score --gt "$out/data/test.jsonl" --pred "$out/masks" --protocol both --resolution native \
    --format json >"$out/scores.json"
bin/rrsis-score --gt "$out/data/test.jsonl" --pred "$out/masks" --protocol both --resolution native
scored=$(date +%s)
printf 'synth %d\ntrain %d\nscore %d\n' $((synthed - start)) $((trained - synthed)) $((scored - trained)) \
    >"$out/times"
cp "$model" share/models/mrsnet-nano-synth.safetensors
cp "$out/scores.json" share/models/scores.json
readme >share/models/README
echo "demo-model: trained in $((trained - start)) s, scored in $((scored - trained)) s" >&2
