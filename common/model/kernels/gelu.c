/* gelu: GELU with the tanh approximation of the GPT-2 paper,
 * 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) */
#include "model/kernels/kernels.h"
#include "model/kernels/vecmath.h"

#define GELU_K 0.7978845608028654f /* sqrt(2/pi) */

void gelu_forward(float *out, const float *inp, size_t n) {
#pragma omp parallel for simd if (parallel : n > KERNELS_PARALLEL_MIN)
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        out[i] = 0.5f * x * (1.0f + tanhf(GELU_K * (x + 0.044715f * x * x * x)));
    }
}

void gelu_backward(float *dinp, const float *inp, const float *dout, size_t n) {
#pragma omp parallel for simd if (parallel : n > KERNELS_PARALLEL_MIN)
    for (size_t i = 0; i < n; i++) {
        float x = inp[i], th = tanhf(GELU_K * (x + 0.044715f * x * x * x));
        float du = GELU_K * (1.0f + 3.0f * 0.044715f * x * x);
        dinp[i] += dout[i] * (0.5f * (1.0f + th) + 0.5f * x * (1.0f - th * th) * du);
    }
}
