#include "rng.h"

#include <math.h>

float rr_rng_normal(rr_rng *r)
{
    /* 1 - u keeps the argument of log in (0, 1]. */
    double u1 = 1.0 - (double)(rr_rng_next(r) >> 11) * 0x1.0p-53;
    double u2 = (double)(rr_rng_next(r) >> 11) * 0x1.0p-53;
    return (float)(sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2));
}
