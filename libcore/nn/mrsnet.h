/* MRSNet, the whole network (doc/network.md, Data flow): BERT over the sentence, the Swin
 * backbone with an IFIM at every stage and the HFIM over the four scales,
 * RMSIN's decoder, and the bilinear upsampling of the logits to the input
 * size.  The configuration may choose other modules (LAVT's, RMSIN's) for
 * the fusion, the cross-scale module and the decoder (share/configs/README).  Parameter names are those of tools/reference/mrsnet.py (and of
 * LAVT/RMSIN for the shared parts): "text_encoder.", "backbone.",
 * "classifier.".
 *
 * The forward is split where the programs split it: rrsis-encode runs the
 * text encoder, rrsis-fuse the backbone, rrsis-decode the decoder; rrsis-train
 * and the tests run the three in one process. */
#ifndef RR_NN_MRSNET_H
#define RR_NN_MRSNET_H

#include "backbone.h"
#include "bert.h"
#include "config.h"
#include "decoder.h"
#include "params.h"
#include "trace.h"

/* The parts of the network a program needs (the others are not built, and
 * their weights not loaded). */
enum { RR_PART_TEXT = 1, RR_PART_BACKBONE = 2, RR_PART_DECODER = 4, RR_PART_ALL = 7 };

typedef struct rr_mrsnet {
    rr_config cfg;
    int parts;
    /* Set by rr_mrsnet_load: the model's identity, a digest of the whole
     * file's tensors (whatever parts were loaded) and its configuration
     * (rr_mrsnet_identity), and the file's name without its folder.  A
     * model made otherwise has 0 and "". */
    uint64_t identity;
    char file[128];
    rr_params params;
    rr_bert bert;
    rr_backbone backbone;
    rr_decoder decoder;
} rr_mrsnet;

/* A model (the given parts of it) with seeded initial weights (doc/training.md, Initialisation)
 * on device d; with_grads allocates every trainable parameter's gradient. */
int rr_mrsnet_init(rr_mrsnet *m, const rr_config *cfg, int parts, rr_device d, uint64_t seed, int with_grads);
/* The formats of the files a model loads from (metadata "format"): weight
 * files, training checkpoints (train/checkpoint.h), which are weight files
 * too, and the PyTorch reference's goldens (tools/reference/make_goldens.py). */
#define RR_WEIGHTS_FORMAT "rrsis-weights/1"
#define RR_CHECKPOINT_FORMAT "rrsis-checkpoint/1"
#define RR_GOLDEN_FORMAT "rrsis-golden/1"

/* What a file must be before a model takes its tensors: one of those
 * formats, and every tensor matching its checksum when the metadata has
 * them (io/checksum.h). */
int rr_mrsnet_verify_file(const rr_record *rec);
/* Every tensor of rec in the parts m was built with must be one of m's:
 * an error names the first that is not ("tensor 'x' is in the weights but
 * not in the model ...").  A checkpoint's optimizer state is not checked. */
int rr_mrsnet_check_unused(const rr_mrsnet *m, const rr_record *rec);

/* The identity of the model a weight file holds: rr_record_digest of its
 * tensors (io/checksum.h: from the file's checksums, without reading the
 * data, when it has them; a checkpoint's optimizer state left out) mixed
 * with the configuration as rr_config_to_json writes it (so that the same
 * weights and configuration have one identity in whatever file, but the
 * same weights with another configuration, or one changed tensor, have
 * another).  The tensor streams carry it (pipeline/stage.h). */
int rr_mrsnet_identity(const rr_record *rec, const rr_config *cfg, uint64_t *identity);

/* rr_mrsnet_load's flags. */
enum {
    RR_LOAD_PARTIAL = 1,      /* missing tensors keep their initial values (listed on `missing`) */
    RR_LOAD_ALLOW_UNUSED = 2, /* tensors the model does not have are ignored */
};
/* A model from a weight file: the file verified (rr_mrsnet_verify_file),
 * the configuration from its metadata ("config"), then every tensor by
 * name (rr_params_load_mapped: shapes, dtypes, finite values; without
 * gradients on the CPU, F32 tensors are used in place in the file's mapping,
 * which the model keeps until rr_mrsnet_free); a tensor the model does not
 * have is an error (rr_mrsnet_check_unused) unless flags allow it;
 * sets the identity and file of m. */
int rr_mrsnet_load(rr_mrsnet *m, const char *path, int parts, rr_device d, int with_grads, int flags,
                   FILE *missing);
/* Writes the weights (F32, F16 or BF16) with the configuration and the
 * checksums in the metadata, atomically. */
int rr_mrsnet_save(const rr_mrsnet *m, const char *path, rr_dtype dtype);
void rr_mrsnet_free(rr_mrsnet *m);

/* Word features L (B x D_l x N_l) of token ids and their mask (I32 B x N_l);
 * records "text.L". */
rr_tensor *rr_mrsnet_encode_text(rr_ctx *c, const rr_mrsnet *m, rr_tensor *ids, rr_tensor *mask, rr_trace *tr);
/* The language mask the fusion modules take: B x N_l x 1, F32 0/1, from the
 * I32 attention mask (B x N_l). */
rr_tensor *rr_mrsnet_lmask(rr_ctx *c, rr_tensor *mask);
/* The logits B x 2 x out_h x out_w from the HFIM outputs D1..D4: the decoder
 * and the bilinear (align_corners) upsampling; records "decoder.out" and
 * "logits". */
rr_tensor *rr_mrsnet_decode(rr_ctx *c, const rr_mrsnet *m, rr_tensor *const d[4], int64_t out_h, int64_t out_w,
                            rr_trace *tr);
/* All of it: img (B x 3 x S x S, normalised), ids and mask (I32 B x N_l). */
rr_tensor *rr_mrsnet_fwd(rr_ctx *c, const rr_mrsnet *m, rr_tensor *img, rr_tensor *ids, rr_tensor *mask,
                         rr_trace *tr);

/* The terms of the loss, unweighted; presence is NULL when its weight is 0. */
typedef struct {
    rr_tensor *ce, *dice, *presence;
} rr_loss_terms;

/* The loss of doc/training.md, Loss with the configuration's weights:
 * ce_weight * CE_w + dice_weight * (Dice term, mean or sum over the batch),
 * plus presence_weight * rr_presence2 when that weight is not 0 (ours).
 * target: U8 or I32 (B x H x W) of 0/1.  terms (optional) receives the
 * terms. */
rr_tensor *rr_mrsnet_loss(rr_ctx *c, const rr_mrsnet *m, rr_tensor *logits, rr_tensor *target,
                          rr_loss_terms *terms);

#endif
