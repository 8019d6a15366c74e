/* residual add on the GPU (the model uses the fused residual + LayerNorm instead). */
#include "model/kernels/kernels_cuda.h"

template <typename T>
__global__ void residual_forward_kernel(T *out, const T *a, const T *b, size_t n) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = from_float<T>(to_float(a[i]) + to_float(b[i]));
}

template <typename T> void residual_forward_cuda(T *out, const T *a, const T *b, size_t n) {
    residual_forward_kernel<<<cuda_blocks(n, 256), 256, 0, cuda_stream()>>>(out, a, b, n);
    CUDA_CHECK_LAUNCH();
}

template void residual_forward_cuda<float>(float *, const float *, const float *, size_t);
template void residual_forward_cuda<bf16>(bf16 *, const bf16 *, const bf16 *, size_t);
