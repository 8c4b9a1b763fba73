#!/bin/sh
# The three scene modes of rrsis-decode side by side on large synthetic
# scenes, scored by rrsis-score, each sentence type apart (the README's
# table).  A scene is a 3 x 3 mosaic of 128-pixel rrsis-synth scenes (easy
# preset, objects twice the standard length: what the demo model was
# trained on), 384 x 384 pixels; its samples are the sentences of two of
# its cells, whose ground truth is that cell's mask in place (the rest of
# the scene empty).  The objects keep the demo model's size, as in a large
# scene at its native resolution; the other cells hold look-alikes that
# the sentence does not mean.
#   whole  the scene shrunk to the model's 128 x 128 (objects 3 times smaller)
#   tiled  128-pixel tiles overlapping by 32, stitched
#   gated  the same tiles, gated by the whole scene's prediction (--context)
#   gated-loose  the same with a looser gate (--gate-threshold 0.2
#          --gate-dilate 3)
# Usage: sh bench/scene-modes.sh [MODEL [WORKDIR]]; prints Markdown.
set -eu
M=${1:-share/models/mrsnet-nano-synth.safetensors}
W=${2:-build/scene-modes}
PYTHON=${PYTHON:-/usr/bin/python3}
rm -rf "$W"
mkdir -p "$W"
bin/rrsis-synth -q --preset easy --object-scale 2 --seed 404 -n 216 -k 2 -o "$W/cells"
PYTHONPATH=tools "$PYTHON" - "$W" <<'EOF'
import json, sys
import numpy as np
from PIL import Image
w = sys.argv[1]
rows = [json.loads(l) for l in open(w + "/cells/test.jsonl")]
by_image = {}
for r in rows:
    by_image.setdefault(r["image"], []).append(r)
images = sorted(by_image)
rng = np.random.default_rng(404)
out = open(w + "/scenes.jsonl", "w")
for s in range(len(images) // 9):
    cells = images[9 * s:9 * s + 9]
    scene = np.zeros((384, 384, 3), np.uint8)
    for k, name in enumerate(cells):
        y, x = divmod(k, 3)
        scene[128 * y:128 * y + 128, 128 * x:128 * x + 128] = np.array(Image.open(f"{w}/cells/{name}").convert("RGB"))
    Image.fromarray(scene).save(f"{w}/scene{s}.png")
    for k in rng.choice(9, 2, replace=False):
        y, x = divmod(int(k), 3)
        for r in by_image[cells[k]]:
            mask = np.zeros((384, 384), np.uint8)
            if r["mask"]:
                mask[128 * y:128 * y + 128, 128 * x:128 * x + 128] = np.array(Image.open(f"{w}/cells/{r['mask']['png']}"))
            Image.fromarray(mask).save(f"{w}/gt-{r['id']}.png")
            out.write(json.dumps({**r, "id": f"s{s}-{r['id']}", "image": f"scene{s}.png", "width": 384,
                                  "height": 384, "mask": {"png": f"gt-{r['id']}.png"}}) + "\n")
EOF
run() { # MODE DECODE-OPTIONS ENCODE-OPTIONS...
    mode=$1 dec=$2
    shift 2
    bin/rrsis-tokenize --queries "$W/scenes.jsonl" | bin/rrsis-encode -m "$M" "$@" | bin/rrsis-fuse -m "$M" |
        bin/rrsis-decode -m "$M" $dec --outdir "$W/$mode" > /dev/null
    bin/rrsis-score --gt "$W/scenes.jsonl" --pred "$W/$mode" --protocol both --format json > "$W/$mode.json"
}
run whole ""
run tiled "" --tile 128 --overlap 32
run gated "" --tile 128 --overlap 32 --context
run gated-loose "--gate-threshold 0.2 --gate-dilate 3" --tile 128 --overlap 32 --context
echo "| mode | type | samples | mIoU | oIoU | P@0.5 | N-acc | T-acc |"
echo "|---|---|---|---|---|---|---|---|"
for mode in whole tiled gated gated-loose; do
    jq -r --arg m "$mode" '
        def row($t; $r; $g): "| \($m) | \($t) | \($r.samples) | \($r.miou * 10 | round / 10) | \($r.oiou * 10 | round / 10) | \($r.p50 * 10 | round / 10) | \(if $g.nacc == null then "" else $g.nacc * 10 | round / 10 end) | \(if $g.tacc == null then "" else $g.tacc * 10 | round / 10 end) |";
        row("all"; .rmsin.all; .gres.all),
        (.rmsin.by.type | to_entries[] as $e | row($e.key; $e.value; .gres.by.type[$e.key] // {}))' "$W/$mode.json" 2>/dev/null ||
        jq -r --arg m "$mode" '"| \($m) | all | \(.rmsin.all.samples) | \(.rmsin.all.miou) | \(.rmsin.all.oiou) | \(.rmsin.all.p50) | | |"' "$W/$mode.json"
done
