/* FLOP counts of MRSNet and peak rates of GPUs (flops.h). */
#include "flops.h"

#include <math.h>
#include <string.h>

#include "../error.h"
#include "cim.h"

static int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

/* Positions summed by a (2r+1)-wide window at stride 1 with padding r that
 * counts only the positions inside, over a line of n: the row lengths of
 * the CSR's adjacency along one axis (count_include_pad=False). */
static int64_t window_entries(int64_t n, int64_t r)
{
    int64_t s = 0;
    for (int64_t i = 0; i < n; i++) {
        int64_t lo = i - r < 0 ? 0 : i - r, hi = i + r > n - 1 ? n - 1 : i + r;
        s += hi - lo + 1;
    }
    return s;
}

/* FLOPs of a complex 2-D FFT of n points (5 n log2 n), for not_counted. */
static double fft_flops(int64_t n) { return n > 1 ? 5.0 * (double)n * log2((double)n) : 0; }

/* MACs of FeedForward(x, mlp_ratio r) on n positions: 1x1 x -> rx, the 3x3
 * grouped by x (r inputs per output), 1x1 rx -> x. */
static int64_t cim_ff(int64_t n, int64_t x, int64_t r) { return n * x * r * x + 9 * n * r * x * r + n * r * x * x; }

/* RMSIN's CIM (doc/network.md, CIM) on stage 4's g x g grid, H[3] = g, C: the
 * stage widths.  MACs per image. */
static int64_t cim_macs(const rr_config *cfg, const int64_t H[4], const int64_t C[4])
{
    const rr_cim_config *k = &cfg->cim;
    int64_t g = H[3], n0 = g * g, n = rr_cim_tokens(g), g2 = cdiv(g, 2), g3 = cdiv(g, 3);
    int64_t dim = C[0] + C[1] + C[2] + C[3], h = dim / 4, r = k->mlp_ratio;
    int64_t d = (int64_t)k->attn_ratio * k->key_dim, dh = d * k->heads, q = dh + 2 * (int64_t)k->key_dim * k->heads;
    /* the depthwise 3x3 s2 and 5x5 s3, qkv, the two attention products, proj over
     * tokens, parallel_conv, to_out, the closing 1x1 */
    int64_t csa = 9 * g2 * g2 * h + 25 * g3 * g3 * h + n * h * q + k->heads * n * n * (k->key_dim + d) + dh * n * n0 +
                  9 * n0 * dh + n0 * dh * h + n0 * h * h;
    int64_t block = 2 * csa + cim_ff(n0, h, r);
    for (int i = 0; i < 4; i++)
        block += cim_ff(n0, C[i] / 4, r);
    int64_t macs = 2 * n0 * dim * h + k->layers * block; /* down_channel, up_channel, the blocks */
    for (int i = 0; i < 4; i++) /* the gates: local_embedding on E_i's grid, the other two on g x g */
        macs += H[i] * H[i] * C[i] * C[i] + 2 * n0 * C[i] * C[i];
    return macs;
}

int rr_flops_count(const rr_config *cfg, int64_t batch, rr_flops *out)
{
    memset(out, 0, sizeof *out);
    if (batch < 1)
        return rr_error("flops: batch must be >= 1, not %lld", (long long)batch);
    if (rr_config_check(cfg))
        return -1;
    const rr_swin_config *s = &cfg->swin;
    if (cfg->image_size <= 0)
        return rr_error("flops: image_size must be positive");
    if (cfg->ifim.npsr_levels < 1 || cfg->ifim.npsr_levels > 3)
        return rr_error("flops: ifim.psr_levels needs 1 to 3 levels");
    for (int i = 0; i < 4; i++)
        if (s->depths[i] < 0)
            return rr_error("flops: swin.depths[%d] is negative", i);

    /* Everything below is MACs per image; scaled to FLOPs of the batch at the end. */
    int64_t e = s->embed_dim, ws = s->window_size, T = ws * ws;
    int64_t H[4], C[4];
    H[0] = cdiv(cfg->image_size, s->patch_size);
    for (int i = 0; i < 4; i++) {
        C[i] = e << i;
        if (i)
            H[i] = cdiv(H[i - 1], 2); /* PatchMerging pads an odd grid */
    }
    int64_t Nl = cfg->text.max_len, Dl = cfg->text.hidden_size;
    double aside = 0; /* not_counted, FLOPs per image */

    /* --- Swin (doc/network.md: Patch embedding, Swin block, Patch merging, Parameters and cost) --- */
    int64_t pe = H[0] * H[0] * e * cfg->in_chans * s->patch_size * s->patch_size;
    int64_t blocks = 0, stage[4], merges = 0;
    for (int i = 0; i < 4; i++) {
        int64_t h = H[i], c = C[i], n = h * h, hp = cdiv(h, ws) * ws, np = hp * hp, nw = (hp / ws) * (hp / ws);
        int64_t hidden = (int64_t)((float)c * s->mlp_ratio); /* int(dim * mlp_ratio), as the network */
        int64_t qkv = np * c * 3 * c, proj = np * c * c, mlp = 2 * n * c * hidden, attn = nw * 2 * T * T * c;
        stage[i] = (qkv + proj + mlp + attn) * s->depths[i];
        blocks += stage[i];
        if (i < 3) /* LN(4C) + Linear(4C -> 2C) on the next grid */
            merges += H[i + 1] * H[i + 1] * 4 * c * 2 * c;
    }

    /* --- IFIM (doc/network.md, IFIM), one per stage, with the stage's tanh gate (doc/network.md, Stage wiring) --- */
    const rr_ifim_config *f = &cfg->ifim;
    int64_t psr = 0, csr = 0, cma = 0, aff = 0, gate = 0, pwam = 0, visual = 0, ifim_stage[4];
    int k = 1 + (f->psr != 0) + (f->csr != 0); /* AFF's branches */
    for (int i = 0; i < 4; i++) {
        int64_t h = H[i], c = C[i], n = h * h, p = 0, r = 0;
        int64_t g = 2 * n * c * c; /* res_gate: two C x C Linears */
        if (cfg->fusion[i] != RR_FUSION_IFIM) {
            /* vis_project, f_query, W, project_mm; f_key, f_value; Q.K and A.V (doc/network.md, PWAM) */
            int64_t w = 4 * n * c * c + 2 * Nl * Dl * c + 2 * n * Nl * c;
            /* RMSIN's IIM adds, at stages 1-3 (stage 4's stream feeds nothing, doc/network.md,
             * IIM), the RepBlock's 1-channel convolutions (two rounds of 1 + 1 + 9 taps) and
             * the branch's tanh gate (two C x C Linears) */
            int64_t v = cfg->fusion[i] == RR_FUSION_IIM && i < 3 ? 2 * 11 * n + 2 * n * c * c : 0;
            pwam += w, gate += g, visual += v;
            ifim_stage[i] = w + g + v;
            continue;
        }
        if (f->psr) {
            for (int l = 0; l < f->npsr_levels; l++) {
                int64_t hs = cdiv(h, f->psr_levels[l]), ns = hs * hs;
                /* SSR: DW3x3 + PW (spatial), Conv 2C->C on [|Z|; arg Z], Conv 2C->C fusion */
                p += 9 * ns * c + ns * c * c + 2 * ns * c * c + 2 * ns * c * c;
                aside += (double)c * fft_flops(ns);
            }
            p += (int64_t)f->npsr_levels * n * c * c; /* the aggregation conv */
        }
        if (f->csr) {
            int64_t w1 = window_entries(h, f->csr_radius);
            r = w1 * w1 * c + 2 * n * c * c; /* A.X, then W_g and the output conv */
        }
        /* CMA: vis_project, f_query, lang_gate, f_key, f_value, Q.K, S.V, W, fusion_weight, project_mm */
        int64_t m = n * c * c + n * c * c + Dl * Nl + 2 * Nl * Dl * c + 2 * n * Nl * c + n * c * c + 2 * n * c * c +
                    n * c * c;
        int64_t a = (2 * (int64_t)k + 1) * n * c * c; /* fc1 kC->C, fc2 C->kC, proj C->C */
        psr += p, csr += r, cma += m, aff += a, gate += g;
        ifim_stage[i] = p + r + m + a + g;
    }

    /* --- HFIM (doc/network.md, HFIM) on the stride-4 grid --------------------- */
    const rr_hfim_config *hf = &cfg->hfim;
    int64_t G = H[0], N = G * G, ch = rr_config_hfim_channels(cfg), inner = (int64_t)hf->heads * hf->head_dim;
    int64_t Gr = G / hf->sr, M = Gr * Gr, fh = hf->freq_heads, cc = ch / fh, bins = G * (G / 2 + 1);
    int64_t local = 9 * N * ch + N * ch * ch;
    int64_t glob = N * ch * inner + M * ch * 2 * inner + 2 * N * M * inner + N * inner * ch;
    int64_t freq = 3 * N * ch * ch + fh * cc * cc * bins + fh * cc * cc * N + N * ch * ch;
    int64_t fuse = 3 * ch * ch * N;
    if (cfg->cross_scale != RR_CROSS_HFIM)
        local = glob = freq = fuse = 0;
    else
        aside += 2 * (double)ch * (fft_flops(N) / 2); /* rfft2 (half a complex FFT) of Q_s and K_s */
    int64_t cim = cfg->cross_scale == RR_CROSS_CIM ? cim_macs(cfg, H, C) : 0;

    /* --- decoder (doc/network.md: Decoder, ARC, Parameters and cost) ---------- */
    const rr_decoder_config *d = &cfg->decoder;
    int64_t hid = d->hidden, kn = d->arc_kernel_number;
    int64_t lvl_h[3] = {H[2], H[1], H[0]}, lvl_in[3] = {C[3] + C[2], hid + C[1], hid + C[0]};
    int64_t conv = 0, arc = 0, routing = 0;
    for (int l = 0; l < 3; l++) {
        int64_t n = lvl_h[l] * lvl_h[l];
        conv += 9 * n * lvl_in[l] * hid;
        arc += 9 * n * hid * hid; /* rotated or (LAVT's) plain */
        if (d->kind == RR_DECODER_RMSIN) {
            routing += 9 * n * hid + 2 * hid * kn;
            aside += 2.0 * 81 * (double)kn * (double)hid * (double)hid;
        }
    }
    int64_t head = H[0] * H[0] * hid * cfg->num_classes;

    /* --- BERT (doc/network.md, BERT) ------------------------------------------ */
    const rr_text_config *t = &cfg->text;
    int64_t D = t->hidden_size;
    int64_t bert = (int64_t)t->num_layers * (4 * Nl * D * D + 2 * Nl * Nl * D + 2 * Nl * D * t->intermediate_size);

    /* --- FLOPs of the batch --- */
    int64_t x = 2 * batch;
    out->batch = batch;
    out->patch_embed = x * pe;
    out->swin_blocks = x * blocks;
    for (int i = 0; i < 4; i++) {
        out->swin_stage[i] = x * stage[i];
        out->ifim_stage[i] = x * ifim_stage[i];
    }
    out->merges = x * merges;
    out->swin = out->patch_embed + out->swin_blocks + out->merges;
    out->ifim_psr = x * psr;
    out->ifim_csr = x * csr;
    out->ifim_cma = x * cma;
    out->ifim_aff = x * aff;
    out->ifim_gate = x * gate;
    out->ifim_pwam = x * pwam;
    out->ifim_visual = x * visual;
    out->ifim = out->ifim_psr + out->ifim_csr + out->ifim_cma + out->ifim_aff + out->ifim_gate + out->ifim_pwam +
                out->ifim_visual;
    out->hfim_local = x * local;
    out->hfim_global = x * glob;
    out->hfim_freq = x * freq;
    out->hfim_fuse = x * fuse;
    out->hfim_cim = x * cim;
    out->hfim = out->hfim_local + out->hfim_global + out->hfim_freq + out->hfim_fuse + out->hfim_cim;
    out->decoder_conv = x * conv;
    out->decoder_arc = x * arc;
    out->decoder_routing = x * routing;
    out->decoder_head = x * head;
    out->decoder = out->decoder_conv + out->decoder_arc + out->decoder_routing + out->decoder_head;
    out->bert = x * bert;
    out->forward = out->swin + out->ifim + out->hfim + out->decoder + out->bert;
    out->train_step = 3 * out->forward;
    out->not_counted = (int64_t)llround(aside * (double)batch);
    return 0;
}

/* Dense peaks (sparsity's 2x removed), TFLOP/s at the boost clock.  First
 * match wins, so the more specific names come first ("GH200" and "H200 NVL"
 * before "H200", "H100 NVL" and "H100 PCIe" before "H100").
 *
 * Sources:
 *   [WP] NVIDIA H100 Tensor Core GPU Architecture whitepaper (V1.0x, 2022),
 *        table "NVIDIA A100 / H100 SXM5 / H100 PCIe": FP32 19.5 / 66.9 /
 *        51.2, TF32 Tensor 156 / 494.7 / 378, BF16 Tensor (FP32 accumulate)
 *        312 / 989.4 / 756, all dense (the sparse figures beside them
 *        are twice these).
 *   [DS] NVIDIA H100 and H200 datasheets (product pages): H100 NVL and
 *        H200 NVL FP32 60, TF32 835 and BF16 1,671 "with sparsity", i.e.
 *        417.5 and 835.5 dense; H200 SXM FP32 67, TF32 989, BF16 1,979 with
 *        sparsity: the H100 SXM5's GH100 configuration and clock, so [WP]'s
 *        H100 SXM5 figures; GH200 likewise.
 * cudaDeviceProp.name: "NVIDIA H100 80GB HBM3" (SXM5), "NVIDIA H100 PCIe",
 * "NVIDIA H100 NVL", "NVIDIA H200", "NVIDIA H200 NVL", "NVIDIA GH200 480GB",
 * "NVIDIA A100-SXM4-80GB", "NVIDIA A100 80GB PCIe". */
const rr_gpu_peak rr_gpu_peaks[] = {
    {"GH200", "NVIDIA GH200 (H100/H200 SXM compute)", 66.9, 494.7, 989.4, "[WP] H100 SXM5; [DS] GH200"},
    {"H200 NVL", "NVIDIA H200 NVL", 60.0, 417.5, 835.5, "[DS] H200 NVL, sparse figures halved"},
    {"H200", "NVIDIA H200 SXM", 66.9, 494.7, 989.4, "[WP] H100 SXM5 (same compute); [DS] H200 SXM"},
    {"H100 NVL", "NVIDIA H100 NVL", 60.0, 417.5, 835.5, "[DS] H100 NVL, sparse figures halved"},
    {"H100 PCIe", "NVIDIA H100 PCIe", 51.2, 378.0, 756.0, "[WP] H100 PCIe"},
    {"H100", "NVIDIA H100 SXM5", 66.9, 494.7, 989.4, "[WP] H100 SXM5"},
    {"A100", "NVIDIA A100", 19.5, 156.0, 312.0, "[WP] A100"},
    {NULL, NULL, 0, 0, 0, NULL},
};

const rr_gpu_peak *rr_gpu_peak_find(const char *device_name)
{
    if (!device_name)
        return NULL;
    for (const rr_gpu_peak *p = rr_gpu_peaks; p->match; p++)
        if (strstr(device_name, p->match))
            return p;
    return NULL;
}

double rr_gpu_peak_tflops(const rr_gpu_peak *p, const char *precision)
{
    if (!p || !precision)
        return 0;
    if (!strcmp(precision, "fp32"))
        return p->fp32;
    if (!strcmp(precision, "tf32"))
        return p->tf32;
    if (!strcmp(precision, "bf16"))
        return p->bf16;
    return 0;
}

double rr_mfu(double flops, double seconds, double peak_tflops)
{
    if (!(flops > 0) || !(seconds > 0) || !(peak_tflops > 0))
        return 0;
    return flops / seconds / (peak_tflops * 1e12);
}
