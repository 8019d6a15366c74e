/* encoder on the GPU: token + position embedding, and its scatter-add backward. */
#include "model/kernels/kernels_cuda.h"

template <typename T>
__global__ void encoder_forward_kernel(T *out, const int *inp, const T *wte, const T *wpe, int Tn,
                                       int C, size_t total) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= total) return;
    size_t n = i / C;
    int c = (int)(i % C), t = (int)(n % Tn);
    out[i] =
        from_float<T>(to_float(wte[(size_t)inp[n] * C + c]) + to_float(wpe[(size_t)t * C + c]));
}

template <typename T>
void encoder_forward_cuda(T *out, const int *inp, const T *wte, const T *wpe, int B, int Tn,
                          int C) {
    size_t total = (size_t)B * Tn * C;
    encoder_forward_kernel<<<cuda_blocks(total, 256), 256, 0, cuda_stream()>>>(out, inp, wte, wpe,
                                                                               Tn, C, total);
    CUDA_CHECK_LAUNCH();
}

/* repeated tokens (and every batch row for wpe) hit the same gradient row: atomics */
template <typename T>
__global__ void encoder_backward_kernel(float *dwte, float *dwpe, const T *dout, const int *inp,
                                        int Tn, int C, size_t total) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= total) return;
    size_t n = i / C;
    int c = (int)(i % C), t = (int)(n % Tn);
    float d = to_float(dout[i]);
    atomicAdd(&dwte[(size_t)inp[n] * C + c], d);
    atomicAdd(&dwpe[(size_t)t * C + c], d);
}

template <typename T>
void encoder_backward_cuda(float *dwte, float *dwpe, const T *dout, const int *inp, int B, int Tn,
                           int C) {
    size_t total = (size_t)B * Tn * C;
    encoder_backward_kernel<<<cuda_blocks(total, 256), 256, 0, cuda_stream()>>>(dwte, dwpe, dout,
                                                                                inp, Tn, C, total);
    CUDA_CHECK_LAUNCH();
}

#define INSTANTIATE(T)                                                                             \
    template void encoder_forward_cuda<T>(T *, const int *, const T *, const T *, int, int, int);  \
    template void encoder_backward_cuda<T>(float *, float *, const T *, const int *, int, int, int);
INSTANTIATE(float)
INSTANTIATE(bf16)
