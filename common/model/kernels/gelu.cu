/* GELU (tanh approximation) on the GPU, elementwise. */
#include "model/kernels/kernels_cuda.h"

#define GELU_SCALE 0.7978845608028654f /* sqrt(2/pi) */

template <typename T> __global__ void gelu_forward_kernel(T *out, const T *inp, size_t n) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    float x = to_float(inp[i]);
    float u = GELU_SCALE * (x + 0.044715f * x * x * x);
    out[i] = from_float<T>(0.5f * x * (1.0f + tanhf(u)));
}

template <typename T> void gelu_forward_cuda(T *out, const T *inp, size_t n) {
    gelu_forward_kernel<<<cuda_blocks(n, 256), 256, 0, cuda_stream()>>>(out, inp, n);
    CUDA_CHECK_LAUNCH();
}

template <typename T>
__global__ void gelu_backward_kernel(T *dinp, const T *inp, const T *dout, size_t n,
                                     bool accumulate) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    float x = to_float(inp[i]);
    float u = GELU_SCALE * (x + 0.044715f * x * x * x);
    float th = tanhf(u);
    float du = GELU_SCALE * (1.0f + 3.0f * 0.044715f * x * x);
    float grad = 0.5f * (1.0f + th) + 0.5f * x * (1.0f - th * th) * du;
    float d = grad * to_float(dout[i]);
    if (accumulate) d += to_float(dinp[i]);
    dinp[i] = from_float<T>(d);
}

template <typename T>
void gelu_backward_cuda(T *dinp, const T *inp, const T *dout, size_t n, bool accumulate) {
    gelu_backward_kernel<<<cuda_blocks(n, 256), 256, 0, cuda_stream()>>>(dinp, inp, dout, n,
                                                                         accumulate);
    CUDA_CHECK_LAUNCH();
}

#define INSTANTIATE(T)                                                                             \
    template void gelu_forward_cuda<T>(T *, const T *, size_t);                                    \
    template void gelu_backward_cuda<T>(T *, const T *, const T *, size_t, bool);
INSTANTIATE(float)
INSTANTIATE(bf16)
