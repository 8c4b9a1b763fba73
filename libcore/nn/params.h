/* The parameters of a model: named tensors (the PyTorch state_dict keys),
 * their gradients, and how each is initialised, optimised and decayed.
 *
 * Modules create their parameters at construction with rr_param_add (names
 * built from the module's prefix, doc/training.md, Initialisation for the init rules) and keep the
 * tensor pointers; forward functions only read them.  Buffers (BatchNorm's
 * running statistics) are entries too, without a gradient.  Everything lives
 * in the registry's own arenas, so it outlives every step's context. */
#ifndef RR_NN_PARAMS_H
#define RR_NN_PARAMS_H

#include <stdint.h>

#include "../ctx.h"
#include "../io/safetensors.h"
#include "../rng.h"

typedef enum {
    RR_INIT_ZEROS,
    RR_INIT_ONES,
    RR_INIT_TRUNC_NORMAL,    /* normal(0, a) cut to [-2, 2] (timm trunc_normal_: absolute bounds) */
    RR_INIT_KAIMING_UNIFORM, /* PyTorch's Linear/Conv default: U(+-1/sqrt(fan_in)) (kaiming a = sqrt 5) */
    RR_INIT_FAN_IN_UNIFORM,  /* a bias next to a default-initialised weight: U(+-1/sqrt(a)), a = fan_in */
    RR_INIT_KAIMING_NORMAL_FAN_OUT, /* normal(0, sqrt(2 / fan_out)), ReLU gain (ARC's base weight) */
    RR_INIT_CONST,           /* every element = a */
} rr_init;

typedef enum {
    RR_PARAM_TRAIN = 0,      /* optimised (weight decay by name: train/adamw.h, doc/training.md, Optimizer groups) */
    RR_PARAM_FROZEN = 2,     /* gets a gradient, never updated (BERT embeddings, layers 10-11) */
    RR_PARAM_BUFFER = 4,     /* state, no gradient (running statistics, index tables) */
} rr_param_kind;

typedef struct rr_param {
    char *name;
    rr_tensor *t;            /* t->grad allocated for non-buffers when the registry has grads */
    int kind;                /* rr_param_kind flags */
    void *own;               /* the tensor's memory in the registry; t->data unless in place in a mapping */
} rr_param;

/* The running statistics of a BatchNorm and its momentum, registered by
 * rr_batch_norm_m_init: what a trainer across processes combines
 * (train/trainer.c), whichever modules a configuration builds. */
typedef struct {
    rr_tensor *mean, *var;
    float momentum;
} rr_bn_stats;

typedef struct rr_params {
    rr_ctx store;            /* never reset: the tensors and their gradients */
    rr_param *items;
    int n, cap;
    rr_bn_stats *bn_stats;   /* every BatchNorm's, in the order built */
    int nbn_stats, cap_bn_stats;
    rr_rng rng;              /* initialisation stream */
    int with_grads;
    int uninitialised;       /* rr_param_add leaves the values unset: every one is about to be loaded */
    void *map;               /* the weight file's read-only mapping that tensors in place point into */
    size_t map_len;          /* (rr_params_load_mapped), unmapped by rr_params_free, or NULL */
} rr_params;

int rr_params_init(rr_params *p, rr_device d, uint64_t seed, int with_grads);
void rr_params_free(rr_params *p);

/* A new parameter named by printf-style fmt, initialised by `init` with
 * argument a (std, const value or fan-in as the kind says).  fan_in and
 * fan_out are computed from the shape as PyTorch does (dim 1 x receptive
 * field, dim 0 x receptive field).  NULL with a message on failure (a
 * duplicate name included). */
rr_tensor *rr_param_add(rr_params *p, int kind, rr_init init, float a, int ndim, const int64_t *shape,
                        const char *fmt, ...) __attribute__((format(printf, 7, 8)));

rr_param *rr_params_find(const rr_params *p, const char *name);
/* Registers a BatchNorm's running statistics (rr_batch_norm_m_init does). */
int rr_params_add_bn_stats(rr_params *p, rr_tensor *mean, rr_tensor *var, float momentum);
/* Total number of elements of the non-buffer parameters. */
int64_t rr_params_count(const rr_params *p, const char *prefix);
void rr_params_zero_grad(rr_params *p);

/* Copies every parameter from a record (converting F16/BF16/F64 to F32).
 * A tensor missing from the record, of another shape, of another dtype
 * (an integer one) or holding a NaN or an infinity is an error naming it; with partial, missing ones are allowed and, when `missing` is not
 * NULL, their names are written to it, one per line.  Record entries that
 * match no parameter are ignored (a checkpoint's classifier head, say) and
 * counted in *unused when it is not NULL. */
int rr_params_load(rr_params *p, const rr_record *rec, int partial, FILE *missing, int *unused);
/* The same, for inference: in a registry without gradients, on the CPU, the
 * F32 tensors of a mapped record (rr_safetensors_load) whose data is aligned
 * for a float are used in place, without a copy: their data points into the
 * mapping, read-only, which the registry then owns (rec->map becomes NULL;
 * rec's entries stay valid while p lives).  The rest are copied as by
 * rr_params_load, every value scanned for finiteness either way.  A trained
 * registry (with gradients) gets copies only; so does one that already
 * holds a mapping. */
int rr_params_load_mapped(rr_params *p, rr_record *rec, int partial, FILE *missing, int *unused);
/* A parameter in place is read-only (writing to it faults): this copies it
 * into its own memory first, for a caller that changes its values.  Nothing
 * to do for the others. */
void rr_param_make_writable(rr_param *pa);
/* Adds every parameter and buffer to a record, in dtype F32, F16 or BF16. */
int rr_params_to_record(const rr_params *p, rr_record *rec, rr_dtype dtype);

#endif
