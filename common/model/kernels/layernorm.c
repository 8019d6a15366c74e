/* layernorm: per row of C channels, normalise to zero mean and unit variance (biased
 * variance, eps 1e-5 as torch.nn.LayerNorm), then scale and shift. */
#include <math.h>
#include <omp.h>

#include "model/kernels/kernels.h"

void layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *weight,
                       const float *bias, int N, int C) {
#pragma omp parallel for if (parallel : (size_t)N * C > KERNELS_PARALLEL_MIN)
    for (int r = 0; r < N; r++) {
        const float *x = inp + (size_t)r * C;
        float m = 0, v = 0;
        for (int i = 0; i < C; i++) m += x[i];
        m /= C;
        for (int i = 0; i < C; i++) v += (x[i] - m) * (x[i] - m);
        float s = 1.0f / sqrtf(v / C + 1e-5f);
        float *o = out + (size_t)r * C;
        for (int i = 0; i < C; i++) o[i] = (x[i] - m) * s * weight[i] + bias[i];
        mean[r] = m, rstd[r] = s;
    }
}

/* With n = (x - mean) * rstd and g = dout * weight:
 *   dx = rstd * (g - mean(g) - n * mean(g * n)),  dweight += dout * n,  dbias += dout.
 * Rows run in parallel for dx; the parameter sums are split by channel so that no two
 * threads add into the same element. */
void layernorm_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                        const float *inp, const float *weight, const float *mean, const float *rstd,
                        int N, int C) {
#pragma omp parallel for if (parallel : (size_t)N * C > KERNELS_PARALLEL_MIN)
    for (int r = 0; r < N; r++) {
        const float *x = inp + (size_t)r * C, *d = dout + (size_t)r * C;
        float m = mean[r], s = rstd[r], gmean = 0, gnmean = 0;
        for (int i = 0; i < C; i++) {
            float g = d[i] * weight[i];
            gmean += g, gnmean += g * (x[i] - m) * s;
        }
        gmean /= C, gnmean /= C;
        float *dx = dinp + (size_t)r * C;
        for (int i = 0; i < C; i++) {
            float n = (x[i] - m) * s;
            dx[i] += s * (d[i] * weight[i] - gmean - n * gnmean);
        }
    }
#pragma omp parallel if (parallel : (size_t)N * C > KERNELS_PARALLEL_MIN)
    {
        /* each thread takes a contiguous range of channels and walks all rows */
        int nth = omp_get_num_threads(), id = omp_get_thread_num();
        int lo = (int)((long)C * id / nth), hi = (int)((long)C * (id + 1) / nth);
        for (int r = 0; r < N; r++) {
            const float *x = inp + (size_t)r * C, *d = dout + (size_t)r * C;
            float m = mean[r], s = rstd[r];
            for (int i = lo; i < hi; i++) {
                dweight[i] += d[i] * (x[i] - m) * s;
                dbias[i] += d[i];
            }
        }
    }
}
