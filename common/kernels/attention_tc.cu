/* Causal attention forward on tensor cores (bf16 WMMA, fp32 accumulation), the same
 * result and logsumexp as the scalar kernel in attention.cu. Opt-in while unmeasured:
 * attention_use_tensor_cores(1) or GPT2_ATTN_TC=1 in the environment.
 * A block of 4 warps owns 64 query rows (16 per warp) and walks the 64-key tiles up to
 * the diagonal: S = Q K^T on tensor cores into shared memory, the online-softmax update
 * per row in fp32 (two lanes per row), then O += P V on tensor cores, O kept in shared
 * memory in fp32 so that rows can be rescaled. */
#include "kernels_cuda.h"

#include <math.h>
#include <mma.h>
#include <stdint.h>
#include <stdlib.h>

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

static int use_tc = -1; /* -1: not decided yet, read GPT2_ATTN_TC */

void attention_use_tensor_cores(int on) {
    use_tc = on;
}

int attention_tensor_cores(void) {
    if (use_tc < 0) {
        const char *e = getenv("GPT2_ATTN_TC");
        use_tc = e && atoi(e) > 0;
    }
    return use_tc;
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
