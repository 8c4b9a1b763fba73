/* The model's inputs from files, as the reference data pipeline makes them
 * (doc/network.md, Inputs): the image resized with Pillow's antialiased BILINEAR to
 * size x size (aspect ratio ignored), scaled to [0, 1] and normalised with
 * the configuration's mean and std, channel-first; the mask resized with
 * Pillow's NEAREST. */
#ifndef RR_DATA_INPUT_H
#define RR_DATA_INPUT_H

#include "../io/image.h"

/* An RGB image to 3 x size x size floats at chw. */
int rr_input_image(const rr_image *rgb, int size, const float mean[3], const float std[3], float *chw);
/* A 0/1 mask (1 channel) to size x size bytes at out. */
int rr_input_mask(const rr_image *mask, int size, unsigned char *out);

#endif
