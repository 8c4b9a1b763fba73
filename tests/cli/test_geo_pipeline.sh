#!/bin/sh
# A georeferenced scene end to end: a 16-bit, 4-band GeoTIFF with NoData,
# in UTM, through rrsis-encode (--bands, tiles with overlap; the gated mode
# with --context), rrsis-fuse and rrsis-decode to a GeoTIFF mask and a
# GeoPackage: the mask has the scene's size, CRS and geotransform exactly,
# NoData is never foreground and is the mask's NoData, the polygons' areas
# are their pixels times the pixel's area, and rasterised again they are
# the mask.  Weights: the golden mrsnet-nano's, foreground bias lowered.
. tests/cli/lib.sh
W=$T/w.safetensors
unset RRSIS_MODEL
require gdalinfo gdal_translate gdal_rasterize ogr2ogr jq
"$PYTHON" - "$T" <<'EOF' || { echo "FAIL: setup: cannot write the inputs"; exit 1; }
import sys
import numpy as np
import rrsis_stream as rs
t = sys.argv[1]
meta, w = next(rs.read_records(open("tests/golden/mrsnet-nano/weights.safetensors", "rb")))
w["classifier.conv1_1.bias"] = w["classifier.conv1_1.bias"].copy()
w["classifier.conv1_1.bias"][1] -= 0.27
with open(t + "/w.safetensors", "wb") as f:
    rs.write_record(f, meta, w)
# 4 bands (blue, green, red, near infrared) of 12-bit data in 16 bits,
# NoData (0) in the top-left corner
rng = np.random.default_rng(3)
y, x = np.mgrid[0:384, 0:512]
bands = np.stack([(x * 7 + y * 3) % 1500 + 300, (y * 5) % 1800 + 200, (x + y) % 1600 + 400, (x * y) % 2000 + 100])
bands[:, 120:180, 150:300] = np.array([500, 700, 3900, 2500])[:, None, None]
bands[:, 250:330, 350:420] = np.array([600, 3500, 800, 3000])[:, None, None]
bands = bands + rng.integers(0, 50, bands.shape)
bands[:, :40, :90] = 0
bands.astype("<u2").tofile(t + "/s16.bin")
open(t + "/s16.hdr", "w").write("ENVI\nsamples = 512\nlines = 384\nbands = 4\nheader offset = 0\n"
                                "file type = ENVI Standard\ndata type = 12\ninterleave = bsq\nbyte order = 0\n")
EOF
gdal_translate -q -of GTiff -a_nodata 0 -a_srs EPSG:32633 -a_ullr 600000 5000000 601536 4998848 \
    "$T/s16.bin" "$T/scene.tif" && gdalinfo -json "$T/scene.tif" > "$T/scene.json" ||
    { echo "FAIL: setup: the GeoTIFF"; exit 1; }

# run NAME ENCODE-OPTIONS...: the scene through the pipeline to NAME.tif and
# NAME.gpkg, the JSON line in NAME.out, the messages in NAME.err
run() {
    name=$1
    shift
    "$BIN/rrsis-tokenize" "the red building" 2> "$T/$name.err" |
        "$BIN/rrsis-encode" -m "$W" --image "$T/scene.tif" --bands 3,2,1 "$@" 2>> "$T/$name.err" |
        "$BIN/rrsis-fuse" -m "$W" 2>> "$T/$name.err" |
        "$BIN/rrsis-decode" -m "$W" -o "$T/$name.tif" --vector "$T/$name.gpkg" > "$T/$name.out" 2>> "$T/$name.err"
}
# check NAME: the mask and polygons of run NAME
check() {
    gdalinfo -json "$T/$1.tif" > "$T/$1.json" &&
        jq -e --slurpfile s "$T/scene.json" '.geoTransform == $s[0].geoTransform
            and .coordinateSystem.wkt == $s[0].coordinateSystem.wkt and .size == [512, 384]
            and .bands[0].mask.flags == ["PER_DATASET"]' "$T/$1.json" > /dev/null &&
        gdal_translate -q -b mask "$T/$1.tif" "$T/$1.nodata.tif" &&
        gdal_rasterize -q -burn 255 -init 0 -ot Byte -te 600000 4998848 601536 5000000 -tr 3 3 \
            "$T/$1.gpkg" "$T/$1.raster.tif" &&
        ogr2ogr -f GeoJSON "$T/$1.geojson" "$T/$1.gpkg" &&
        "$PYTHON" - "$T" "$1" <<'EOF'
import sys, json
import numpy as np
from PIL import Image
t, name = sys.argv[1:]
mask = np.array(Image.open(f"{t}/{name}.tif"))
nodata = np.array(Image.open(f"{t}/{name}.nodata.tif"))
again = np.array(Image.open(f"{t}/{name}.raster.tif"))
r = json.loads(open(f"{t}/{name}.out").read())
fc = json.load(open(f"{t}/{name}.geojson"))
assert (nodata[:40, :90] == 0).all() and nodata.sum() == 255 * (384 * 512 - 40 * 90), "the NoData mask"
assert (mask[:40, :90] == 0).all() and set(np.unique(mask)) <= {0, 255}
assert r["area"] == (mask == 255).sum() > 0 and [r["width"], r["height"]] == [512, 384], r
assert (again == mask).all(), "rasterised polygons differ from the mask"
assert sum(f["properties"]["pixels"] for f in fc["features"]) == r["area"]
assert all(f["properties"]["area_m2"] == f["properties"]["pixels"] * 9 for f in fc["features"])
EOF
}
if run tiled --tile 128 --overlap 32 && check tiled && jq -e '.id | endswith("-t1") | not' "$T/tiled.out" > /dev/null &&
    jq -e '.tiles == 20' "$T/tiled.out" > /dev/null; then
    pass "geotiff_16bit_tiled_to_gtiff_and_gpkg"
else
    fail "geotiff_16bit_tiled_to_gtiff_and_gpkg" "$(cat "$T/tiled.err") $(cat "$T/tiled.out")"
fi
if run gated --tile 128 --overlap 32 --context && check gated &&
    "$PYTHON" -c '
import sys, numpy as np
from PIL import Image
a, b = (np.array(Image.open(p)) for p in sys.argv[1:])
assert (a <= b).all()' "$T/gated.tif" "$T/tiled.tif"; then
    pass "geotiff_16bit_gated"
else
    fail "geotiff_16bit_gated" "$(cat "$T/gated.err") $(cat "$T/gated.out")"
fi
if run whole && check whole; then
    pass "geotiff_16bit_whole"
else
    fail "geotiff_16bit_whole" "$(cat "$T/whole.err") $(cat "$T/whole.out")"
fi
finish
