/* Overlays, for looking at predictions: the mask tinted over the image with
 * its outline drawn, and the sentence written across the top in a small
 * built-in bitmap font (5x7 pixels and a row of descenders in a 6x10
 * cell, printable ASCII; any other character is drawn as '?'). */
#ifndef RR_IO_OVERLAY_H
#define RR_IO_OVERLAY_H

#include <stdint.h>

#include "image.h"

/* Draws on rgb (3 channels) in place: the foreground of mask (1 channel, the
 * same size; nonzero is foreground) tinted red, its outline (foreground
 * pixels next to background) yellow, and text (UTF-8, may be
 * NULL) on a darkened band at the top, wrapped at spaces, the glyphs
 * scaled with the image (1x up to 399 pixels across, 2x from 400, ...); the
 * band takes at most half the image, a longer text ends in "...". */
int rr_overlay_draw(rr_image *rgb, const rr_image *mask, const char *text);

/* Writes the ASCII text (no wrapping) with its top-left corner at (x, y),
 * every font pixel a scale x scale square of colour, clipped to the image. */
void rr_overlay_text(rr_image *rgb, int x, int y, int scale, const uint8_t colour[3], const char *text);

#endif
