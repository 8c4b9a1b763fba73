/* Argument checks shared by the ops: each returns 0, or -1 with a message
 * that starts with the op's name. */
#ifndef RR_OPS_CHECK_H
#define RR_OPS_CHECK_H

#include "../tensor.h"

/* t is non-NULL (a failed earlier op propagates as NULL) and F32. */
int rr_check_f32(const char *op, const rr_tensor *t);
/* t is non-NULL and has the given dtype. */
int rr_check_dtype(const char *op, const rr_tensor *t, rr_dtype want);
/* t has exactly ndim dimensions. */
int rr_check_ndim(const char *op, const rr_tensor *t, int ndim);
int rr_check_same_device(const char *op, const rr_tensor *a, const rr_tensor *b);
int rr_check_same_shape(const char *op, const rr_tensor *a, const rr_tensor *b);
/* Normalises a possibly negative axis against ndim; -1 when out of range. */
int rr_check_axis(const char *op, int axis, int ndim, int *out);

#endif
