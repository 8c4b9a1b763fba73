/* 2-D discrete Fourier transforms over the last two spatial dims (H, W) of
 * a tensor with any leading dims, and the magnitude and phase of complex
 * values (the PSR's M = |FFT2(X)| and P = atan2(Im, Re), the HFIM's amplitudes
 * of rfft2: doc/network.md, PSR and HFIM).
 *
 * A complex tensor is F32 with a trailing dimension of 2 (re, im), exactly
 * torch.view_as_real's layout: a complex (B, C, H, W) is F32 (B, C, H, W, 2).
 * Gradients are those of that real view (what torch.view_as_real gives). */
#ifndef RR_OPS_FFT_H
#define RR_OPS_FFT_H

#include "../ctx.h"
#include "backend.h"

/* torch.fft's `norm`: the scale of the forward (e^{-i}) and inverse (e^{+i})
 * transforms.  BACKWARD (torch's default): 1 and 1/(HW); ORTHO: 1/sqrt(HW)
 * both ways; FORWARD: 1/(HW) and 1. */
typedef enum { RR_FFT_BACKWARD, RR_FFT_ORTHO, RR_FFT_FORWARD } rr_fft_norm;

/* Complex (..., H, W, 2) -> complex (..., H, W, 2): torch.fft.fft2 and
 * torch.fft.ifft2 over dims (-2, -1) of the complex view. */
rr_tensor *rr_fft2(rr_ctx *c, rr_tensor *x, rr_fft_norm norm);
rr_tensor *rr_ifft2(rr_ctx *c, rr_tensor *x, rr_fft_norm norm);

/* Real (..., H, W) -> complex (..., H, W/2+1, 2): torch.fft.rfft2. */
rr_tensor *rr_rfft2(rr_ctx *c, rr_tensor *x, rr_fft_norm norm);

/* Complex (..., H, out_w/2+1, 2) -> real (..., H, out_w): torch.fft.irfft2
 * with s = (H, out_w).  The input's width must be out_w/2+1 (no trimming or
 * padding).  Like torch (c2c over H, then c2r over W), the result is
 * Re(IDFT2(z)) with z the input zero-padded to width out_w and its columns
 * 1 .. out_w - (out_w/2+1) doubled; so the imaginary parts of the DC and
 * Nyquist columns are ignored after the transform over H. */
rr_tensor *rr_irfft2(rr_ctx *c, rr_tensor *x, int64_t out_w, rr_fft_norm norm);

/* Real (...) -> complex (..., 2) with zero imaginary parts:
 * torch.view_as_real(x.to(torch.complex64)).  PSR's FFT2 of a real X is
 * rr_fft2(c, rr_real_to_complex(c, x), RR_FFT_ORTHO) (doc/network.md, PSR: full spectrum). */
rr_tensor *rr_real_to_complex(rr_ctx *c, rr_tensor *x);

/* Complex (..., 2) -> real (...): torch.abs (gradient 0 at z = 0, as torch)
 * and torch.angle = atan2(im, re) in [-pi, pi] (gradient (-im, re)/|z|^2,
 * 0 at z = 0, as torch). */
rr_tensor *rr_complex_abs(rr_ctx *c, rr_tensor *z);
rr_tensor *rr_complex_angle(rr_ctx *c, rr_tensor *z);

/* Kernels.  Complex arrays are interleaved (re, im) floats; `batch` counts
 * the H x W planes.  The transforms are unscaled: y = sum x e^{-+2 pi i ...}. */
RR_KERNEL(rr_fft_c2c, (const float *x, float *y, int64_t batch, int64_t h, int64_t w, int inverse));
/* y (batch, h, w/2+1) complex = the forward transform of real x (batch, h, w). */
RR_KERNEL(rr_fft_r2c, (const float *x, float *y, int64_t batch, int64_t h, int64_t w));
/* The one-sided half (rows, w/2+1) of a width-w spectrum and the full one
 * (rows, w): full = half zero-padded, its columns times rr_fft_half_weight
 * when `weighted`; and dst += s * weight * half (the adjoint of the
 * weighted padding, cropped). */
RR_KERNEL(rr_fft_half_pad, (const float *half, float *full, int64_t rows, int64_t w, int weighted));
RR_KERNEL(rr_fft_half_acc, (const float *half, float *dst, int64_t rows, int64_t w, float s));
/* x = s * Re(z), or x += s * Re(z) when accumulate; and z = (x, 0). */
RR_KERNEL(rr_complex_real, (const float *z, float *x, int64_t n, float s, int accumulate));
RR_KERNEL(rr_real_complex, (const float *x, float *z, int64_t n));
/* y = |z| or atan2(im, re); dz += dy * d(y)/d(re, im). */
RR_KERNEL(rr_complex_abs_fwd, (const float *z, float *y, int64_t n));
RR_KERNEL(rr_complex_abs_bwd, (const float *z, const float *dy, float *dz, int64_t n));
RR_KERNEL(rr_complex_angle_fwd, (const float *z, float *y, int64_t n));
RR_KERNEL(rr_complex_angle_bwd, (const float *z, const float *dy, float *dz, int64_t n));

/* The weight of column k of a width-w one-sided spectrum in the full
 * spectrum: 1 for DC and (w even) Nyquist, 2 for the columns whose mirror
 * image lies outside the half (torch's fft_c2r_backward doubling). */
#ifdef __CUDACC__
__host__ __device__
#endif
static inline float rr_fft_half_weight(int64_t k, int64_t w)
{
    return k == 0 || 2 * k == w ? 1.0f : 2.0f;
}

#endif
