/* softmax + cross-entropy + its backward in one kernel on the GPU: a block per row finds
 * the row's logsumexp, writes the loss and, for training, overwrites the logits with
 * their gradient. No probabilities are ever stored. */
#include "model/kernels/kernels_cuda.h"

#include <math.h>
#include <stdint.h>
#include <type_traits>

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

/* The row in registers (lever ce_reg), bf16 only. Thread t of the block holds the 16-byte
 * vectors v = t + j * CE_REG_THREADS (j = 0 .. CE_REG_VECS-1), vector v being columns
 * 8v .. 8v + 7: element k of its vector j is column 8 (t + 512 j) + k, and each step j
 * reads 4096 adjacent columns (8 KB), coalesced. 13 vectors a thread hold rows of up to
 * CE_REG_COLS = 53248 columns; GPT-2's Vp = 50304 is 12.3 vectors a thread. The row is read
 * once: block max (no exps), one exp per element for the block sum, and one more for the
 * gradient, written 16 bytes at a time. Keeping the exps instead (104 floats) spills at
 * the 128 registers a 512-thread block may use (one block per SM); so does fitting two
 * blocks per SM (64 registers) with the raw row alone.
 * The padding columns (V and up) and the vectors past Vp hold -inf: no effect on the max,
 * exp 0, gradient 0. Vp % 8 == 0, so every vector below Vp is whole. */
#define CE_REG_THREADS 512
#define CE_REG_VECS 13
#define CE_REG_COLS (CE_REG_THREADS * CE_REG_VECS * 8)

/* every thread gets the block's max (or sum) of v; red holds a float per warp */
template <bool MAX> __device__ __forceinline__ float ce_block_reduce(float v, float *red) {
    v = MAX ? warp_max(v) : warp_sum(v);
    if (threadIdx.x % 32 == 0) red[threadIdx.x / 32] = v;
    __syncthreads();
    v = red[0];
    for (int w = 1; w < CE_REG_THREADS / 32; w++) v = MAX ? fmaxf(v, red[w]) : v + red[w];
    return v;
}

__global__ void __launch_bounds__(CE_REG_THREADS, 1)
    crossentropy_softmax_reg_kernel(bf16 *logits, float *losses, const int *targets, float dloss,
                                    int V, int Vp, bool backward) {
    constexpr int VN = Vec16<bf16>::n;
    __shared__ float red_max[CE_REG_THREADS / 32], red_sum[CE_REG_THREADS / 32];
    bf16 *x = logits + (size_t)blockIdx.x * Vp;
    int target = targets[blockIdx.x];
    Vec16<bf16> r[CE_REG_VECS];
#pragma unroll
    for (int j = 0; j < CE_REG_VECS; j++) {
        int c = (threadIdx.x + j * CE_REG_THREADS) * VN;
        if (c < V)
            r[j].raw = *(const uint4 *)(x + c);
        else
#pragma unroll
            for (int k = 0; k < VN; k++) r[j].v[k] = from_float<bf16>(-INFINITY);
    }
    float m = -INFINITY;
#pragma unroll
    for (int j = 0; j < CE_REG_VECS; j++) {
        int c = (threadIdx.x + j * CE_REG_THREADS) * VN;
        if (c < V && c + VN > V) /* the vector V falls in: mask its padding */
#pragma unroll
            for (int k = 0; k < VN; k++)
                if (c + k >= V) r[j].v[k] = from_float<bf16>(-INFINITY);
#pragma unroll
        for (int k = 0; k < VN; k++) m = fmaxf(m, to_float(r[j].v[k]));
    }
    m = ce_block_reduce<true>(m, red_max);
    float m2 = m * LOG2E, s = 0.0f; /* exps in base 2: an FMA forms each argument */
#pragma unroll
    for (int j = 0; j < CE_REG_VECS; j++)
#pragma unroll
        for (int k = 0; k < VN; k++) s += exp2_approx(to_float(r[j].v[k]) * LOG2E - m2);
    s = ce_block_reduce<false>(s, red_sum);
    float lse = m + logf(s), lse2 = m2 + log2f(s);
#pragma unroll
    for (int j = 0; j < CE_REG_VECS; j++) {
        int c = (threadIdx.x + j * CE_REG_THREADS) * VN;
        if (c >= Vp) break;
        bool has_target = (unsigned)(target - c) < (unsigned)VN;
        if (has_target) /* the one thread holding the target column */
#pragma unroll
            for (int k = 0; k < VN; k++)
                if (c + k == target) losses[blockIdx.x] = lse - to_float(r[j].v[k]);
        if (!backward) continue;
        float g[VN];
#pragma unroll
        for (int k = 0; k < VN; k++) g[k] = dloss * exp2_approx(to_float(r[j].v[k]) * LOG2E - lse2);
        if (has_target)
#pragma unroll
            for (int k = 0; k < VN; k++)
                if (c + k == target) g[k] -= dloss;
        Vec16<bf16> out;
#pragma unroll
        for (int k = 0; k < VN; k++) out.v[k] = from_float<bf16>(g[k]);
        *(uint4 *)(x + c) = out.raw;
    }
}

/* returns 1 when the register kernel ran, 0 for the others */
template <typename T>
int crossentropy_softmax_fused_cuda(T *logits, float *losses, const int *targets, float dloss,
                                    int N, int V, int Vp, bool backward) {
    bool aligned = cuda_aligned16({logits}) && (size_t)Vp * sizeof(T) % 16 == 0;
    if constexpr (std::is_same<T, bf16>::value)
        if (cuda_lever(LEVER_CE_REG) && aligned && Vp <= CE_REG_COLS) {
            crossentropy_softmax_reg_kernel<<<N, CE_REG_THREADS, 0, cuda_stream()>>>(
                logits, losses, targets, dloss, V, Vp, backward);
            CUDA_CHECK_LAUNCH();
            return 1;
        }
    bool vec = cuda_lever(LEVER_CE_VEC) && aligned;
    crossentropy_softmax_kernel<<<N, CE_THREADS, 0, cuda_stream()>>>(logits, losses, targets, dloss,
                                                                     V, Vp, backward, vec);
    CUDA_CHECK_LAUNCH();
    return 0;
}

template int crossentropy_softmax_fused_cuda<float>(float *, float *, const int *, float, int, int,
                                                    int, bool);
template int crossentropy_softmax_fused_cuda<bf16>(bf16 *, float *, const int *, float, int, int,
                                                   int, bool);
