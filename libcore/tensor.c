#include "tensor.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "error.h"

static const struct {
    const char *name;
    size_t size;
} dtypes[RR_NDTYPES] = {
    [RR_F32] = {"F32", 4}, [RR_I32] = {"I32", 4},   [RR_U8] = {"U8", 1},
    [RR_F16] = {"F16", 2}, [RR_BF16] = {"BF16", 2}, [RR_F64] = {"F64", 8},
    [RR_I64] = {"I64", 8}, [RR_I16] = {"I16", 2},   [RR_I8] = {"I8", 1},
    [RR_U16] = {"U16", 2}, [RR_U32] = {"U32", 4},   [RR_U64] = {"U64", 8},
    [RR_BOOL] = {"BOOL", 1},
};

size_t rr_dtype_size(rr_dtype t) { return dtypes[t].size; }

const char *rr_dtype_name(rr_dtype t) { return dtypes[t].name; }

int rr_dtype_parse(const char *name, rr_dtype *out)
{
    for (int i = 0; i < RR_NDTYPES; i++)
        if (strcmp(name, dtypes[i].name) == 0) {
            *out = (rr_dtype)i;
            return 0;
        }
    return rr_error("unknown dtype '%s'", name);
}

int64_t rr_shape_numel(int ndim, const int64_t *shape)
{
    if (ndim < 0 || ndim > RR_MAXDIM)
        return rr_error("%d dimensions (at most %d)", ndim, RR_MAXDIM);
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0)
            return rr_error("negative dimension %lld", (long long)shape[i]);
        if (shape[i] > 0 && n > INT64_MAX / 16 / shape[i])
            return rr_error("shape too large");
        n *= shape[i];
    }
    return n;
}

rr_tensor *rr_tensor_wrap(rr_arena *meta, rr_device d, rr_dtype t, int ndim,
                          const int64_t *shape, void *data)
{
    int64_t n = rr_shape_numel(ndim, shape);
    if (n < 0)
        return NULL;
    rr_tensor *x = rr_arena_alloc(meta, sizeof *x);
    if (!x)
        return NULL;
    memset(x, 0, sizeof *x);
    x->dtype = t;
    x->device = d;
    x->ndim = ndim;
    memcpy(x->shape, shape, (size_t)ndim * sizeof *shape);
    x->numel = n;
    x->data = data;
    return x;
}

rr_tensor *rr_tensor_alloc(rr_arena *meta, rr_arena *data, rr_dtype t, int ndim,
                           const int64_t *shape)
{
    rr_tensor *x = rr_tensor_wrap(meta, data->device, t, ndim, shape, NULL);
    if (!x)
        return NULL;
    x->data = rr_arena_alloc(data, rr_tensor_bytes(x));
    return x->data ? x : NULL;
}

size_t rr_tensor_bytes(const rr_tensor *t) { return (size_t)t->numel * rr_dtype_size(t->dtype); }

int rr_same_shape(const rr_tensor *a, const rr_tensor *b)
{
    if (a->ndim != b->ndim)
        return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i])
            return 0;
    return 1;
}

char *rr_shape_str(const rr_tensor *t, char *buf, size_t n) { return rr_dims_str(t->ndim, t->shape, buf, n); }

char *rr_dims_str(int ndim, const int64_t *shape, char *buf, size_t n)
{
    size_t k = 0;
    buf[0] = '\0';
    if (ndim == 0)
        snprintf(buf, n, "scalar");
    for (int i = 0; i < ndim && k < n; i++)
        k += (size_t)snprintf(buf + k, n - k, i ? "x%lld" : "%lld", (long long)shape[i]);
    return buf;
}

float rr_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else { /* subnormal: normalise */
            int e = -1;
            do {
                e++;
                man <<= 1;
            } while (!(man & 0x400));
            bits = sign | (uint32_t)(127 - 15 - e) << 23 | (man & 0x3ff) << 13;
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | man << 13;
    } else {
        bits = sign | (exp + 127 - 15) << 23 | man << 13;
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t rr_f32_to_f16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000;
    int32_t exp = (int32_t)((x >> 23) & 0xff) - 127 + 15;
    uint32_t man = x & 0x7fffff;
    if (((x >> 23) & 0xff) == 0xff) /* inf or nan */
        return (uint16_t)(sign | 0x7c00 | (man ? 0x200 : 0));
    if (exp >= 31)
        return (uint16_t)(sign | 0x7c00);
    if (exp <= 0) { /* subnormal or zero */
        if (exp < -10)
            return (uint16_t)sign;
        man |= 0x800000;
        uint32_t shift = (uint32_t)(14 - exp);
        uint32_t half = man >> shift, rem = man & ((1u << shift) - 1), mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1)))
            half++;
        return (uint16_t)(sign | half);
    }
    uint32_t h = sign | (uint32_t)exp << 10 | man >> 13, rem = man & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (h & 1)))
        h++; /* may carry into the exponent, which is right */
    return (uint16_t)h;
}

float rr_bf16_to_f32(uint16_t h)
{
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t rr_f32_to_bf16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    if (isnan(f))
        return (uint16_t)((x >> 16) | 0x40);
    x += 0x7fff + ((x >> 16) & 1);
    return (uint16_t)(x >> 16);
}

/* The exponent bits of a floating-point dtype, 0 for the others: all of
 * them set is a NaN or an infinity. */
uint64_t rr_exponent_bits(rr_dtype t)
{
    switch (t) {
    case RR_F32: return 0x7f800000u;
    case RR_F16: return 0x7c00u;
    case RR_BF16: return 0x7f80u;
    case RR_F64: return 0x7ff0000000000000u;
    default: return 0;
    }
}

/* The first of n elements at p whose exponent bits (exp) are all set: its
 * index and, in *bits, its bits; or -1.  T: an unsigned type of the dtype's
 * size (data may be unaligned: memcpy, which compiles to a load).  Blocks
 * are checked first with a loop that vectorises, and only a block that
 * holds such an element is searched: a fused record of mrsnet-b (14 MB) is
 * checked at memory speed. */
#define FIRST_NONFINITE(T)                                                                                           \
    do {                                                                                                             \
        for (size_t lo = 0; lo < n; lo += 4096) {                                                                    \
            size_t hi = n - lo < 4096 ? n : lo + 4096;                                                               \
            int bad = 0;                                                                                             \
            _Pragma("omp simd reduction(|:bad)") for (size_t i = lo; i < hi; i++)                                    \
            {                                                                                                        \
                T u;                                                                                                 \
                memcpy(&u, p + i * sizeof u, sizeof u);                                                              \
                bad |= (u & (T)exp) == (T)exp;                                                                       \
            }                                                                                                        \
            for (size_t i = lo; bad && i < hi; i++) {                                                                \
                T u;                                                                                                 \
                memcpy(&u, p + i * sizeof u, sizeof u);                                                              \
                if ((u & (T)exp) == (T)exp) {                                                                        \
                    *bits = u;                                                                                       \
                    return (int64_t)i;                                                                               \
                }                                                                                                    \
            }                                                                                                        \
        }                                                                                                            \
        return -1;                                                                                                   \
    } while (0)

int64_t rr_first_nonfinite(const void *data, rr_dtype t, int64_t count, uint64_t *bits)
{
    const unsigned char *p = data;
    uint64_t exp = rr_exponent_bits(t);
    size_t n = count > 0 ? (size_t)count : 0;
    if (!exp)
        return -1;
    switch (rr_dtype_size(t)) {
    case 2: FIRST_NONFINITE(uint16_t);
    case 4: FIRST_NONFINITE(uint32_t);
    default: FIRST_NONFINITE(uint64_t);
    }
}

int rr_convert_to_f32(float *dst, const void *src, rr_dtype t, int64_t n)
{
    switch (t) {
#define CONV(T, EXPR)                       \
    do {                                    \
        const T *s = src;                   \
        for (int64_t i = 0; i < n; i++)     \
            dst[i] = (float)(EXPR);         \
    } while (0)
    case RR_F32: memmove(dst, src, (size_t)n * 4); return 0;
    case RR_F16: CONV(uint16_t, rr_f16_to_f32(s[i])); return 0;
    case RR_BF16: CONV(uint16_t, rr_bf16_to_f32(s[i])); return 0;
    case RR_F64: CONV(double, s[i]); return 0;
    case RR_I64: CONV(int64_t, s[i]); return 0;
    case RR_I32: CONV(int32_t, s[i]); return 0;
    case RR_I16: CONV(int16_t, s[i]); return 0;
    case RR_I8: CONV(int8_t, s[i]); return 0;
    case RR_U64: CONV(uint64_t, s[i]); return 0;
    case RR_U32: CONV(uint32_t, s[i]); return 0;
    case RR_U16: CONV(uint16_t, s[i]); return 0;
    case RR_U8: CONV(uint8_t, s[i]); return 0;
    case RR_BOOL: CONV(uint8_t, s[i] != 0); return 0;
#undef CONV
    default: return rr_error("cannot convert dtype %d to F32", (int)t);
    }
}

int rr_convert_from_f32(void *dst, rr_dtype t, const float *src, int64_t n)
{
    uint16_t *d = dst;
    switch (t) {
    case RR_F32: memmove(dst, src, (size_t)n * 4); return 0;
    case RR_F16: for (int64_t i = 0; i < n; i++) d[i] = rr_f32_to_f16(src[i]); return 0;
    case RR_BF16: for (int64_t i = 0; i < n; i++) d[i] = rr_f32_to_bf16(src[i]); return 0;
    default: return rr_error("cannot convert F32 to %s", rr_dtype_name(t));
    }
}
