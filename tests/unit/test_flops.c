/* The FLOP counter (nn/flops.h): mrsnet-b at 480x480 against the numbers of
 * doc/network.md (Parameters and cost) to the digits
 * doc/network.md gives, a configuration small enough to count by hand, the
 * ablations, the batch and training-step scaling, and the GPU peak table. */
#include <math.h>
#include <string.h>

#include "harness.h"
#include "nn/flops.h"

/* |x - want| within half a unit of the last digit doc/network.md prints. */
#define CHECK_DIGITS(x, want, unit, what)                                                                  \
    CHECK(fabs((x) - (want)) <= 0.5 * (unit) + 1e-12, "%s: %.6f, doc/network.md says %.*f", what, (double)(x), \
          (unit) >= 1 ? 0 : (int)lround(-log10(unit)), (double)(want))

static double gmac(int64_t flops) { return (double)flops / 2e9; }

TEST(flops_mrsnet_b_matches_the_spec)
{
    rr_config cfg;
    CHECK_OK(rr_config_load(&cfg, "share/configs/mrsnet-b.json"));
    rr_flops f;
    CHECK_OK(rr_flops_count(&cfg, 1, &f));
    /* doc/network.md, Parameters and cost: per block 3.362 / 3.097 / 3.437 / 4.473 G;
     * stages 6.724 / 6.193 / 61.875 / 8.946 G */
    const double block[4] = {3.362, 3.097, 3.437, 4.473}, stage[4] = {6.724, 6.193, 61.875, 8.946};
    for (int i = 0; i < 4; i++) {
        CHECK_DIGITS(gmac(f.swin_stage[i]) / cfg.swin.depths[i], block[i], 1e-3, "Swin block");
        CHECK_DIGITS(gmac(f.swin_stage[i]), stage[i], 1e-3, "Swin stage");
    }
    CHECK_DIGITS(gmac(f.patch_embed), 0.088, 1e-3, "patch embed");
    CHECK_DIGITS(gmac(f.merges) / 3, 0.472, 1e-3, "one PatchMerging");
    CHECK_DIGITS(gmac(f.swin), 85.24, 1e-2, "Swin-B");
    CHECK_DIGITS(gmac(f.swin) * 2, 170.5, 1e-1, "Swin-B GFLOP");
    /* doc/network.md, Parameters and cost: 6.3-6.4 G per stage, 25.40 in all */
    for (int i = 0; i < 4; i++)
        CHECK(gmac(f.ifim_stage[i]) >= 6.25 && gmac(f.ifim_stage[i]) < 6.45, "IFIM stage %d: %.4f G", i + 1,
              gmac(f.ifim_stage[i]));
    CHECK_DIGITS(gmac(f.ifim), 25.40, 1e-2, "IFIM");
    /* doc/network.md, Parameters and cost: HFIM 15.34; global 8.5, frequency 3.4, fusion 2.5, local 0.86 */
    CHECK_DIGITS(gmac(f.hfim), 15.34, 1e-2, "HFIM");
    CHECK_DIGITS(gmac(f.hfim_global), 8.5, 1e-1, "HFIM global");
    CHECK_DIGITS(gmac(f.hfim_fuse), 2.5, 1e-1, "HFIM fusion");
    CHECK_DIGITS(gmac(f.hfim_local), 0.86, 1e-2, "HFIM local");
    CHECK(gmac(f.hfim_freq) > 3.3 && gmac(f.hfim_freq) < 3.5, "HFIM frequency: %.4f G (doc/network.md: about 3.4)",
          gmac(f.hfim_freq));
    /* doc/network.md, Parameters and cost: conv1_4 6.37 + ARC 2.12, conv1_3 12.74 + 8.49,
     * conv1_2 42.47 + 33.97, conv1_1 0.015, routing 0.087 */
    /* (sums of three rounded figures: within three half-units) */
    CHECK_DIGITS(gmac(f.decoder_conv), 6.37 + 12.74 + 42.47, 3e-2, "decoder convs");
    CHECK_DIGITS(gmac(f.decoder_arc), 2.12 + 8.49 + 33.97, 3e-2, "decoder ARC convs");
    CHECK_DIGITS(gmac(f.decoder_head), 0.015, 1e-3, "conv1_1");
    CHECK_DIGITS(gmac(f.decoder_routing), 0.087, 1e-3, "routing");
    CHECK_DIGITS(gmac(f.decoder), 106.27, 1e-2, "decoder");
    CHECK_DIGITS(gmac(f.decoder) * 2, 212.5, 1e-1, "decoder GFLOP");
    /* doc/network.md, BERT: 142.2 M per layer, 1.71 G */
    CHECK_DIGITS(gmac(f.bert) / 12 * 1e3, 142.2, 1e-1, "BERT layer (M)");
    CHECK_DIGITS(gmac(f.bert), 1.71, 1e-2, "BERT");
    /* doc/network.md, Parameters and cost: 234.0 GMAC, about 468 GFLOP; a training step about 1.4 TFLOP per image */
    CHECK_DIGITS(gmac(f.forward), 234.0, 1e-1, "MRSNet");
    CHECK_DIGITS((double)f.forward / 1e9, 468, 1, "MRSNet GFLOP");
    CHECK(f.train_step == 3 * f.forward, "training step %lld", (long long)f.train_step);
    CHECK_DIGITS((double)f.train_step / 1e12, 1.4, 1e-1, "training step TFLOP");
    /* what doc/network.md leaves out is small: under 0.5 per cent */
    CHECK(f.not_counted > 0 && (double)f.not_counted < 5e-3 * (double)f.forward, "not counted: %lld",
          (long long)f.not_counted);
    /* the sums */
    int64_t s = 0, t = 0;
    for (int i = 0; i < 4; i++)
        s += f.swin_stage[i], t += f.ifim_stage[i];
    CHECK(s == f.swin_blocks && t == f.ifim, "per-stage sums");
    CHECK(f.ifim == f.ifim_psr + f.ifim_csr + f.ifim_cma + f.ifim_aff + f.ifim_gate, "IFIM parts");
    CHECK(f.forward == f.swin + f.ifim + f.hfim + f.decoder + f.bert, "forward sum");
}

/* Stage grids 8, 4, 2, 1 (patch 4 at 32x32), widths 8 / 16 / 32 / 64, window
 * 3: every stage pads (9, 6, 3, 3).  The numbers below are MACs per image,
 * counted by hand from doc/network.md's formulas. */
static rr_config tiny_config(void)
{
    rr_config cfg;
    rr_config_default(&cfg);
    cfg.image_size = 32;
    cfg.swin.embed_dim = 8;
    memcpy(cfg.swin.depths, (int[]){2, 2, 2, 2}, sizeof cfg.swin.depths);
    memcpy(cfg.swin.num_heads, (int[]){1, 2, 4, 8}, sizeof cfg.swin.num_heads);
    cfg.swin.window_size = 3;
    cfg.text.hidden_size = 16;
    cfg.text.num_heads = 2;
    cfg.text.num_layers = 1;
    cfg.text.intermediate_size = 32;
    cfg.text.max_len = 4;
    cfg.text.max_position = 8;
    cfg.hfim.heads = 2;
    cfg.hfim.head_dim = 4;
    cfg.hfim.freq_heads = 3; /* HFIM width 8 + 4 + 2 + 1 = 15 */
    cfg.decoder.hidden = 16;
    return cfg;
}

TEST(flops_tiny_config_by_hand)
{
    rr_config cfg = tiny_config();
    CHECK_OK(rr_config_check(&cfg));
    rr_flops f;
    CHECK_OK(rr_flops_count(&cfg, 1, &f));
    /* patch embed: 8x8 tokens x 8 out x (3 x 4 x 4) in */
    CHECK(f.patch_embed == 2 * 64 * 8 * 48, "patch embed %lld", (long long)f.patch_embed);
    /* Swin blocks, qkv (Np C 3C) + proj (Np C^2) + MLP (2 N C 4C) + attention (nW 2 81 C), 2 blocks each:
     *   stage 1  Np 81  nW 9: 15552 + 5184 + 32768 + 11664 = 65168
     *   stage 2  Np 36  nW 4: 27648 + 9216 + 32768 + 10368 = 80000
     *   stage 3  Np 9   nW 1: 27648 + 9216 + 32768 +  5184 = 74816
     *   stage 4  Np 9   nW 1: 110592 + 36864 + 32768 + 10368 = 190592 */
    const int64_t block[4] = {65168, 80000, 74816, 190592};
    for (int i = 0; i < 4; i++)
        CHECK(f.swin_stage[i] == 2 * 2 * block[i], "Swin stage %d: %lld", i + 1, (long long)f.swin_stage[i]);
    /* merges: 16 x 32 x 16, 4 x 64 x 32, 1 x 128 x 64 */
    CHECK(f.merges == 2 * 3 * 8192, "merges %lld", (long long)f.merges);
    CHECK(f.swin == 2 * (24576 + 2 * (65168 + 80000 + 74816 + 190592) + 24576), "Swin %lld", (long long)f.swin);
    /* IFIM, per stage: PSR (SSR on the levels' grids: 9 n C + 5 n C^2; aggregation 3 N C^2),
     * CSR (A.X: (sum of row lengths)^2 C; 2 N C^2), CMA (6 N C^2 + D_l N_l + 2 N_l D_l C + 2 N N_l C),
     * AFF 7 N C^2, gate 2 N C^2.  N C^2 = 4096 at every stage.
     *   stage 1  grids 8,4,2 (84 nodes): PSR 6048 + 26880 + 12288 = 45216; rows 2+2+3x6 = 22:
     *            CSR 484 x 8 + 8192 = 12064; CMA 24576 + 64 + 1024 + 4096 = 29760
     *   stage 2  grids 4,2,1 (21): PSR 3024 + 26880 + 12288 = 42192; rows 10: CSR 1600 + 8192 = 9792;
     *            CMA 24576 + 64 + 2048 + 2048 = 28736
     *   stage 3  grids 2,1,1 (6): PSR 1728 + 30720 + 12288 = 44736; rows 4: CSR 512 + 8192 = 8704;
     *            CMA 24576 + 64 + 4096 + 1024 = 29760
     *   stage 4  grids 1,1,1 (3): PSR 1728 + 61440 + 12288 = 75456; rows 1: CSR 64 + 8192 = 8256;
     *            CMA 24576 + 64 + 8192 + 512 = 33344
     * and AFF 28672 + gate 8192 each. */
    const int64_t psr[4] = {45216, 42192, 44736, 75456}, csr[4] = {12064, 9792, 8704, 8256},
                  cma[4] = {29760, 28736, 29760, 33344};
    int64_t ifim = 0;
    for (int i = 0; i < 4; i++) {
        int64_t st = psr[i] + csr[i] + cma[i] + 28672 + 8192;
        CHECK(f.ifim_stage[i] == 2 * st, "IFIM stage %d: %lld, want %lld", i + 1, (long long)f.ifim_stage[i],
              (long long)(2 * st));
        ifim += st;
    }
    CHECK(f.ifim == 2 * ifim && ifim == 515472, "IFIM %lld", (long long)f.ifim);
    CHECK(f.ifim_psr == 2 * (45216 + 42192 + 44736 + 75456), "PSR %lld", (long long)f.ifim_psr);
    /* HFIM: width 15 on 8x8 (N 64), sr 4 (M 4), inner 2 x 4 = 8, 3 heads of 5 channels, 8 x 5 rfft bins:
     *   local  9 x 64 x 15 + 64 x 225 = 8640 + 14400 = 23040
     *   global 64x15x8 + 4x15x16 + 2x64x4x8 + 64x8x15 = 7680 + 960 + 4096 + 7680 = 20416
     *   freq   3x64x225 + 3x25x40 + 3x25x64 + 64x225 = 43200 + 3000 + 4800 + 14400 = 65400
     *   fuse   3 x 225 x 64 = 43200 */
    CHECK(f.hfim_local == 2 * 23040, "HFIM local %lld", (long long)f.hfim_local);
    CHECK(f.hfim_global == 2 * 20416, "HFIM global %lld", (long long)f.hfim_global);
    CHECK(f.hfim_freq == 2 * 65400, "HFIM freq %lld", (long long)f.hfim_freq);
    CHECK(f.hfim_fuse == 2 * 43200, "HFIM fuse %lld", (long long)f.hfim_fuse);
    CHECK(f.hfim == 2 * 152056, "HFIM %lld", (long long)f.hfim);
    /* decoder, hidden 16: conv 9 n C_in 16, ARC 9 n 256, routing 9 n 16 + 2 x 16, head 64 x 16 x 2
     *   2x2, in 64 + 32: 55296 + 9216 + 608
     *   4x4, in 16 + 16: 73728 + 36864 + 2336
     *   8x8, in 16 + 8: 221184 + 147456 + 9248 */
    CHECK(f.decoder_conv == 2 * (55296 + 73728 + 221184), "decoder convs %lld", (long long)f.decoder_conv);
    CHECK(f.decoder_arc == 2 * (9216 + 36864 + 147456), "ARC %lld", (long long)f.decoder_arc);
    CHECK(f.decoder_routing == 2 * (608 + 2336 + 9248), "routing %lld", (long long)f.decoder_routing);
    CHECK(f.decoder_head == 2 * 2048, "head %lld", (long long)f.decoder_head);
    CHECK(f.decoder == 2 * 557984, "decoder %lld", (long long)f.decoder);
    /* BERT, 1 layer of 16 over 4 tokens: 4x4x256 + 2x16x16 + 2x4x16x32 = 4096 + 512 + 4096 */
    CHECK(f.bert == 2 * 8704, "BERT %lld", (long long)f.bert);
    CHECK(f.forward == 2 * (870304 + 515472 + 152056 + 557984 + 8704), "forward %lld", (long long)f.forward);
    CHECK(f.train_step == 3 * f.forward, "train step");
}

TEST(flops_scaling_and_ablations)
{
    rr_config cfg = tiny_config();
    rr_flops one, eight;
    CHECK_OK(rr_flops_count(&cfg, 1, &one));
    CHECK_OK(rr_flops_count(&cfg, 8, &eight));
    CHECK(eight.forward == 8 * one.forward && eight.train_step == 8 * one.train_step && eight.batch == 8,
          "batch 8: %lld vs 8 x %lld", (long long)eight.forward, (long long)one.forward);
    CHECK(eight.not_counted > 0, "not counted");
    /* PSR off: no PSR, and AFF fuses 2 branches (5 N C^2 instead of 7; N C^2 = 4096 per stage) */
    rr_config a = cfg;
    a.ifim.psr = 0;
    rr_flops fa;
    CHECK_OK(rr_flops_count(&a, 1, &fa));
    CHECK(fa.ifim_psr == 0 && fa.ifim_aff == 2 * 4 * 5 * 4096 && fa.ifim == one.ifim - one.ifim_psr - 2 * 4 * 2 * 4096,
          "PSR off: IFIM %lld", (long long)fa.ifim);
    CHECK(fa.swin == one.swin && fa.hfim == one.hfim && fa.decoder == one.decoder, "PSR off touches only the IFIM");
    /* CSR off as well: AFF of the CMA alone (3 N C^2) */
    a.ifim.csr = 0;
    CHECK_OK(rr_flops_count(&a, 1, &fa));
    CHECK(fa.ifim_csr == 0 && fa.ifim_aff == 2 * 4 * 3 * 4096, "CSR off: AFF %lld", (long long)fa.ifim_aff);
    /* global HFIM attention (sr 1): M = N = 64 */
    rr_config g = cfg;
    g.hfim.sr = 1;
    rr_flops fg;
    CHECK_OK(rr_flops_count(&g, 1, &fg));
    CHECK(fg.hfim_global == 2 * (7680 + 64 * 15 * 16 + 2 * 64 * 64 * 8 + 7680), "sr 1: %lld",
          (long long)fg.hfim_global);
    /* errors */
    CHECK(rr_flops_count(&cfg, 0, &fa) == -1, "batch 0 accepted");
    rr_config bad = cfg;
    bad.image_size = 30;
    CHECK(rr_flops_count(&bad, 1, &fa) == -1, "image 30 accepted");
}

TEST(flops_gpu_peaks)
{
    const rr_gpu_peak *p = rr_gpu_peak_find("NVIDIA H100 80GB HBM3");
    CHECK(p && p->tf32 == 494.7 && p->bf16 == 989.4 && p->fp32 == 66.9, "H100 SXM: %s", p ? p->card : "none");
    p = rr_gpu_peak_find("cuda:0 NVIDIA H100 80GB HBM3, sm_90, 79.1 GiB"); /* rr_device_describe */
    CHECK(p && p->tf32 == 494.7, "describe string");
    p = rr_gpu_peak_find("NVIDIA H100 PCIe");
    CHECK(p && p->tf32 < 494.7 && p->bf16 < 989.4 && p->fp32 < 66.9, "H100 PCIe is slower: %s", p ? p->card : "none");
    p = rr_gpu_peak_find("NVIDIA H200");
    CHECK(p && p->tf32 == 494.7 && p->bf16 == 989.4 && !strstr(p->card, "NVL"), "H200: %s", p ? p->card : "none");
    p = rr_gpu_peak_find("NVIDIA H200 NVL");
    CHECK(p && strstr(p->card, "NVL") && p->tf32 < 494.7, "H200 NVL: %s", p ? p->card : "none");
    p = rr_gpu_peak_find("NVIDIA GH200 480GB");
    CHECK(p && strstr(p->card, "GH200"), "GH200: %s", p ? p->card : "none");
    CHECK(rr_gpu_peak_find("NVIDIA GeForce RTX 4090") == NULL && rr_gpu_peak_find(NULL) == NULL, "unknown card");
    p = rr_gpu_peak_find("NVIDIA H100 80GB HBM3");
    CHECK(rr_gpu_peak_tflops(p, "tf32") == 494.7 && rr_gpu_peak_tflops(p, "bf16") == 989.4 &&
              rr_gpu_peak_tflops(p, "fp32") == 66.9 && rr_gpu_peak_tflops(p, "fp8") == 0,
          "precisions");
    for (const rr_gpu_peak *q = rr_gpu_peaks; q->match; q++)
        CHECK(q->fp32 > 0 && q->tf32 > q->fp32 && fabs(q->bf16 - 2 * q->tf32) < 1.5,
              "%s: bf16 %.1f is not twice tf32 %.1f", q->card, q->bf16, q->tf32);
    /* 494.7 TFLOP in one second on an H100 SXM is 100 per cent */
    CHECK(fabs(rr_mfu(494.7e12, 1.0, 494.7) - 1.0) < 1e-12, "mfu");
    CHECK(rr_mfu(1e12, 0, 494.7) == 0 && rr_mfu(1e12, 1, 0) == 0, "mfu of nothing");
}
