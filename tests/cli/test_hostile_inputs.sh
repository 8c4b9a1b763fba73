#!/bin/sh
# Inputs that must neither hang nor fool the programs: devices and folders
# named as files, endless pipes, image headers that claim billions of
# pixels, endless lines, and text that a C string cannot carry (NUL, lone
# surrogates).  Each ends with one clear line and exit status 1, quickly
# and in little memory: every program runs under a 3 GiB address-space
# limit and a timeout, so a bound that does not hold fails here instead of
# filling the machine.
# Prints "PASS: name" or "FAIL: name: why" per case; exits 1 on any failure.
#   BIN     the programs (default bin)
#   PYTHON  a Python 3, to write the crafted images (default /usr/bin/python3)
. tests/cli/lib.sh
TOK=$BIN/rrsis-tokenize
ENC=$BIN/rrsis-encode
SCORE=$BIN/rrsis-score
M=share/models/mrsnet-nano-synth.safetensors
PIL=tests/golden/pil
IMG=$PIL/bilinear_rgb_64x64_64x64.in.png

# bounded CMD...: runs CMD with at most 3 GiB of address space and 60 s.
bounded() { (ulimit -v 3145728 && exec timeout 60 "$@"); }
# expect_error NAME TEXT: the last command ($rc) exited 1 and said one
# line on standard error ($T/err) that contains TEXT.
expect_error() {
    if [ "$rc" -eq 1 ] && [ "$(lines "$T/err")" -eq 1 ] && grep -qF -- "$2" "$T/err"; then
        pass "$1"
    else
        fail "$1" "status $rc, wanted 1 and '$2': $(head -c 300 "$T/err")"
    fi
}
# expect_finding NAME TEXT: rrsis-score --check exited 1 with a finding
# line (on standard output, $T/out) that contains TEXT.
expect_finding() {
    if [ "$rc" -eq 1 ] && grep -qF -- "$2" "$T/out"; then
        pass "$1"
    else
        fail "$1" "status $rc, wanted 1 and '$2': $(head -c 300 "$T/out") $(head -c 300 "$T/err")"
    fi
}

"$TOK" 'the plane on the left' > "$T/tok.st" || fail "tokenize" "no tokens stream"

# --- images: only regular files and pipes --------------------------------------
bounded "$ENC" -m "$M" --image /dev/zero < "$T/tok.st" > /dev/null 2> "$T/err"
rc=$?
expect_error "encode_image_device" "/dev/zero: a character device, not a regular file or a pipe"
bounded "$ENC" -m "$M" --image "$T" < "$T/tok.st" > /dev/null 2> "$T/err"
rc=$?
expect_error "encode_image_directory" "$T: a directory, not a regular file or a pipe"

# a pipe as /dev/fd/N (what a shell's <(cat x.png) names): read, once
cat "$IMG" | bounded "$ENC" -m "$M" --image /dev/fd/3 3<&0 < "$T/tok.st" > "$T/enc.st" 2> "$T/err"
rc=$?
if [ $rc -eq 0 ] && "$BIN/rrsis-inspect" "$T/enc.st" | jq -e '.metadata.image == "/dev/fd/3" and .metadata.width == "64"' > /dev/null; then
    pass "encode_image_pipe"
else
    fail "encode_image_pipe" "status $rc: $(head -c 300 "$T/err")"
fi

# endless pipes: zeros (no image at all), and a valid image followed by
# zeros (read no further than such an image can take)
cat /dev/zero | bounded "$ENC" -m "$M" --image /dev/fd/3 3<&0 < "$T/tok.st" > /dev/null 2> "$T/err"
rc=$?
expect_error "encode_pipe_of_zeros" "/dev/fd/3: not a PNG, JPEG or TIFF image"
(cat "$IMG" /dev/zero) | bounded "$ENC" -m "$M" --image /dev/fd/3 3<&0 < "$T/tok.st" > /dev/null 2> "$T/err"
rc=$?
expect_error "encode_pipe_endless_image" "the most an image of 64x64 pixels may take"

# --- the pixel limit, from the header, before decoding ---------------------------
# A valid 1-bit PNG of 20000x20000 (48 KB; 400 million pixels, 1.2 GB as
# RGB), and a JPEG and a TIFF whose headers claim as much.
"$PYTHON" - "$T" "$PIL/rgb420.jpg" "$PIL/rgb.tif" <<'EOF' || fail "crafted_images" "python failed"
import struct, sys, zlib
out, jpg, tif = sys.argv[1:4]
W = H = 20000
def chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
c = zlib.compressobj(9)
row = b"\0" * (1 + W // 8)
idat = b"".join(c.compress(row) for _ in range(H)) + c.flush()
open(out + "/big.png", "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", W, H, 1, 0, 0, 0, 0))
                                   + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
d = bytearray(open(jpg, "rb").read())
i = 2
while d[i + 1] not in (0xC0, 0xC1, 0xC2):  # to the frame header
    i += 2 + struct.unpack(">H", d[i + 2:i + 4])[0]
d[i + 5:i + 9] = struct.pack(">HH", H, W)
open(out + "/big.jpg", "wb").write(d)
d = bytearray(open(tif, "rb").read())
assert d[:4] == b"II*\0"
ifd = struct.unpack("<I", d[4:8])[0]
for k in range(struct.unpack("<H", d[ifd:ifd + 2])[0]):
    e = ifd + 2 + 12 * k
    tag, typ = struct.unpack("<HH", d[e:e + 4])
    if tag in (256, 257):  # ImageWidth, ImageLength
        d[e + 8:e + 12] = struct.pack("<HH", W, 0) if typ == 3 else struct.pack("<I", W)
open(out + "/big.tif", "wb").write(d)
EOF
for c in png:400000000 jpg:1200000000 tif:1200000000; do
    bounded "$ENC" -m "$M" --image "$T/big.${c%:*}" < "$T/tok.st" > /dev/null 2> "$T/err"
    rc=$?
    expect_error "encode_pixel_limit_${c%:*}" "image of 20000x20000 pixels (${c#*:} bytes decoded) is over the limit of 268435456 pixels (--max-pixels or RRSIS_MAX_PIXELS raises it)"
done
# the same image through an endless pipe: refused at the header
(cat "$T/big.png" /dev/zero) | bounded "$ENC" -m "$M" --image /dev/fd/3 3<&0 < "$T/tok.st" > /dev/null 2> "$T/err"
rc=$?
expect_error "encode_pixel_limit_pipe" "image of 20000x20000 pixels"

# RRSIS_MAX_PIXELS moves the limit both ways; a bad value is an error
RRSIS_MAX_PIXELS=4095 bounded "$ENC" -m "$M" --image "$IMG" < "$T/tok.st" > /dev/null 2> "$T/err"
rc=$?
expect_error "max_pixels_lowered" "image of 64x64 pixels (12288 bytes decoded) is over the limit of 4095 pixels"
RRSIS_MAX_PIXELS=4096 bounded "$ENC" -m "$M" --image "$IMG" < "$T/tok.st" > /dev/null 2> "$T/err"
rc=$?
if [ $rc -eq 0 ] && [ ! -s "$T/err" ]; then pass "max_pixels_exact"; else fail "max_pixels_exact" "status $rc: $(head -c 300 "$T/err")"; fi
RRSIS_MAX_PIXELS=lots bounded "$ENC" -m "$M" --image "$IMG" < "$T/tok.st" > /dev/null 2> "$T/err"
rc=$?
expect_error "max_pixels_invalid" "RRSIS_MAX_PIXELS: 'lots' is not a pixel count from 1 to 1073741824"
# --max-pixels: the same limit as an option, which wins over RRSIS_MAX_PIXELS
bounded "$ENC" -m "$M" --max-pixels 4095 --image "$IMG" < "$T/tok.st" > /dev/null 2> "$T/err"
rc=$?
expect_error "max_pixels_option_lowered" "image of 64x64 pixels (12288 bytes decoded) is over the limit of 4095 pixels"
RRSIS_MAX_PIXELS=100 bounded "$ENC" -m "$M" --max-pixels 4096 --image "$IMG" < "$T/tok.st" > /dev/null 2> "$T/err"
rc=$?
if [ $rc -eq 0 ] && [ ! -s "$T/err" ]; then pass "max_pixels_option_wins"; else fail "max_pixels_option_wins" "status $rc: $(head -c 300 "$T/err")"; fi
for p in encode decode score train; do
    "$BIN/rrsis-$p" --max-pixels 0 < /dev/null > /dev/null 2> "$T/err"
    rc=$?
    if [ $rc -eq 2 ] && grep -q "^rrsis-$p: .*--max-pixels" "$T/err"; then
        pass "max_pixels_option_range_$p"
    else
        fail "max_pixels_option_range_$p" "status $rc: $(head -c 300 "$T/err")"
    fi
done

# --- manifests: their images and masks, their lines, their size -----------------
mkdir -p "$T/d"
cp "$IMG" "$T/d/img.png"
cp "$T/big.png" "$T/d/bigmask.png"
sample() { # IMAGE MASK-JSON [WIDTH HEIGHT [SENTENCE]]
    printf '{"id": "s", "split": "test", "image": "%s", "width": %s, "height": %s, "sentence": "%s", "lang": "en", "type": "single", "category": null, "mask": %s}\n' \
        "$1" "${3:-64}" "${4:-64}" "${5:-the plane}" "$2"
}
sample /dev/zero '{"rle": {"size": [64, 64], "counts": [0, 4096]}}' > "$T/d/image_zero.jsonl"
sample img.png '{"png": "/dev/zero"}' > "$T/d/mask_zero.jsonl"
sample img.png '{"png": "bigmask.png"}' > "$T/d/mask_big.jsonl"
sample img.png '{"rle": {"size": [30000, 30000], "counts": [0, 900000000]}}' 30000 30000 > "$T/d/rle_big.jsonl"
for c in image_zero:"image /dev/zero: a character device, not a regular file or a pipe" \
         mask_zero:"mask /dev/zero: a character device, not a regular file or a pipe" \
         mask_big:"bigmask.png: image of 20000x20000 pixels" \
         rle_big:"rle_big.jsonl:1: 30000x30000 is over the limit of 268435456 pixels an image may have (--max-pixels or RRSIS_MAX_PIXELS raises it)"; do
    name=${c%%:*}
    bounded "$SCORE" --check "$T/d/$name.jsonl" > "$T/out" 2> "$T/err"
    rc=$?
    expect_finding "check_$name" "${c#*:}"
done
bounded "$SCORE" --check /dev/zero > "$T/out" 2> "$T/err"
rc=$?
expect_error "check_manifest_device" "/dev/zero: a character device, not a regular file or a pipe"
# an endless line: the line limit, not the memory, ends it
cat /dev/zero | bounded "$SCORE" --check - > "$T/out" 2> "$T/err"
rc=$?
expect_error "check_manifest_endless_line" "-:1: a line longer than 16 MiB"
# a manifest through a pipe: its relative paths resolve against the working folder
(cd "$T/d" && sample img.png null | sed 's/"single"/"none"/' | bounded "$SCORE" --check /dev/fd/3 3<&0) > "$T/out" 2> "$T/err"
rc=$?
if [ $rc -eq 0 ] && grep -q '1 samples, 0 findings' "$T/out"; then pass "check_manifest_pipe"; else fail "check_manifest_pipe" "status $rc: $(head -c 300 "$T/out")"; fi
bounded "$SCORE" --gt "$T/d/rle_big.jsonl" --pred /dev/zero > /dev/null 2> "$T/err"
rc=$?
expect_error "score_gt_over_limit" "rle_big.jsonl:1: 30000x30000 is over the limit"
sample img.png '{"rle": {"size": [64, 64], "counts": [0, 4096]}}' > "$T/d/ok.jsonl"
bounded "$SCORE" --gt "$T/d/ok.jsonl" --pred /dev/zero > /dev/null 2> "$T/err"
rc=$?
expect_error "score_pred_device" "/dev/zero: a character device, not a regular file or a pipe"
bounded "$BIN/rrsis-train" -c share/configs/mrsnet-nano.json --train "$T/d/image_zero.jsonl" \
    --val "$T/d/image_zero.jsonl" -o "$T/run" > /dev/null 2> "$T/err"
rc=$?
expect_error "train_image_device" "image_zero.jsonl:1: image /dev/zero: a character device"
RRSIS_MAX_PIXELS=1000 bounded "$BIN/rrsis-train" -c share/configs/mrsnet-nano.json --train "$T/d/ok.jsonl" \
    --val "$T/d/ok.jsonl" -o "$T/run" > /dev/null 2> "$T/err"
rc=$?
expect_error "train_max_pixels" "ok.jsonl:1: 64x64 is over the limit of 1000 pixels"
bounded "$BIN/rrsis-score" --max-pixels 1000 --check "$T/d/ok.jsonl" > "$T/out" 2> "$T/err"
rc=$?
if [ $rc -eq 1 ] && grep -qF "64x64 is over the limit of 1000 pixels" "$T/out"; then
    pass "score_max_pixels_option"
else
    fail "score_max_pixels_option" "status $rc: $(head -c 300 "$T/out") $(head -c 300 "$T/err")"
fi

# --- queries and sentences: files, pipes, endless lines ---------------------------
bounded "$TOK" --queries /dev/zero > /dev/null 2> "$T/err"
rc=$?
expect_error "queries_device" "/dev/zero: a character device, not a regular file or a pipe"
bounded "$TOK" --queries "$T" > /dev/null 2> "$T/err"
rc=$?
expect_error "queries_directory" "a directory, not a regular file or a pipe"
cat /dev/zero | bounded "$TOK" --queries /dev/fd/3 3<&0 > /dev/null 2> "$T/err"
rc=$?
expect_error "queries_endless_line" "/dev/fd/3:1: a line longer than 16 MiB"
cat /dev/zero | bounded "$TOK" > /dev/null 2> "$T/err"
rc=$?
expect_error "stdin_endless_line" "<stdin>:1: a line longer than 16 MiB"
# a query file through a pipe: read, relative images against the working folder
printf '{"sentence": "a ship", "image": "x.png"}\n' |
    (cd "$T/d" && bounded "$TOK" --format json --queries /dev/fd/3 3<&0) > "$T/out" 2> "$T/err"
rc=$?
dir=$(cd "$T/d" && pwd)
if [ $rc -eq 0 ] && jq -e --arg d "$dir" '.image == ($d + "/x.png")' "$T/out" > /dev/null; then
    pass "queries_pipe"
else
    fail "queries_pipe" "status $rc: $(head -c 300 "$T/err")"
fi
bounded "$BIN/rrsis-inspect" /dev/zero > /dev/null 2> "$T/err"
rc=$?
expect_error "inspect_device" "/dev/zero: a character device, not a regular file or a pipe"

# --- text a C string cannot carry -----------------------------------------------
# tok_error NAME INPUT TEXT [ARG...]: rrsis-tokenize ARGs with INPUT (printf's
# format: \0 is a NUL byte, \\ a backslash) on standard input fails with TEXT.
tok_error() {
    name=$1 text=$3
    printf "$2" > "$T/in"
    shift 3
    "$TOK" "$@" < "$T/in" > /dev/null 2> "$T/err"
    rc=$?
    expect_error "$name" "$text"
}
# \u0000 in a query's sentence (was cut to "x" silently)
tok_error "queries_escaped_nul" '{"id": 1, "sentence": "x\\u0000y"}\n' \
    "<stdin>:1: \\u0000 (NUL) at byte 25: not a character a sentence may hold" --queries -
# a NUL byte on a stdin line (the metadata kept "the", the ids the whole line)
tok_error "stdin_nul_byte" 'the\0cat\n' "<stdin>:1: NUL byte at byte 4"
tok_error "stdin_nul_byte_line_2" 'a ship\nthe\0cat\n' "<stdin>:2: NUL byte at byte 4" --format text
tok_error "queries_nul_byte" '{"sentence": "x\0y"}\n' "<stdin>:1: NUL byte at byte 16" --queries -
# lone surrogates (were "not a JSON object")
tok_error "queries_lone_high_surrogate" '{"sentence": "x"}\n{"sentence": "x\\ud800y"}\n' \
    "<stdin>:2: lone surrogate \\ud800 at byte 16: not a character a sentence may hold" --queries -
tok_error "queries_lone_low_surrogate" '{"sentence": "\\uDC00"}\n' "<stdin>:1: lone surrogate \\uDC00 at byte 15" \
    --queries -
tok_error "queries_unpaired_high_surrogate" '{"sentence": "\\ud800\\u0041"}\n' \
    "<stdin>:1: lone surrogate \\ud800 at byte 15" --queries -
tok_error "queries_malformed_json" '{"sentence": x}\n' "<stdin>:1: malformed JSON at byte 14" --queries -
# what stays valid: a surrogate pair, an escaped backslash before u0000
printf '{"sentence": "a \\ud83d\\ude80 \\\\u0000"}\n' | "$TOK" --format json --queries - > "$T/out" 2> "$T/err"
rc=$?
if [ $rc -eq 0 ] && jq -e '.sentence == "a 🚀 \\u0000"' "$T/out" > /dev/null; then
    pass "queries_valid_escapes"
else
    fail "queries_valid_escapes" "status $rc: $(head -c 300 "$T/err") $(head -c 300 "$T/out")"
fi
# invalid UTF-8 (a surrogate encoded in UTF-8, an overlong form) in each source
"$TOK" "$(printf 'a\355\240\200b')" > /dev/null 2> "$T/err"
rc=$?
expect_error "argument_invalid_utf8" "argument 1: invalid UTF-8 at byte 2 (--lossy replaces it)"
tok_error "stdin_invalid_utf8" 'ok\n\300\257\n' "<stdin>:2: invalid UTF-8 at byte 1"
tok_error "queries_invalid_utf8" '{"sentence": "\355\240\200"}\n' "<stdin>:1: invalid UTF-8 at byte 15" --queries -
# manifests: the same checks, as findings with a column
sample img.png null 64 64 'x\u0000y' | sed 's/"single"/"none"/' > "$T/d/nul.jsonl"
sample img.png null 64 64 'x\udbff' | sed 's/"single"/"none"/' > "$T/d/surrogate.jsonl"
bounded "$SCORE" --check "$T/d/nul.jsonl" > "$T/out" 2> "$T/err"
rc=$?
expect_finding "manifest_escaped_nul" "nul.jsonl:1: \\u0000 (NUL) at column 91: not a character a string may hold"
bounded "$SCORE" --check "$T/d/surrogate.jsonl" > "$T/out" 2> "$T/err"
rc=$?
expect_finding "manifest_lone_surrogate" "surrogate.jsonl:1: lone surrogate \\udbff at column 91"

finish
