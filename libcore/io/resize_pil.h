/* Image and mask resizing exactly as Pillow does it (doc/network.md, Inputs).
 *
 * The reference data pipeline resizes images with
 * img.resize((480, 480), Image.BILINEAR) and masks with Image.NEAREST,
 * ignoring the aspect ratio.  These functions give the same bytes as Pillow
 * (>= 7; checked against Pillow 9.4 by tests/golden/pil/, made by
 * tools/make_pil_goldens.py).  For a naive, non-antialiased bilinear on
 * float tensors see ops/resize.h instead. */
#ifndef RR_IO_RESIZE_PIL_H
#define RR_IO_RESIZE_PIL_H

#include "image.h"

/* Pillow's Image.resize((out_w, out_h), Image.BILINEAR) of an 8-bit L or
 * RGB image (libImaging/Resample.c): a separable triangle filter whose
 * support grows with the downscale factor (so it antialiases when
 * shrinking), horizontal pass first, weights normalised to sum 1 in double,
 * then rounded to 22-bit fixed point; each pass rounds and clips to 8 bits.
 * The same size gives a copy.  *out is allocated; the channels are in's. */
int rr_pil_resize_bilinear(const rr_image *in, int out_w, int out_h, rr_image *out);

/* Pillow's Image.resize((out_w, out_h), Image.NEAREST) (libImaging's
 * ImagingScaleAffine): output column x takes input column
 * (int)(s/2 + x*s) with s = in_w/out_w, where that sum is accumulated in
 * double one column at a time; rows likewise.  The running sum's rounding
 * decides exact ties, so the closed form floor((x + 0.5) * in / out), which one
 * might expect, is wrong for some sizes: at out = 480, for 30 input sizes of
 * 1..2048, all multiples of 64, RefSegRS's 512 among them.
 * Any channel count; for masks. */
int rr_pil_resize_nearest(const rr_image *in, int out_w, int out_h, rr_image *out);

#endif
