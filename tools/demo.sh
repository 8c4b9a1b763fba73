#!/bin/sh
# make demo: synthetic scenes, segmented by the demo model through the
# pipeline tokenize | encode | fuse | decode, then scored.  Each stage that
# is not built yet is named instead of run.
set -u
model=share/models/mrsnet-nano-synth.safetensors
missing=""
for p in rrsis-synth rrsis-tokenize rrsis-encode rrsis-fuse rrsis-decode rrsis-score; do
    [ -x "bin/$p" ] || missing="$missing $p"
done
[ -f "$model" ] || missing="$missing $model"
if [ -n "$missing" ]; then
    echo "make demo: not built yet:$missing" >&2
    if [ -x bin/rrsis-tokenize ]; then
        echo "make demo: what exists now, the tokenizer:" >&2
        bin/rrsis-tokenize --format text "the white plane on the left" "all cars on the road"
    fi
    exit 0
fi
out=${DEMO_OUT:-demo-out}
mkdir -p "$out"
set -e
bin/rrsis-synth --seed 7 --count 24 -o "$out/data"
bin/rrsis-tokenize --queries "$out/data/test.jsonl" \
    | bin/rrsis-encode -m "$model" | bin/rrsis-fuse -m "$model" \
    | bin/rrsis-decode -m "$model" --outdir "$out/masks" --overlay "$out/overlays" >"$out/results.jsonl"
bin/rrsis-score --gt "$out/data/test.jsonl" --pred "$out/masks" --protocol gres
echo "masks in $out/masks, overlays in $out/overlays" >&2
