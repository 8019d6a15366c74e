/* matmul: the linear layer, out = inp @ weight^T + bias, on OpenBLAS's sgemm. */
#include <cblas.h>
#include <string.h>

#include "kernels.h"

void matmul_forward(float *out, const float *inp, const float *weight, const float *bias, int N,
                    int C, int OC) {
    float beta = 0;
    if (bias) {
#pragma omp parallel for
        for (int r = 0; r < N; r++) memcpy(out + (size_t)r * OC, bias, sizeof(float) * OC);
        beta = 1;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, OC, C, 1.0f, inp, C, weight, C, beta,
                out, OC);
}

/* dinp += dout @ weight,  dweight += dout^T @ inp,  dbias += column sums of dout */
void matmul_backward(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                     const float *weight, int N, int C, int OC) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, C, OC, 1.0f, dout, OC, weight, C,
                1.0f, dinp, C);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OC, C, N, 1.0f, dout, OC, inp, C, 1.0f,
                dweight, C);
    if (dbias)
        for (int r = 0; r < N; r++)
            for (int o = 0; o < OC; o++) dbias[o] += dout[(size_t)r * OC + o];
}

void matmul_forward_reference(float *out, const float *inp, const float *weight, const float *bias,
                              int N, int C, int OC) {
#pragma omp parallel for
    for (int r = 0; r < N; r++)
        for (int o = 0; o < OC; o++) {
            const float *x = inp + (size_t)r * C, *w = weight + (size_t)o * C;
            float sum = bias ? bias[o] : 0;
            for (int i = 0; i < C; i++) sum += x[i] * w[i];
            out[(size_t)r * OC + o] = sum;
        }
}
