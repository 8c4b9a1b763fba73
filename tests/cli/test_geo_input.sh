#!/bin/sh
# Geospatial scenes on the input side (rrsis-encode, libcore/io/raster.h):
# GeoTIFF, COG, VRT and JPEG 2000 read through GDAL with their CRS and
# geotransform in the records' metadata; 16-bit data scaled to 8 bits (the
# 2-98 percentiles checked against numpy's), NoData in the valid tensor,
# --bands, --scale, --gsd; the same reading in rrsis-decode's overlays and
# rrsis-train; tiled mode (windows, order, ids, the context record, the
# memory a scene far larger than a tile takes); rrsis-score on GeoTIFF
# masks and a manifest the RefSegRS importer makes of GeoTIFFs;
# rrsis-synth --preset scene4096; and every bad option or input with
# its one-line message.  The fixtures are made here with gdal_create,
# gdal_translate and numpy.
# Prints "PASS: name" or "FAIL: name: why" per case; exits 1 on any failure.
#   BIN  the programs (default bin)
. tests/cli/lib.sh
M=share/models/mrsnet-nano-synth.safetensors
ENC=$BIN/rrsis-encode
INSPECT=$BIN/rrsis-inspect
"$BIN/rrsis-tokenize" "the red plane" > "$T/tok.st" || fail "tokenize" "failed"

# enc OUT [OPTION]...: encodes the one-sentence stream; status in rc, stderr in $T/err
enc() {
    out=$1
    shift
    "$ENC" -m "$M" "$@" < "$T/tok.st" > "$out" 2> "$T/err"
    rc=$?
}
# expect_error NAME STATUS TEXT: the last run exited STATUS with one line on
# stderr containing TEXT (a usage error, 2: and the line "Try ... --help")
expect_error() {
    if [ "$rc" -eq "$2" ] && [ "$(lines "$T/err")" -eq $(($2 == 2 ? 2 : 1)) ] &&
        head -n 1 "$T/err" | grep -qF -- "$3"; then
        pass "$1"
    else
        fail "$1" "status $rc, wanted $2 and '$3': $(head -c 300 "$T/err")"
    fi
}
# meta STREAM: the metadata of its records, one JSON object a line
meta() { "$INSPECT" "$1" | jq -c .metadata; }

# --- a UTM GeoTIFF with a known transform ----------------------------------------
gdal_create -q -of GTiff -outsize 64 48 -bands 3 -ot Byte -burn 10 -burn 120 -burn 240 -a_srs EPSG:32633 \
    -a_ullr 500000 4000000 500640 3999520 "$T/utm.tif"
enc "$T/utm.st" --image "$T/utm.tif"
if [ $rc -eq 0 ] && meta "$T/utm.st" | jq -e -s 'length == 1 and .[0] as $m
      | $m.geotransform == "500000 10 0 4000000 0 -10"
      and ($m.crs | test("^PROJCS\\[\"WGS 84 / UTM zone 33N\".*AUTHORITY\\[\"EPSG\",\"32633\"\\]\\]$"))
      and $m.bands == "1,2,3" and $m.scale == "none" and $m.scale_min == null and $m.nodata == null
      and $m.width == "64" and $m.height == "48" and $m.scene_width == "64" and $m.scene_height == "48"
      and $m.window == null and $m.role == null and $m.tile == null' > /dev/null; then
    pass "utm_geotiff_metadata"
else
    fail "utm_geotiff_metadata" "status $rc: $(head -c 300 "$T/err") $(meta "$T/utm.st" | head -c 600)"
fi
if "$INSPECT" "$T/utm.st" | jq -e '.tensors.valid == null' > /dev/null; then
    pass "no_nodata_no_valid_tensor"
else
    fail "no_nodata_no_valid_tensor" "$("$INSPECT" "$T/utm.st" | jq -c .tensors)"
fi

# the same pixels as PNG (Pillow's decoder) and as GeoTIFF (GDAL): the same image
gdal_translate -q -of PNG "$T/utm.tif" "$T/utm.png"
enc "$T/png.st" --image "$T/utm.png"
"$PYTHON" - "$T/utm.st" "$T/png.st" <<'EOF' > "$T/cmp" 2>&1 && pass "geotiff_pixels_as_png" || fail "geotiff_pixels_as_png" "$(cat "$T/cmp")"
import sys, numpy as np, rrsis_stream as rs
a = [t["image"] for _, t in rs.read_records(open(sys.argv[1], "rb"))]
b = [(m, t["image"]) for m, t in rs.read_records(open(sys.argv[2], "rb"))]
assert np.array_equal(a[0], b[0][1]), "images differ"
assert "crs" not in b[0][0] and b[0][0]["scale"] == "none", b[0][0]
EOF

# COG, VRT and lossless JPEG 2000 copies: the same image and georeferencing
gdal_translate -q -of COG "$T/utm.tif" "$T/utm.cog.tif"
gdal_translate -q -of VRT "$T/utm.tif" "$T/utm.vrt"
gdal_translate -q -of JP2OpenJPEG -co REVERSIBLE=YES -co QUALITY=100 "$T/utm.tif" "$T/utm.jp2"
for f in cog.tif vrt jp2; do
    enc "$T/$f.st" --image "$T/utm.$f"
    if [ $rc -eq 0 ] && "$PYTHON" - "$T/utm.st" "$T/$f.st" <<'EOF' > "$T/cmp" 2>&1; then
import sys, numpy as np, rrsis_stream as rs
(ma, ta), = rs.read_records(open(sys.argv[1], "rb"))
(mb, tb), = rs.read_records(open(sys.argv[2], "rb"))
assert np.array_equal(ta["image"], tb["image"]), "images differ"
for k in ("geotransform", "bands", "scale", "scene_width", "scene_height"):
    assert ma[k] == mb[k], (k, ma[k], mb[k])
assert "UTM zone 33N" in mb["crs"], mb["crs"]
EOF
        pass "format_${f%.tif}"
    else
        fail "format_${f%.tif}" "status $rc: $(head -c 300 "$T/err") $(cat "$T/cmp")"
    fi
done

# --- 16 bits, 4 bands, NoData ------------------------------------------------------
# 0..4000 at random, NoData 0: a block of rows in every band and scattered
# pixels in band 2 alone (a pixel is NoData when any band used is)
"$PYTHON" - "$T" <<'EOF' || fail "fixture_16bit" "numpy failed"
import sys, numpy as np
out = sys.argv[1]
rng = np.random.default_rng(5)
a = rng.integers(1, 4001, size=(4, 128, 128), dtype=np.uint16)
a[:, 100:110, :] = 0
a[1, rng.integers(0, 128, 60), rng.integers(0, 128, 60)] = 0
a[3, 5, 5] = 0  # band 4 only: NoData when band 4 is used
a.astype("<u2").tofile(out + "/s16.raw")
open(out + "/s16.hdr", "w").write("ENVI\nsamples = 128\nlines = 128\nbands = 4\nheader offset = 0\n"
                                  "file type = ENVI Standard\ndata type = 12\ninterleave = bsq\nbyte order = 0\n")
np.save(out + "/s16.npy", a)
EOF
gdal_translate -q -of GTiff -a_nodata 0 -a_srs EPSG:32633 -a_ullr 500000 4000000 500384 3999616 \
    "$T/s16.raw" "$T/s16.tif"
# check16 STREAM BANDS SCALE: the records' images, valid tensor and scale
# metadata against numpy (SCALE: "pct", or "MIN,MAX" for --scale)
check16() {
    "$PYTHON" - "$T/s16.npy" "$M" "$@" <<'EOF'
import json, struct, sys, numpy as np, rrsis_stream as rs
a = np.load(sys.argv[1]).astype(np.float64)
with open(sys.argv[2], "rb") as f:
    n = struct.unpack("<Q", f.read(8))[0]
    cfg = json.loads(json.loads(f.read(n))["__metadata__"]["config"])
bands = [int(b) for b in sys.argv[4].split(",")]
(m, t), = rs.read_records(open(sys.argv[3], "rb"))
x = a[[b - 1 for b in bands]]
valid = np.all(x != 0, axis=0)
if sys.argv[5] == "pct":
    lo = [np.percentile(x[k][valid], 2) for k in range(len(bands))]
    hi = [np.percentile(x[k][valid], 98) for k in range(len(bands))]
    assert m["scale"] == "percentile 2 98", m["scale"]
else:
    lo = [float(sys.argv[5].split(",")[0])] * len(bands)
    hi = [float(sys.argv[5].split(",")[1])] * len(bands)
    assert m["scale"] == "fixed", m["scale"]
got_lo = [float(v) for v in m["scale_min"].split(",")]
got_hi = [float(v) for v in m["scale_max"].split(",")]
assert np.allclose(got_lo, lo, rtol=1e-12, atol=0) and np.allclose(got_hi, hi, rtol=1e-12, atol=0), (got_lo, lo, got_hi, hi)
assert m["bands"] == sys.argv[4] and m["nodata"] == "0", (m["bands"], m.get("nodata"))
want = np.stack([np.clip(np.floor((x[k] - got_lo[k]) / (got_hi[k] - got_lo[k]) * 255 + 0.5), 0, 255)
                 for k in range(len(bands))])
want[:, ~valid] = 0
if len(bands) == 1:
    want = np.repeat(want, 3, axis=0)
mean = np.array(cfg["pixel_mean"], np.float64)[:, None, None]
std = np.array(cfg["pixel_std"], np.float64)[:, None, None]
got = np.rint((t["image"].astype(np.float64) * std + mean) * 255)
assert got.shape == (3, 128, 128), got.shape
bad = np.argwhere(got != want)
assert len(bad) == 0, "%d pixels differ, first %s: %s vs %s" % (len(bad), bad[0], got[tuple(bad[0])], want[tuple(bad[0])])
assert t["valid"].dtype == np.uint8 and t["valid"].shape == (128, 128), (t["valid"].dtype, t["valid"].shape)
assert np.array_equal(t["valid"], valid.astype(np.uint8)), "valid tensor differs"
EOF
}
enc "$T/s16.st" --image "$T/s16.tif"
if [ $rc -eq 0 ] && check16 "$T/s16.st" 1,2,3 pct > "$T/cmp" 2>&1; then
    pass "uint16_percentile_default_bands"
else
    fail "uint16_percentile_default_bands" "status $rc: $(head -c 300 "$T/err") $(tail -n 3 "$T/cmp")"
fi
enc "$T/s16b.st" --image "$T/s16.tif" --bands 4,3,2
if [ $rc -eq 0 ] && check16 "$T/s16b.st" 4,3,2 pct > "$T/cmp" 2>&1; then
    pass "uint16_bands_432"
else
    fail "uint16_bands_432" "status $rc: $(head -c 300 "$T/err") $(tail -n 3 "$T/cmp")"
fi
enc "$T/s16g.st" --image "$T/s16.tif" --bands 2
if [ $rc -eq 0 ] && check16 "$T/s16g.st" 2 pct > "$T/cmp" 2>&1; then
    pass "uint16_one_band_gray"
else
    fail "uint16_one_band_gray" "status $rc: $(head -c 300 "$T/err") $(tail -n 3 "$T/cmp")"
fi
enc "$T/s16f.st" --image "$T/s16.tif" --scale 0,4000
if [ $rc -eq 0 ] && check16 "$T/s16f.st" 1,2,3 0,4000 > "$T/cmp" 2>&1; then
    pass "uint16_fixed_scale"
else
    fail "uint16_fixed_scale" "status $rc: $(head -c 300 "$T/err") $(tail -n 3 "$T/cmp")"
fi

# the overlay reads the GeoTIFF as encode did (the record's bands and scale):
# the same overlay as that of a PNG of the 8-bit image encode made
"$PYTHON" - "$T/s16b.st" "$M" "$T/s16b.png" <<'EOF' || fail "fixture_overlay" "numpy failed"
import json, struct, sys, numpy as np, rrsis_stream as rs
from PIL import Image
with open(sys.argv[2], "rb") as f:
    n = struct.unpack("<Q", f.read(8))[0]
    cfg = json.loads(json.loads(f.read(n))["__metadata__"]["config"])
(m, t), = rs.read_records(open(sys.argv[1], "rb"))
mean = np.array(cfg["pixel_mean"], np.float64)[:, None, None]
std = np.array(cfg["pixel_std"], np.float64)[:, None, None]
v8 = np.rint((t["image"].astype(np.float64) * std + mean) * 255).astype(np.uint8)
Image.fromarray(v8.transpose(1, 2, 0)).save(sys.argv[3])
EOF
for f in s16.tif:"--bands 4,3,2" s16b.png:""; do
    "$ENC" -m "$M" --image "$T/${f%%:*}" ${f#*:} < "$T/tok.st" | "$BIN/rrsis-fuse" -m "$M" |
        "$BIN/rrsis-decode" -m "$M" --overlay "$T/ov" > /dev/null 2> "$T/err" || fail "overlay_${f%%:*}" "$(cat "$T/err")"
done
id=$(meta "$T/s16b.st" | jq -r .id)
if cmp -s "$T/ov/$id.png" "$T/ov/s16b-${id#s16-}.png"; then
    pass "overlay_reads_as_encoded"
else
    fail "overlay_reads_as_encoded" "$(ls "$T/ov")"
fi

# --- rrsis-train reads the GeoTIFF as encode does: one step on the 16-bit
# scene with --bands 4,3,2 has the loss of one step on the PNG of encode's
# 8-bit image
"$PYTHON" - "$T" <<'EOF' || fail "fixture_train" "python failed"
import json, sys, numpy as np
from PIL import Image
d = sys.argv[1]
m = np.zeros((128, 128), np.uint8)
m[20:60, 30:90] = 255
Image.fromarray(m).save(d + "/trmask.png")
for name, image in (("geo", "s16.tif"), ("png", "s16b.png")):
    with open("%s/tr_%s.jsonl" % (d, name), "w") as f:
        f.write(json.dumps({"id": "a", "split": "train", "image": image, "width": 128, "height": 128,
                            "sentence": "the red plane", "lang": "en", "type": "single", "category": "airplane",
                            "mask": {"png": "trmask.png"}}) + "\n")
EOF
for r in geo:"--bands 4,3,2" png:""; do
    man=$T/tr_${r%%:*}.jsonl
    "$BIN/rrsis-train" -c share/configs/mrsnet-nano.json --train "$man" --val "$man" --batch 1 --epochs 1 \
        --max-steps 1 --ckpt-every 0 --threads 1 ${r#*:} -o "$T/run_${r%%:*}" > /dev/null 2> "$T/err_${r%%:*}"
done
loss() { jq -r 'select(.type == "step") | .loss' "$T/run_$1/log.jsonl" 2>/dev/null; }
if [ -n "$(loss geo)" ] && [ "$(loss geo)" = "$(loss png)" ]; then
    pass "train_reads_geotiff"
else
    fail "train_reads_geotiff" "loss $(loss geo) vs $(loss png): $(head -c 300 "$T/err_geo")"
fi
"$BIN/rrsis-train" -c share/configs/mrsnet-nano.json --train "$T/tr_geo.jsonl" --val "$T/tr_geo.jsonl" --batch 1 \
    --bands 9 --max-steps 1 -o "$T/run_bad" > /dev/null 2> "$T/err"
rc=$?
if [ $rc -eq 1 ] && grep -qF "s16.tif: --bands names band 9; the raster has 4 bands" "$T/err"; then
    pass "train_band_out_of_range"
else
    fail "train_band_out_of_range" "status $rc: $(head -c 300 "$T/err")"
fi

# --- tiled mode ------------------------------------------------------------------
# 128x128 in tiles of 48 overlapping by 8: starts 0 40 80, the last moved back to 80
enc "$T/tiles.st" --image "$T/s16.tif" --tile 48 --overlap 8 --context
if [ $rc -eq 0 ] && meta "$T/tiles.st" | jq -e -s --argjson whole "$(meta "$T/s16.st")" '
      length == 10 and .[0].role == "context" and .[0].window == "0 0 128 128"
      and .[0].id == ($whole.id + "-ctx") and .[0].width == "128" and .[0].height == "128"
      and ([.[1:][] | .window] == ["0 0 48 48","40 0 48 48","80 0 48 48","0 40 48 48","40 40 48 48",
                                   "80 40 48 48","0 80 48 48","40 80 48 48","80 80 48 48"])
      and ([.[1:][] | .id] == [range(1; 10) | "\($whole.id)-t\(.)"])
      and ([.[1:][] | .tile] == [range(1; 10) | tostring]) and all(.[1:][]; .tiles == "9" and .role == "tile"
           and .width == "48" and .height == "48")
      and all(.[]; .scale_min == $whole.scale_min and .scale_max == $whole.scale_max
              and .geotransform == $whole.geotransform and .scene_width == "128" and .sentence == $whole.sentence)' \
      > /dev/null; then
    pass "tile_windows_order_ids"
else
    fail "tile_windows_order_ids" "status $rc: $(head -c 300 "$T/err") $(meta "$T/tiles.st" | jq -c '{id,role,window}' | head -c 900)"
fi
# a tile holds the pixels of its window: band by band, the same as the
# window cut out with gdal_translate and encoded alone with the scene's
# percentiles as a fixed --scale (on a copy without NoData, where one band
# alone is valid where three are); and its valid tensor is the window's
python_valid='
import sys, numpy as np, rrsis_stream as rs
m, t = list(rs.read_records(open(sys.argv[1], "rb")))[6]
assert m["window"] == "80 40 48 48", m["window"]
a = np.load(sys.argv[2])[:3, 40:88, 80:128]
assert np.array_equal(t["valid"], np.all(a != 0, axis=0).astype(np.uint8)), "valid differs"'
"$PYTHON" -c "$python_valid" "$T/tiles.st" "$T/s16.npy" > "$T/cmp" 2>&1 && pass "tile_valid" || fail "tile_valid" "$(cat "$T/cmp")"
gdal_translate -q -a_nodata none "$T/s16.tif" "$T/s16n.tif"
enc "$T/tilesn.st" --image "$T/s16n.tif" --tile 48 --overlap 8
lo=$(meta "$T/tilesn.st" | head -n 1 | jq -r '.scale_min')
hi=$(meta "$T/tilesn.st" | head -n 1 | jq -r '.scale_max')
gdal_translate -q -srcwin 80 40 48 48 "$T/s16n.tif" "$T/win.tif"
for k in 1 2 3; do
    enc "$T/win$k.st" --image "$T/win.tif" --bands $k --scale "$(echo "$lo" | cut -d, -f$k),$(echo "$hi" | cut -d, -f$k)"
done
"$PYTHON" - "$T/tilesn.st" "$T/win1.st" "$T/win2.st" "$T/win3.st" <<'EOF2' > "$T/cmp" 2>&1 && pass "tile_pixels" || fail "tile_pixels" "$(cat "$T/cmp")"
import sys, numpy as np, rrsis_stream as rs
m, t = list(rs.read_records(open(sys.argv[1], "rb")))[5]
assert m["window"] == "80 40 48 48" and "valid" not in t, (m["window"], list(t))
for k in range(3):
    (mw, tw), = rs.read_records(open(sys.argv[2 + k], "rb"))
    assert mw["geotransform"] == "500240 3 0 3999880 0 -3", mw["geotransform"]
    # a gray record repeats its band in each channel, normalised per channel
    assert np.array_equal(t["image"][k], tw["image"][k]), "band %d differs" % (k + 1)
EOF2

# several sentences on one image through a pipe: the scene is read once
"$BIN/rrsis-tokenize" "the red plane" "all ships" > "$T/tok2.st"
cat "$T/utm.png" | "$ENC" -m "$M" --image /dev/fd/3 --tile 32 3<&0 < "$T/tok2.st" > "$T/pipe.st" 2> "$T/err"
rc=$?
if [ $rc -eq 0 ] && [ "$("$INSPECT" -c "$T/pipe.st")" = 8 ] &&
    meta "$T/pipe.st" | jq -e -s '[.[].sentence] | unique == ["all ships", "the red plane"]' > /dev/null; then
    pass "tiles_pipe_two_sentences"
else
    fail "tiles_pipe_two_sentences" "status $rc: $(head -c 300 "$T/err")"
fi

# --- --gsd: the scene resampled, the transform following -------------------------
enc "$T/gsd.st" --image "$T/utm.tif" --gsd 20
if [ $rc -eq 0 ] && meta "$T/gsd.st" | jq -e '.geotransform == "500000 20 0 4000000 0 -20"
      and .scene_width == "32" and .scene_height == "24" and .width == "32" and .height == "24"' > /dev/null; then
    pass "gsd_transform"
else
    fail "gsd_transform" "status $rc: $(head -c 300 "$T/err") $(meta "$T/gsd.st" | jq -c '{geotransform,scene_width,width}')"
fi
enc "$T/gsdt.st" --image "$T/utm.tif" --gsd 5 --tile 64
if [ $rc -eq 0 ] && meta "$T/gsdt.st" | jq -e -s 'length == 4 and .[0].scene_width == "128" and .[0].scene_height == "96"
      and .[0].geotransform == "500000 5 0 4000000 0 -5" and .[3].window == "64 32 64 64"' > /dev/null; then
    pass "gsd_tiles"
else
    fail "gsd_tiles" "status $rc: $(head -c 300 "$T/err") $(meta "$T/gsdt.st" | jq -c '{window,scene_width}')"
fi

# --- bad options and inputs: one line each ---------------------------------------
printf 'not an image at all\n' > "$T/text.tif"
enc /dev/null --image "$T/s16.tif" --bands 3,x
expect_error "bands_malformed" 2 "rrsis-encode: --bands: '3,x' is not one band number or three separated by commas"
enc /dev/null --image "$T/s16.tif" --bands 1,2
expect_error "bands_two" 2 "--bands: '1,2' is not one band number or three"
enc /dev/null --image "$T/s16.tif" --bands 0,1,2
expect_error "bands_zero" 2 "--bands: '0,1,2' is not one band number"
enc /dev/null --image "$T/s16.tif" --bands 5,3,2
expect_error "band_out_of_range" 1 "s16.tif: --bands names band 5; the raster has 4 bands"
enc /dev/null --image "$T/utm.png" --bands 4
expect_error "band_out_of_range_png" 1 "utm.png: --bands names band 4; the image has 3 bands"
enc /dev/null --image "$T/s16.tif" --scale 4000
expect_error "scale_one_number" 2 "--scale: '4000' is not MIN,MAX (two numbers, MIN below MAX)"
enc /dev/null --image "$T/s16.tif" --scale 4000,10
expect_error "scale_reversed" 2 "--scale: '4000,10' is not MIN,MAX"
enc /dev/null --image "$T/s16.tif" --scale 0,4000x
expect_error "scale_trailing" 2 "--scale: '0,4000x' is not MIN,MAX"
enc /dev/null --image "$T/text.tif"
expect_error "not_a_raster" 1 "text.tif: not an image (PNG, JPEG, or a raster GDAL reads"
enc /dev/null --image "$T/s16.tif" --tile 32 --overlap 32
expect_error "overlap_not_below_tile" 2 "--overlap 32: must be less than --tile 32"
enc /dev/null --image "$T/s16.tif" --context
expect_error "context_without_tile" 2 "--context needs --tile"
enc /dev/null --image "$T/s16.tif" --overlap 4
expect_error "overlap_without_tile" 2 "--overlap needs --tile"
enc /dev/null --image "$T/utm.png" --gsd 2
expect_error "gsd_without_georeferencing" 1 "utm.png: --gsd needs a north-up geotransform"
gdal_translate -q -a_srs EPSG:4326 -a_ullr 10 50 10.1 49.9 "$T/utm.tif" "$T/ll.tif"
enc /dev/null --image "$T/ll.tif" --gsd 2
expect_error "gsd_geographic_crs" 1 "ll.tif: --gsd needs a projected CRS in metres"
enc /dev/null --image "$T/s16.tif" --tile 64 --max-pixels 4000
expect_error "tile_over_pixel_limit" 1 "image of 64x64 pixels (12288 bytes decoded) is over the limit of 4000 pixels"

# --- rrsis-score: GeoTIFF masks, ground truth and predictions ------------------
# The truth a 16-bit GeoTIFF of 0 and 1 (tiled, DEFLATE); the predictions
# an 8-bit 0/255 GeoTIFF, and a float one of 0 and 1 with NoData (background);
# the counts against numpy's
mkdir -p "$T/sc/pred"
"$PYTHON" - "$T/sc" <<'EOF' || fail "fixture_masks" "numpy failed"
import json, sys, numpy as np
d = sys.argv[1]
rng = np.random.default_rng(9)
gt = np.zeros((150, 200), np.uint16)
gt[30:90, 40:160] = 1
p1 = np.zeros((150, 200), np.uint8)
p1[40:100, 50:170] = 255
p2 = (rng.random((150, 200)) < 0.3).astype(np.float32)
p2[:20, :] = -9999  # NoData
for name, a, dt in (("gt", gt, 12), ("p1", p1, 1), ("p2", p2, 4)):
    a.astype(a.dtype.newbyteorder("<")).tofile("%s/%s.raw" % (d, name))
    open("%s/%s.hdr" % (d, name), "w").write("ENVI\nsamples = 200\nlines = 150\nbands = 1\nheader offset = 0\n"
                                             "file type = ENVI Standard\ndata type = %d\ninterleave = bsq\n"
                                             "byte order = 0\n" % dt)
fg2 = p2 == 1
want = {}
for id_, fg in (("a", p1 > 127), ("b", fg2)):
    g = gt == 1
    want[id_] = [int((fg & g).sum()), int((fg | g).sum())]
json.dump(want, open(d + "/want.json", "w"))
with open(d + "/gt.jsonl", "w") as f:
    for id_ in ("a", "b"):
        f.write(json.dumps({"id": id_, "split": "test", "lang": "en", "category": "field", "image": "img.png", "width": 200, "height": 150, "sentence": "the field",
                            "type": "single", "mask": {"png": "gt.tif"}}) + "\n")
EOF
gdal_translate -q -of PNG -b 1 -b 1 -b 1 -ot Byte "$T/sc/p1.raw" "$T/sc/img.png"
gdal_translate -q -co TILED=YES -co BLOCKXSIZE=64 -co BLOCKYSIZE=64 -co COMPRESS=DEFLATE -a_srs EPSG:32633 \
    -a_ullr 500000 4000000 502000 3998500 "$T/sc/gt.raw" "$T/sc/gt.tif"
gdal_translate -q -co COMPRESS=DEFLATE "$T/sc/p1.raw" "$T/sc/pred/a.tif"
gdal_translate -q -a_nodata -9999 "$T/sc/p2.raw" "$T/sc/pred/b.tiff"
"$BIN/rrsis-score" --gt "$T/sc/gt.jsonl" --pred "$T/sc/pred" --resolution native --per-sample - > "$T/ps" 2> "$T/err"
rc=$?
if [ $rc -eq 0 ] && jq -e -s --slurpfile w "$T/sc/want.json" \
    'length == 2 and all(.[]; [.i, .u] == $w[0][.id])' "$T/ps" > /dev/null; then
    pass "score_geotiff_masks"
else
    fail "score_geotiff_masks" "status $rc: $(head -c 300 "$T/err") $(cat "$T/ps") want $(cat "$T/sc/want.json")"
fi
cp "$T/sc/img.png" "$T/sc/pred/a.png"
"$BIN/rrsis-score" --gt "$T/sc/gt.jsonl" --pred "$T/sc/pred" --resolution native > /dev/null 2> "$T/err"
rc=$?
expect_error "score_two_predictions" 1 "a.png and .tif: two predictions of one sample"

# the importer takes GeoTIFF images and masks (their headers only), and the
# manifest it writes scores and encodes: a mini RefSegRS of one 16-bit scene
mkdir -p "$T/rs/images" "$T/rs/masks"
printf '7 the field\n' > "$T/rs/output_phrase_test.txt"
cp "$T/sc/gt.tif" "$T/rs/masks/7.tif"
gdal_create -q -of GTiff -outsize 200 150 -bands 3 -ot UInt16 -burn 300 -burn 900 -burn 2000 -co TILED=YES \
    -co COMPRESS=DEFLATE -a_srs EPSG:32633 -a_ullr 500000 4000000 502000 3998500 "$T/rs/images/7.tif"
"$PYTHON" tools/import_refsegrs.py --root "$T/rs" -o "$T/rs/m/" 2> "$T/err"
mkdir -p "$T/rs/self"
cp "$T/rs/masks/7.tif" "$T/rs/self/test-7-0.tif"
"$BIN/rrsis-score" --check "$T/rs/m/test.jsonl" > "$T/out" 2>> "$T/err" &&
    "$BIN/rrsis-score" --gt "$T/rs/m/test.jsonl" --pred "$T/rs/self" --resolution native --format json > "$T/out" 2>> "$T/err" &&
    "$BIN/rrsis-tokenize" --queries "$T/rs/m/test.jsonl" | "$ENC" -m "$M" > "$T/rs.st" 2>> "$T/err"
rc=$?
if [ $rc -eq 0 ] && jq -e '.rmsin.all.oiou == 100 and .rmsin.all.cum_u == 7200' "$T/out" > /dev/null &&
    meta "$T/rs.st" | jq -e '.width == "200" and .geotransform == "500000 10 0 4000000 0 -10"' > /dev/null; then
    pass "importer_geotiff"
else
    fail "importer_geotiff" "status $rc: $(head -c 300 "$T/err") $(head -c 300 "$T/out")"
fi

# --- rrsis-synth --preset scene4096: large scenes, small objects ------------------
"$BIN/rrsis-synth" --preset scene4096 -n 4 --seed 3 -q -o "$T/s4k" 2> "$T/err"
rc=$?
"$PYTHON" - "$T/s4k" <<'EOF' > "$T/cmp" 2>&1
import json, sys, numpy as np
from PIL import Image
d = sys.argv[1]
rows = [json.loads(l) for l in open(d + "/test.jsonl")]
assert len(rows) == 4 and len({r["image"] for r in rows}) == 1, rows
assert Image.open(d + "/" + rows[0]["image"]).size == (4096, 4096)
singles = 0
for r in rows:
    assert (r["width"], r["height"]) == (4096, 4096), r
    if r["type"] != "single":
        continue
    m = np.array(Image.open(d + "/" + r["mask"]["png"])) > 0
    ys, xs = np.nonzero(m)
    # one object of 128's scale: a plane at most 34 pixels long, drawn at any heading
    assert 0 < xs.max() - xs.min() < 50 and 0 < ys.max() - ys.min() < 50, (r["sentence"], xs.min(), xs.max())
    singles += 1
assert singles, "no single-target sample"
EOF
if [ $rc -eq 0 ] && [ -s "$T/s4k/test.jsonl" ] && [ ! -s "$T/cmp" ] && "$BIN/rrsis-score" --check "$T/s4k/test.jsonl" > /dev/null 2>&1; then
    pass "synth_scene4096"
else
    fail "synth_scene4096" "status $rc: $(head -c 300 "$T/err") $(tail -n 3 "$T/cmp")"
fi
"$BIN/rrsis-synth" --preset scene4096 --size 512 -n 1 -o "$T/s4kb" > /dev/null 2> "$T/err"
rc=$?
expect_error "synth_scene4096_with_size" 2 "--preset scene4096 goes without --size"

# --- a scene far larger than memory needs, read a tile at a time ------------------
# 20000x20000 RGB (1.2 GB decoded; sparse, a few KB on disk) in tiles of 2000:
# allowed by a pixel limit of one tile, and its peak memory within 250 MB of
# that of encoding the 64x48 image (the program and model alone)
gdal_create -q -of GTiff -outsize 20000 20000 -bands 3 -ot Byte -co TILED=YES -co SPARSE_OK=TRUE \
    -a_srs EPSG:32633 -a_ullr 500000 4000000 700000 3800000 "$T/big.tif"
/usr/bin/time -f %M -o "$T/rss0" "$ENC" -m "$M" --image "$T/utm.tif" < "$T/tok.st" > /dev/null 2> "$T/err"
/usr/bin/time -f %M -o "$T/rss" "$ENC" -m "$M" --image "$T/big.tif" --tile 2000 --max-pixels 4000000 \
    < "$T/tok.st" 2> "$T/err" | "$INSPECT" -c > "$T/count"
rss0=$(tail -n 1 "$T/rss0")
rss=$(tail -n 1 "$T/rss")
if [ "$(cat "$T/count")" = 100 ] && [ $((rss - rss0)) -lt 250000 ]; then
    pass "large_scene_bounded_memory"
else
    fail "large_scene_bounded_memory" "records $(cat "$T/count"), peak RSS ${rss} KB (${rss0} KB for 64x48): $(head -c 300 "$T/err")"
fi
echo "peak RSS: ${rss} KB encoding 20000x20000 in 100 tiles, ${rss0} KB encoding 64x48" >&2
# the whole scene at once is refused under the same limit
enc /dev/null --image "$T/big.tif" --max-pixels 4000000
expect_error "large_scene_whole_refused" 1 "image of 20000x20000 pixels (1200000000 bytes decoded) is over the limit of 4000000"

finish
