/* softmax + cross-entropy + its backward in one kernel on the GPU: a block per row finds
 * the row's logsumexp, writes the loss and, for training, overwrites the logits with
 * their gradient. No probabilities are ever stored. */
#include "kernels_cuda.h"

#include <math.h>
#include <stdint.h>

#define CE_THREADS 512

/* merge two (max, sum of exp(x - max)) pairs */
__device__ __forceinline__ void lse_merge(float &m, float &s, float m2, float s2) {
    float mx = fmaxf(m, m2);
    if (mx == -INFINITY) return; /* both empty */
    s = s * __expf(m - mx) + s2 * __expf(m2 - mx);
    m = mx;
}

/* one logit into a running pair: one exp either way */
__device__ __forceinline__ void lse_add(float &m, float &s, float x) {
    if (x > m) {
        s = s * __expf(m - x) + 1.0f;
        m = x;
    } else if (x > -INFINITY) {
        s += __expf(x - m);
    }
}

/* vec: the columns below V rounded down to whole 16-byte vectors are read 16 bytes at a
 * time (the row must be 16-byte aligned), the rest one by one */
template <typename T>
__global__ void __launch_bounds__(CE_THREADS)
    crossentropy_softmax_kernel(T *logits, float *losses, const int *targets, float dloss, int V,
                                int Vp, bool backward, bool vec) {
    constexpr int VN = Vec16<T>::n;
    __shared__ float sm[CE_THREADS / 32], ss[CE_THREADS / 32];
    T *x = logits + (size_t)blockIdx.x * Vp;
    int vend = vec ? V / VN * VN : 0;
    float m = -INFINITY, s = 0.0f;
    for (int c = threadIdx.x * VN; c < vend; c += blockDim.x * VN) {
        Vec16<T> in;
        in.raw = *(const uint4 *)(x + c);
#pragma unroll
        for (int k = 0; k < VN; k++) lse_add(m, s, to_float(in.v[k]));
    }
    for (int c = vend + threadIdx.x; c < V; c += blockDim.x) lse_add(m, s, to_float(x[c]));
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
    int gend = vec ? Vp / VN * VN : 0;
    for (int c = threadIdx.x * VN; c < gend; c += blockDim.x * VN) {
        Vec16<T> io;
        io.raw = *(const uint4 *)(x + c);
#pragma unroll
        for (int k = 0; k < VN; k++) {
            int col = c + k;
            float g = 0.0f;
            if (col < V)
                g = dloss * (__expf(to_float(io.v[k]) - lse) - (col == target ? 1.0f : 0.0f));
            io.v[k] = from_float<T>(g);
        }
        *(uint4 *)(x + c) = io.raw;
    }
    for (int c = gend + threadIdx.x; c < Vp; c += blockDim.x) {
        float g = 0.0f;
        if (c < V) g = dloss * (__expf(to_float(x[c]) - lse) - (c == target ? 1.0f : 0.0f));
        x[c] = from_float<T>(g);
    }
}

template <typename T>
void crossentropy_softmax_fused_cuda(T *logits, float *losses, const int *targets, float dloss,
                                     int N, int V, int Vp, bool backward) {
    bool vec =
        cuda_lever(LEVER_CE_VEC) && (uintptr_t)logits % 16 == 0 && (size_t)Vp * sizeof(T) % 16 == 0;
    crossentropy_softmax_kernel<<<N, CE_THREADS, 0, cuda_stream()>>>(logits, losses, targets, dloss,
                                                                     V, Vp, backward, vec);
    CUDA_CHECK_LAUNCH();
}

template void crossentropy_softmax_fused_cuda<float>(float *, float *, const int *, float, int, int,
                                                     int, bool);
template void crossentropy_softmax_fused_cuda<bf16>(bf16 *, float *, const int *, float, int, int,
                                                    int, bool);
