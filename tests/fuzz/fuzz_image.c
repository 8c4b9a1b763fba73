/* libFuzzer target: arbitrary bytes as an image file (PNG, JPEG or TIFF),
 * through both ways in: rr_image_info and rr_mask_load on a file, and
 * rr_image_decode from memory in the mode the last byte chooses (its low
 * two bits).  Only images of at most DECODE_MAX_PIXELS pixels, by their
 * header, are decoded, so that the fuzzer does not spend its memory on
 * huge but valid images.  Beyond "no crash, no leak, no undefined
 * behaviour": the decoded size is the header's, the channels are the
 * mode's, and the pixels survive a PNG write and a decode unchanged. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/image.h"

#define DECODE_MAX_PIXELS (1L << 20)

/* The input as a file: a temporary one, removed at once and named
 * through /proc, so that nothing is left behind. */
static char path[64];
static int fd = -1;

static void write_file(const uint8_t *data, size_t size)
{
    if (fd < 0) {
        char name[] = "/tmp/rrsis-fuzz-image-XXXXXX";
        if ((fd = mkstemp(name)) < 0 || unlink(name) < 0)
            abort();
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
        abort();
}

static void same_after_png(const rr_image *im)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f || rr_image_write_png_stream(f, im) < 0)
        abort();
    fclose(f);
    rr_image back;
    if (rr_image_decode(buf, len, RR_IMAGE_STORED, &back) < 0 || back.width != im->width ||
        back.height != im->height || back.channels != im->channels ||
        memcmp(back.data, im->data, (size_t)im->width * im->height * im->channels) != 0)
        abort();
    rr_image_free(&back);
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    write_file(data, size);
    int w, h, ch;
    if (rr_image_info(path, &w, &h, &ch) < 0 || (long)w * h > DECODE_MAX_PIXELS)
        return 0;
    if (w < 1 || h < 1 || (ch != 1 && ch != 3))
        abort();
    rr_image_mode mode = (rr_image_mode)(data[size - 1] & 3);
    rr_image im;
    if (rr_image_decode(data, size, mode, &im) == 0) {
        int want = mode == RR_IMAGE_RGB ? 3 : mode == RR_IMAGE_STORED ? ch : 1;
        if (im.width != w || im.height != h || im.channels != want)
            abort();
        same_after_png(&im);
        rr_image_free(&im);
    }
    if (mode == RR_IMAGE_INDEX && rr_mask_load(path, &im) == 0) {
        size_t n = (size_t)im.width * im.height;
        for (size_t i = 0; i < n; i++)
            if (im.data[i] > 1)
                abort();
        rr_image_free(&im);
    }
    return 0;
}
