/* AdamW, the gradient sum of squares (for global-norm clipping) and the compute copy of
 * the master weights on the GPU. */
#include "model/kernels/kernels_cuda.h"

#include <math.h>

/* torch.optim.AdamW's order of operations, scalars prepared on the host in double as the
 * CPU reference does */
template <typename T>
__global__ void adamw_kernel(float *params, T *params_copy, const float *grads, float *m, float *v,
                             size_t n, float beta1, float beta2, float eps, float grad_scale,
                             float step, float decay, float inv_bc2_sqrt) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    float g = grads[i] * grad_scale;
    float mi = beta1 * m[i] + (1.0f - beta1) * g;
    float vi = beta2 * v[i] + (1.0f - beta2) * g * g;
    m[i] = mi, v[i] = vi;
    float p = params[i] * decay - step * mi / (sqrtf(vi) * inv_bc2_sqrt + eps);
    params[i] = p;
    if (params_copy) params_copy[i] = from_float<T>(p);
}

template <typename T>
void adamw_update_cuda(float *params, T *params_copy, const float *grads, float *m, float *v,
                       size_t n, float lr, float beta1, float beta2, float eps, float weight_decay,
                       float grad_scale, int t) {
    double bc1 = 1.0 - pow(beta1, t), bc2_sqrt = sqrt(1.0 - pow(beta2, t));
    float step = (float)(lr / bc1), decay = (float)(1.0 - (double)lr * weight_decay);
    float inv_bc2_sqrt = (float)(1.0 / bc2_sqrt);
    adamw_kernel<<<cuda_blocks(n, 256), 256, 0, cuda_stream()>>>(params, params_copy, grads, m, v,
                                                                 n, beta1, beta2, eps, grad_scale,
                                                                 step, decay, inv_bc2_sqrt);
    CUDA_CHECK_LAUNCH();
}

__global__ void sum_squares_kernel(double *acc, const float *g, size_t n) {
    __shared__ float part[32];
    float s = 0.0f;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        s += g[i] * g[i];
    s = warp_sum(s);
    if (threadIdx.x % 32 == 0) part[threadIdx.x / 32] = s;
    __syncthreads();
    if (threadIdx.x == 0) {
        double total = 0.0;
        for (unsigned w = 0; w < blockDim.x / 32; w++) total += part[w];
        atomicAdd(acc, total);
    }
}

void sum_squares_cuda(double *acc, const float *g, size_t n) {
    unsigned blocks = cuda_blocks(n, 256);
    if (blocks > 1024) blocks = 1024;
    if (blocks == 0) return;
    sum_squares_kernel<<<blocks, 256, 0, cuda_stream()>>>(acc, g, n);
    CUDA_CHECK_LAUNCH();
}

template <typename T> __global__ void params_copy_kernel(T *copy, const float *master, size_t n) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) copy[i] = from_float<T>(master[i]);
}

template <typename T> void params_copy_cuda(T *copy, const float *master, size_t n) {
    if (!n) return;
    params_copy_kernel<<<cuda_blocks(n, 256), 256, 0, cuda_stream()>>>(copy, master, n);
    CUDA_CHECK_LAUNCH();
}

template void adamw_update_cuda<float>(float *, float *, const float *, float *, float *, size_t,
                                       float, float, float, float, float, float, int);
template void adamw_update_cuda<bf16>(float *, bf16 *, const float *, float *, float *, size_t,
                                      float, float, float, float, float, float, int);
template void params_copy_cuda<float>(float *, const float *, size_t);
template void params_copy_cuda<bf16>(bf16 *, const float *, size_t);
