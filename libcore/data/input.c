#include "input.h"

#include <string.h>

#include "../error.h"
#include "../io/resize_pil.h"

int rr_input_image(const rr_image *rgb, int size, const float mean[3], const float std[3], float *chw)
{
    if (rgb->channels != 3)
        return rr_error("expected an RGB image, got %d channels", rgb->channels);
    rr_image r;
    if (rr_pil_resize_bilinear(rgb, size, size, &r))
        return -1;
    int64_t n = (int64_t)size * size;
    for (int ch = 0; ch < 3; ch++)
        for (int64_t i = 0; i < n; i++)
            chw[ch * n + i] = ((float)r.data[i * 3 + ch] / 255.0f - mean[ch]) / std[ch];
    rr_image_free(&r);
    return 0;
}

int rr_input_mask(const rr_image *mask, int size, unsigned char *out)
{
    if (mask->channels != 1)
        return rr_error("expected a 1-channel mask, got %d channels", mask->channels);
    rr_image r;
    if (rr_pil_resize_nearest(mask, size, size, &r))
        return -1;
    memcpy(out, r.data, (size_t)size * size);
    rr_image_free(&r);
    return 0;
}
