/* LayerNorm on the GPU: one warp per row, statistics in fp32; optionally fused with the
 * residual add that precedes it in every block. */
#include "kernels_cuda.h"

#define LN_EPS 1e-5f
#define LN_THREADS 256

/* With b != NULL the input row is a + b, rounded to T and stored in residual (backward
 * reads that stored value, so forward normalises exactly it). */
template <typename T>
__global__ void layernorm_forward_kernel(T *residual, T *out, float *mean, float *rstd, const T *a,
                                         const T *b, const T *weight, const T *bias, int N, int C) {
    int row = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32, lane = threadIdx.x % 32;
    if (row >= N) return;
    size_t off = (size_t)row * C;
    const T *x = b ? residual + off : a + off;
    float sum = 0.0f;
    for (int c = lane; c < C; c += 32) {
        if (b) residual[off + c] = from_float<T>(to_float(a[off + c]) + to_float(b[off + c]));
        sum += to_float(x[c]);
    }
    float mu = warp_sum(sum) / C;
    float var = 0.0f;
    for (int c = lane; c < C; c += 32) {
        float d = to_float(x[c]) - mu;
        var += d * d;
    }
    float s = rsqrtf(warp_sum(var) / C + LN_EPS);
    for (int c = lane; c < C; c += 32) {
        float n = (to_float(x[c]) - mu) * s;
        out[off + c] = from_float<T>(n * to_float(weight[c]) + to_float(bias[c]));
    }
    if (lane == 0) {
        if (mean) mean[row] = mu;
        if (rstd) rstd[row] = s;
    }
}

template <typename T>
static void layernorm_forward_launch(T *residual, T *out, float *mean, float *rstd, const T *a,
                                     const T *b, const T *weight, const T *bias, int N, int C) {
    layernorm_forward_kernel<<<cuda_blocks(N, LN_THREADS / 32), LN_THREADS, 0, cuda_stream()>>>(
        residual, out, mean, rstd, a, b, weight, bias, N, C);
    CUDA_CHECK_LAUNCH();
}

template <typename T>
void layernorm_forward_cuda(T *out, float *mean, float *rstd, const T *inp, const T *weight,
                            const T *bias, int N, int C) {
    layernorm_forward_launch<T>(NULL, out, mean, rstd, inp, NULL, weight, bias, N, C);
}

template <typename T>
void residual_layernorm_forward_cuda(T *residual, T *out, float *mean, float *rstd, const T *a,
                                     const T *b, const T *weight, const T *bias, int N, int C) {
    layernorm_forward_launch<T>(residual, out, mean, rstd, a, b, weight, bias, N, C);
}

/* Rows are spread over a fixed grid; each block sums its rows' weight/bias gradients in
 * shared memory and adds them to the global fp32 gradients once. */
template <typename T>
__global__ void layernorm_backward_kernel(T *dinp, float *dweight, float *dbias, const T *dout,
                                          const T *inp, const T *weight, const float *mean,
                                          const float *rstd, int N, int C, bool accumulate) {
    extern __shared__ float ln_shared[];
    float *sdw = ln_shared, *sdb = ln_shared + C;
    for (int c = threadIdx.x; c < C; c += blockDim.x) sdw[c] = sdb[c] = 0.0f;
    __syncthreads();
    int warps = blockDim.x / 32, lane = threadIdx.x % 32;
    for (int row = blockIdx.x * warps + threadIdx.x / 32; row < N; row += gridDim.x * warps) {
        size_t off = (size_t)row * C;
        float mu = mean[row], s = rstd[row];
        float dsum = 0.0f, dxsum = 0.0f;
        for (int c = lane; c < C; c += 32) {
            float xhat = (to_float(inp[off + c]) - mu) * s;
            float dn = to_float(weight[c]) * to_float(dout[off + c]);
            dsum += dn;
            dxsum += dn * xhat;
        }
        dsum = warp_sum(dsum) / C;
        dxsum = warp_sum(dxsum) / C;
        for (int c = lane; c < C; c += 32) {
            float d = to_float(dout[off + c]);
            float xhat = (to_float(inp[off + c]) - mu) * s;
            float dn = to_float(weight[c]) * d;
            float g = (dn - dsum - xhat * dxsum) * s;
            if (accumulate) g += to_float(dinp[off + c]);
            dinp[off + c] = from_float<T>(g);
            atomicAdd(&sdw[c], d * xhat);
            atomicAdd(&sdb[c], d);
        }
    }
    __syncthreads();
    for (int c = threadIdx.x; c < C; c += blockDim.x) {
        atomicAdd(&dweight[c], sdw[c]);
        atomicAdd(&dbias[c], sdb[c]);
    }
}

template <typename T>
void layernorm_backward_cuda(T *dinp, float *dweight, float *dbias, const T *dout, const T *inp,
                             const T *weight, const float *mean, const float *rstd, int N, int C,
                             bool accumulate) {
    unsigned blocks = cuda_blocks(N, LN_THREADS / 32);
    if (blocks > 512) blocks = 512;
    size_t smem = 2 * (size_t)C * sizeof(float);
    layernorm_backward_kernel<<<blocks, LN_THREADS, smem, cuda_stream()>>>(
        dinp, dweight, dbias, dout, inp, weight, mean, rstd, N, C, accumulate);
    CUDA_CHECK_LAUNCH();
}

#define INSTANTIATE(T)                                                                           \
    template void layernorm_forward_cuda<T>(T *, float *, float *, const T *, const T *,         \
                                            const T *, int, int);                                \
    template void residual_layernorm_forward_cuda<T>(T *, T *, float *, float *, const T *,      \
                                                     const T *, const T *, const T *, int, int); \
    template void layernorm_backward_cuda<T>(T *, float *, float *, const T *, const T *,        \
                                             const T *, const float *, const float *, int, int,  \
                                             bool);
INSTANTIATE(float)
INSTANTIATE(bf16)
