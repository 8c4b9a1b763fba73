#include "fill.h"

int rr_fill_f32_cpu(float *x, int64_t n, float value)
{
#pragma omp parallel for if (n > 65536)
    for (int64_t i = 0; i < n; i++)
        x[i] = value;
    return 0;
}
