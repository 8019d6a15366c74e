/* residual: the skip connection, out = a + b */
#include "model/kernels/kernels.h"

void residual_forward(float *out, const float *a, const float *b, size_t n) {
#pragma omp parallel for simd if (parallel : n > KERNELS_PARALLEL_MIN)
    for (size_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

void residual_backward(float *da, float *db, const float *dout, size_t n) {
#pragma omp parallel for simd if (parallel : n > KERNELS_PARALLEL_MIN)
    for (size_t i = 0; i < n; i++) da[i] += dout[i], db[i] += dout[i];
}
