/* vecmath: lets the compiler vectorise loops over expf and tanhf. glibc's libmvec has
 * SIMD versions of them (within 4 ulp of the scalar ones) but declares them only under
 * -ffast-math; declared here, `#pragma omp simd` loops call them 4 or 8 at a time. */
#ifndef GPT2_VECMATH_H
#define GPT2_VECMATH_H

#include <math.h>

#if defined(__x86_64__) && defined(__GLIBC__) && !defined(__FAST_MATH__) &&                        \
    (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 35)
__attribute__((simd("notinbranch"))) float expf(float);
__attribute__((simd("notinbranch"))) float tanhf(float);
#endif

#endif
