/* adamw: the optimizer step, in torch.optim.AdamW's order of operations */
#include <math.h>

#include "kernels.h"

void adamw_update(float *params, const float *grads, float *m, float *v, size_t n, float lr,
                  float beta1, float beta2, float eps, float weight_decay, float grad_scale,
                  int t) {
    /* scalars in double, as torch computes them in Python floats */
    double bc1 = 1.0 - pow(beta1, t), bc2_sqrt = sqrt(1.0 - pow(beta2, t));
    float step = (float)(lr / bc1), decay = (float)(1.0 - (double)lr * weight_decay);
    float inv_bc2_sqrt = (float)(1.0 / bc2_sqrt);
#pragma omp parallel for simd
    for (size_t i = 0; i < n; i++) {
        float g = grads[i] * grad_scale;
        m[i] = beta1 * m[i] + (1.0f - beta1) * g;
        v[i] = beta2 * v[i] + (1.0f - beta2) * g * g;
        params[i] = params[i] * decay - step * m[i] / (sqrtf(v[i]) * inv_bc2_sqrt + eps);
    }
}

double sum_squares(const float *g, size_t n) {
    double sum = 0;
#pragma omp parallel for simd reduction(+ : sum)
    for (size_t i = 0; i < n; i++) sum += (double)g[i] * g[i];
    return sum;
}
