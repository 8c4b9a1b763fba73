#!/bin/sh
# rrsis-decode's geospatial outputs: GeoTIFF masks (CRS, geotransform,
# NoData), polygons (--vector: pixels, areas, the mask again when they are
# rasterised, EPSG:4326), tiled scenes stitched from overlapping tiles,
# the gated mode, their errors, and the memory of a tall scene (a band of
# rows, not the scene).  The fused records come from the golden mrsnet-nano
# weights (foreground bias lowered) on small made-up images; the tile
# metadata is what rrsis-encode --tile writes, added here with
# tools/rrsis_stream.py.  Expected values are computed here from the
# decoder's own logits (--logits) and from GDAL's tools.
. tests/cli/lib.sh
TOK=$BIN/rrsis-tokenize
ENC=$BIN/rrsis-encode
FUSE=$BIN/rrsis-fuse
DEC=$BIN/rrsis-decode
W=$T/w.safetensors
unset RRSIS_MODEL
require gdalinfo gdal_translate gdal_rasterize ogr2ogr jq

# The weights, a 400 x 300 scene, its 12 tiles of 128 x 128 (overlap 32:
# columns 0 96 192 272, rows 0 96 172), the same scene in 12 tiles of
# 100 x 100 without overlap, and a GeoTIFF of the scene in UTM 31N (10 m
# pixels) whose CRS and geotransform the records carry.
"$PYTHON" - "$T" <<'EOF' || { echo "FAIL: setup: cannot write the inputs"; exit 1; }
import json, sys
import numpy as np
from PIL import Image
import rrsis_stream as rs
t = sys.argv[1]
meta, w = next(rs.read_records(open("tests/golden/mrsnet-nano/weights.safetensors", "rb")))
w["classifier.conv1_1.bias"] = w["classifier.conv1_1.bias"].copy()
w["classifier.conv1_1.bias"][1] -= 0.27
with open(t + "/w.safetensors", "wb") as f:
    rs.write_record(f, meta, w)
rng = np.random.default_rng(7)
y, x = np.mgrid[0:300, 0:400]
img = np.stack([(x * 3 + y) % 200, (y * 2) % 180, (x + y) % 150], -1).astype(np.uint8)
img[100:150, 100:200] = [230, 60, 50]
img[200:260, 280:330] = [40, 200, 60]
img = np.clip(img + rng.integers(0, 20, img.shape), 0, 255).astype(np.uint8)
Image.fromarray(img).save(t + "/scene.png")
def windows(size, step, tile):
    p = list(range(0, size - tile, step)) + [size - tile]
    return sorted(set(p))
tiles = {"ov": [(x, y, 128, 128) for y in windows(300, 96, 128) for x in windows(400, 96, 128)],
         "nv": [(x, y, 100, 100) for y in range(0, 300, 100) for x in range(0, 400, 100)]}
with open(t + "/q.jsonl", "w") as q:
    q.write(json.dumps({"id": "whole", "sentence": "the red building", "image": "scene.png"}) + "\n")
    q.write(json.dumps({"id": "sc-ctx", "sentence": "the red building", "image": "scene.png"}) + "\n")
    for name, ws in tiles.items():
        for k, (x0, y0, tw, th) in enumerate(ws):
            Image.fromarray(img[y0:y0 + th, x0:x0 + tw]).save(f"{t}/{name}{k + 1}.png")
            q.write(json.dumps({"id": f"{name}-t{k + 1}", "sentence": "the red building",
                                "image": f"{name}{k + 1}.png"}) + "\n")
json.dump(tiles, open(t + "/tiles.json", "w"))
EOF
gdal_translate -q -a_srs EPSG:32631 -a_ullr 500000 4500000 504000 4497000 "$T/scene.png" "$T/scene.tif" &&
    gdalinfo -json "$T/scene.tif" > "$T/scene.json" &&
    "$TOK" --queries "$T/q.jsonl" | "$ENC" -m "$W" | "$FUSE" -m "$W" > "$T/fused.st" ||
    { echo "FAIL: setup: the pipeline"; exit 1; }

# Streams cut from the fused records, with the metadata of encode:
#   whole.st   the scene as one image, georeferenced
#   nodata.st  the same with a NoData mask (its 60 leftmost columns)
#   ov.st      the 12 overlapping tiles of the scene "sc"
#   nv.st      the 12 tiles without overlap
#   gated.st   the context record, then ov's tiles
#   ovplain.st ov's tiles as plain images (no tile metadata)
"$PYTHON" - "$T" <<'EOF' || { echo "FAIL: setup: cannot write the streams"; exit 1; }
import json, sys
import numpy as np
import rrsis_stream as rs
t = sys.argv[1]
info = json.load(open(t + "/scene.json"))
geo = {"crs": info["coordinateSystem"]["wkt"], "geotransform": " ".join("%.17g" % v for v in info["geoTransform"]),
       "scene_width": "400", "scene_height": "300"}
tiles = json.load(open(t + "/tiles.json"))
recs = {m["id"]: (dict(m), dict(a)) for m, a in rs.read_records(open(t + "/fused.st", "rb"))}
def write(name, records):
    with open(f"{t}/{name}.st", "wb") as f:
        for m, a in records:
            rs.write_record(f, m, a)
        rs.write_end(f, len(records))
def whole(extra={}, tensors={}):
    m, a = recs["whole"]
    return {**m, **geo, **extra}, {**a, **tensors}
def tiled(name, scene="sc"):
    out = []
    for k, (x, y, w, h) in enumerate(tiles[name]):
        m, a = recs[f"{name}-t{k + 1}"]
        m = {**m, **geo, "id": f"{scene}-t{k + 1}", "window": f"{x} {y} {w} {h}", "tile": str(k + 1),
             "tiles": str(len(tiles[name])), "role": "tile"}
        out.append((m, a))
    return out
valid = np.ones((300, 400), np.uint8)
valid[:, :60] = 0
write("whole", [whole()])
write("nodata", [whole({"nodata": "0"}, {"valid": valid})])
write("ov", tiled("ov"))
write("nv", tiled("nv"))
ctx_m, ctx_a = recs["sc-ctx"]
write("gated", [({**ctx_m, **geo, "role": "context"}, ctx_a)] + tiled("ov"))
write("ovplain", [recs[f"ov-t{k + 1}"] for k in range(12)])
write("nvplain", [recs[f"nv-t{k + 1}"] for k in range(12)])
write("both", [whole()] + tiled("ov"))
EOF
[ -s "$T/both.st" ] || { echo "FAIL: setup: no streams"; exit 1; }

# values MASK: the pixel values of a mask file (GeoTIFF or PNG) as a .npy
values() { "$PYTHON" -c 'import sys, numpy as np; from PIL import Image; np.save(sys.argv[2], np.array(Image.open(sys.argv[1])))' "$1" "$2"; }

# --- GeoTIFF masks -------------------------------------------------------------------
if "$DEC" -m "$W" -o "$T/g/m.tif" "$T/whole.st" > "$T/g.out" 2> "$T/g.err" &&
    gdalinfo -json "$T/g/m.tif" > "$T/g.json" &&
    jq -e --slurpfile s "$T/scene.json" '
        .driverShortName == "GTiff" and .geoTransform == $s[0].geoTransform
        and .coordinateSystem.wkt == $s[0].coordinateSystem.wkt
        and .size == [400, 300] and .bands[0].block == [256, 256] and .bands[0].type == "Byte"
        and .metadata.IMAGE_STRUCTURE.COMPRESSION == "DEFLATE"' "$T/g.json" > /dev/null; then
    pass "gtiff_crs_transform_exact"
else
    fail "gtiff_crs_transform_exact" "$(cat "$T/g.err") $(head -c 300 "$T/g.json")"
fi
"$DEC" -m "$W" -o "$T/g/m.png" "$T/whole.st" > "$T/p.out" 2> "$T/p.err"
values "$T/g/m.tif" "$T/gt.npy" && values "$T/g/m.png" "$T/png.npy"
if "$PYTHON" -c '
import sys, json, numpy as np
a, b = np.load(sys.argv[1]), np.load(sys.argv[2])
r = json.loads(open(sys.argv[3]).read())
assert a.shape == (300, 400) and (a == b).all() and set(np.unique(a)) <= {0, 255}
assert r["area"] == int((a == 255).sum()) > 0 and r["mask"].endswith("m.tif")' "$T/gt.npy" "$T/png.npy" "$T/g.out"; then
    pass "gtiff_same_pixels_as_png"
else
    fail "gtiff_same_pixels_as_png" "$(cat "$T/p.err")"
fi
# --outdir: PNG unless --mask-format says gtiff
if "$DEC" -m "$W" --outdir "$T/od" --mask-format gtiff "$T/whole.st" > "$T/od.out" 2> "$T/od.err" &&
    [ -f "$T/od/whole.tif" ] && jq -e --arg p "$T/od/whole.tif" '.mask == $p' "$T/od.out" > /dev/null &&
    "$DEC" -m "$W" --outdir "$T/od" "$T/whole.st" > /dev/null 2>> "$T/od.err" && [ -f "$T/od/whole.png" ] &&
    "$DEC" -m "$W" -o "$T/od/x.tiff" --mask-format png "$T/whole.st" > /dev/null 2>> "$T/od.err" &&
    [ "$(head -c 4 "$T/od/x.tiff" | od -An -c | tr -d ' ')" = '211PNG' ]; then
    pass "mask_format_choice"
else
    fail "mask_format_choice" "$(cat "$T/od.err")"
fi

# NoData: never foreground, and the GeoTIFF's mask band says where it is
if "$DEC" -m "$W" -o "$T/nd.tif" "$T/nodata.st" > /dev/null 2> "$T/nd.err" &&
    gdalinfo -json "$T/nd.tif" | jq -e '.bands[0].mask.flags == ["PER_DATASET"]' > /dev/null &&
    gdal_translate -q -b mask "$T/nd.tif" "$T/ndmask.tif" && values "$T/nd.tif" "$T/nd.npy" &&
    values "$T/ndmask.tif" "$T/ndm.npy" &&
    "$PYTHON" -c '
import sys, numpy as np
m, k, g = np.load(sys.argv[1]), np.load(sys.argv[2]), np.load(sys.argv[3])
assert (m[:, :60] == 0).all() and (m[:, 60:] == g[:, 60:]).all() and (g[:, :60] == 255).any()
assert (k[:, :60] == 0).all() and (k[:, 60:] == 255).all()' "$T/nd.npy" "$T/ndm.npy" "$T/gt.npy"; then
    pass "nodata_never_foreground"
else
    fail "nodata_never_foreground" "$(cat "$T/nd.err")"
fi

# --- polygons ------------------------------------------------------------------------
# GeoPackage in the scene's CRS: the pixels add up to the mask's area, each
# area_m2 is pixels x 100 m2 and so is the polygon's own area; rasterised
# again, the polygons are the mask
if "$DEC" -m "$W" -o "$T/v.tif" --vector "$T/v.gpkg" "$T/whole.st" > "$T/v.out" 2> "$T/v.err" &&
    ogr2ogr -f GeoJSON "$T/v.geojson" "$T/v.gpkg" 2>> "$T/v.err" &&
    "$PYTHON" -c '
import sys, json
fc, r = json.load(open(sys.argv[1])), json.loads(open(sys.argv[2]).read())
def ring_area(c):
    return abs(sum(c[i][0] * c[i + 1][1] - c[i + 1][0] * c[i][1] for i in range(len(c) - 1))) / 2
assert len(fc["features"]) > 1
total = 0
for f in fc["features"]:
    p, g = f["properties"], f["geometry"]
    rings = g["coordinates"]
    area = ring_area(rings[0]) - sum(ring_area(h) for h in rings[1:])
    assert p["id"] == "whole" and p["sentence"] == "the red building", p
    assert p["area_m2"] == p["pixels"] * 100 and area == p["pixels"] * 100, (p, area)
    assert 0.5 < p["mean_prob"] <= 1, p
    total += p["pixels"]
assert total == r["area"], (total, r["area"])' "$T/v.geojson" "$T/v.out"; then
    pass "polygon_areas"
else
    fail "polygon_areas" "$(cat "$T/v.err")"
fi
if gdal_rasterize -q -burn 255 -init 0 -ot Byte -te 500000 4497000 504000 4500000 -tr 10 10 "$T/v.gpkg" "$T/r.tif" \
    2> "$T/r.err" && values "$T/r.tif" "$T/r.npy" &&
    "$PYTHON" -c 'import sys, numpy as np; assert (np.load(sys.argv[1]) == np.load(sys.argv[2])).all()' \
        "$T/r.npy" "$T/gt.npy"; then
    pass "polygons_rasterise_to_the_mask"
else
    fail "polygons_rasterise_to_the_mask" "$(cat "$T/r.err")"
fi
# GeoJSON: EPSG:4326, longitude first; reprojected back to UTM it is the
# GeoPackage's geometry (to a centimetre: RFC 7946's 7 decimals)
if "$DEC" -m "$W" --vector "$T/v4.geojson" "$T/whole.st" > /dev/null 2> "$T/v4.err" &&
    ogr2ogr -f GeoJSON -t_srs EPSG:32631 "$T/back.geojson" "$T/v4.geojson" 2>> "$T/v4.err" &&
    "$PYTHON" -c '
import sys, json
a, b, c = (json.load(open(p)) for p in sys.argv[1:4])
assert "crs" not in a, a.get("crs")
assert all(2.9 < x < 3.1 and 40.5 < y < 40.7 for f in a["features"] for x, y in f["geometry"]["coordinates"][0])
for f, g in zip(b["features"], c["features"]):
    assert f["properties"] == g["properties"]
    for r, s in zip(f["geometry"]["coordinates"], g["geometry"]["coordinates"]):
        # RFC 7946 keeps 7 decimals of a degree: a centimetre
        near = lambda ring: sorted((round(x, 1), round(y, 1)) for x, y in ring[:-1])
        assert near(r) == near(s), (r[:3], s[:3])' \
        "$T/v4.geojson" "$T/back.geojson" "$T/v.geojson"; then
    pass "geojson_wgs84_lon_lat"
else
    fail "geojson_wgs84_lon_lat" "$(cat "$T/v4.err")"
fi
# --simplify: fewer vertices, the same pixels; several records, one layer;
# Shapefile
if "$DEC" -m "$W" --vector "$T/s.gpkg" --simplify 15 "$T/whole.st" > /dev/null 2> "$T/s.err" &&
    ogr2ogr -f GeoJSON "$T/s.geojson" "$T/s.gpkg" &&
    "$PYTHON" -c '
import sys, json
a, b = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
n = lambda fc: sum(len(r) for f in fc["features"] for r in f["geometry"]["coordinates"])
assert [f["properties"] for f in a["features"]] == [f["properties"] for f in b["features"]]
assert n(a) < n(b), (n(a), n(b))' "$T/s.geojson" "$T/v.geojson"; then
    pass "simplify"
else
    fail "simplify" "$(cat "$T/s.err")"
fi
if "$DEC" -m "$W" --vector "$T/two.shp" "$T/both.st" > "$T/two.out" 2> "$T/two.err" &&
    ogr2ogr -f GeoJSON "$T/two.geojson" "$T/two.shp" &&
    jq -e --slurpfile r "$T/two.out" '[.features[].properties.id] | unique == ["sc", "whole"]
        and ([$r[] | .area] | add) > 0' "$T/two.geojson" > /dev/null; then
    pass "vector_one_layer_several_records"
else
    fail "vector_one_layer_several_records" "$(cat "$T/two.err")"
fi

# --- tiled scenes --------------------------------------------------------------------
# the tiles' own logits (unstitched); the stitched mask: where every tile
# over a pixel agrees, that; elsewhere the ramp-weighted mean of their
# margins (computed here in float64), where it is not within 1e-4 of 0
if "$DEC" -m "$W" --logits "$T/ov.st" > "$T/ovlog.st" 2> "$T/st.err" &&
    "$DEC" -m "$W" -o "$T/st.tif" "$T/ov.st" > "$T/st.out" 2>> "$T/st.err" && values "$T/st.tif" "$T/st.npy" &&
    "$PYTHON" - "$T" <<'EOF'; then pass "stitch_blend"; else fail "stitch_blend" "$(cat "$T/st.err")"; fi
import sys, json
import numpy as np
import rrsis_stream as rs
t = sys.argv[1]
got = np.load(t + "/st.npy") == 255
num, den = np.zeros((300, 400)), np.zeros((300, 400))
fg, bg = np.zeros((300, 400), bool), np.zeros((300, 400), bool)
for m, a in rs.read_records(open(t + "/ovlog.st", "rb")):
    x, y, w, h = map(int, m["window"].split())
    d = a["logits"][1].astype(np.float64) - a["logits"][0]
    wt = np.minimum(np.arange(h) + 1, h - np.arange(h))[:, None] * np.minimum(np.arange(w) + 1, w - np.arange(w))[None]
    num[y:y + h, x:x + w] += wt * d
    den[y:y + h, x:x + w] += wt
    fg[y:y + h, x:x + w] |= d > 0
    bg[y:y + h, x:x + w] |= d <= 0
blend = num / den
agree = fg ^ bg
assert (got[agree] == fg[agree]).all()
sure = np.abs(blend) > 1e-4
assert (got[sure] == (blend > 0)[sure]).all()
assert (~agree).sum() > 100, (~agree).sum()  # the overlaps do disagree somewhere
r = json.loads(open(t + "/st.out").read())
assert r["id"] == "sc" and r["tiles"] == 12 and [r["width"], r["height"]] == [400, 300] and r["area"] == got.sum()
EOF
# without overlap: exactly the tiles' own masks, side by side
if "$DEC" -m "$W" -o "$T/nv.png" "$T/nv.st" > /dev/null 2> "$T/nv.err" &&
    "$DEC" -m "$W" --outdir "$T/nvm" "$T/nvplain.st" > /dev/null 2>> "$T/nv.err" &&
    "$PYTHON" - "$T" <<'EOF'; then pass "stitch_no_overlap_is_the_tiles"; else fail "stitch_no_overlap_is_the_tiles" "$(cat "$T/nv.err")"; fi
import sys, json
import numpy as np
from PIL import Image
t = sys.argv[1]
got = np.array(Image.open(t + "/nv.png"))
want = np.zeros((300, 400), np.uint8)
for k, (x, y, w, h) in enumerate(json.load(open(t + "/tiles.json"))["nv"]):
    want[y:y + h, x:x + w] = np.array(Image.open(f"{t}/nvm/nv-t{k + 1}.png"))
assert (got == want).all() and want.any() and not want.all()
EOF
# the stitched GeoTIFF has the scene's grid
if gdalinfo -json "$T/st.tif" | jq -e --slurpfile s "$T/scene.json" \
    '.geoTransform == $s[0].geoTransform and .coordinateSystem.wkt == $s[0].coordinateSystem.wkt' > /dev/null; then
    pass "stitch_georeferenced"
else
    fail "stitch_georeferenced" "$(gdalinfo "$T/st.tif" 2>&1 | head -5)"
fi

# the gated mode: the tiled mask where the context's probability (its S x S
# logits), dilated by one of its pixels and upsampled (corners aligned), is
# >= 0.5
if "$DEC" -m "$W" --logits "$T/gated.st" > "$T/gatelog.st" 2> "$T/ga.err" &&
    "$DEC" -m "$W" -o "$T/ga.png" "$T/gated.st" > "$T/ga.out" 2>> "$T/ga.err" &&
    "$PYTHON" - "$T" <<'EOF'; then pass "gated_mode"; else fail "gated_mode" "$(cat "$T/ga.err")"; fi
import sys, json
import numpy as np
from PIL import Image
import rrsis_stream as rs
t = sys.argv[1]
got = np.array(Image.open(t + "/ga.png")) == 255
tiled = np.load(t + "/st.npy") == 255
m, a = next(rs.read_records(open(t + "/gatelog.st", "rb")))
assert m["role"] == "context"
lg = a["logits"].astype(np.float64)
s = lg.shape[1]
p = 1 / (1 + np.exp(lg[0] - lg[1]))
pad = np.pad(p, 1)
dil = np.max([pad[1 + dy:1 + dy + s, 1 + dx:1 + dx + s] for dy in (-1, 0, 1) for dx in (-1, 0, 1)], axis=0)
fy, fx = np.arange(300) * (s - 1) / 299, np.arange(400) * (s - 1) / 399
y0, x0 = np.floor(fy).astype(int), np.floor(fx).astype(int)
y1, x1 = np.minimum(y0 + 1, s - 1), np.minimum(x0 + 1, s - 1)
ay, ax = (fy - y0)[:, None], (fx - x0)[None]
top = dil[y0][:, x0] * (1 - ax) + dil[y0][:, x1] * ax
bottom = dil[y1][:, x0] * (1 - ax) + dil[y1][:, x1] * ax
gate = top * (1 - ay) + bottom * ay
sure = np.abs(gate - 0.5) > 1e-5
want = tiled & (gate >= 0.5)
assert (got[sure] == want[sure]).all()
assert (got <= tiled).all() and got.sum() < tiled.sum() and got.any(), (got.sum(), tiled.sum())
r = json.loads(open(t + "/ga.out").read())
assert r["id"] == "sc" and r["tiles"] == 12 and r["area"] == got.sum()
EOF

# --- errors --------------------------------------------------------------------------
# expect_error NAME STATUS PATTERN: the last command's status ($st) and its
# message in $T/err
expect_error() {
    if [ "$st" -eq "$2" ] && [ "$(lines "$T/err")" -le 2 ] && grep -q -- "$3" "$T/err"; then
        pass "$1"
    else
        fail "$1" "exit $st, stderr: $(head -c 300 "$T/err")"
    fi
}
"$PYTHON" - "$T" <<'EOF'
import sys
import rrsis_stream as rs
t = sys.argv[1]
recs = list(rs.read_records(open(t + "/ov.st", "rb")))
def write(name, records):
    with open(f"{t}/{name}.st", "wb") as f:
        for m, a in records:
            rs.write_record(f, m, a)
        rs.write_end(f, len(records))
write("missing", recs[:5])
write("swapped", [recs[0], recs[2], recs[1]] + recs[3:])
order = [dict(m) for m, a in recs[:6]]
order[5]["window"] = "0 0 128 128"  # tile 6 above tile 5's row
write("order", [(m, a) for m, (_, a) in zip(order, recs[:6])] + recs[6:])
out = dict(recs[0][0])
out["window"] = "300 0 128 128"
write("outside", [(out, recs[0][1])] + recs[1:])
g = list(rs.read_records(open(t + "/gated.st", "rb")))
write("ctxonly", g[:1])
write("nocrs", [({k: v for k, v in m.items() if k != "crs"}, a) for m, a in rs.read_records(open(t + "/whole.st", "rb"))])
EOF
"$DEC" -m "$W" -o "$T/e.tif" "$T/missing.st" > /dev/null 2> "$T/err"; st=$?
expect_error "tiles_missing" 1 "the stream ended after tile 5 of 12 of 'sc'"
[ ! -e "$T/e.tif" ] && pass "tiles_missing_leaves_no_mask" || fail "tiles_missing_leaves_no_mask" "$T/e.tif is there"
"$DEC" -m "$W" -o "$T/e.tif" "$T/swapped.st" > /dev/null 2> "$T/err"; st=$?
expect_error "tiles_swapped" 1 "record 2 (id 'sc-t3'): tile 3 of 12, where tile 2 of 12 of 'sc' was due"
"$DEC" -m "$W" -o "$T/e.tif" "$T/order.st" > /dev/null 2> "$T/err"; st=$?
expect_error "tiles_out_of_raster_order" 1 "record 6 (id 'sc-t6'): a tile at row 0 after one at row 96"
"$DEC" -m "$W" -o "$T/e.tif" "$T/outside.st" > /dev/null 2> "$T/err"; st=$?
expect_error "tile_outside_scene" 1 "the window 300 0 128 128 is not inside the scene of 400x300"
"$DEC" -m "$W" -o "$T/e.tif" "$T/ctxonly.st" > /dev/null 2> "$T/err"; st=$?
expect_error "context_without_tiles" 1 "the context record of 'sc', without its tiles"
"$DEC" -m "$W" --overlay "$T/ov" "$T/ov.st" > /dev/null 2> "$T/err"; st=$?
expect_error "tiles_no_overlay" 1 "tiled scenes have no --overlay"
"$DEC" -m "$W" --vector "$T/e.geojson" "$T/nocrs.st" > /dev/null 2> "$T/err"; st=$?
expect_error "geojson_needs_a_crs" 1 "the scene has no CRS.*--vector-crs native"
"$DEC" -m "$W" --vector "$T/e.geojson" --vector-crs native "$T/nocrs.st" > /dev/null 2> "$T/err"; st=$?
[ "$st" -eq 0 ] && jq -e '.features | length > 0' "$T/e.geojson" > /dev/null &&
    pass "geojson_native_without_crs" || fail "geojson_native_without_crs" "exit $st: $(cat "$T/err")"
"$DEC" -m "$W" -o - --mask-format gtiff "$T/whole.st" > /dev/null 2> "$T/err"; st=$?
expect_error "gtiff_not_to_stdout" 2 "a GeoTIFF cannot go to standard output"
"$DEC" -m "$W" --vector "$T/e.kml" "$T/whole.st" > /dev/null 2> "$T/err"; st=$?
expect_error "vector_format_by_name" 2 "does not end in .geojson, .gpkg or .shp"
"$DEC" -m "$W" --mask-format jpeg "$T/whole.st" > /dev/null 2> "$T/err"; st=$?
expect_error "mask_format_values" 2 "'jpeg' is not png or gtiff"
"$DEC" -m "$W" --simplify 3 "$T/whole.st" > /dev/null 2> "$T/err"; st=$?
expect_error "simplify_needs_vector" 2 "--simplify without --vector"
"$DEC" -m "$W" -o "$T/e.tif" "$T/both.st" > /dev/null 2> "$T/err"; st=$?
expect_error "output_one_scene" 1 "record 2 (id 'sc-t1'): a second sample"

# --- memory: a band of rows, not the scene ---------------------------------------------
# A sparse scene: the same tile (its fused record) over 512 x 1024 and
# 512 x 16384 pixels, 128-pixel tiles overlapping by 32, NoData (its
# "valid" all 0) but in the first and the last row of tiles, to a GeoTIFF
# and a GeoPackage (the tall scene's polygons go through a temporary
# GeoTIFF, the short one's through memory): the tall scene's peak RSS
# exceeds the short one's by less than half its mask (4 MB), where holding
# the scene's mask would take 8 MB, its polygons' rasters 42 MB and its
# blending sums 75 MB.
"$PYTHON" - "$T" <<'EOF'
import sys
import numpy as np
import rrsis_stream as rs
t = sys.argv[1]
m, a = next(rs.read_records(open(t + "/ov.st", "rb")))
nodata = {**a, "valid": np.zeros((128, 128), np.uint8)}
for name, height in (("short", 1024), ("tall", 16384)):
    ys = list(range(0, height - 128, 96)) + [height - 128]
    xs = list(range(0, 512 - 128, 96)) + [512 - 128]
    wins = [(x, y) for y in ys for x in xs]
    with open(f"{t}/{name}.st", "wb") as f:
        for k, (x, y) in enumerate(wins):
            rs.write_record(f, {**m, "id": f"{name}-t{k + 1}", "window": f"{x} {y} 128 128", "tile": str(k + 1),
                                "tiles": str(len(wins)), "scene_width": "512", "scene_height": str(height),
                                "nodata": "0"}, a if y in (0, height - 128) else nodata)
        rs.write_end(f, len(wins))
EOF
peak() { # the peak RSS in kB of rrsis-decode on $T/$1.st
    "$PYTHON" -c '
import resource, subprocess, sys
subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)' "$DEC" -m "$W" -o "$T/$1.tif" --vector "$T/$1.gpkg" "$T/$1.st"
}
if short=$(peak short 2> "$T/mem.err") && tall=$(peak tall 2>> "$T/mem.err") &&
    [ "$(gdalinfo -json "$T/tall.tif" | jq -c .size)" = "[512,16384]" ] &&
    [ "$(ogrinfo -so -al "$T/tall.gpkg" | grep -c 'Feature Count: [1-9]')" = 1 ]; then
    if [ $((tall - short)) -lt 4096 ]; then
        pass "memory_a_band_of_rows"
    else
        fail "memory_a_band_of_rows" "peak RSS ${short} kB (512x1024), ${tall} kB (512x16384)"
    fi
else
    fail "memory_a_band_of_rows" "$(cat "$T/mem.err")"
fi

finish
