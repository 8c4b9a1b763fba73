/* The dimensions of a loop over two strided operands, merged: dimensions of
 * 1 dropped, and a dimension folded into the one before it where both
 * operands run contiguously across the pair (stride[k] == stride[d] * n), so
 * that the loops are fewer and longer.  Used by the broadcasting binaries
 * (binary.c) and the strided copies (shape.c). */
#ifndef RR_OPS_MERGE_DIMS_H
#define RR_OPS_MERGE_DIMS_H

#include <stdint.h>

/* Merges the nd dimensions shape[] with strides s1[] and s2[] into oshape[],
 * o1[], o2[] (which must not alias the inputs); returns their number, at
 * least 1 (a single element is one dimension of 1 with strides 0). */
static inline int rr_merge_dims(int nd, const int64_t *shape, const int64_t *s1, const int64_t *s2,
                                int64_t *oshape, int64_t *o1, int64_t *o2)
{
    int m = 0;
    for (int d = 0; d < nd; d++) {
        int64_t n = shape[d];
        if (n == 1)
            continue;
        int k = m - 1;
        if (k >= 0 && o1[k] == s1[d] * n && o2[k] == s2[d] * n) {
            oshape[k] *= n;
        } else {
            k = m++;
            oshape[k] = n;
        }
        o1[k] = s1[d];
        o2[k] = s2[d];
    }
    if (m == 0) {
        oshape[0] = 1;
        o1[0] = o2[0] = 0;
        m = 1;
    }
    return m;
}

#endif
