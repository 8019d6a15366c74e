/* Causal attention on tensor cores with the warp-level mma.sync instruction (m16n8k16,
 * bf16 in, fp32 accumulation), flash-attention-2 style: scores, probabilities and their
 * gradients never leave registers. The accumulator layout of one m16n8k16 product is the
 * A-operand layout of the next, so P (or dS) feeds the following product directly.
 * Taken when the levers attn_fwd_mma and attn_bwd_mma are on (cuda_common.h); same
 * results and logsumexp convention as attention.cu.
 *
 * A block of 4 warps owns a 64-row tile (16 rows per warp) and streams the 64-row tiles
 * of the other side through double-buffered shared memory (cp.async). A warp's 16 x 64
 * fp32 tile is float[8][4]: fragment n holds columns 8n..8n+7, and lane (g = lane/4,
 * t = lane%4) holds rows g and g+8, columns 2t and 2t+1 (elements 0,1 and 2,3).
 * Softmax runs in base 2: x = s * log2(e) / 8, p = 2^(x - m). */
#include "model/kernels/kernels_cuda.h"

#include <math.h>
#include <stdint.h>

#define HS 64
#define TILE 64 /* rows of a tile, either side */
#define WARPS 4 /* 16 rows each */
#define THREADS (WARPS * 32)
#define LDS                                                                                        \
    72 /* smem row stride in bf16: 144 bytes put the 8 rows one ldmatrix reads in distinct banks   \
        */
#define TILE_ELEMS (TILE * LDS)
#define SCALE 0.125f /* 1/sqrt(HS) */
#define SCALE_LOG2 (SCALE * LOG2E)
#define LN2 0.6931471805599453f

/* ---- the instructions ---- */

__device__ __forceinline__ uint32_t smem_u32(const void *p) {
    return (uint32_t)__cvta_generic_to_shared(p);
}

/* 16 bytes global -> shared without staging in registers; zeros when !valid */
__device__ __forceinline__ void cp_async16(void *dst, const void *src, bool valid) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_u32(dst)), "l"(src),
                 "r"(valid ? 16 : 0));
}
__device__ __forceinline__ void cp_async_commit() {
    asm volatile("cp.async.commit_group;\n" ::);
}
template <int N> __device__ __forceinline__ void cp_async_wait() {
    asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

/* four 8x8 bf16 matrices; lane l gives the address of row l%8 of matrix l/8 and gets
 * row l/4, columns 2(l%4) and +1 of each (transposed: column l/4, rows 2(l%4) and +1) */
__device__ __forceinline__ void ldsm_x4(uint32_t r[4], const bf16 *p) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(smem_u32(p)));
}
__device__ __forceinline__ void ldsm_x4_trans(uint32_t r[4], const bf16 *p) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(smem_u32(p)));
}

/* c[16x8] += a[16x16] b[16x8] */
__device__ __forceinline__ void mma_bf16(float c[4], const uint32_t a[4], uint32_t b0,
                                         uint32_t b1) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, "
                 "{%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

/* p[0] += x, p[1] += y (one 8-byte atomic on Hopper) */
__device__ __forceinline__ void atomic_add2(float *p, float x, float y) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    atomicAdd((float2 *)p, make_float2(x, y));
#else
    atomicAdd(p, x), atomicAdd(p + 1, y);
#endif
}

__device__ __forceinline__ uint32_t pack_bf16(float lo, float hi) {
    __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
    return *(uint32_t *)&v;
}

/* ---- tiles ---- */

/* 64 rows from row0 (64 columns of src, rows stride apart) into a shared tile, async;
 * rows at or past Tn become zeros */
__device__ __forceinline__ void load_tile_async(bf16 *dst, const bf16 *src, size_t stride, int row0,
                                                int Tn) {
    for (int e = threadIdx.x; e < TILE * 8; e += THREADS) {
        int r = e / 8, part = e % 8, j = row0 + r;
        bool ok = j < Tn;
        cp_async16(dst + r * LDS + part * 8, src + (size_t)(ok ? j : 0) * stride + part * 8, ok);
    }
}

/* a warp's 16 rows x 64 columns of a shared tile as four A operands (16 columns each) */
__device__ __forceinline__ void load_a(uint32_t a[4][4], const bf16 *rows) {
    int l = threadIdx.x % 32;
#pragma unroll
    for (int kk = 0; kk < 4; kk++) ldsm_x4(a[kk], rows + (l % 16) * LDS + kk * 16 + 8 * (l / 16));
}

/* acc[i] = A[i] Y^T for MT row tiles of a warp (16 x 64 operands), Y a shared 64 x 64
 * tile (row j of Y is column j of the result); each fragment of Y serves all MT */
template <int MT>
__device__ __forceinline__ void mma_abt(float acc[MT][8][4], const uint32_t a[MT][4][4],
                                        const bf16 *Y) {
    int l = threadIdx.x % 32;
#pragma unroll
    for (int i = 0; i < MT; i++)
#pragma unroll
        for (int n = 0; n < 8; n++)
            acc[i][n][0] = acc[i][n][1] = acc[i][n][2] = acc[i][n][3] = 0.0f;
#pragma unroll
    for (int kk = 0; kk < 4; kk++)
#pragma unroll
        for (int np = 0; np < 4; np++) { /* Y rows 16np..16np+15: two n fragments */
            uint32_t b[4];
            ldsm_x4(b, Y + (np * 16 + l % 8 + 8 * (l / 16)) * LDS + kk * 16 + 8 * (l / 8 % 2));
#pragma unroll
            for (int i = 0; i < MT; i++) {
                mma_bf16(acc[i][2 * np], a[i][kk], b[0], b[1]);
                mma_bf16(acc[i][2 * np + 1], a[i][kk], b[2], b[3]);
            }
        }
}

/* acc[i] += A[i] Y: A[i] a warp's 16 x 64 operand, whose columns 16kk..16kk+15 a_of(i, kk,
 * a) gives as one A fragment when it is needed; Y a shared 64 x 64 tile (row k of Y meets
 * column k of A) */
template <int MT, typename AOf>
__device__ __forceinline__ void mma_a_y(float acc[MT][8][4], AOf a_of, const bf16 *Y) {
    int l = threadIdx.x % 32;
#pragma unroll
    for (int kk = 0; kk < 4; kk++) {
        uint32_t a[MT][4];
#pragma unroll
        for (int i = 0; i < MT; i++) a_of(i, kk, a[i]);
#pragma unroll
        for (int np = 0; np < 4; np++) {
            uint32_t b[4];
            ldsm_x4_trans(b, Y + (kk * 16 + l % 16) * LDS + np * 16 + 8 * (l / 16));
#pragma unroll
            for (int i = 0; i < MT; i++) {
                mma_bf16(acc[i][2 * np], a[i], b[0], b[1]);
                mma_bf16(acc[i][2 * np + 1], a[i], b[2], b[3]);
            }
        }
    }
}

/* acc[i] += P[i] Y: P[i] a warp's 16 x 64 fp32 tiles, rounded to bf16 A fragments as they
 * are needed (columns 16kk..16kk+15 are fragments 2kk and 2kk+1) */
template <int MT>
__device__ __forceinline__ void mma_ab(float acc[MT][8][4], const float p[MT][8][4],
                                       const bf16 *Y) {
    mma_a_y<MT>(
        acc,
        [&](int i, int kk, uint32_t a[4]) {
            a[0] = pack_bf16(p[i][2 * kk][0], p[i][2 * kk][1]);
            a[1] = pack_bf16(p[i][2 * kk][2], p[i][2 * kk][3]);
            a[2] = pack_bf16(p[i][2 * kk + 1][0], p[i][2 * kk + 1][1]);
            a[3] = pack_bf16(p[i][2 * kk + 1][2], p[i][2 * kk + 1][3]);
        },
        Y);
}

/* columns 16kk..16kk+15 of the 16 x 64 operand whose row r is column col0 + r of a shared
 * 64 x 64 tile (the tile transposed, 16 of its columns), as one A fragment */
__device__ __forceinline__ void load_a_trans(uint32_t a[4], const bf16 *tile, int col0, int kk) {
    int l = threadIdx.x % 32;
    ldsm_x4_trans(a, tile + (kk * 16 + l % 8 + 8 * (l / 16)) * LDS + col0 + 8 * (l / 8 % 2));
}

/* a warp's 16 x 64 tile times scale into (or added to) rows row0.. of dst, rows stride
 * apart; rows at or past Tn are not there */
__device__ __forceinline__ void store_rows(bf16 *dst, size_t stride, const float acc[8][4],
                                           int row0, int Tn, float scale, bool accumulate) {
    int l = threadIdx.x % 32, g = l / 4, t = l % 4;
#pragma unroll
    for (int half = 0; half < 2; half++) {
        int i = row0 + g + 8 * half;
        if (i >= Tn) continue;
        __nv_bfloat162 *p = (__nv_bfloat162 *)(dst + (size_t)i * stride + 2 * t);
#pragma unroll
        for (int n = 0; n < 8; n++) {
            float2 v = make_float2(acc[n][2 * half] * scale, acc[n][2 * half + 1] * scale);
            if (accumulate) {
                float2 old = __bfloat1622float2(p[4 * n]);
                v.x += old.x, v.y += old.y;
            }
            p[4 * n] = __float22bfloat162_rn(v);
        }
    }
}

/* ---- forward ---- */

/* MT row tiles per warp (16 MT rows; blocks of 64 MT query rows): MT = 2, the lever
 * attn_fwd_32rows, reads each K and V fragment from shared memory once for 32 rows */
template <int MT>
__global__ void __launch_bounds__(THREADS)
    attention_forward_mma_kernel(bf16 *out, float *lse, const bf16 *qkv, int Tn, int C, int NH) {
    extern __shared__ __align__(128) unsigned char smem[];
    bf16 *Qs = (bf16 *)smem, *Ks = Qs + MT * TILE_ELEMS, *Vs = Ks + 2 * TILE_ELEMS; /* K, V: 2 */
    int tile = gridDim.x - 1 - blockIdx.x, h = blockIdx.y, b = blockIdx.z; /* longest first */
    int warp = threadIdx.x / 32, lane = threadIdx.x % 32, t = lane % 4;
    int q0 = tile * MT * TILE, r0 = q0 + warp * 16 * MT; /* the warp's rows r0.. r0+16MT-1 */
    int nkt = min(q0 + MT * TILE, Tn + TILE - 1) / TILE; /* key tiles up to the diagonal */
    size_t stride = (size_t)3 * C;
    const bf16 *base = qkv + (size_t)b * Tn * stride + h * HS;
    for (int i = 0; i < MT; i++)
        load_tile_async(Qs + i * TILE_ELEMS, base, stride, q0 + i * TILE, Tn);
    load_tile_async(Ks, base + C, stride, 0, Tn);
    load_tile_async(Vs, base + 2 * C, stride, 0, Tn);
    cp_async_commit();
    uint32_t qf[MT][4][4];
    float o[MT][8][4] = {}, m[MT][2], l[MT][2] = {};
#pragma unroll
    for (int i = 0; i < MT; i++) m[i][0] = m[i][1] = -INFINITY;
    for (int kt = 0; kt < nkt; kt++) {
        int buf = kt & 1, k0 = kt * TILE;
        const bf16 *K = Ks + buf * TILE_ELEMS, *V = Vs + buf * TILE_ELEMS;
        if (kt + 1 < nkt) { /* the next tile streams in while this one is used */
            load_tile_async(Ks + (buf ^ 1) * TILE_ELEMS, base + C, stride, k0 + TILE, Tn);
            load_tile_async(Vs + (buf ^ 1) * TILE_ELEMS, base + 2 * C, stride, k0 + TILE, Tn);
            cp_async_commit();
            cp_async_wait<1>();
        } else {
            cp_async_wait<0>();
        }
        __syncthreads();
        if (kt == 0)
            for (int i = 0; i < MT; i++) load_a(qf[i], Qs + (warp * 16 * MT + 16 * i) * LDS);
        /* keys past the warp's last row: nothing to do (tile 0 always has work, so every
         * row's m is finite after it); keys past its first row: mask */
        if (k0 <= r0 + 16 * MT - 1) {
            bool masked = k0 + TILE - 1 > r0;
            float s[MT][8][4];
            mma_abt<MT>(s, qf, K);
#pragma unroll
            for (int i = 0; i < MT; i++)
#pragma unroll
                for (int r = 0; r < 2; r++) { /* online softmax of row r0 + 16i + lane/4 + 8r */
                    int row = r0 + 16 * i + lane / 4 + 8 * r;
                    float mx = -INFINITY;
#pragma unroll
                    for (int n = 0; n < 8; n++)
#pragma unroll
                        for (int e = 0; e < 2; e++) {
                            int j = k0 + 8 * n + 2 * t + e;
                            float x =
                                masked && j > row ? -INFINITY : s[i][n][2 * r + e] * SCALE_LOG2;
                            s[i][n][2 * r + e] = x;
                            mx = fmaxf(mx, x);
                        }
                    mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
                    mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
                    float mnew = fmaxf(m[i][r], mx), corr = exp2_approx(m[i][r] - mnew);
                    m[i][r] = mnew;
                    l[i][r] *= corr; /* this lane's share; the 4 lanes of a row add up at the end */
#pragma unroll
                    for (int n = 0; n < 8; n++)
#pragma unroll
                        for (int e = 0; e < 2; e++) {
                            float p = exp2_approx(s[i][n][2 * r + e] - mnew);
                            s[i][n][2 * r + e] = p;
                            l[i][r] += p;
                            o[i][n][2 * r + e] *= corr;
                        }
                }
            mma_ab<MT>(o, s, V);
        }
        __syncthreads(); /* buf is refilled by the next iteration's prefetch */
    }
    size_t srow = ((size_t)b * NH + h) * Tn;
#pragma unroll
    for (int i = 0; i < MT; i++) {
#pragma unroll
        for (int r = 0; r < 2; r++) {
            int row = r0 + 16 * i + lane / 4 + 8 * r;
            float li = l[i][r];
            li += __shfl_xor_sync(0xffffffffu, li, 1);
            li += __shfl_xor_sync(0xffffffffu, li, 2);
            float inv = 1.0f / li;
#pragma unroll
            for (int n = 0; n < 8; n++) o[i][n][2 * r] *= inv, o[i][n][2 * r + 1] *= inv;
            if (t == 0 && row < Tn) lse[srow + row] = (m[i][r] + log2f(li)) * LN2;
        }
        store_rows(out + (size_t)b * Tn * C + h * HS, C, o[i], r0 + 16 * i, Tn, 1.0f, false);
    }
}

/* ---- backward: dQ per query tile (which also writes D_i = do_i.o_i), then dK, dV per
 * key tile, each recomputing the probabilities from the logsumexp ---- */

#define DQ_SMEM (6 * TILE_ELEMS * 2)
#define DKV_SMEM (6 * TILE_ELEMS * 2 + 4 * TILE * 4)

__global__ void __launch_bounds__(THREADS)
    attention_backward_dq_mma_kernel(bf16 *dqkv, float *delta, const bf16 *dout, const bf16 *qkv,
                                     const bf16 *out, const float *lse, int Tn, int C, int NH,
                                     bool accumulate) {
    extern __shared__ __align__(128) unsigned char smem[];
    bf16 *Qs = (bf16 *)smem, *dOs = Qs + TILE_ELEMS, *Ks = dOs + TILE_ELEMS;
    bf16 *Vs = Ks + 2 * TILE_ELEMS; /* K and V double-buffered */
    int tile = gridDim.x - 1 - blockIdx.x, h = blockIdx.y, b = blockIdx.z;
    int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
    int q0 = tile * TILE, r0 = q0 + warp * 16, row[2] = {r0 + g, r0 + g + 8};
    size_t stride = (size_t)3 * C, srow = ((size_t)b * NH + h) * Tn;
    const bf16 *base = qkv + (size_t)b * Tn * stride + h * HS;
    const bf16 *obase = out + (size_t)b * Tn * C + h * HS,
               *dobase = dout + (size_t)b * Tn * C + h * HS;
    load_tile_async(Qs, base, stride, q0, Tn);
    load_tile_async(dOs, dobase, C, q0, Tn);
    load_tile_async(Ks, base + C, stride, 0, Tn);
    load_tile_async(Vs, base + 2 * C, stride, 0, Tn);
    cp_async_commit();
    /* D for the warp's 16 rows, two lanes a row, while the tiles load */
    float D[2], lse2[2];
    {
        int i = r0 + lane / 2, half = lane % 2;
        float d = 0.0f;
        if (i < Tn)
            for (int v = 0; v < 4; v++) {
                size_t off = (size_t)i * C + half * 32 + 8 * v;
                Vec16<bf16> x, y;
                x.raw = *(const uint4 *)(obase + off);
                y.raw = *(const uint4 *)(dobase + off);
#pragma unroll
                for (int k = 0; k < 8; k++) d += to_float(x.v[k]) * to_float(y.v[k]);
            }
        d += __shfl_xor_sync(0xffffffffu, d, 1);
        if (half == 0 && i < Tn) delta[srow + i] = d;
        D[0] = __shfl_sync(0xffffffffu, d, 2 * g);
        D[1] = __shfl_sync(0xffffffffu, d, 2 * (g + 8));
    }
#pragma unroll
    for (int r = 0; r < 2; r++) lse2[r] = row[r] < Tn ? lse[srow + row[r]] * LOG2E : 0.0f;
    uint32_t qf[1][4][4], dof[1][4][4]; /* one row tile per warp (see mma_abt) */
    float dq[1][8][4] = {};
    for (int kt = 0; kt <= tile; kt++) {
        int buf = kt & 1;
        bf16 *K = Ks + buf * TILE_ELEMS, *V = Vs + buf * TILE_ELEMS;
        if (kt < tile) {
            int nb = (buf ^ 1) * TILE_ELEMS;
            load_tile_async(Ks + nb, base + C, stride, (kt + 1) * TILE, Tn);
            load_tile_async(Vs + nb, base + 2 * C, stride, (kt + 1) * TILE, Tn);
            cp_async_commit();
            cp_async_wait<1>();
        } else {
            cp_async_wait<0>();
        }
        __syncthreads();
        if (kt == 0) load_a(qf[0], Qs + warp * 16 * LDS), load_a(dof[0], dOs + warp * 16 * LDS);
        float s[1][8][4], dp[1][8][4];
        mma_abt<1>(s, qf, K);   /* S = Q K^T */
        mma_abt<1>(dp, dof, V); /* dP = dO V^T */
#pragma unroll
        for (int n = 0; n < 8; n++)
#pragma unroll
            for (int e = 0; e < 4; e++) {
                int r = e / 2, j = kt * TILE + 8 * n + 2 * t + e % 2;
                float p = kt == tile && j > row[r] ? 0.0f
                                                   : exp2_approx(s[0][n][e] * SCALE_LOG2 - lse2[r]);
                s[0][n][e] = p * (dp[0][n][e] - D[r]); /* dS */
            }
        mma_ab<1>(dq, s, K); /* dQ += dS K */
        __syncthreads();
    }
    store_rows(dqkv + (size_t)b * Tn * stride + h * HS, stride, dq[0], r0, Tn, SCALE, accumulate);
}

/* With DQ (the lever attn_bwd_1pass) it also adds each query tile's share of dQ = dS K
 * (over this block's 64 keys) to dq_acc, fp32 [B, T, C], with atomics: dS^T goes through
 * shared memory to be read transposed, each warp then owns 16 of the tile's queries. That
 * spares the dQ kernel, which recomputes S and dP. */
template <bool DQ>
__global__ void __launch_bounds__(THREADS)
    attention_backward_dkv_mma_kernel(bf16 *dqkv, float *dq_acc, const float *delta,
                                      const bf16 *dout, const bf16 *qkv, const float *lse, int Tn,
                                      int C, int NH, bool accumulate) {
    extern __shared__ __align__(128) unsigned char smem[];
    bf16 *Ks = (bf16 *)smem, *Vs = Ks + TILE_ELEMS, *Qs = Vs + TILE_ELEMS;
    bf16 *dOs = Qs + 2 * TILE_ELEMS;             /* Q and dO double-buffered */
    float *ls = (float *)(dOs + 2 * TILE_ELEMS); /* [2][TILE] logsumexp * log2(e) */
    float *Ds = ls + 2 * TILE;                   /* [2][TILE] */
    bf16 *dSs = (bf16 *)(Ds + 2 * TILE);         /* with DQ: dS^T [keys][queries] */
    int kt = blockIdx.x, nt = gridDim.x, h = blockIdx.y, b = blockIdx.z; /* longest first */
    int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
    int k0 = kt * TILE, r0 = k0 + warp * 16, key[2] = {r0 + g, r0 + g + 8};
    size_t stride = (size_t)3 * C, srow = ((size_t)b * NH + h) * Tn;
    const bf16 *base = qkv + (size_t)b * Tn * stride + h * HS;
    const bf16 *dobase = dout + (size_t)b * Tn * C + h * HS;
    /* query tile qt into buffer buf; past Tn: p = 2^(x - inf) = 0 and D = 0 */
    auto load_queries = [&](int qt, int buf) {
        load_tile_async(Qs + buf * TILE_ELEMS, base, stride, qt * TILE, Tn);
        load_tile_async(dOs + buf * TILE_ELEMS, dobase, C, qt * TILE, Tn);
        if (threadIdx.x < TILE) {
            int i = qt * TILE + threadIdx.x;
            ls[buf * TILE + threadIdx.x] = i < Tn ? lse[srow + i] * LOG2E : INFINITY;
            Ds[buf * TILE + threadIdx.x] = i < Tn ? delta[srow + i] : 0.0f;
        }
    };
    load_tile_async(Ks, base + C, stride, k0, Tn);
    load_tile_async(Vs, base + 2 * C, stride, k0, Tn);
    load_queries(kt, 0);
    cp_async_commit();
    uint32_t kf[1][4][4], vf[1][4][4];
    float dk[1][8][4] = {}, dv[1][8][4] = {};
    for (int qt = kt; qt < nt; qt++) { /* query tiles from the diagonal on */
        int buf = (qt - kt) & 1;
        const bf16 *Q = Qs + buf * TILE_ELEMS, *dO = dOs + buf * TILE_ELEMS;
        const float *lq = ls + buf * TILE, *Dq = Ds + buf * TILE;
        if (qt + 1 < nt) {
            load_queries(qt + 1, buf ^ 1);
            cp_async_commit();
            cp_async_wait<1>();
        } else {
            cp_async_wait<0>();
        }
        __syncthreads();
        if (qt == kt) load_a(kf[0], Ks + warp * 16 * LDS), load_a(vf[0], Vs + warp * 16 * LDS);
        float st[1][8][4], dpt[1][8][4];
        mma_abt<1>(st, kf, Q);   /* S^T = K Q^T: rows keys, columns queries */
        mma_abt<1>(dpt, vf, dO); /* dP^T = V dO^T */
#pragma unroll
        for (int n = 0; n < 8; n++)
#pragma unroll
            for (int e = 0; e < 4; e++) {
                int c = 8 * n + 2 * t + e % 2, i = qt * TILE + c;
                float p = qt == kt && i < key[e / 2]
                              ? 0.0f
                              : exp2_approx(st[0][n][e] * SCALE_LOG2 - lq[c]);
                st[0][n][e] = p;                           /* P^T */
                dpt[0][n][e] = p * (dpt[0][n][e] - Dq[c]); /* dS^T */
            }
        mma_ab<1>(dv, st, dO); /* dV += P^T dO */
        mma_ab<1>(dk, dpt, Q); /* dK += dS^T Q */
        if constexpr (DQ) {
#pragma unroll
            for (int n = 0; n < 8; n++)
#pragma unroll
                for (int half = 0; half < 2; half++)
                    *(uint32_t *)(dSs + (warp * 16 + g + 8 * half) * LDS + 8 * n + 2 * t) =
                        pack_bf16(dpt[0][n][2 * half], dpt[0][n][2 * half + 1]);
            __syncthreads();
            /* this block's keys' share of dQ = dS K for the warp's 16 queries (columns
             * 16 warp.. of dS^T) */
            float dq[1][8][4] = {};
            mma_a_y<1>(
                dq, [&](int, int kk, uint32_t a[4]) { load_a_trans(a, dSs, warp * 16, kk); }, Ks);
#pragma unroll
            for (int half = 0; half < 2; half++) {
                int i = qt * TILE + warp * 16 + g + 8 * half;
                if (i >= Tn) continue;
                float *acc = dq_acc + ((size_t)b * Tn + i) * C + h * HS + 2 * t;
#pragma unroll
                for (int n = 0; n < 8; n++)
                    atomic_add2(acc + 8 * n, dq[0][n][2 * half], dq[0][n][2 * half + 1]);
            }
        }
        __syncthreads();
    }
    bf16 *gbase = dqkv + (size_t)b * Tn * stride + h * HS;
    store_rows(gbase + C, stride, dk[0], r0, Tn, SCALE, accumulate);
    store_rows(gbase + 2 * C, stride, dv[0], r0, Tn, 1.0f, accumulate);
}

/* the one-pass backward's D_i = do_i.o_i [B, NH, T], a warp per (token, head) */
__global__ void attention_delta_kernel(float *delta, const bf16 *dout, const bf16 *out, int Tn,
                                       int C, int NH, int rows) {
    int row = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32, lane = threadIdx.x % 32;
    if (row >= rows) return; /* row = (b * Tn + i) * NH + h */
    int h = row % NH, bi = row / NH;
    size_t off = (size_t)bi * C + h * HS + 2 * lane;
    float2 o = __bfloat1622float2(*(const __nv_bfloat162 *)(out + off));
    float2 d = __bfloat1622float2(*(const __nv_bfloat162 *)(dout + off));
    float s = warp_sum(o.x * d.x + o.y * d.y);
    if (lane == 0) delta[((size_t)(bi / Tn) * NH + h) * Tn + bi % Tn] = s;
}

/* dQ (fp32 sums, [B*T, C]) times the scale into the q columns of dqkv, 8 at a time */
__global__ void attention_dq_store_kernel(bf16 *dqkv, const float *dq_acc, size_t n8, int C,
                                          bool accumulate) {
    size_t e = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (e >= n8) return;
    size_t row = e * 8 / C, col = e * 8 % C;
    const float4 *src = (const float4 *)(dq_acc + e * 8);
    float4 lo = src[0], hi = src[1];
    float v[8] = {lo.x, lo.y, lo.z, lo.w, hi.x, hi.y, hi.z, hi.w};
    Vec16<bf16> io;
    bf16 *dst = dqkv + row * 3 * C + col;
    if (accumulate) io.raw = *(const uint4 *)dst;
#pragma unroll
    for (int k = 0; k < 8; k++)
        io.v[k] = __float2bfloat16(v[k] * SCALE + (accumulate ? __bfloat162float(io.v[k]) : 0.0f));
    *(uint4 *)dst = io.raw;
}

/* ---- launchers: 0 (and nothing run) unless every row is 16-byte aligned ---- */

template <int MT>
static void forward_launch(bf16 *out, float *lse, const bf16 *qkv, int B, int Tn, int C, int NH) {
    size_t smem = (MT + 4) * TILE_ELEMS * sizeof(bf16);
    static bool configured;
    if (!configured) {
        CUDA_CHECK(cudaFuncSetAttribute(attention_forward_mma_kernel<MT>,
                                        cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
        configured = true;
    }
    dim3 grid((Tn + MT * TILE - 1) / (MT * TILE), NH, B);
    attention_forward_mma_kernel<MT>
        <<<grid, THREADS, smem, cuda_stream()>>>(out, lse, qkv, Tn, C, NH);
    CUDA_CHECK_LAUNCH();
}

int attention_forward_mma(bf16 *out, float *lse, const bf16 *qkv, int B, int Tn, int C, int NH) {
    if (C % 8 || !cuda_aligned16({qkv, out})) return 0;
    if (cuda_lever(LEVER_ATTN_FWD_32ROWS))
        forward_launch<2>(out, lse, qkv, B, Tn, C, NH);
    else
        forward_launch<1>(out, lse, qkv, B, Tn, C, NH);
    return 1;
}

int attention_backward_mma(bf16 *dqkv, float *delta, const bf16 *dout, const bf16 *qkv,
                           const bf16 *out, const float *lse, int B, int Tn, int C, int NH,
                           bool accumulate) {
    if (C % 8 || !cuda_aligned16({dqkv, dout, qkv, out})) return 0;
    static bool configured;
    if (!configured) {
        CUDA_CHECK(cudaFuncSetAttribute(attention_backward_dq_mma_kernel,
                                        cudaFuncAttributeMaxDynamicSharedMemorySize, DQ_SMEM));
        CUDA_CHECK(cudaFuncSetAttribute(attention_backward_dkv_mma_kernel<false>,
                                        cudaFuncAttributeMaxDynamicSharedMemorySize, DKV_SMEM));
        CUDA_CHECK(cudaFuncSetAttribute(attention_backward_dkv_mma_kernel<true>,
                                        cudaFuncAttributeMaxDynamicSharedMemorySize,
                                        DKV_SMEM + TILE_ELEMS * 2));
        configured = true;
    }
    dim3 grid((Tn + TILE - 1) / TILE, NH, B);
    cudaStream_t s = cuda_stream();
    if (cuda_lever(LEVER_ATTN_BWD_1PASS)) {
        size_t n = (size_t)B * Tn * C;
        float *dq = (float *)cuda_scratch(SCRATCH_ATTN_DQ, n * sizeof(float));
        CUDA_CHECK(cudaMemsetAsync(dq, 0, n * sizeof(float), s));
        int rows = B * Tn * NH;
        attention_delta_kernel<<<cuda_blocks(rows, 8), 256, 0, s>>>(delta, dout, out, Tn, C, NH,
                                                                    rows);
        CUDA_CHECK_LAUNCH();
        attention_backward_dkv_mma_kernel<true><<<grid, THREADS, DKV_SMEM + TILE_ELEMS * 2, s>>>(
            dqkv, dq, delta, dout, qkv, lse, Tn, C, NH, accumulate);
        CUDA_CHECK_LAUNCH();
        attention_dq_store_kernel<<<cuda_blocks(n / 8, 256), 256, 0, s>>>(dqkv, dq, n / 8, C,
                                                                          accumulate);
        CUDA_CHECK_LAUNCH();
        return 2;
    }
    attention_backward_dq_mma_kernel<<<grid, THREADS, DQ_SMEM, s>>>(dqkv, delta, dout, qkv, out,
                                                                    lse, Tn, C, NH, accumulate);
    CUDA_CHECK_LAUNCH();
    attention_backward_dkv_mma_kernel<false><<<grid, THREADS, DKV_SMEM, s>>>(
        dqkv, (float *)NULL, delta, dout, qkv, lse, Tn, C, NH, accumulate);
    CUDA_CHECK_LAUNCH();
    return 1;
}
