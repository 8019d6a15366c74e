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

void sum_squares_parts(const float *g, size_t n, double *part) {
    size_t nchunks = (n + SUM_SQUARES_CHUNK - 1) / SUM_SQUARES_CHUNK;
#pragma omp parallel for if (parallel : n > KERNELS_PARALLEL_MIN)
    for (size_t c = 0; c < nchunks; c++) {
        size_t lo = c * SUM_SQUARES_CHUNK,
               end = lo + SUM_SQUARES_CHUNK < n ? lo + SUM_SQUARES_CHUNK : n;
        double s = 0;
#pragma omp simd reduction(+ : s)
        for (size_t i = lo; i < end; i++) s += (double)g[i] * g[i];
        part[c] = s;
    }
}

/* Fixed chunks summed in a fixed order: the same result for any thread count. */
double sum_squares(const float *g, size_t n) {
    size_t nchunks = (n + SUM_SQUARES_CHUNK - 1) / SUM_SQUARES_CHUNK;
    double *part = xmalloc(nchunks * sizeof *part), sum = 0;
    sum_squares_parts(g, n, part);
    for (size_t c = 0; c < nchunks; c++) sum += part[c];
    free(part);
    return sum;
}
