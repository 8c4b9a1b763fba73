/* Images and masks: PNG, JPEG and TIFF in, PNG out.
 *
 * An rr_image is 8-bit, row-major, channels interleaved, 1 (gray) or 3 (RGB)
 * channels.  A mask is an rr_image with one channel holding 0 or 1.
 *
 * The format is recognised by the file's first bytes, never by its name:
 * PNG (libpng), JPEG (libjpeg-turbo) and TIFF (libtiff, as RefSegRS ships).
 * Decoding follows what the reference data pipeline sees through Pillow,
 * Image.open(path).convert("RGB") (doc/network.md, Inputs), checked against
 * Pillow by tests/golden/pil/decode.txt:
 *   - gray, gray+alpha, 1/2/4-bit gray: the gray value (bit depths below 8
 *     scaled to 0..255, as Pillow does), repeated for RGB;
 *   - palette: expanded through the palette (transparency ignored);
 *   - alpha dropped, never composited;
 *   - 16-bit samples: the high byte (Pillow does this for 16-bit RGB; for
 *     16-bit gray Pillow clips to 255 instead, which we do not copy);
 *   - JPEG with libjpeg's defaults (islow IDCT, fancy upsampling), as
 *     Pillow; CMYK JPEGs are refused;
 *   - TIFF through TIFFReadRGBAImage (any compression, strips or tiles;
 *     the first image of a multi-page file).
 * Gray from colour is Pillow's convert("L"): (19595 R + 38470 G + 7471 B
 * + 0x8000) >> 16.
 *
 * Errors: a missing, empty, truncated or corrupt file, or one that is no
 * image, fails with -1 and one rr_error() message "PATH: what"; the codecs
 * never print, never exit, and never read outside the file's bytes. */
#ifndef RR_IO_IMAGE_H
#define RR_IO_IMAGE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct {
    int width, height;
    int channels;  /* 1 or 3 */
    uint8_t *data; /* height * width * channels bytes, malloc'd */
} rr_image;

/* What a load returns. */
typedef enum {
    RR_IMAGE_STORED, /* 1 channel for a gray file, 3 for anything else */
    RR_IMAGE_GRAY,   /* 1 channel: Pillow's convert("L") */
    RR_IMAGE_RGB,    /* 3 channels: Pillow's convert("RGB") */
    RR_IMAGE_INDEX,  /* 1 channel: a palette PNG's indices (what
                        np.array(Image.open(mask)) gives), else as GRAY */
} rr_image_mode;

/* How large an image may be.  A file is read only when it is a regular
 * file or a pipe (io/reader.h), and its header is checked before a pixel
 * is decoded: an image of more than rr_image_max_pixels() pixels is
 * refused with a message that names the limit, and so is a file of more
 * bytes than such an image could take (8 a pixel, 16-bit RGBA
 * uncompressed, plus 16 MiB), so that neither a hostile header (a PNG of
 * 875 KB can claim 30000x30000 pixels: 2.7 GB decoded) nor an endless pipe
 * can make a program allocate without end.
 *
 * The limit is RR_IMAGE_DEFAULT_PIXELS, 16384 x 16384 (268,435,456 pixels,
 * 805 MB as RGB and about twice that while decoding), well above the
 * largest tiles in remote-sensing use (10000 x 10000, say), or the value of
 * the environment variable RRSIS_MAX_PIXELS, from 1 to RR_IMAGE_MAX_PIXELS
 * (32768 x 32768); any other value of it is an error.  A program's
 * --max-pixels option (rr_image_set_max_pixels) overrides both. */
#define RR_IMAGE_DEFAULT_PIXELS (16384L * 16384L)
#define RR_IMAGE_MAX_PIXELS (1L << 30)
/* The limit in force; -1 with a message when RRSIS_MAX_PIXELS is invalid. */
long rr_image_max_pixels(void);
/* Sets the limit for the rest of the process (1 to RR_IMAGE_MAX_PIXELS;
 * 0 goes back to RRSIS_MAX_PIXELS or the default). */
void rr_image_set_max_pixels(long n);

/* Reads a whole image file.  On failure *out is left empty. */
int rr_image_load(const char *path, rr_image_mode mode, rr_image *out);
/* The same from bytes in memory; messages name no file. */
int rr_image_decode(const void *buf, size_t n, rr_image_mode mode, rr_image *out);
/* Width and height from the header only (what a manifest check needs for
 * thousands of files); *channels as RR_IMAGE_STORED would give (may be
 * NULL).  Reads the first 256 KiB, and the whole file only when the header
 * lies beyond (a TIFF directory at the end, long JPEG metadata). */
int rr_image_info(const char *path, int *width, int *height, int *channels);

/* An image of zeros; channels 1 or 3. */
int rr_image_alloc(rr_image *im, int width, int height, int channels);
/* Frees the data and empties the struct (a NULL or empty image is fine). */
void rr_image_free(rr_image *im);

/* Writes an 8-bit gray (1 channel) or RGB (3 channels) PNG.  A file is
 * written under a hidden temporary name (.NAME.PID.TID~) and renamed into
 * place: a failed write leaves nothing, a killed program at most that
 * temporary, never a partial PNG under the final name.  A device, a pipe or
 * a symbolic link named as the output is written in place. */
int rr_image_write_png(const char *path, const rr_image *im);
/* The same to an open stream (stdout, say); the caller closes it. */
int rr_image_write_png_stream(FILE *f, const rr_image *im);

/* A PNG written a row at a time (a scene too large to hold whole):
 * begin, put each of the height rows (width * channels bytes) in order,
 * end.  Each returns NULL or -1 with a message on a failure, after which
 * w is freed; rr_png_rows_end(w, 0) abandons a PNG (frees w). */
typedef struct rr_png_rows rr_png_rows;
rr_png_rows *rr_png_rows_begin(FILE *f, int width, int height, int channels);
int rr_png_rows_put(rr_png_rows *w, const uint8_t *row);
int rr_png_rows_end(rr_png_rows *w, int ok);
/* Reads a mask file into a 1-channel 0/1 image.  The pixel value is the
 * RR_IMAGE_INDEX one (a palette PNG's index, otherwise the gray value);
 * foreground is value > 127 (doc/architecture.md, Datasets: RefSegRS masks may be 0/255 or
 * 3-channel), except in a mask whose values are all 0 or 1 (the REFER
 * masks that Pillow saves as palette indices, numpy 0/1 masks), where
 * foreground is 1. */
int rr_mask_load(const char *path, rr_image *mask);
/* Writes a 1-channel mask as a gray PNG of 0 and 255 (nonzero -> 255). */
int rr_mask_write_png(const char *path, const rr_image *mask);

#endif
