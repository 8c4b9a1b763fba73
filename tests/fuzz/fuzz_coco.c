/* libFuzzer target: COCO masks.  The first byte chooses what the rest is:
 *   even: an RLE counts string (up to the first NUL), decoded, encoded
 *         again (which must give the same counts), and painted on a mask
 *         whose size the counts fit when they add up to little;
 *   odd:  a polygon on a mask of h x w pixels (the next two bytes, 1 to
 *         256 each), its vertices from pairs of 16-bit coordinates (bit 1
 *         of the first byte: scaled by 1/4, for fractions) or, with bit 2,
 *         from raw doubles (any bits: NaN, infinities, huge values).
 * Beyond "no crash, no leak, no undefined behaviour", a painted mask must
 * encode to counts that paint it again, identically. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "io/coco_mask.h"

#define PAINT_MAX_PIXELS (1 << 16)

/* The mask encodes to counts that paint the same mask. */
static void re_encode(const uint8_t *mask, int h, int w)
{
    uint32_t *counts;
    size_t n;
    if (rr_rle_encode(mask, h, w, &counts, &n) < 0)
        abort();
    uint8_t *again = calloc((size_t)h * w, 1);
    if (!again || rr_rle_paint(counts, n, h, w, again) < 0 || memcmp(mask, again, (size_t)h * w) != 0)
        abort();
    free(again);
    free(counts);
}

static void rle_string(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        abort();
    memcpy(s, data, size);
    s[size] = '\0';
    uint32_t *counts, *back;
    size_t n, nback;
    if (rr_rle_from_string(s, &counts, &n) < 0) {
        free(s);
        return;
    }
    char *text = rr_rle_to_string(counts, n);
    if (!text || rr_rle_from_string(text, &back, &nback) < 0 || nback != n ||
        memcmp(counts, back, n * sizeof *counts) != 0)
        abort();
    uint64_t sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += counts[i];
    if (sum > 0 && sum <= PAINT_MAX_PIXELS) {
        /* h x w = sum, h the largest divisor up to 64 */
        int h = 64;
        while (sum % (uint64_t)h)
            h--;
        int w = (int)(sum / (uint64_t)h);
        uint8_t *mask = calloc(sum, 1);
        rr_rle r = {.h = h, .w = w, .counts_str = s};
        if (!mask || rr_rle_paint_rle(&r, h, w, mask) < 0)
            abort();
        re_encode(mask, h, w);
        free(mask);
    }
    free(back);
    free(text);
    free(counts);
    free(s);
}

static void polygon(uint8_t how, const uint8_t *data, size_t size)
{
    if (size < 2)
        return;
    int h = data[0] + 1, w = data[1] + 1;
    data += 2;
    size -= 2;
    size_t k = (how & 4) ? size / (2 * sizeof(double)) : size / 4;
    double *xy = malloc((2 * k + 1) * sizeof *xy);
    if (!xy)
        abort();
    for (size_t i = 0; i < 2 * k; i++) {
        if (how & 4) {
            memcpy(&xy[i], data + i * sizeof(double), sizeof(double));
        } else {
            int16_t v;
            memcpy(&v, data + 2 * i, 2);
            xy[i] = (how & 2) ? v / 4.0 : v;
        }
    }
    uint32_t *counts;
    size_t n;
    if (rr_rle_from_poly(xy, k, h, w, &counts, &n) == 0) {
        uint8_t *mask = calloc((size_t)h * w, 1);
        if (!mask || rr_rle_paint(counts, n, h, w, mask) < 0)
            abort(); /* a polygon's counts cover the mask exactly */
        re_encode(mask, h, w);
        free(mask);
        free(counts);
    }
    free(xy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    if (data[0] & 1)
        polygon(data[0], data + 1, size - 1);
    else
        rle_string(data + 1, size - 1);
    return 0;
}
