/* adamw: the optimizer step, in torch.optim.AdamW's order of operations */
#include <math.h>
#include <stdlib.h>

#include "base/util.h"
#include "model/kernels/kernels.h"

void adamw_update(float *params, const float *grads, float *m, float *v, size_t n, float lr,
                  float beta1, float beta2, float eps, float weight_decay, float grad_scale,
                  int t) {
    /* scalars in double, as torch computes them in Python floats */
    double bc1 = 1.0 - pow(beta1, t), bc2_sqrt = sqrt(1.0 - pow(beta2, t));
    float step = (float)(lr / bc1), decay = (float)(1.0 - (double)lr * weight_decay);
    float inv_bc2_sqrt = (float)(1.0 / bc2_sqrt);
#pragma omp parallel for simd if (parallel : n > KERNELS_PARALLEL_MIN)
    for (size_t i = 0; i < n; i++) {
        float g = grads[i] * grad_scale;
        m[i] = beta1 * m[i] + (1.0f - beta1) * g;
        v[i] = beta2 * v[i] + (1.0f - beta2) * g * g;
        params[i] = params[i] * decay - step * m[i] / (sqrtf(v[i]) * inv_bc2_sqrt + eps);
    }
}

/* Fixed chunks summed in a fixed order: the same result for any thread count. */
double sum_squares(const float *g, size_t n) {
    enum { CHUNK = 1 << 16 };
    size_t nchunks = (n + CHUNK - 1) / CHUNK;
    double *part = xmalloc(nchunks * sizeof *part), sum = 0;
#pragma omp parallel for if (parallel : n > KERNELS_PARALLEL_MIN)
    for (size_t c = 0; c < nchunks; c++) {
        size_t end = c * CHUNK + CHUNK < n ? c * CHUNK + CHUNK : n;
        double s = 0;
#pragma omp simd reduction(+ : s)
        for (size_t i = c * CHUNK; i < end; i++) s += (double)g[i] * g[i];
        part[c] = s;
    }
    for (size_t c = 0; c < nchunks; c++) sum += part[c];
    free(part);
    return sum;
}
