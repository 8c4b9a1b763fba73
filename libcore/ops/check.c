#include "check.h"

#include "../error.h"

int rr_check_dtype(const char *op, const rr_tensor *t, rr_dtype want)
{
    if (!t)
        return rr_error_prefix("%s: input missing (an earlier op failed): ", op);
    if (t->dtype != want)
        return rr_error("%s: expected %s, got %s", op, rr_dtype_name(want), rr_dtype_name(t->dtype));
    return 0;
}

int rr_check_f32(const char *op, const rr_tensor *t) { return rr_check_dtype(op, t, RR_F32); }

int rr_check_ndim(const char *op, const rr_tensor *t, int ndim)
{
    if (t->ndim != ndim) {
        char s[64];
        return rr_error("%s: expected %d dimensions, got %s", op, ndim, rr_shape_str(t, s, sizeof s));
    }
    return 0;
}

int rr_check_same_device(const char *op, const rr_tensor *a, const rr_tensor *b)
{
    if (a->device != b->device)
        return rr_error("%s: inputs on different devices (%s, %s)", op, rr_device_name(a->device),
                        rr_device_name(b->device));
    return 0;
}

int rr_check_same_shape(const char *op, const rr_tensor *a, const rr_tensor *b)
{
    if (!rr_same_shape(a, b)) {
        char s1[64], s2[64];
        return rr_error("%s: shapes %s and %s differ", op, rr_shape_str(a, s1, sizeof s1),
                        rr_shape_str(b, s2, sizeof s2));
    }
    return 0;
}

int rr_check_axis(const char *op, int axis, int ndim, int *out)
{
    int a = axis < 0 ? axis + ndim : axis;
    if (a < 0 || a >= ndim)
        return rr_error("%s: axis %d out of range for %d dimensions", op, axis, ndim);
    *out = a;
    return 0;
}
