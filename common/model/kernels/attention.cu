/* Causal self-attention on the GPU, flash style: nothing of size T x T is stored. The
 * forward keeps one logsumexp per query row; the backward recomputes the probabilities.
 * Head size 64. One thread owns one query row (forward, dQ) or one key row (dK, dV);
 * the other side streams through shared-memory tiles that every thread reads in
 * lockstep (broadcast, no bank conflicts). Scores and sums in fp32.
 *   s_ij = q_i.k_j / 8   p_ij = exp(s_ij - lse_i)   (j <= i)
 *   dv_j += p_ij do_i   dp_ij = do_i.v_j   ds_ij = p_ij (dp_ij - D_i), D_i = do_i.o_i
 *   dq_i += ds_ij k_j / 8   dk_j += ds_ij q_i / 8 */
#include "model/kernels/kernels_cuda.h"

#include <math.h>
#include <type_traits>

#define HS 64          /* head size */
#define ROWS 64        /* rows (threads) per block */
#define FWD_KEYS 64    /* key tile, forward */
#define BWD_KEYS 32    /* key tile, dQ */
#define BWD_QUERIES 16 /* query tile, dK/dV */
#define SCALE 0.125f   /* 1/sqrt(HS), exact in binary */

/* qkv row of token t in batch b: q at 0, k at C, v at 2C; head h at h*HS */
#define QKV(base, t, C) ((base) + (size_t)(t)*3 * (C))

/* keys and values of tokens k0 .. k0+KEYS-1 into shared memory as fp32, zeros past Tn */
template <int KEYS, typename T>
__device__ __forceinline__ void load_kv_tile(float (*ks)[HS], float (*vs)[HS], const T *base,
                                             int k0, int Tn, int C) {
    for (int e = threadIdx.x; e < KEYS * HS; e += ROWS) {
        int r = e / HS, d = e % HS, j = k0 + r;
        ks[r][d] = j < Tn ? to_float(QKV(base, j, C)[C + d]) : 0.0f;
        vs[r][d] = j < Tn ? to_float(QKV(base, j, C)[2 * C + d]) : 0.0f;
    }
}

template <typename T>
__global__ void __launch_bounds__(ROWS)
    attention_forward_kernel(T *out, float *lse, const T *qkv, int Tn, int C, int NH) {
    __shared__ float ks[FWD_KEYS][HS], vs[FWD_KEYS][HS];
    int tile = gridDim.x - 1 - blockIdx.x; /* longest causal rows first */
    int h = blockIdx.y, b = blockIdx.z;
    int i = tile * ROWS + threadIdx.x;
    bool valid = i < Tn;
    const T *base = qkv + (size_t)b * Tn * 3 * C + h * HS;
    float q[HS], acc[HS];
#pragma unroll
    for (int d = 0; d < HS; d++) {
        q[d] = valid ? to_float(QKV(base, i, C)[d]) * SCALE : 0.0f;
        acc[d] = 0.0f;
    }
    float m = -INFINITY, l = 0.0f;
    int kend = min(Tn, (tile + 1) * ROWS);
    for (int k0 = 0; k0 < kend; k0 += FWD_KEYS) {
        __syncthreads();
        load_kv_tile<FWD_KEYS>(ks, vs, base, k0, Tn, C);
        __syncthreads();
        int nkeys = valid ? min(FWD_KEYS, i - k0 + 1) : 0;
        for (int r = 0; r < nkeys; r++) {
            float s = 0.0f;
#pragma unroll
            for (int d = 0; d < HS; d++) s += q[d] * ks[r][d];
            if (s > m) { /* new maximum: rescale what was summed so far */
                float corr = __expf(m - s);
                l *= corr;
#pragma unroll
                for (int d = 0; d < HS; d++) acc[d] *= corr;
                m = s;
            }
            float p = __expf(s - m);
            l += p;
#pragma unroll
            for (int d = 0; d < HS; d++) acc[d] += p * vs[r][d];
        }
    }
    if (!valid) return;
    float inv = 1.0f / l;
    T *o = out + ((size_t)b * Tn + i) * C + h * HS;
#pragma unroll
    for (int d = 0; d < HS; d++) o[d] = from_float<T>(acc[d] * inv);
    lse[((size_t)b * NH + h) * Tn + i] = m + logf(l);
}

template <typename T>
void attention_forward_cuda(T *out, float *lse, const T *qkv, int B, int Tn, int C, int NH) {
    if (C != NH * HS)
        cuda_fail("attention_forward_cuda", "head size must be 64", __FILE__, __LINE__);
    if constexpr (std::is_same<T, bf16>::value)
        if (cuda_lever(LEVER_ATTN_FWD_MMA) && attention_forward_mma(out, lse, qkv, B, Tn, C, NH))
            return;
    dim3 grid((Tn + ROWS - 1) / ROWS, NH, B);
    attention_forward_kernel<<<grid, ROWS, 0, cuda_stream()>>>(out, lse, qkv, Tn, C, NH);
    CUDA_CHECK_LAUNCH();
}

/* dQ for one query row per thread; also writes delta D_i = do_i.o_i for the dK/dV pass. */
template <typename T>
__global__ void __launch_bounds__(ROWS)
    attention_backward_dq_kernel(T *dqkv, float *delta, const T *dout, const T *qkv, const T *out,
                                 const float *lse, int Tn, int C, int NH, bool accumulate) {
    __shared__ float ks[BWD_KEYS][HS], vs[BWD_KEYS][HS];
    __shared__ float dq[ROWS][HS + 1]; /* one private row per thread; +1 spreads the banks */
    int tile = gridDim.x - 1 - blockIdx.x;
    int h = blockIdx.y, b = blockIdx.z;
    int i = tile * ROWS + threadIdx.x;
    bool valid = i < Tn;
    const T *base = qkv + (size_t)b * Tn * 3 * C + h * HS;
    size_t orow = ((size_t)b * Tn + (valid ? i : 0)) * C + h * HS;
    size_t srow = ((size_t)b * NH + h) * Tn + (valid ? i : 0);
    float q[HS], dO[HS], D = 0.0f;
#pragma unroll
    for (int d = 0; d < HS; d++) {
        q[d] = valid ? to_float(QKV(base, i, C)[d]) : 0.0f;
        dO[d] = valid ? to_float(dout[orow + d]) : 0.0f;
        D += valid ? dO[d] * to_float(out[orow + d]) : 0.0f;
        dq[threadIdx.x][d] = 0.0f;
    }
    float L = valid ? lse[srow] : 0.0f;
    if (valid) delta[srow] = D;
    int kend = min(Tn, (tile + 1) * ROWS);
    for (int k0 = 0; k0 < kend; k0 += BWD_KEYS) {
        __syncthreads();
        load_kv_tile<BWD_KEYS>(ks, vs, base, k0, Tn, C);
        __syncthreads();
        int nkeys = valid ? min(BWD_KEYS, i - k0 + 1) : 0;
        for (int r = 0; r < nkeys; r++) {
            float s = 0.0f, dp = 0.0f;
#pragma unroll
            for (int d = 0; d < HS; d++) {
                s += q[d] * ks[r][d];
                dp += dO[d] * vs[r][d];
            }
            float p = __expf(s * SCALE - L);
            float ds = p * (dp - D);
#pragma unroll
            for (int d = 0; d < HS; d++) dq[threadIdx.x][d] += ds * ks[r][d];
        }
    }
    if (!valid) return;
    T *g = dqkv + ((size_t)b * Tn + i) * 3 * C + h * HS;
#pragma unroll
    for (int d = 0; d < HS; d++) {
        float v = dq[threadIdx.x][d] * SCALE;
        if (accumulate) v += to_float(g[d]);
        g[d] = from_float<T>(v);
    }
}

/* dK, dV for one key row per thread, streaming the query rows i >= j. */
template <typename T>
__global__ void __launch_bounds__(ROWS)
    attention_backward_dkv_kernel(T *dqkv, const float *delta, const T *dout, const T *qkv,
                                  const float *lse, int Tn, int C, int NH, bool accumulate) {
    __shared__ float qs[BWD_QUERIES][HS], dos[BWD_QUERIES][HS], ls[BWD_QUERIES], ds_[BWD_QUERIES];
    __shared__ float dk[ROWS][HS + 1], dv[ROWS][HS + 1];
    int h = blockIdx.y, b = blockIdx.z;
    int j = blockIdx.x * ROWS + threadIdx.x;
    bool valid = j < Tn;
    const T *base = qkv + (size_t)b * Tn * 3 * C + h * HS;
    const float *lrow = lse + ((size_t)b * NH + h) * Tn;
    const float *drow = delta + ((size_t)b * NH + h) * Tn;
    float k[HS], v[HS];
#pragma unroll
    for (int d = 0; d < HS; d++) {
        k[d] = valid ? to_float(QKV(base, j, C)[C + d]) : 0.0f;
        v[d] = valid ? to_float(QKV(base, j, C)[2 * C + d]) : 0.0f;
        dk[threadIdx.x][d] = dv[threadIdx.x][d] = 0.0f;
    }
    for (int i0 = blockIdx.x * ROWS; i0 < Tn; i0 += BWD_QUERIES) {
        __syncthreads();
        for (int e = threadIdx.x; e < BWD_QUERIES * HS; e += ROWS) {
            int r = e / HS, d = e % HS, i = i0 + r;
            qs[r][d] = i < Tn ? to_float(QKV(base, i, C)[d]) : 0.0f;
            dos[r][d] = i < Tn ? to_float(dout[((size_t)b * Tn + i) * C + h * HS + d]) : 0.0f;
        }
        if (threadIdx.x < BWD_QUERIES) {
            int i = i0 + threadIdx.x;
            ls[threadIdx.x] = i < Tn ? lrow[i] : 0.0f;
            ds_[threadIdx.x] = i < Tn ? drow[i] : 0.0f;
        }
        __syncthreads();
        if (!valid) continue;
        for (int r = 0; r < BWD_QUERIES; r++) {
            int i = i0 + r;
            if (i < j || i >= Tn) continue;
            float s = 0.0f, dp = 0.0f;
#pragma unroll
            for (int d = 0; d < HS; d++) {
                s += qs[r][d] * k[d];
                dp += dos[r][d] * v[d];
            }
            float p = __expf(s * SCALE - ls[r]);
            float dsc = p * (dp - ds_[r]);
#pragma unroll
            for (int d = 0; d < HS; d++) {
                dv[threadIdx.x][d] += p * dos[r][d];
                dk[threadIdx.x][d] += dsc * qs[r][d];
            }
        }
    }
    if (!valid) return;
    T *g = dqkv + ((size_t)b * Tn + j) * 3 * C + h * HS;
#pragma unroll
    for (int d = 0; d < HS; d++) {
        float gk = dk[threadIdx.x][d] * SCALE, gv = dv[threadIdx.x][d];
        if (accumulate) gk += to_float(g[C + d]), gv += to_float(g[2 * C + d]);
        g[C + d] = from_float<T>(gk);
        g[2 * C + d] = from_float<T>(gv);
    }
}

template <typename T>
void attention_backward_cuda(T *dqkv, float *delta, const T *dout, const T *qkv, const T *out,
                             const float *lse, int B, int Tn, int C, int NH, bool accumulate) {
    if (C != NH * HS)
        cuda_fail("attention_backward_cuda", "head size must be 64", __FILE__, __LINE__);
    if constexpr (std::is_same<T, bf16>::value)
        if (cuda_lever(LEVER_ATTN_BWD_MMA) &&
            attention_backward_mma(dqkv, delta, dout, qkv, out, lse, B, Tn, C, NH, accumulate))
            return;
    dim3 grid((Tn + ROWS - 1) / ROWS, NH, B);
    attention_backward_dq_kernel<<<grid, ROWS, 0, cuda_stream()>>>(dqkv, delta, dout, qkv, out, lse,
                                                                   Tn, C, NH, accumulate);
    CUDA_CHECK_LAUNCH();
    attention_backward_dkv_kernel<<<grid, ROWS, 0, cuda_stream()>>>(dqkv, delta, dout, qkv, lse, Tn,
                                                                    C, NH, accumulate);
    CUDA_CHECK_LAUNCH();
}

/* Sampling with a key/value cache: the queries of rows pos..pos+n-1 of one sequence's qkv
 * [pos+n, 3C], each against the keys and values of the rows up to it. One block per
 * (query row, head): a single new row has to spread over many threads, so here the
 * threads split the keys, DEC_THREADS at a time with a running softmax across the tiles,
 * where the forward gives each thread a query row. Then thread t sums dimension t % HS
 * of the values over every (DEC_THREADS / HS)-th key. */
#define DEC_THREADS 128
#define DEC_WARPS (DEC_THREADS / 32)
#define DEC_GROUPS (DEC_THREADS / HS)

template <typename T>
__global__ void __launch_bounds__(DEC_THREADS)
    attention_decode_kernel(T *out, const T *qkv, int pos, int C) {
    __shared__ float q[HS], p[DEC_THREADS], part[DEC_WARPS], acc_part[DEC_GROUPS][HS];
    int r = blockIdx.x, h = blockIdx.y, t = threadIdx.x, i = pos + r;
    const T *base = qkv + h * HS;
    if (t < HS) q[t] = to_float(QKV(base, i, C)[t]) * SCALE;
    float m = -INFINITY, l = 0.0f, acc = 0.0f;
    for (int k0 = 0; k0 <= i; k0 += DEC_THREADS) {
        __syncthreads(); /* q is written; the last tile's p and part are read */
        int j = k0 + t;
        float s = -INFINITY;
        if (j <= i) {
            const T *k = QKV(base, j, C) + C;
            s = 0.0f;
#pragma unroll
            for (int d = 0; d < HS; d++) s += q[d] * to_float(k[d]);
        }
        float wmax = warp_max(s);
        if (t % 32 == 0) part[t / 32] = wmax;
        __syncthreads();
        float mnew = m;
        for (int w = 0; w < DEC_WARPS; w++) mnew = fmaxf(mnew, part[w]);
        float e = j <= i ? __expf(s - mnew) : 0.0f;
        p[t] = e;
        __syncthreads(); /* p is whole and every thread has read the maxima */
        e = warp_sum(e);
        if (t % 32 == 0) part[t / 32] = e;
        __syncthreads();
        float corr = __expf(m - mnew); /* 0 on the first tile, where m = -inf */
        l *= corr, acc *= corr, m = mnew;
        for (int w = 0; w < DEC_WARPS; w++) l += part[w];
        int nkeys = min(DEC_THREADS, i - k0 + 1);
        for (int jj = t / HS; jj < nkeys; jj += DEC_GROUPS)
            acc += p[jj] * to_float(QKV(base, k0 + jj, C)[2 * C + t % HS]);
    }
    acc_part[t / HS][t % HS] = acc;
    __syncthreads();
    if (t < HS) {
        float sum = 0.0f;
        for (int g = 0; g < DEC_GROUPS; g++) sum += acc_part[g][t];
        out[(size_t)r * C + h * HS + t] = from_float<T>(sum / l);
    }
}

template <typename T>
void attention_decode_cuda(T *out, const T *qkv, int pos, int n, int C, int NH) {
    if (C != NH * HS)
        cuda_fail("attention_decode_cuda", "head size must be 64", __FILE__, __LINE__);
    attention_decode_kernel<<<dim3(n, NH), DEC_THREADS, 0, cuda_stream()>>>(out, qkv, pos, C);
    CUDA_CHECK_LAUNCH();
}

#define INSTANTIATE(T)                                                                             \
    template void attention_forward_cuda<T>(T *, float *, const T *, int, int, int, int);          \
    template void attention_decode_cuda<T>(T *, const T *, int, int, int, int);                    \
    template void attention_backward_cuda<T>(T *, float *, const T *, const T *, const T *,        \
                                             const float *, int, int, int, int, bool);
INSTANTIATE(float)
INSTANTIATE(bf16)
