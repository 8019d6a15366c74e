/* Causal attention on tensor cores (bf16 WMMA, fp32 accumulation), the same results and
 * logsumexp as the scalar kernels in attention.cu, taken when the levers attn_fwd_tc and
 * attn_bwd_tc are on (cuda_common.h).
 * A block of 4 warps owns 64 query rows (16 per warp) and walks the 64-key tiles up to
 * the diagonal: S = Q K^T on tensor cores into shared memory, the online-softmax update
 * per row in fp32 (two lanes per row), then O += P V on tensor cores, O kept in shared
 * memory in fp32 so that rows can be rescaled. */
#include "kernels_cuda.h"

#include <math.h>
#include <mma.h>
#include <stdint.h>
#include <type_traits>

using namespace nvcuda;

#define HS 64
#define TQ 64        /* query rows per block */
#define TK 64        /* keys per tile */
#define WARPS 4      /* 16 query rows each */
#define LDH 72       /* bf16 row stride in shared memory (16-byte multiple, spreads banks) */
#define LDF 68       /* float row stride */
#define SCALE 0.125f /* 1/sqrt(HS) */

typedef wmma::fragment<wmma::matrix_a, 16, 16, 16, bf16, wmma::row_major> FragA;
typedef wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16, wmma::col_major> FragBt; /* K^T */
typedef wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16, wmma::row_major> FragB;
typedef wmma::fragment<wmma::accumulator, 16, 16, 16, float> FragC;

/* shared memory: Q, K, V, P (bf16) then S, O (fp32) then row max and row sum */
#define SMEM_BYTES (4 * TQ * LDH * 2 + 2 * TQ * LDF * 4 + 2 * TQ * 4)

/* rows row0.. row0+63 of a [T, 3C] bf16 matrix (64 columns from src) into shared memory,
 * 16 bytes at a time; rows past Tn become zeros */
__device__ __forceinline__ void load_tile(bf16 *dst, const bf16 *src, size_t stride, int row0,
                                          int Tn) {
    for (int e = threadIdx.x; e < 64 * 8; e += blockDim.x) {
        int rr = e / 8, part = e % 8, j = row0 + rr;
        uint4 v = make_uint4(0, 0, 0, 0);
        if (j < Tn) v = *(const uint4 *)(src + (size_t)j * stride + part * 8);
        *(uint4 *)(dst + rr * LDH + part * 8) = v;
    }
}

__global__ void __launch_bounds__(WARPS * 32)
    attention_forward_tc_kernel(bf16 *out, float *lse, const bf16 *qkv, int Tn, int C, int NH) {
    extern __shared__ __align__(128) unsigned char smem[];
    bf16 *Qs = (bf16 *)smem, *Ks = Qs + TQ * LDH, *Vs = Ks + TK * LDH, *Ps = Vs + TK * LDH;
    float *Ss = (float *)(Ps + TQ * LDH), *Os = Ss + TQ * LDF;
    float *rowm = Os + TQ * LDF, *rowl = rowm + TQ;
    int tile = gridDim.x - 1 - blockIdx.x, h = blockIdx.y, b = blockIdx.z;
    int q0 = tile * TQ, warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const bf16 *base = qkv + (size_t)b * Tn * 3 * C + h * HS;
    size_t stride = (size_t)3 * C;
    load_tile(Qs, base, stride, q0, Tn);
    for (int e = threadIdx.x; e < TQ * HS; e += blockDim.x) Os[(e / HS) * LDF + e % HS] = 0.0f;
    if (threadIdx.x < TQ) rowm[threadIdx.x] = -INFINITY, rowl[threadIdx.x] = 0.0f;
    int r = warp * 16 + lane / 2, half = lane % 2, i = q0 + r; /* this lane's row, half */
    int kend = min(Tn, q0 + TQ);
    for (int k0 = 0; k0 < kend; k0 += TK) {
        __syncthreads(); /* the previous tile is no longer read */
        load_tile(Ks, base + C, stride, k0, Tn);
        load_tile(Vs, base + 2 * C, stride, k0, Tn);
        __syncthreads();
        /* S[16 rows of this warp, 64 keys] = Q K^T */
        for (int n = 0; n < TK / 16; n++) {
            FragC c;
            wmma::fill_fragment(c, 0.0f);
            for (int kk = 0; kk < HS / 16; kk++) {
                FragA a;
                FragBt bt;
                wmma::load_matrix_sync(a, Qs + warp * 16 * LDH + kk * 16, LDH);
                wmma::load_matrix_sync(bt, Ks + n * 16 * LDH + kk * 16, LDH);
                wmma::mma_sync(c, a, bt, c);
            }
            wmma::store_matrix_sync(Ss + warp * 16 * LDF + n * 16, c, LDF, wmma::mem_row_major);
        }
        __syncwarp();
        /* online softmax for row r, columns half*32 .. +32; keys j <= i count */
        float *srow = Ss + r * LDF + half * 32;
        int jbase = k0 + half * 32;
        float mloc = -INFINITY;
        for (int c = 0; c < 32; c++)
            if (jbase + c <= i && i < Tn) mloc = fmaxf(mloc, srow[c] * SCALE);
        mloc = fmaxf(mloc, __shfl_xor_sync(0xffffffffu, mloc, 1));
        float mold = rowm[r], mnew = fmaxf(mold, mloc);
        float corr = mnew == -INFINITY ? 1.0f : __expf(mold - mnew);
        float sum = 0.0f;
        bf16 *prow = Ps + r * LDH + half * 32;
        for (int c = 0; c < 32; c++) {
            bool ok = jbase + c <= i && i < Tn && mnew != -INFINITY;
            bf16 p = __float2bfloat16(ok ? __expf(srow[c] * SCALE - mnew) : 0.0f);
            prow[c] = p;
            sum += __bfloat162float(p); /* the rounded P, as the P V product sees it */
        }
        sum += __shfl_xor_sync(0xffffffffu, sum, 1);
        float *orow = Os + r * LDF + half * 32;
        for (int c = 0; c < 32; c++) orow[c] *= corr;
        float lold = rowl[r];
        __syncwarp();
        if (half == 0) rowm[r] = mnew, rowl[r] = lold * corr + sum;
        __syncwarp();
        /* O[16 rows, 64 dims] += P V */
        for (int n = 0; n < HS / 16; n++) {
            FragC c;
            wmma::load_matrix_sync(c, Os + warp * 16 * LDF + n * 16, LDF, wmma::mem_row_major);
            for (int kk = 0; kk < TK / 16; kk++) {
                FragA a;
                FragB bv;
                wmma::load_matrix_sync(a, Ps + warp * 16 * LDH + kk * 16, LDH);
                wmma::load_matrix_sync(bv, Vs + kk * 16 * LDH + n * 16, LDH);
                wmma::mma_sync(c, a, bv, c);
            }
            wmma::store_matrix_sync(Os + warp * 16 * LDF + n * 16, c, LDF, wmma::mem_row_major);
        }
        __syncwarp();
    }
    if (i >= Tn) return;
    float l = rowl[r], inv = 1.0f / l;
    bf16 *o = out + ((size_t)b * Tn + i) * C + h * HS + half * 32;
    const float *orow = Os + r * LDF + half * 32;
    for (int c = 0; c < 32; c++) o[c] = __float2bfloat16(orow[c] * inv);
    if (half == 0) lse[((size_t)b * NH + h) * Tn + i] = rowm[r] + logf(l);
}

/* ---- backward: D_i = do_i.o_i first, then dQ per query tile and dK, dV per key tile ---- */

__global__ void attention_delta_kernel(float *delta, const bf16 *dout, const bf16 *out, int Tn,
                                       int C, int NH, int rows) {
    int row = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32, lane = threadIdx.x % 32;
    if (row >= rows) return; /* row = (b * Tn + i) * NH + h */
    int h = row % NH, bi = row / NH, b = bi / Tn, i = bi % Tn;
    size_t off = (size_t)bi * C + h * HS;
    float s = 0.0f;
    for (int d = lane; d < HS; d += 32)
        s += __bfloat162float(dout[off + d]) * __bfloat162float(out[off + d]);
    s = warp_sum(s);
    if (lane == 0) delta[((size_t)b * NH + h) * Tn + i] = s;
}

/* X[16 rows at xrow] times Y^T (Y: 64 rows) or Y (64 x 64), 16 x 64 result into F (fp32) */
template <typename LayoutB>
__device__ __forceinline__ void tile_mma(float *F, const bf16 *X, const bf16 *Y) {
#pragma unroll
    for (int n = 0; n < 4; n++) {
        FragC c;
        wmma::fill_fragment(c, 0.0f);
        for (int kk = 0; kk < 4; kk++) {
            FragA a;
            wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16, LayoutB> bm;
            wmma::load_matrix_sync(a, X + kk * 16, LDH);
            if (std::is_same<LayoutB, wmma::col_major>::value) /* Y^T: rows of Y are columns */
                wmma::load_matrix_sync(bm, Y + n * 16 * LDH + kk * 16, LDH);
            else
                wmma::load_matrix_sync(bm, Y + kk * 16 * LDH + n * 16, LDH);
            wmma::mma_sync(c, a, bm, c);
        }
        wmma::store_matrix_sync(F + n * 16, c, LDF, wmma::mem_row_major);
    }
}

/* acc[4] (16 x 64) += X[16 x 64] Y[64 x 64] */
__device__ __forceinline__ void tile_mma_acc(FragC *acc, const bf16 *X, const bf16 *Y) {
#pragma unroll
    for (int n = 0; n < 4; n++)
        for (int kk = 0; kk < 4; kk++) {
            FragA a;
            FragB bm;
            wmma::load_matrix_sync(a, X + kk * 16, LDH);
            wmma::load_matrix_sync(bm, Y + kk * 16 * LDH + n * 16, LDH);
            wmma::mma_sync(acc[n], a, bm, acc[n]);
        }
}

/* 16 x 64 fragments (times scale) added into (or written to) rows of dqkv at column col */
__device__ __forceinline__ void store_grad(bf16 *dqkv, FragC *acc, float *F, int row0, int Tn,
                                           size_t stride, float scale, bool accumulate) {
    int lane = threadIdx.x % 32;
#pragma unroll
    for (int n = 0; n < 4; n++)
        wmma::store_matrix_sync(F + n * 16, acc[n], LDF, wmma::mem_row_major);
    __syncwarp();
    for (int e = lane; e < 16 * HS; e += 32) {
        int r = e / HS, d = e % HS, i = row0 + r;
        if (i >= Tn) continue;
        float v = F[r * LDF + d] * scale;
        bf16 *g = dqkv + (size_t)i * stride + d;
        if (accumulate) v += __bfloat162float(*g);
        *g = __float2bfloat16(v);
    }
}

/* The backward keeps the probabilities of a lane's 32 columns in registers, so that one
 * fp32 tile in shared memory serves S, then dP: the kernels fit three blocks per SM on
 * Hopper (228 KB), whose register file then caps a thread at 168 (a few bytes spill). */
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 900
#define BWD_BLOCKS 1
#else
#define BWD_BLOCKS 3
#endif
#define DQ_SMEM (5 * 64 * LDH * 2 + 64 * LDF * 4 + 2 * 64 * 4)
#define DKV_SMEM (6 * 64 * LDH * 2 + 64 * LDF * 4 + 2 * 64 * 4)

/* One block per 64 query rows: dQ = scale * sum_j dS_ij k_j */
__global__ void __launch_bounds__(WARPS * 32, BWD_BLOCKS)
    attention_backward_dq_tc_kernel(bf16 *dqkv, const float *delta, const bf16 *dout,
                                    const bf16 *qkv, const float *lse, int Tn, int C, int NH,
                                    bool accumulate) {
    extern __shared__ __align__(128) unsigned char smem[];
    bf16 *Qs = (bf16 *)smem, *dOs = Qs + 64 * LDH, *Ks = dOs + 64 * LDH, *Vs = Ks + 64 * LDH;
    bf16 *dSs = Vs + 64 * LDH;
    float *F = (float *)(dSs + 64 * LDH); /* S, then dP */
    float *ls = F + 64 * LDF, *Ds = ls + 64;
    int tile = gridDim.x - 1 - blockIdx.x, h = blockIdx.y, b = blockIdx.z;
    int q0 = tile * 64, warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    size_t stride = (size_t)3 * C;
    const bf16 *base = qkv + (size_t)b * Tn * stride + h * HS;
    load_tile(Qs, base, stride, q0, Tn);
    load_tile(dOs, dout + (size_t)b * Tn * C + h * HS, C, q0, Tn);
    if (threadIdx.x < 64) {
        int i = q0 + threadIdx.x;
        size_t srow = ((size_t)b * NH + h) * Tn;
        ls[threadIdx.x] = i < Tn ? lse[srow + i] : 0.0f;
        Ds[threadIdx.x] = i < Tn ? delta[srow + i] : 0.0f;
    }
    FragC acc[4];
    for (int n = 0; n < 4; n++) wmma::fill_fragment(acc[n], 0.0f);
    int r = warp * 16 + lane / 2, half = lane % 2, i = q0 + r;
    float *Fw = F + warp * 16 * LDF, *frow = F + r * LDF + half * 32;
    bf16 *dsrow = dSs + r * LDH + half * 32;
    int kend = min(Tn, q0 + 64);
    for (int k0 = 0; k0 < kend; k0 += 64) {
        __syncthreads();
        load_tile(Ks, base + C, stride, k0, Tn);
        load_tile(Vs, base + 2 * C, stride, k0, Tn);
        __syncthreads();
        tile_mma<wmma::col_major>(Fw, Qs + warp * 16 * LDH, Ks); /* S = Q K^T */
        __syncwarp();
        float p[32];
#pragma unroll
        for (int c = 0; c < 32; c++) {
            int j = k0 + half * 32 + c;
            p[c] = j <= i && i < Tn ? __expf(frow[c] * SCALE - ls[r]) : 0.0f;
        }
        __syncwarp();                                             /* S is read: the tile takes dP */
        tile_mma<wmma::col_major>(Fw, dOs + warp * 16 * LDH, Vs); /* dP = dO V^T */
        __syncwarp();
#pragma unroll
        for (int c = 0; c < 32; c++) dsrow[c] = __float2bfloat16(p[c] * (frow[c] - Ds[r]));
        __syncwarp();
        tile_mma_acc(acc, dSs + warp * 16 * LDH, Ks); /* dQ += dS K */
    }
    __syncwarp();
    store_grad(dqkv + (size_t)b * Tn * stride + h * HS, acc, Fw, q0 + warp * 16, Tn, stride, SCALE,
               accumulate);
}

/* One block per 64 key rows: dV = sum_i p_ij do_i, dK = scale * sum_i dS_ij q_i */
__global__ void __launch_bounds__(WARPS * 32, BWD_BLOCKS)
    attention_backward_dkv_tc_kernel(bf16 *dqkv, const float *delta, const bf16 *dout,
                                     const bf16 *qkv, const float *lse, int Tn, int C, int NH,
                                     bool accumulate) {
    extern __shared__ __align__(128) unsigned char smem[];
    bf16 *Ks = (bf16 *)smem, *Vs = Ks + 64 * LDH, *Qs = Vs + 64 * LDH, *dOs = Qs + 64 * LDH;
    bf16 *Pt = dOs + 64 * LDH, *dSt = Pt + 64 * LDH;
    float *F = (float *)(dSt + 64 * LDH); /* S^T, then dP^T */
    float *ls = F + 64 * LDF, *Ds = ls + 64;
    int k0 = blockIdx.x * 64, h = blockIdx.y, b = blockIdx.z;
    int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    size_t stride = (size_t)3 * C;
    const bf16 *base = qkv + (size_t)b * Tn * stride + h * HS;
    const bf16 *obase = dout + (size_t)b * Tn * C + h * HS;
    size_t srow = ((size_t)b * NH + h) * Tn;
    load_tile(Ks, base + C, stride, k0, Tn);
    load_tile(Vs, base + 2 * C, stride, k0, Tn);
    FragC dk[4], dv[4];
    for (int n = 0; n < 4; n++) wmma::fill_fragment(dk[n], 0.0f), wmma::fill_fragment(dv[n], 0.0f);
    int r = warp * 16 + lane / 2, half = lane % 2, j = k0 + r; /* this lane's key row */
    float *Fw = F + warp * 16 * LDF, *frow = F + r * LDF + half * 32;
    bf16 *prow = Pt + r * LDH + half * 32, *dsrow = dSt + r * LDH + half * 32;
    for (int q0 = k0; q0 < Tn; q0 += 64) {
        __syncthreads();
        load_tile(Qs, base, stride, q0, Tn);
        load_tile(dOs, obase, C, q0, Tn);
        if (threadIdx.x < 64) {
            int i = q0 + threadIdx.x;
            ls[threadIdx.x] = i < Tn ? lse[srow + i] : 0.0f;
            Ds[threadIdx.x] = i < Tn ? delta[srow + i] : 0.0f;
        }
        __syncthreads();
        tile_mma<wmma::col_major>(Fw, Ks + warp * 16 * LDH, Qs); /* S^T = K Q^T */
        __syncwarp();
        float p[32];
#pragma unroll
        for (int c = 0; c < 32; c++) {
            int i = q0 + half * 32 + c;
            p[c] = j <= i && i < Tn ? __expf(frow[c] * SCALE - ls[half * 32 + c]) : 0.0f;
            prow[c] = __float2bfloat16(p[c]);
        }
        __syncwarp(); /* S^T is read: the tile takes dP^T */
        tile_mma<wmma::col_major>(Fw, Vs + warp * 16 * LDH, dOs); /* dP^T = V dO^T */
        __syncwarp();
#pragma unroll
        for (int c = 0; c < 32; c++)
            dsrow[c] = __float2bfloat16(p[c] * (frow[c] - Ds[half * 32 + c]));
        __syncwarp();
        tile_mma_acc(dv, Pt + warp * 16 * LDH, dOs); /* dV += P^T dO */
        tile_mma_acc(dk, dSt + warp * 16 * LDH, Qs); /* dK += dS^T Q */
    }
    __syncwarp();
    bf16 *g = dqkv + (size_t)b * Tn * stride + h * HS;
    store_grad(g + C, dk, Fw, k0 + warp * 16, Tn, stride, SCALE, accumulate);
    __syncwarp();
    store_grad(g + 2 * C, dv, Fw, k0 + warp * 16, Tn, stride, 1.0f, accumulate);
}

int attention_backward_tc(bf16 *dqkv, float *delta, const bf16 *dout, const bf16 *qkv,
                          const bf16 *out, const float *lse, int B, int Tn, int C, int NH,
                          bool accumulate) {
    if (C % 8 || (uintptr_t)qkv % 16 || (uintptr_t)dout % 16) return 0;
    static int configured;
    if (!configured) {
        CUDA_CHECK(cudaFuncSetAttribute(attention_backward_dq_tc_kernel,
                                        cudaFuncAttributeMaxDynamicSharedMemorySize, DQ_SMEM));
        CUDA_CHECK(cudaFuncSetAttribute(attention_backward_dkv_tc_kernel,
                                        cudaFuncAttributeMaxDynamicSharedMemorySize, DKV_SMEM));
        configured = 1;
    }
    int rows = B * Tn * NH;
    attention_delta_kernel<<<cuda_blocks(rows, 8), 256, 0, cuda_stream()>>>(delta, dout, out, Tn, C,
                                                                            NH, rows);
    CUDA_CHECK_LAUNCH();
    dim3 grid((Tn + 63) / 64, NH, B);
    attention_backward_dq_tc_kernel<<<grid, WARPS * 32, DQ_SMEM, cuda_stream()>>>(
        dqkv, delta, dout, qkv, lse, Tn, C, NH, accumulate);
    CUDA_CHECK_LAUNCH();
    attention_backward_dkv_tc_kernel<<<grid, WARPS * 32, DKV_SMEM, cuda_stream()>>>(
        dqkv, delta, dout, qkv, lse, Tn, C, NH, accumulate);
    CUDA_CHECK_LAUNCH();
    return 1;
}

/* needs 16-byte aligned rows (C a multiple of 8 and an aligned qkv); 0 if it cannot run */
int attention_forward_tc(bf16 *out, float *lse, const bf16 *qkv, int B, int Tn, int C, int NH) {
    if (C % 8 || (uintptr_t)qkv % 16) return 0;
    static int configured;
    if (!configured) {
        CUDA_CHECK(cudaFuncSetAttribute(attention_forward_tc_kernel,
                                        cudaFuncAttributeMaxDynamicSharedMemorySize, SMEM_BYTES));
        configured = 1;
    }
    dim3 grid((Tn + TQ - 1) / TQ, NH, B);
    attention_forward_tc_kernel<<<grid, WARPS * 32, SMEM_BYTES, cuda_stream()>>>(out, lse, qkv, Tn,
                                                                                 C, NH);
    CUDA_CHECK_LAUNCH();
    return 1;
}
