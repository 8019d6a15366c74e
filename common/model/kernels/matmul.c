/* matmul: the linear layer, out = inp @ weight^T + bias, on OpenBLAS's sgemm.
 *
 * Threads: each product is cut into column blocks, one per OpenMP thread, and every
 * block is a single-threaded sgemm. So one thread pool (OpenMP's) runs the whole
 * training step; OpenBLAS's own pool would otherwise spin beside it, which costs much
 * on a machine with few cores. */
#include <cblas.h>
#include <omp.h>
#include <string.h>

#include "model/kernels/kernels.h"

void openblas_set_num_threads(int num_threads); /* OpenBLAS's extension to cblas.h */

/* [lo, hi) of n columns for this thread, block edges on multiples of 16 floats */
static void thread_cols(int n, int *lo, int *hi) {
    int nth = omp_get_num_threads(), id = omp_get_thread_num();
    int units = (n + 15) / 16;
    *lo = (int)((long)units * id / nth) * 16;
    *hi = (int)((long)units * (id + 1) / nth) * 16;
    if (*lo > n) *lo = n;
    if (*hi > n) *hi = n;
}

void blas_single_threaded(void) {
    static int done;
    if (!done) openblas_set_num_threads(1), done = 1;
}

void matmul_forward(float *out, const float *inp, const float *weight, const float *bias, int N,
                    int C, int OC) {
    blas_single_threaded();
#pragma omp parallel
    {
        int lo, hi;
        thread_cols(OC, &lo, &hi);
        if (hi > lo) {
            if (bias)
                for (int r = 0; r < N; r++)
                    memcpy(out + (size_t)r * OC + lo, bias + lo, sizeof(float) * (hi - lo));
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, hi - lo, C, 1.0f, inp, C,
                        weight + (size_t)lo * C, C, bias ? 1.0f : 0.0f, out + lo, OC);
        }
    }
}

/* A GEMM packs the whole weight matrix before it multiplies, which for a row or two costs
 * more than the product: such rows go through sgemv, each thread its block of output rows
 * (the weights are read once, by all threads together). */
void matvec_forward(float *out, const float *inp, const float *weight, const float *bias, int N,
                    int C, int OC, int threads) {
    blas_single_threaded();
#pragma omp parallel num_threads(threads)
    {
        int lo, hi;
        thread_cols(OC, &lo, &hi);
        for (int r = 0; r < N && hi > lo; r++) {
            float *o = out + (size_t)r * OC + lo;
            if (bias) memcpy(o, bias + lo, sizeof(float) * (hi - lo));
            cblas_sgemv(CblasRowMajor, CblasNoTrans, hi - lo, C, 1.0f, weight + (size_t)lo * C, C,
                        inp + (size_t)r * C, 1, bias ? 1.0f : 0.0f, o, 1);
        }
    }
}

/* dinp += dout @ weight,  dweight += dout^T @ inp,  dbias += column sums of dout */
void matmul_backward(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                     const float *weight, int N, int C, int OC) {
    blas_single_threaded();
#pragma omp parallel
    {
        int lo, hi;
        thread_cols(C, &lo, &hi);
        if (hi > lo)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, hi - lo, OC, 1.0f, dout, OC,
                        weight + lo, C, 1.0f, dinp + lo, C);
        thread_cols(OC, &lo, &hi);
        if (hi > lo) {
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, hi - lo, C, N, 1.0f, dout + lo, OC,
                        inp, C, 1.0f, dweight + (size_t)lo * C, C);
            if (dbias)
                for (int r = 0; r < N; r++)
                    for (int o = lo; o < hi; o++) dbias[o] += dout[(size_t)r * OC + o];
        }
    }
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
