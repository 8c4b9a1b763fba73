#include "image.h"

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jerror.h>
#include <jpeglib.h>
#include <png.h>
#include <tiffio.h>

#include "../error.h"
#include "atomic.h"
#include "reader.h"

/* What a codec hands back before the conversion to the requested mode. */
typedef struct {
    int w, h;
    int ch;      /* 1 gray (or palette indices), 2 gray+alpha, 3 RGB, 4 RGBA */
    uint8_t *px; /* h * w * ch bytes; NULL after a header-only decode */
    int final;   /* a failure that more of the file's bytes cannot change:
                    no image format, or a header over the pixel limit */
} raw_image;

#define CODEC_MSG 200

static int check_size(long w, long h)
{
    if (w <= 0 || h <= 0)
        return rr_error("image has no pixels (%ldx%ld)", w, h);
    if (w > RR_IMAGE_MAX_PIXELS / h) /* w * h may overflow: TIFF sizes are 32-bit */
        return rr_error("image too large (%ldx%ld pixels)", w, h);
    return 0;
}

static long max_pixels_set; /* rr_image_set_max_pixels; 0: not set */

void rr_image_set_max_pixels(long n) { max_pixels_set = n; }

long rr_image_max_pixels(void)
{
    if (max_pixels_set > 0)
        return max_pixels_set;
    const char *v = getenv("RRSIS_MAX_PIXELS");
    if (!v || !*v)
        return RR_IMAGE_DEFAULT_PIXELS;
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || *end || n < 1 || n > RR_IMAGE_MAX_PIXELS)
        return rr_error("RRSIS_MAX_PIXELS: '%s' is not a pixel count from 1 to %ld", v, RR_IMAGE_MAX_PIXELS);
    return n;
}

/* What a codec checks as soon as it has read the header: the pixels the
 * image will take, before one is decoded.  ch: the channels the file
 * stores (for the message). */
static int check_header(raw_image *r, long w, long h, int ch)
{
    long max = rr_image_max_pixels();
    r->final = 1;
    if (max < 0)
        return -1;
    if (w <= 0 || h <= 0)
        return rr_error("image has no pixels (%ldx%ld)", w, h);
    if (w > max / h) /* w * h may overflow: TIFF sizes are 32-bit */
        return rr_error("image of %ldx%ld pixels (%.0f bytes decoded) is over the limit of %ld pixels "
                        "(--max-pixels or RRSIS_MAX_PIXELS raises it)",
                        w, h, (double)w * (double)h * ch, max);
    r->final = 0;
    return 0;
}

/* ---- PNG ----------------------------------------------------------------- */

typedef struct {
    const uint8_t *p;
    size_t n, pos;
    volatile int overrun; /* a read went past the end (read after a longjmp) */
} mem_src;

static void png_read_mem(png_structp png, png_bytep out, size_t len)
{
    mem_src *s = png_get_io_ptr(png);
    if (len > s->n - s->pos) {
        s->overrun = 1;
        png_error(png, "truncated file");
    }
    memcpy(out, s->p + s->pos, len);
    s->pos += len;
}

/* libpng reports errors through longjmp: keep the message, never print. */
static void png_on_error(png_structp png, png_const_charp msg)
{
    snprintf(png_get_error_ptr(png), CODEC_MSG, "%s", msg);
    png_longjmp(png, 1);
}

static void png_on_warning(png_structp png, png_const_charp msg) {}

static int png_decode(const uint8_t *buf, size_t n, int keep_index, int header_only, raw_image *out)
{
    char msg[CODEC_MSG] = "";
    mem_src src = {buf, n, 0, 0};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, msg, png_on_error, png_on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    /* volatile: assigned after setjmp and freed after a longjmp */
    uint8_t *volatile px = NULL;
    png_bytep *volatile rows = NULL;
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return rr_error("PNG: out of memory");
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        free(px);
        free(rows);
        out->final = !src.overrun; /* corrupt, not cut short */
        return rr_error("corrupt or truncated PNG: %s", msg);
    }
    png_set_read_fn(png, &src, png_read_mem);
    png_read_info(png, info);
    png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    int depth = png_get_bit_depth(png, info), type = png_get_color_type(png, info);
    if (check_header(out, w, h, png_get_channels(png, info))) {
        png_destroy_read_struct(&png, &info, NULL);
        return -1;
    }
    out->w = (int)w;
    out->h = (int)h;
    if (header_only) {
        out->ch = (type & PNG_COLOR_MASK_COLOR) ? 3 : 1;
        png_destroy_read_struct(&png, &info, NULL);
        return 0;
    }
    if (depth == 16)
        png_set_strip_16(png); /* the high byte */
    if (type == PNG_COLOR_TYPE_PALETTE && !keep_index)
        png_set_palette_to_rgb(png); /* may add alpha from tRNS: dropped below */
    else if (depth < 8)
        png_set_packing(png); /* one byte a pixel; palette indices unscaled */
    if (type == PNG_COLOR_TYPE_GRAY && depth < 8)
        png_set_expand_gray_1_2_4_to_8(png); /* scaled to 0..255, as Pillow */
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    int ch = png_get_channels(png, info);
    size_t rowbytes = png_get_rowbytes(png, info);
    if (ch < 1 || ch > 4 || rowbytes != (size_t)w * (size_t)ch)
        png_error(png, "unexpected row layout");
    px = malloc((size_t)h * rowbytes);
    rows = malloc(h * sizeof *rows);
    if (!px || !rows)
        png_error(png, "out of memory");
    for (png_uint_32 y = 0; y < h; y++)
        rows[y] = px + y * rowbytes;
    png_read_image(png, rows);
    png_destroy_read_struct(&png, &info, NULL);
    free(rows);
    out->ch = ch;
    out->px = px;
    return 0;
}

/* ---- JPEG ---------------------------------------------------------------- */

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jb;
    char msg[JMSG_LENGTH_MAX];
    volatile int eof; /* the data ended early (read after the longjmp) */
} jpeg_err;

static void jpeg_on_error(j_common_ptr cinfo)
{
    jpeg_err *e = (jpeg_err *)cinfo->err;
    cinfo->err->format_message(cinfo, e->msg);
    longjmp(e->jb, 1);
}

/* Warnings are ignored, as Pillow ignores them, except the end of the data
 * before the end of the image: libjpeg would fill the rest with gray, where
 * Pillow says "image file is truncated". */
static void jpeg_on_message(j_common_ptr cinfo, int level)
{
    if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF) {
        jpeg_err *e = (jpeg_err *)cinfo->err;
        e->eof = 1;
        snprintf(e->msg, sizeof e->msg, "data end before the image does");
        longjmp(e->jb, 1);
    }
}

static int jpeg_decode(const uint8_t *buf, size_t n, int header_only, raw_image *out)
{
    struct jpeg_decompress_struct cinfo;
    jpeg_err err;
    uint8_t *volatile px = NULL;
    cinfo.err = jpeg_std_error(&err.pub);
    err.pub.error_exit = jpeg_on_error;
    err.pub.emit_message = jpeg_on_message;
    err.msg[0] = '\0';
    err.eof = 0;
    if (setjmp(err.jb)) {
        jpeg_destroy_decompress(&cinfo);
        free(px);
        out->final = !err.eof; /* corrupt, not cut short */
        return rr_error("corrupt or truncated JPEG: %s", err.msg);
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, buf, (unsigned long)n);
    jpeg_read_header(&cinfo, TRUE);
    if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK) {
        jpeg_destroy_decompress(&cinfo);
        return rr_error("CMYK JPEG images are not supported");
    }
    if (check_header(out, cinfo.image_width, cinfo.image_height, cinfo.num_components)) {
        jpeg_destroy_decompress(&cinfo);
        return -1;
    }
    out->w = (int)cinfo.image_width;
    out->h = (int)cinfo.image_height;
    out->ch = cinfo.num_components == 1 ? 1 : 3;
    if (header_only) {
        jpeg_destroy_decompress(&cinfo);
        return 0;
    }
    cinfo.out_color_space = out->ch == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_start_decompress(&cinfo);
    if (cinfo.output_components != out->ch || (int)cinfo.output_width != out->w ||
        (int)cinfo.output_height != out->h) {
        snprintf(err.msg, sizeof err.msg, "unexpected output layout");
        longjmp(err.jb, 1);
    }
    size_t stride = (size_t)out->w * (size_t)out->ch;
    px = malloc(stride * (size_t)out->h);
    if (!px) {
        snprintf(err.msg, sizeof err.msg, "out of memory");
        longjmp(err.jb, 1);
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = px + cinfo.output_scanline * stride;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    out->px = px;
    return 0;
}

/* ---- TIFF ---------------------------------------------------------------- */

static tmsize_t tiff_read(thandle_t h, void *buf, tmsize_t size)
{
    mem_src *s = h;
    size_t k = size < 0 ? 0 : (size_t)size;
    if (k > s->n - s->pos)
        k = s->n - s->pos;
    memcpy(buf, s->p + s->pos, k);
    s->pos += k;
    return (tmsize_t)k;
}

static tmsize_t tiff_write(thandle_t h, void *buf, tmsize_t size) { return -1; }

static toff_t tiff_seek(thandle_t h, toff_t off, int whence)
{
    mem_src *s = h;
    uint64_t base = whence == SEEK_CUR ? s->pos : whence == SEEK_END ? s->n : 0;
    uint64_t pos = base + off; /* a negative offset wraps, as libtiff expects */
    if (pos > s->n)
        return (toff_t)-1;
    s->pos = (size_t)pos;
    return pos;
}

static int tiff_close(thandle_t h) { return 0; }

static toff_t tiff_size(thandle_t h) { return ((mem_src *)h)->n; }

/* The bytes as a "mapped file": libtiff maps files read-only (PROT_READ),
 * so it never writes through this; and it checks strip sizes more strictly
 * on mapped files (an unmapped one accepts a strip of 0 bytes). */
static int tiff_map(thandle_t h, void **base, toff_t *size)
{
    mem_src *s = h;
    *base = (void *)s->p;
    *size = s->n;
    return 1;
}

static void tiff_unmap(thandle_t h, void *base, toff_t size) {}

/* libtiff reports through handlers: keep the first error, drop warnings. */
static int tiff_on_error(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap)
{
    char *msg = user;
    if (!msg[0])
        vsnprintf(msg, CODEC_MSG, fmt, ap);
    return 1;
}

static int tiff_on_warning(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap)
{
    return 1;
}

/* Messages that reach libtiff's process-wide handlers (none should, with
 * the per-file ones set) are dropped too: the library never prints. */
static void tiff_silence_globals(void)
{
    TIFFSetErrorHandler(NULL);
    TIFFSetWarningHandler(NULL);
}

static int tiff_decode(const uint8_t *buf, size_t n, int header_only, raw_image *out)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, tiff_silence_globals);
    char msg[CODEC_MSG] = "";
    mem_src src = {buf, n, 0, 0};
    TIFFOpenOptions *opts = TIFFOpenOptionsAlloc();
    if (!opts)
        return rr_error("TIFF: out of memory");
    TIFFOpenOptionsSetErrorHandlerExtR(opts, tiff_on_error, msg);
    TIFFOpenOptionsSetWarningHandlerExtR(opts, tiff_on_warning, NULL);
    TIFF *tif = TIFFClientOpenExt("tiff", "r", &src, tiff_read, tiff_write, tiff_seek, tiff_close, tiff_size,
                                  tiff_map, tiff_unmap, opts);
    TIFFOpenOptionsFree(opts);
    if (!tif)
        return rr_error("corrupt or truncated TIFF: %s", msg);
    uint32_t w = 0, h = 0;
    uint16_t photometric = PHOTOMETRIC_RGB, samples = 1;
    TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &w);
    TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &h);
    TIFFGetFieldDefaulted(tif, TIFFTAG_PHOTOMETRIC, &photometric);
    TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLESPERPIXEL, &samples);
    int gray = photometric == PHOTOMETRIC_MINISBLACK || photometric == PHOTOMETRIC_MINISWHITE;
    char emsg[1024];
    if (check_header(out, w, h, samples)) {
        TIFFClose(tif);
        return -1;
    }
    if (!TIFFRGBAImageOK(tif, emsg)) {
        TIFFClose(tif);
        return rr_error("unsupported TIFF: %s", emsg);
    }
    out->w = (int)w;
    out->h = (int)h;
    out->ch = gray ? 1 : 3;
    if (header_only) {
        TIFFClose(tif);
        return 0;
    }
    uint32_t *raster = malloc((size_t)w * h * sizeof *raster);
    uint8_t *px = malloc((size_t)w * h * (size_t)out->ch);
    if (!raster || !px || !TIFFReadRGBAImageOriented(tif, w, h, raster, ORIENTATION_TOPLEFT, 1)) {
        TIFFClose(tif);
        free(raster);
        free(px);
        return rr_error("corrupt or truncated TIFF: %s", raster && px ? msg : "out of memory");
    }
    TIFFClose(tif);
    size_t npx = (size_t)w * h;
    for (size_t i = 0; i < npx; i++) {
        uint32_t v = raster[i];
        if (gray) {
            px[i] = (uint8_t)TIFFGetR(v);
        } else {
            px[3 * i + 0] = (uint8_t)TIFFGetR(v);
            px[3 * i + 1] = (uint8_t)TIFFGetG(v);
            px[3 * i + 2] = (uint8_t)TIFFGetB(v);
        }
    }
    free(raster);
    out->px = px;
    return 0;
}

/* ---- dispatch and conversion --------------------------------------------- */

static int decode_raw(const uint8_t *b, size_t n, rr_image_mode mode, int header_only, raw_image *raw)
{
    static const uint8_t png_magic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    memset(raw, 0, sizeof *raw);
    if (n == 0)
        return rr_error("empty file");
    if (n >= 8 && memcmp(b, png_magic, 8) == 0)
        return png_decode(b, n, mode == RR_IMAGE_INDEX, header_only, raw);
    if (n >= 3 && b[0] == 0xff && b[1] == 0xd8 && b[2] == 0xff)
        return jpeg_decode(b, n, header_only, raw);
    if (n >= 4 && ((b[0] == 'I' && b[1] == 'I' && (b[2] == 42 || b[2] == 43) && b[3] == 0) ||
                   (b[0] == 'M' && b[1] == 'M' && b[2] == 0 && (b[3] == 42 || b[3] == 43))))
        return tiff_decode(b, n, header_only, raw);
    raw->final = n >= 8;
    return rr_error("not a PNG, JPEG or TIFF image");
}

/* Pillow's convert("L") of an RGB pixel. */
static uint8_t luma(const uint8_t *p)
{
    return (uint8_t)((p[0] * 19595 + p[1] * 38470 + p[2] * 7471 + 0x8000) >> 16);
}

static int convert(const raw_image *raw, rr_image_mode mode, rr_image *out)
{
    int colour = raw->ch >= 3;
    int ch = mode == RR_IMAGE_RGB ? 3 : mode == RR_IMAGE_STORED ? (colour ? 3 : 1) : 1;
    if (rr_image_alloc(out, raw->w, raw->h, ch))
        return -1;
    size_t npx = (size_t)raw->w * (size_t)raw->h;
    for (size_t i = 0; i < npx; i++) {
        const uint8_t *s = raw->px + i * (size_t)raw->ch;
        uint8_t *d = out->data + i * (size_t)ch;
        if (!colour) {
            for (int c = 0; c < ch; c++)
                d[c] = s[0];
        } else if (ch == 3) {
            d[0] = s[0];
            d[1] = s[1];
            d[2] = s[2];
        } else {
            d[0] = luma(s);
        }
    }
    return 0;
}

int rr_image_decode(const void *buf, size_t n, rr_image_mode mode, rr_image *out)
{
    raw_image raw;
    memset(out, 0, sizeof *out);
    if (decode_raw(buf, n, mode, 0, &raw))
        return -1;
    int rc = convert(&raw, mode, out);
    free(raw.px);
    return rc;
}

/* The most bytes an image file may have: its largest allowed image
 * uncompressed at 16-bit RGBA (8 bytes a pixel), and 16 MiB of metadata. */
static size_t file_limit(long max_pixels) { return 8 * (size_t)max_pixels + ((size_t)16 << 20); }

/* Reads at most `max` bytes of a file (all of it when max is 0); *whole
 * says whether that was the whole file.  Only a regular file or a pipe,
 * of at most file_limit bytes; and its first 64 KiB are looked at before
 * the rest is read, so that what is no image, or an image over the pixel
 * limit, ends the read there, and the header's size bounds the rest of a
 * pipe (which may never end). */
static int read_file(const char *path, size_t max, uint8_t **buf, size_t *n, int *whole)
{
    *buf = NULL;
    *n = 0;
    long max_pixels = rr_image_max_pixels();
    if (max_pixels < 0)
        return -1;
    size_t limit = file_limit(max_pixels);
    FILE *f = rr_file_open(path);
    if (!f)
        return -1;
    struct stat st;
    int regular = fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode);
    if (regular && (size_t)st.st_size > limit) {
        fclose(f);
        return rr_error("%s: %lld bytes, more than the %zu an image of %ld pixels may take "
                        "(--max-pixels or RRSIS_MAX_PIXELS raises it)", path, (long long)st.st_size, limit, max_pixels);
    }
    size_t cap = 0, len = 0;
    uint8_t *b = NULL;
    int looked = 0, w = 0, h = 0; /* the header's size, once it bounds the rest */
    for (;;) {
        if (len == cap) {
            if (max && cap == max)
                break;
            if (cap > limit) {
                free(b);
                fclose(f);
                if (w)
                    return rr_error("%s: larger than %zu bytes, the most an image of %dx%d pixels may take",
                                    path, limit, w, h);
                return rr_error("%s: larger than %zu bytes, the most an image of %ld pixels may take "
                                "(--max-pixels or RRSIS_MAX_PIXELS raises it)", path, limit, max_pixels);
            }
            size_t ncap = cap ? 2 * cap : 65536;
            if (max && ncap > max)
                ncap = max;
            if (ncap > limit + 1)
                ncap = limit + 1;
            uint8_t *nb = realloc(b, ncap);
            if (!nb) {
                free(b);
                fclose(f);
                return rr_error("%s: out of memory", path);
            }
            b = nb;
            cap = ncap;
        }
        size_t want = cap - len, got = fread(b + len, 1, want, f);
        len += got;
        if (!looked && (len >= 65536 || got < want)) {
            looked = 1;
            raw_image raw;
            if (decode_raw(b, len, RR_IMAGE_STORED, 1, &raw) == 0) {
                /* the header's own pixels bound the rest of a pipe (a
                 * regular file's size is known: a multi-page TIFF may hold
                 * more than its first image) */
                if (!regular && file_limit((long)raw.w * raw.h) < limit) {
                    w = raw.w;
                    h = raw.h;
                    limit = file_limit((long)w * h);
                }
            } else if (raw.final) {
                free(b);
                fclose(f);
                return rr_error_prefix("%s: ", path);
            }
        }
        if (got < want)
            break; /* the end, or an error */
    }
    int err = ferror(f) ? errno : 0;
    *whole = !(max && len == max) || fgetc(f) == EOF;
    fclose(f);
    if (err) {
        free(b);
        return rr_error("%s: %s", path, strerror(err));
    }
    *buf = b;
    *n = len;
    return 0;
}

int rr_image_load(const char *path, rr_image_mode mode, rr_image *out)
{
    uint8_t *buf;
    size_t n;
    int whole;
    memset(out, 0, sizeof *out);
    if (read_file(path, 0, &buf, &n, &whole))
        return -1;
    int rc = rr_image_decode(buf, n, mode, out);
    free(buf);
    if (rc)
        rr_error_prefix("%s: ", path);
    return rc;
}

int rr_image_info(const char *path, int *width, int *height, int *channels)
{
    uint8_t *buf;
    size_t n;
    int whole;
    raw_image raw;
    if (read_file(path, 256 * 1024, &buf, &n, &whole))
        return -1;
    int rc = decode_raw(buf, n, RR_IMAGE_STORED, 1, &raw);
    free(buf);
    if (rc && !whole) {
        if (read_file(path, 0, &buf, &n, &whole))
            return -1;
        rc = decode_raw(buf, n, RR_IMAGE_STORED, 1, &raw);
        free(buf);
    }
    if (rc)
        return rr_error_prefix("%s: ", path);
    *width = raw.w;
    *height = raw.h;
    if (channels)
        *channels = raw.ch;
    return 0;
}

int rr_image_alloc(rr_image *im, int width, int height, int channels)
{
    memset(im, 0, sizeof *im);
    if (channels != 1 && channels != 3)
        return rr_error("image: %d channels (1 or 3 expected)", channels);
    if (check_size(width, height))
        return -1;
    im->data = calloc((size_t)width * (size_t)height, (size_t)channels);
    if (!im->data)
        return rr_error("image: out of memory for %dx%dx%d", width, height, channels);
    im->width = width;
    im->height = height;
    im->channels = channels;
    return 0;
}

void rr_image_free(rr_image *im)
{
    if (!im)
        return;
    free(im->data);
    memset(im, 0, sizeof *im);
}

/* ---- PNG writing --------------------------------------------------------- */

struct rr_png_rows {
    png_structp png;
    png_infop info;
    FILE *f;
    char msg[CODEC_MSG];
};

/* The message of a libpng failure of w: libpng says "Write Error" for a
 * failed fwrite, so say why (a full disk, a file-size limit). */
static int png_rows_fail(rr_png_rows *w, int err)
{
    int rc = rr_error("PNG: %s", ferror(w->f) ? strerror(err) : w->msg);
    png_destroy_write_struct(&w->png, &w->info);
    free(w);
    return rc;
}

rr_png_rows *rr_png_rows_begin(FILE *f, int width, int height, int channels)
{
    if ((channels != 1 && channels != 3) || check_size(width, height)) {
        rr_error("PNG: cannot write an image of %dx%dx%d", width, height, channels);
        return NULL;
    }
    rr_png_rows *w = calloc(1, sizeof *w);
    if (w)
        w->png = png_create_write_struct(PNG_LIBPNG_VER_STRING, w->msg, png_on_error, png_on_warning);
    if (w && w->png)
        w->info = png_create_info_struct(w->png);
    if (!w || !w->info) {
        if (w)
            png_destroy_write_struct(&w->png, NULL);
        free(w);
        rr_error("PNG: out of memory");
        return NULL;
    }
    w->f = f;
    if (setjmp(png_jmpbuf(w->png))) {
        png_rows_fail(w, errno);
        return NULL;
    }
    png_init_io(w->png, f);
    png_set_IHDR(w->png, w->info, (png_uint_32)width, (png_uint_32)height, 8,
                 channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(w->png, w->info);
    return w;
}

int rr_png_rows_put(rr_png_rows *w, const uint8_t *row)
{
    if (setjmp(png_jmpbuf(w->png)))
        return png_rows_fail(w, errno);
    png_write_row(w->png, row);
    return 0;
}

int rr_png_rows_end(rr_png_rows *w, int ok)
{
    if (!ok) {
        png_destroy_write_struct(&w->png, &w->info);
        free(w);
        return 0;
    }
    if (setjmp(png_jmpbuf(w->png)))
        return png_rows_fail(w, errno);
    png_write_end(w->png, NULL);
    png_destroy_write_struct(&w->png, &w->info);
    int rc = fflush(w->f) != 0 || ferror(w->f) ? rr_error("PNG: %s", strerror(errno)) : 0;
    free(w);
    return rc;
}

int rr_image_write_png_stream(FILE *f, const rr_image *im)
{
    if (!im->data)
        return rr_error("PNG: cannot write an image of %dx%dx%d", im->width, im->height, im->channels);
    rr_png_rows *w = rr_png_rows_begin(f, im->width, im->height, im->channels);
    if (!w)
        return -1;
    size_t stride = (size_t)im->width * (size_t)im->channels;
    for (int y = 0; y < im->height; y++)
        if (rr_png_rows_put(w, im->data + (size_t)y * stride))
            return -1;
    return rr_png_rows_end(w, 1);
}

int rr_image_write_png(const char *path, const rr_image *im)
{
    rr_atomic_file w; /* whole or not at all (io/atomic.h) */
    if (rr_atomic_open(&w, path))
        return -1;
    if (rr_image_write_png_stream(w.f, im)) {
        rr_error_prefix("%s: ", path);
        rr_atomic_close(&w, 0, RR_ATOMIC_FAST);
        return -1;
    }
    return rr_atomic_close(&w, 1, RR_ATOMIC_FAST);
}

/* ---- masks --------------------------------------------------------------- */

int rr_mask_load(const char *path, rr_image *mask)
{
    if (rr_image_load(path, RR_IMAGE_INDEX, mask))
        return -1;
    size_t n = (size_t)mask->width * (size_t)mask->height;
    uint8_t max = 0;
    for (size_t i = 0; i < n; i++)
        if (mask->data[i] > max)
            max = mask->data[i];
    for (size_t i = 0; i < n; i++)
        mask->data[i] = max <= 1 ? mask->data[i] : mask->data[i] > 127;
    return 0;
}

int rr_mask_write_png(const char *path, const rr_image *mask)
{
    if (!mask->data || mask->channels != 1)
        return rr_error("%s: a mask must have one channel, not %d", path, mask->channels);
    rr_image gray;
    if (rr_image_alloc(&gray, mask->width, mask->height, 1))
        return rr_error_prefix("%s: ", path);
    size_t n = (size_t)mask->width * (size_t)mask->height;
    for (size_t i = 0; i < n; i++)
        gray.data[i] = mask->data[i] ? 255 : 0;
    int rc = rr_image_write_png(path, &gray);
    rr_image_free(&gray);
    return rc;
}
