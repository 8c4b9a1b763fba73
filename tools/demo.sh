#!/bin/sh
# make demo: synthetic scenes, segmented by the demo model through the
# pipeline tokenize | encode | fuse | decode, then scored.  A stage that is
# not built, or a missing model, is named instead of run.
set -u
model=share/models/mrsnet-nano-synth.safetensors
missing=""
for p in rrsis-synth rrsis-tokenize rrsis-encode rrsis-fuse rrsis-decode rrsis-score; do
    [ -x "bin/$p" ] || missing="$missing $p"
done
[ -f "$model" ] || missing="$missing $model (make demo-model trains it)"
if [ -n "$missing" ]; then
    echo "make demo: not built yet:$missing" >&2
    exit 1
fi
out=${DEMO_OUT:-build/demo}
rm -rf "$out"
set -e
# Scenes like the demo model's training data (the easy preset with objects
# twice the standard length, as in tools/demo-model.sh), from a seed it
# never saw; single-target, multi-target and no-target sentences.
bin/rrsis-synth --preset easy --object-scale 2 --seed 2026 -n 60 -o "$out/data" -q
bin/rrsis-tokenize --queries "$out/data/test.jsonl" \
    | bin/rrsis-encode -m "$model" | bin/rrsis-fuse -m "$model" \
    | bin/rrsis-decode -m "$model" --outdir "$out/masks" --overlay "$out/overlays" >"$out/results.jsonl"
bin/rrsis-score --gt "$out/data/test.jsonl" --pred "$out/masks" --resolution native
echo "make demo: masks in $out/masks, overlays in $out/overlays, one JSON line per sample in $out/results.jsonl" >&2
