/* softmax + cross-entropy + its backward in one kernel on the GPU: a block per row finds
 * the row's logsumexp, writes the loss and, for training, overwrites the logits with
 * their gradient. No probabilities are ever stored. */
#include "kernels_cuda.h"

#include <math.h>

#define CE_THREADS 512

/* merge two (max, sum of exp(x - max)) pairs */
__device__ __forceinline__ void lse_merge(float &m, float &s, float m2, float s2) {
    float mx = fmaxf(m, m2);
    if (mx == -INFINITY) return; /* both empty */
    s = s * __expf(m - mx) + s2 * __expf(m2 - mx);
    m = mx;
}

template <typename T>
__global__ void __launch_bounds__(CE_THREADS)
    crossentropy_softmax_kernel(T *logits, float *losses, const int *targets, float dloss, int V,
                                int Vp, bool backward) {
    __shared__ float sm[CE_THREADS / 32], ss[CE_THREADS / 32];
    T *x = logits + (size_t)blockIdx.x * Vp;
    float m = -INFINITY, s = 0.0f;
    for (int c = threadIdx.x; c < V; c += blockDim.x) lse_merge(m, s, to_float(x[c]), 1.0f);
    for (int o = 16; o > 0; o >>= 1)
        lse_merge(m, s, __shfl_xor_sync(0xffffffffu, m, o), __shfl_xor_sync(0xffffffffu, s, o));
    int warp = threadIdx.x / 32, lane = threadIdx.x % 32, warps = blockDim.x / 32;
    if (lane == 0) sm[warp] = m, ss[warp] = s;
    __syncthreads();
    m = -INFINITY, s = 0.0f;
    for (int w = 0; w < warps; w++) lse_merge(m, s, sm[w], ss[w]);
    float lse = m + logf(s);
    int target = targets[blockIdx.x];
    if (threadIdx.x == 0) losses[blockIdx.x] = lse - to_float(x[target]);
    if (!backward) return;
    __syncthreads(); /* x[target] is read above before anyone overwrites it */
    for (int c = threadIdx.x; c < Vp; c += blockDim.x) {
        float g = 0.0f;
        if (c < V) g = dloss * (__expf(to_float(x[c]) - lse) - (c == target ? 1.0f : 0.0f));
        x[c] = from_float<T>(g);
    }
}

template <typename T>
void crossentropy_softmax_fused_cuda(T *logits, float *losses, const int *targets, float dloss,
                                     int N, int V, int Vp, bool backward) {
    crossentropy_softmax_kernel<<<N, CE_THREADS, 0, cuda_stream()>>>(logits, losses, targets, dloss,
                                                                     V, Vp, backward);
    CUDA_CHECK_LAUNCH();
}

template void crossentropy_softmax_fused_cuda<float>(float *, float *, const int *, float, int, int,
                                                     int, bool);
template void crossentropy_softmax_fused_cuda<bf16>(bf16 *, float *, const int *, float, int, int,
                                                    int, bool);
