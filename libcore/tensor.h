/* Tensors: a dtype, a shape of up to 5 dimensions, contiguous row-major data
 * on one device, and (for training) a gradient of the same shape.
 *
 * Compute happens in f32, i32 and u8.  The other dtypes exist so that files
 * (safetensors weights, streams) can name them; rr_tensor_to_f32 converts. */
#ifndef RR_TENSOR_H
#define RR_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "device.h"

#define RR_MAXDIM 5

typedef enum {
    RR_F32,
    RR_I32,
    RR_U8,
    /* file-only dtypes: read, converted, written; no op computes in them */
    RR_F16,
    RR_BF16,
    RR_F64,
    RR_I64,
    RR_I16,
    RR_I8,
    RR_U16,
    RR_U32,
    RR_U64,
    RR_BOOL,
    RR_NDTYPES
} rr_dtype;

typedef struct rr_tensor {
    rr_dtype dtype;
    rr_device device;
    int ndim;
    int64_t shape[RR_MAXDIM];
    int64_t numel;
    void *data;
    struct rr_tensor *grad; /* f32, same shape and device; NULL until needed */
    int requires_grad;      /* a parameter, or computed from one on the tape */
    const char *name;       /* parameter name (safetensors key), or NULL */
} rr_tensor;

/* Shapes written inline: rr_tensor_new(c, RR_F32, RR_SHAPE(3, 7, 15, 15)). */
#define RR_SHAPE(...) \
    (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (int64_t[]){__VA_ARGS__}

size_t rr_dtype_size(rr_dtype t);
/* The safetensors name: "F32", "BF16", ... */
const char *rr_dtype_name(rr_dtype t);
/* -1 when unknown. */
int rr_dtype_parse(const char *name, rr_dtype *out);

/* Allocates the header from `meta` (host) and the data from `data` (any
 * device).  Data is uninitialised.  Rejects bad shapes with a message. */
rr_tensor *rr_tensor_alloc(rr_arena *meta, rr_arena *data, rr_dtype t, int ndim,
                           const int64_t *shape);
/* A header for data owned elsewhere (a mapped file, a stream record). */
rr_tensor *rr_tensor_wrap(rr_arena *meta, rr_device d, rr_dtype t, int ndim,
                          const int64_t *shape, void *data);

size_t rr_tensor_bytes(const rr_tensor *t);
int rr_same_shape(const rr_tensor *a, const rr_tensor *b);
/* "3x7x15x15" into buf; returns buf. */
char *rr_shape_str(const rr_tensor *t, char *buf, size_t n);
/* The same for a shape given as its dimensions (a file's tensor). */
char *rr_dims_str(int ndim, const int64_t *shape, char *buf, size_t n);
/* Number of elements of a shape; -1 with a message for a bad shape. */
int64_t rr_shape_numel(int ndim, const int64_t *shape);

static inline float *rr_f32(const rr_tensor *t) { return (float *)t->data; }
static inline int32_t *rr_i32(const rr_tensor *t) { return (int32_t *)t->data; }
static inline uint8_t *rr_u8(const rr_tensor *t) { return (uint8_t *)t->data; }

/* IEEE half and bfloat16 conversions (round to nearest even). */
float rr_f16_to_f32(uint16_t h);
uint16_t rr_f32_to_f16(float f);
float rr_bf16_to_f32(uint16_t h);
uint16_t rr_f32_to_bf16(float f);

/* Converts n elements of src (any numeric dtype, host memory) to f32. */
int rr_convert_to_f32(float *dst, const void *src, rr_dtype t, int64_t n);
/* Converts n f32 values to dst of dtype F32, F16 or BF16. */
int rr_convert_from_f32(void *dst, rr_dtype t, const float *src, int64_t n);
/* The bits of a floating-point dtype's exponent (all set: a NaN or an
 * infinity); 0 for the other dtypes. */
uint64_t rr_exponent_bits(rr_dtype t);
/* The index of the first NaN or infinity among n elements of data (F32,
 * F16, BF16 or F64; host memory, aligned or not), and its bits in *bits;
 * -1 when all are finite or the dtype is not a floating-point one. */
int64_t rr_first_nonfinite(const void *data, rr_dtype t, int64_t n, uint64_t *bits);

#endif
