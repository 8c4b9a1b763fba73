/* The Swin Transformer pieces of the visual backbone (doc/network.md, Swin backbone), with
 * the PyTorch reference's parameter names (tools/reference/mrsnet.py:
 * PatchEmbed, SwinBlock with its WindowAttention and Mlp, PatchMerging,
 * shift_mask).  Tokens are B x N x C on an h x w grid (N = h*w, raster order).
 * Every Linear is trunc_normal(.02) with bias 0, every LayerNorm 1/0, the
 * relative position bias table trunc_normal(.02), the patch-embedding conv
 * PyTorch's default (doc/training.md, Initialisation). */
#ifndef RR_NN_SWIN_H
#define RR_NN_SWIN_H

#include "config.h"
#include "layers.h"

/* Conv k=p/s=p (3 -> C, bias) then LayerNorm(C): PREFIX.proj, PREFIX.norm. */
typedef struct {
    rr_conv2d_m proj;
    rr_layer_norm_m norm;
    int64_t patch;
} rr_patch_embed;

int rr_patch_embed_init(rr_params *p, rr_patch_embed *m, const rr_config *cfg, const char *prefix);
/* img B x in_chans x H x W, zero-padded right/bottom to multiples of the
 * patch -> B x (gh*gw) x C; the grid size goes to *gh, *gw. */
rr_tensor *rr_patch_embed_fwd(rr_ctx *c, const rr_patch_embed *m, rr_tensor *img, int64_t *gh, int64_t *gw);

/* One block: PREFIX.{norm1, attn.{relative_position_bias_table, qkv, proj},
 * norm2, mlp.{fc1, fc2}}.  rel_index is the constant (w*w)^2 I32 index into
 * the bias table (the reference's non-persistent buffer), kept in the
 * registry's store; it is not a parameter. */
typedef struct {
    int64_t dim, heads, window, shift;
    float scale, drop_path, drop, attn_drop;
    rr_layer_norm_m norm1, norm2;
    rr_linear_m qkv, proj, fc1, fc2;
    rr_tensor *rel_table, *rel_index;
} rr_swin_block;

/* shift: 0 (W-MSA) or window/2 (SW-MSA, the odd blocks); drop_path: the
 * block's DropPath rate. */
int rr_swin_block_init(rr_params *p, rr_swin_block *m, int64_t dim, int64_t heads, int64_t shift, float drop_path,
                       const rr_config *cfg, const char *prefix);
/* x B x (h*w) x C -> B x (h*w) x C.  mask: the stage's rr_swin_shift_mask,
 * required when the block shifts (ignored otherwise). */
rr_tensor *rr_swin_block_fwd(rr_ctx *c, const rr_swin_block *m, rr_tensor *x, int64_t h, int64_t w,
                             rr_tensor *mask);

/* The shifted-window attention mask of a padded hp x wp grid (doc/network.md, Shifted-window mask):
 * nW x 1 x (w*w) x (w*w), 0 between tokens of one region and `value` (-100)
 * across regions, windows in raster order.  A constant in c. */
rr_tensor *rr_swin_shift_mask(rr_ctx *c, int64_t hp, int64_t wp, int64_t window, int64_t shift, float value);

/* PREFIX.norm = LayerNorm(4C), PREFIX.reduction = Linear(4C -> 2C, no bias). */
typedef struct {
    rr_layer_norm_m norm;
    rr_linear_m reduction;
} rr_patch_merging;

int rr_patch_merging_init(rr_params *p, rr_patch_merging *m, int64_t dim, const rr_config *cfg,
                          const char *prefix);
/* x B x (h*w) x C -> B x (ceil(h/2)*ceil(w/2)) x 2C (odd sizes zero-padded). */
rr_tensor *rr_patch_merging_fwd(rr_ctx *c, const rr_patch_merging *m, rr_tensor *x, int64_t h, int64_t w);

/* The DropPath rate of block k of the n blocks of the backbone: element k
 * of torch.linspace(0, rate, n), rate * k / (n-1).  torch's float32 values
 * can differ in the last bit (its kernel's rounding depends on its SIMD
 * width); DropPath draws are not comparable with torch's anyway. */
float rr_swin_drop_path_rate(float rate, int k, int n);

#endif
