/* The FLOPs of the MRSNet a configuration describes, per part, and the peak
 * FLOP rates of the GPUs we may run on: model FLOP utilisation,
 * MFU = (counted FLOPs / seconds) / peak.
 *
 * What is counted: the arithmetic of doc/network.md, Parameters and
 * cost (Swin, BERT, decoder, IFIM, HFIM, totals),
 * generalised to any configuration.  One multiply-accumulate (MAC) of a
 * product is 2 FLOPs:
 *   - every Linear, 1x1 and 3x3 convolution (dense and depthwise, padded taps
 *     included), the patch embedding and the PatchMergings' reductions;
 *   - the Swin blocks on the padded grid as doc/network.md does: qkv and proj on
 *     the Np padded tokens, the attention products q.k^T and a.v over every
 *     window of the padded grid (nW x 2 x T^2 x C, T = window^2), the MLP
 *     on the N real tokens;
 *   - the attention products of the CMA (N x N_l x C, twice), the HFIM's
 *     global branch (N x M x inner, twice) and frequency branch (the channel
 *     Gram matrix over the rfft bins, and A.V), BERT's (N_l^2 x D, twice),
 *     RMSIN's CIM's (heads x n^2 x (key_dim + attn_ratio key_dim), and its
 *     proj over the n tokens);
 *   - the CSR's neighbourhood product A.X (doc/network.md, CSR: one MAC per
 *     neighbour and channel, 9, 6 or 4 neighbours per node at radius 1);
 *   - the ARC routing function's depthwise conv and its two Linears, and
 *     the IFIM's tanh gate (2 C x C Linears; part of the IFIM budget of
 *     doc/network.md, Parameters and cost).
 * Not counted (as in doc/network.md): normalisations, softmax, activations,
 * element-wise products and sums, pooling, bilinear resampling, pixel
 * (un)shuffle, embeddings (lookups), the loss; and two items doc/network.md
 * leaves out that the network does compute, reported apart in
 * `not_counted`: the FFTs of the PSR and of the HFIM's frequency branch
 * (5 n log2 n FLOPs per complex 2-D FFT of n points, half that for a real
 * one) and the ARC's per-sample kernel synthesis (9 x 9n x C^2 MACs per
 * sample and ARC, the reference's rot @ weight product).
 *
 * A training step counts 3 x forward: the backward pass of every product is
 * two products of the same size (the gradient of the input and of the
 * weight), the usual MFU convention.  It is applied to the whole network,
 * BERT's frozen layers included (they still compute gradients, doc/network.md, BERT);
 * the loss and the optimiser are not counted.
 *
 * mrsnet-b at 480x480 (per image, forward; GMAC = FLOPs / 2e9): Swin-B
 * 85.24, IFIM 25.40, HFIM 15.34, decoder 106.27, BERT 1.71, total 234.0
 * (468 GFLOP); tests/unit/test_flops.c checks these against doc/network.md. */
#ifndef RR_NN_FLOPS_H
#define RR_NN_FLOPS_H

#include <stdint.h>

#include "config.h"

/* Forward FLOPs (2 x MACs) of `batch` images, per part. */
typedef struct {
    int64_t batch;
    /* Swin (doc/network.md, Parameters and cost: "Swin-B") */
    int64_t patch_embed;
    int64_t swin_blocks, swin_stage[4]; /* the blocks of each stage, padded windows included */
    int64_t merges;                     /* the three PatchMergings */
    int64_t swin;                       /* patch_embed + swin_blocks + merges */
    /* IFIM (doc/network.md, Parameters and cost), with the stage's tanh gate: the fusion
     * modules, whatever their kind (a stage with LAVT's PWAM counts in ifim_pwam) */
    int64_t ifim, ifim_stage[4];
    int64_t ifim_psr, ifim_csr, ifim_cma, ifim_aff, ifim_gate, ifim_pwam; /* over the four stages */
    int64_t ifim_visual; /* RMSIN's IIM beyond its PWAM: the various receptive branch and its gate */
    /* the cross-scale module: HFIM (doc/network.md, HFIM) or RMSIN's CIM (hfim_cim); 0 with
     * cross_scale "none" */
    int64_t hfim, hfim_local, hfim_global, hfim_freq, hfim_fuse, hfim_cim;
    /* decoder (doc/network.md, Parameters and cost) */
    int64_t decoder;
    int64_t decoder_conv;    /* conv1_4, conv1_3, conv1_2 */
    int64_t decoder_arc;     /* the three rotated 3x3 convolutions (LAVT's decoder: plain ones) */
    int64_t decoder_routing; /* their routing functions (depthwise conv, fc_alpha, fc_theta); LAVT: 0 */
    int64_t decoder_head;    /* conv1_1 */
    /* BERT (doc/network.md, BERT) */
    int64_t bert;
    int64_t forward;    /* swin + ifim + hfim + decoder + bert */
    int64_t train_step; /* 3 x forward (see above) */
    int64_t not_counted; /* FFTs and ARC kernel synthesis, FLOPs; in neither total */
} rr_flops;

/* Counts the network of cfg (rr_config_check must accept it) at its
 * image_size for batch >= 1 images: MRSNet's modules, LAVT's (fusion
 * "pwam", cross_scale "none", decoder.kind "lavt") and RMSIN's (fusion
 * "iim", cross_scale "cim").  0, or -1 with a message. */
int rr_flops_count(const rr_config *cfg, int64_t batch, rr_flops *out);

/* Peak dense FLOP rates of a GPU, TFLOP/s, at the vendor's boost clock. */
typedef struct {
    const char *match; /* a substring of cudaDeviceProp.name (nvidia-smi's name) */
    const char *card;  /* what the card is */
    double fp32;       /* CUDA cores, FMA */
    double tf32;       /* tensor cores, dense (no 2:4 sparsity) */
    double bf16;       /* tensor cores, dense, FP32 accumulate */
    const char *source;
} rr_gpu_peak;

/* The entry for a device name ("NVIDIA H100 80GB HBM3", or a string holding
 * it such as rr_device_describe's), the first whose `match` it contains;
 * NULL for a card not in the table. */
const rr_gpu_peak *rr_gpu_peak_find(const char *device_name);
/* The table itself, ending with an entry whose match is NULL. */
extern const rr_gpu_peak rr_gpu_peaks[];
/* The peak for "fp32", "tf32" or "bf16" (TFLOP/s); 0 for anything else. */
double rr_gpu_peak_tflops(const rr_gpu_peak *p, const char *precision);
/* Achieved FLOP/s over the peak: flops / seconds / (peak_tflops * 1e12);
 * 0 when any argument is not positive. */
double rr_mfu(double flops, double seconds, double peak_tflops);

#endif
