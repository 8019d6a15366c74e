/* LayerNorm on the GPU: one warp per row, statistics in fp32; optionally fused with the
 * residual add that precedes it in every block. Two versions of each kernel: the plain
 * ones take one element per lane per step and any C; with the lever LEVER_LN_VEC the
 * register ones hold the row in 16-byte vectors (below). */
#include "model/kernels/kernels_cuda.h"

#include <stdint.h>
#include <type_traits>

#define LN_EPS 1e-5f
#define LN_THREADS 256
/* vectors per lane of the register kernels at most: C up to 32 * 6 * Vec16<T>::n = 768
 * (fp32), 1536 (bf16); wider rows would spill the backward's register sums */
#define LN_VEC_MAX 6

/* The register kernels' lane -> column map: lane L holds vectors j = L + 32 i (i = 0 ..
 * VPL-1), vector j being columns j*VN .. j*VN + VN-1, so element k of its vector i is
 * column (L + 32 i) VN + k. Each step i covers 32 VN adjacent columns (512 bytes, one
 * coalesced load per warp), and a lane's columns are the same in every row, which lets
 * the backward sum its weight/bias gradients in registers. C % VN == 0, so a vector is
 * whole or absent: j exists when its first column is below C (the last lanes of the
 * last step idle when C / VN is not a multiple of 32). */
template <typename T> __device__ __forceinline__ int ln_vec_col(int lane, int i) {
    return (lane + 32 * i) * Vec16<T>::n;
}

/* vectors per lane the register kernels need for rows of C, or 0 for the plain kernels:
 * lever off, C not whole vectors, a tensor (NULL ones aside) not 16-byte aligned, or
 * the row too wide */
template <typename T> static int ln_vec_lanes(int C, std::initializer_list<const void *> tensors) {
    constexpr int VN = Vec16<T>::n;
    int vpl = (C / VN + 31) / 32;
    if (!cuda_lever(LEVER_LN_VEC) || C % VN != 0 || !cuda_aligned16(tensors) || vpl > LN_VEC_MAX)
        return 0;
    return vpl;
}

/* f(std::integral_constant<int, V>()) for V = vpl: the kernels are instantiated for
 * every count up to LN_VEC_MAX so that each keeps exactly the registers it needs */
template <int V = 1, typename F> static void ln_with_vpl(int vpl, F f) {
    if constexpr (V < LN_VEC_MAX)
        if (vpl > V) return ln_with_vpl<V + 1>(vpl, f);
    f(std::integral_constant<int, V>());
}

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

/* The same with the row in registers (VPL vectors per lane, ln_vec_col): read once, the
 * residual rounded to T before anything uses it, mean and variance both from the
 * registers (two passes, not E[x^2] - mean^2, which cancels badly). Absent vectors are
 * zeros that add nothing to the mean and are left out of the variance. */
template <typename T, int VPL>
__global__ void __launch_bounds__(LN_THREADS)
    layernorm_forward_vec_kernel(T *residual, T *out, float *mean, float *rstd, const T *a,
                                 const T *b, const T *weight, const T *bias, int N, int C) {
    constexpr int VN = Vec16<T>::n;
    int row = blockIdx.x * (LN_THREADS / 32) + threadIdx.x / 32, lane = threadIdx.x % 32;
    if (row >= N) return;
    size_t off = (size_t)row * C;
    float x[VPL][VN], sum = 0.0f;
#pragma unroll
    for (int i = 0; i < VPL; i++) {
        int c = ln_vec_col<T>(lane, i);
        Vec16<T> v;
        v.raw = make_uint4(0, 0, 0, 0);
        if (c < C) {
            v.raw = *(const uint4 *)(a + off + c);
            if (b) {
                Vec16<T> vb;
                vb.raw = *(const uint4 *)(b + off + c);
#pragma unroll
                for (int k = 0; k < VN; k++)
                    v.v[k] = from_float<T>(to_float(v.v[k]) + to_float(vb.v[k]));
                *(uint4 *)(residual + off + c) = v.raw;
            }
        }
#pragma unroll
        for (int k = 0; k < VN; k++) sum += x[i][k] = to_float(v.v[k]);
    }
    float mu = warp_sum(sum) / C, var = 0.0f;
#pragma unroll
    for (int i = 0; i < VPL; i++)
        if (ln_vec_col<T>(lane, i) < C)
#pragma unroll
            for (int k = 0; k < VN; k++) var += (x[i][k] - mu) * (x[i][k] - mu);
    float s = rsqrtf(warp_sum(var) / C + LN_EPS);
#pragma unroll
    for (int i = 0; i < VPL; i++) {
        int c = ln_vec_col<T>(lane, i);
        if (c >= C) continue;
        Vec16<T> w, bi, o;
        w.raw = *(const uint4 *)(weight + c);
        bi.raw = *(const uint4 *)(bias + c);
#pragma unroll
        for (int k = 0; k < VN; k++)
            o.v[k] = from_float<T>((x[i][k] - mu) * s * to_float(w.v[k]) + to_float(bi.v[k]));
        *(uint4 *)(out + off + c) = o.raw;
    }
    if (lane == 0) {
        if (mean) mean[row] = mu;
        if (rstd) rstd[row] = s;
    }
}

/* returns 1 when the register kernel ran, 0 for the plain one */
template <typename T>
static int layernorm_forward_launch(T *residual, T *out, float *mean, float *rstd, const T *a,
                                    const T *b, const T *weight, const T *bias, int N, int C) {
    int vpl = ln_vec_lanes<T>(C, {residual, out, a, b, weight, bias});
    unsigned blocks = cuda_blocks(N, LN_THREADS / 32);
    if (vpl)
        ln_with_vpl(vpl, [&](auto v) {
            layernorm_forward_vec_kernel<T, decltype(v)::value>
                <<<blocks, LN_THREADS, 0, cuda_stream()>>>(residual, out, mean, rstd, a, b, weight,
                                                           bias, N, C);
        });
    else
        layernorm_forward_kernel<<<blocks, LN_THREADS, 0, cuda_stream()>>>(
            residual, out, mean, rstd, a, b, weight, bias, N, C);
    CUDA_CHECK_LAUNCH();
    return vpl > 0;
}

template <typename T>
int layernorm_forward_cuda(T *out, float *mean, float *rstd, const T *inp, const T *weight,
                           const T *bias, int N, int C) {
    return layernorm_forward_launch<T>(NULL, out, mean, rstd, inp, NULL, weight, bias, N, C);
}

template <typename T>
int residual_layernorm_forward_cuda(T *residual, T *out, float *mean, float *rstd, const T *a,
                                    const T *b, const T *weight, const T *bias, int N, int C) {
    return layernorm_forward_launch<T>(residual, out, mean, rstd, a, b, weight, bias, N, C);
}

/* A block's weight/bias gradient sums, in shared memory between these two, reach the
 * global fp32 gradients with one atomicAdd per column per block. */
__device__ __forceinline__ void ln_partials_zero(float *sdw, float *sdb, int C) {
    for (int c = threadIdx.x; c < C; c += blockDim.x) sdw[c] = sdb[c] = 0.0f;
    __syncthreads();
}
__device__ __forceinline__ void ln_partials_flush(float *dweight, float *dbias, const float *sdw,
                                                  const float *sdb, int C) {
    __syncthreads();
    for (int c = threadIdx.x; c < C; c += blockDim.x) {
        atomicAdd(&dweight[c], sdw[c]);
        atomicAdd(&dbias[c], sdb[c]);
    }
}

/* Rows are spread over a fixed grid; each block sums its rows' weight/bias gradients in
 * shared memory and adds them to the global fp32 gradients once. */
template <typename T>
__global__ void layernorm_backward_kernel(T *dinp, float *dweight, float *dbias, const T *dout,
                                          const T *inp, const T *weight, const float *mean,
                                          const float *rstd, int N, int C, bool accumulate) {
    extern __shared__ float ln_shared[];
    float *sdw = ln_shared, *sdb = ln_shared + C;
    ln_partials_zero(sdw, sdb, C);
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
    ln_partials_flush(dweight, dbias, sdw, sdb, C);
}

/* One row as the register backward holds it: a lane's vectors of inp and dout (absent
 * ones left unset: nothing reads them) and the row's statistics. */
template <typename T, int VPL> struct LnRow {
    Vec16<T> x[VPL], d[VPL];
    float mu, s;
};
template <typename T, int VPL>
__device__ __forceinline__ void ln_row_load(LnRow<T, VPL> &r, const T *inp, const T *dout,
                                            const float *mean, const float *rstd, int row, int lane,
                                            int C) {
    size_t off = (size_t)row * C;
    r.mu = mean[row];
    r.s = rstd[row];
#pragma unroll
    for (int i = 0; i < VPL; i++) {
        int c = ln_vec_col<T>(lane, i);
        if (c >= C) continue;
        r.x[i].raw = *(const uint4 *)(inp + off + c);
        r.d[i].raw = *(const uint4 *)(dout + off + c);
    }
}

/* dinp of one row from r, its weight/bias gradients added to dw/db. The caller has the
 * next row's loads in flight meanwhile. */
template <typename T, int VPL>
__device__ __forceinline__ void
ln_row_backward(T *dinp, float (&dw)[VPL][Vec16<T>::n], float (&db)[VPL][Vec16<T>::n],
                const LnRow<T, VPL> &r, const T *sw, int row, int lane, int C, bool accumulate) {
    constexpr int VN = Vec16<T>::n;
    size_t off = (size_t)row * C;
    Vec16<T> g[VPL];
    float dsum = 0.0f, dxsum = 0.0f;
#pragma unroll
    for (int i = 0; i < VPL; i++) {
        int c = ln_vec_col<T>(lane, i);
        if (c >= C) continue;
        g[i].raw = accumulate ? *(const uint4 *)(dinp + off + c) : make_uint4(0, 0, 0, 0);
        Vec16<T> w;
        w.raw = *(const uint4 *)(sw + c);
#pragma unroll
        for (int k = 0; k < VN; k++) {
            float xhat = (to_float(r.x[i].v[k]) - r.mu) * r.s, dy = to_float(r.d[i].v[k]);
            float dn = to_float(w.v[k]) * dy;
            dsum += dn;
            dxsum += dn * xhat;
            dw[i][k] += dy * xhat;
            db[i][k] += dy;
        }
    }
    dsum = warp_sum(dsum) / C;
    dxsum = warp_sum(dxsum) / C;
#pragma unroll
    for (int i = 0; i < VPL; i++) {
        int c = ln_vec_col<T>(lane, i);
        if (c >= C) continue;
        Vec16<T> w;
        w.raw = *(const uint4 *)(sw + c);
#pragma unroll
        for (int k = 0; k < VN; k++) {
            float xhat = (to_float(r.x[i].v[k]) - r.mu) * r.s;
            float dn = to_float(w.v[k]) * to_float(r.d[i].v[k]);
            float v = (dn - dsum - xhat * dxsum) * r.s;
            if (accumulate) v += to_float(g[i].v[k]);
            g[i].v[k] = from_float<T>(v);
        }
        *(uint4 *)(dinp + off + c) = g[i].raw;
    }
}

/* The backward with 16-byte loads (lane -> column map at ln_vec_col): a lane's columns are
 * fixed, so it sums their weight/bias gradients over all its warp's rows in registers
 * and the block's warps add them to shared memory once, at the end, in turn (plain adds
 * in a fixed order, no atomics). The weights wait in shared memory, out of the register
 * budget. Rows are software-pipelined: the next row's inp and dout loads go out before
 * this row's dinp load and reductions, so each warp keeps memory busy while it shuffles
 * (two buffers that swap roles, so no copies). That doubles the row registers, which
 * still fit in 128 (two blocks an SM) at up to three vectors a lane (C = 768 bf16). */
template <typename T, int VPL>
__global__ void __launch_bounds__(LN_THREADS, VPL <= 3 ? 2 : 1)
    layernorm_backward_vec_kernel(T *dinp, float *dweight, float *dbias, const T *dout,
                                  const T *inp, const T *weight, const float *mean,
                                  const float *rstd, int N, int C, bool accumulate) {
    constexpr int VN = Vec16<T>::n, warps = LN_THREADS / 32;
    extern __shared__ float ln_shared[];
    float *sdw = ln_shared, *sdb = ln_shared + C;
    T *sw = (T *)(ln_shared + 2 * C);
    for (int c = threadIdx.x; c < C; c += LN_THREADS) sw[c] = weight[c];
    ln_partials_zero(sdw, sdb, C);
    int lane = threadIdx.x % 32, warp = threadIdx.x / 32, stride = gridDim.x * warps;
    float dw[VPL][VN] = {}, db[VPL][VN] = {};
    LnRow<T, VPL> a, b;
    int row = blockIdx.x * warps + warp;
    if (row < N) ln_row_load(a, inp, dout, mean, rstd, row, lane, C);
    for (; row < N; row += 2 * stride) {
        if (row + stride < N) ln_row_load(b, inp, dout, mean, rstd, row + stride, lane, C);
        ln_row_backward(dinp, dw, db, a, sw, row, lane, C, accumulate);
        if (row + stride >= N) break;
        if (row + 2 * stride < N) ln_row_load(a, inp, dout, mean, rstd, row + 2 * stride, lane, C);
        ln_row_backward(dinp, dw, db, b, sw, row + stride, lane, C, accumulate);
    }
    for (int w = 0; w < warps; w++) {
        if (w == warp)
#pragma unroll
            for (int i = 0; i < VPL; i++) {
                int c = ln_vec_col<T>(lane, i);
                if (c >= C) continue;
#pragma unroll
                for (int k = 0; k < VN; k++) {
                    sdw[c + k] += dw[i][k];
                    sdb[c + k] += db[i][k];
                }
            }
        __syncthreads();
    }
    ln_partials_flush(dweight, dbias, sdw, sdb, C);
}

/* The register kernel gets at most one full wave of blocks: every warp then walks the
 * most rows per register sum, and the per-block flush happens the fewest times; the
 * blocks are then as few as give every warp the same number of rows (the last one aside),
 * so that no warp walks one row more than the rest. Returns 1 when it ran, 0 for the
 * plain kernel. */
template <typename T>
int layernorm_backward_cuda(T *dinp, float *dweight, float *dbias, const T *dout, const T *inp,
                            const T *weight, const float *mean, const float *rstd, int N, int C,
                            bool accumulate) {
    int vpl = ln_vec_lanes<T>(C, {dinp, dout, inp, weight});
    unsigned warps = LN_THREADS / 32, blocks = cuda_blocks(N, warps);
    size_t smem = 2 * (size_t)C * sizeof(float);
    if (vpl) {
        smem += (size_t)C * sizeof(T); /* the weights */
        ln_with_vpl(vpl, [&](auto v) {
            auto kernel = layernorm_backward_vec_kernel<T, decltype(v)::value>;
            static size_t wave_smem; /* the wave of the last shared-memory size asked */
            static unsigned wave;
            if (!wave || wave_smem != smem) {
                int dev = 0, sms = 0, per_sm = 0;
                CUDA_CHECK(cudaGetDevice(&dev));
                CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev));
                CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel,
                                                                         LN_THREADS, smem));
                wave = (unsigned)(sms * (per_sm > 0 ? per_sm : 1)), wave_smem = smem;
            }
            unsigned rows = cuda_blocks(N, wave * warps); /* per warp */
            blocks = cuda_blocks(N, warps * rows);
            kernel<<<blocks, LN_THREADS, smem, cuda_stream()>>>(
                dinp, dweight, dbias, dout, inp, weight, mean, rstd, N, C, accumulate);
        });
    } else {
        if (blocks > 512) blocks = 512;
        layernorm_backward_kernel<<<blocks, LN_THREADS, smem, cuda_stream()>>>(
            dinp, dweight, dbias, dout, inp, weight, mean, rstd, N, C, accumulate);
    }
    CUDA_CHECK_LAUNCH();
    return vpl > 0;
}

#define INSTANTIATE(T)                                                                             \
    template int layernorm_forward_cuda<T>(T *, float *, float *, const T *, const T *, const T *, \
                                           int, int);                                              \
    template int residual_layernorm_forward_cuda<T>(T *, T *, float *, float *, const T *,         \
                                                    const T *, const T *, const T *, int, int);    \
    template int layernorm_backward_cuda<T>(T *, float *, float *, const T *, const T *,           \
                                            const T *, const float *, const float *, int, int,     \
                                            bool);
INSTANTIATE(float)
INSTANTIATE(bf16)
