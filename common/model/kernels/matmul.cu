/* matmul on the GPU through cuBLASLt: inputs T, fp32 accumulation, bias in the epilogue;
 * weight gradients are produced (and accumulated) directly in fp32. */
#include "model/kernels/kernels_cuda.h"

#include <string.h>
#include <type_traits>

#define WORKSPACE_BYTES (32u << 20)
#define ALGO_CACHE 128
#define TUNE_CANDIDATES 16 /* of the heuristic's list, timed by the gemm_tune lever */
#define TUNE_RUNS 3        /* timed runs of each, after one untimed */

template <typename T> static cudaDataType dtype_of();
template <> cudaDataType dtype_of<float>() {
    return CUDA_R_32F;
}
template <> cudaDataType dtype_of<bf16>() {
    return CUDA_R_16BF;
}

/* what the choice of algorithm depends on (tuned: chosen by timing, see matmul_tuning) */
typedef struct {
    int m, n, k, transa, transb, ab_type, d_type, bias_type, epi, beta, align[4], tuned;
} GemmKey;

static struct {
    GemmKey key;
    cublasLtMatmulAlgo_t algo;
    int found; /* 0: cuBLASLt has no algorithm, use cublasGemmEx */
} algo_cache[ALGO_CACHE];
static int algo_cached;
static void *workspace;
static int tuning, tuned;

void matmul_tuning(int on) {
    tuning = on;
}

int matmul_tuned(void) {
    return tuned;
}

/* The one of n heuristic candidates that runs this GEMM fastest, timed on the call's own
 * operands: D is overwritten by the real call that follows, except with beta != 0, when
 * the candidates write a scratch D instead so that the real one accumulates once. -1
 * when none runs (or the scratch does not fit: then the caller keeps the first). */
static int fastest_algo(cublasLtMatmulDesc_t op, const void *a, cublasLtMatrixLayout_t la,
                        const void *b, cublasLtMatrixLayout_t lb, void *d,
                        cublasLtMatrixLayout_t ld, size_t d_bytes, float beta,
                        const cublasLtMatmulHeuristicResult_t *cand, int n) {
    cudaStream_t s = cuda_stream();
    void *dd = d;
    if (beta != 0.0f && cudaMalloc(&dd, d_bytes) != cudaSuccess) {
        cudaGetLastError(); /* clear it: an untuned GEMM is no error */
        return -1;
    }
    cudaEvent_t e0, e1;
    CUDA_CHECK(cudaEventCreate(&e0));
    CUDA_CHECK(cudaEventCreate(&e1));
    int best = -1;
    float best_ms = 0.0f, alpha = 1.0f;
    for (int i = 0; i < n; i++) {
        cublasStatus_t st = CUBLAS_STATUS_SUCCESS;
        for (int r = 0; r <= TUNE_RUNS && st == CUBLAS_STATUS_SUCCESS; r++) {
            if (r == 1) CUDA_CHECK(cudaEventRecord(e0, s)); /* run 0 is the untimed one */
            st = cublasLtMatmul(cuda_cublaslt(), op, &alpha, a, la, b, lb, &beta, dd, ld, dd, ld,
                                &cand[i].algo, workspace, WORKSPACE_BYTES, s);
        }
        if (st != CUBLAS_STATUS_SUCCESS) continue; /* this candidate refuses the call */
        float ms;
        CUDA_CHECK(cudaEventRecord(e1, s));
        CUDA_CHECK(cudaEventSynchronize(e1));
        CUDA_CHECK(cudaEventElapsedTime(&ms, e0, e1));
        if (best < 0 || ms < best_ms) best = i, best_ms = ms;
    }
    CUDA_CHECK(cudaEventDestroy(e0));
    CUDA_CHECK(cudaEventDestroy(e1));
    if (dd != d) CUDA_CHECK(cudaFree(dd));
    return best;
}

static int alignment_of(const void *p) {
    int a = 1;
    while (a < 256 && ((uintptr_t)p & (uintptr_t)(2 * a - 1)) == 0) a *= 2;
    return a;
}

static void set_pref_align(cublasLtMatmulPreference_t pref, cublasLtMatmulPreferenceAttributes_t a,
                           int bytes) {
    uint32_t v = (uint32_t)bytes;
    CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, a, &v, sizeof v));
}

/* Column-major D[m,n] = op(A)[m,k] op(B)[k,n] (+ bias[m]) + beta D, every matrix packed
 * (leading dimension = its stored row count). Row-major callers swap roles (see below).
 * epi: CUBLASLT_EPILOGUE_DEFAULT or _BIAS; a GELU one, whose aux matrix (the GELU input,
 * written by GELU_AUX*, read by DGELU*) is laid out as D; or a gradient one: DGELU_BGRAD
 * writes D's row sums to bias, BGRADB op(B)'s column sums, as bias_type. Returns false
 * when cuBLASLt had no algorithm: then a GELU or gradient epilogue ran nothing (the caller
 * has a plain path), DEFAULT ran cublasGemmEx, BIAS is an error. */
static bool gemm(void *d, cudaDataType d_type, const void *a, const void *b, cudaDataType ab_type,
                 cublasLtEpilogue_t epi, const void *bias, const void *aux, int m, int n, int k,
                 bool transa, bool transb, float beta, cudaDataType bias_type = CUDA_R_32F) {
    cublasLtHandle_t lt = cuda_cublaslt();
    if (!workspace) workspace = cuda_malloc(WORKSPACE_BYTES, "cuBLASLt workspace");
    cublasLtMatmulDesc_t op;
    CUBLAS_CHECK(cublasLtMatmulDescCreate(&op, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    cublasOperation_t ta = transa ? CUBLAS_OP_T : CUBLAS_OP_N,
                      tb = transb ? CUBLAS_OP_T : CUBLAS_OP_N;
    CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta));
    CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb));
    CUBLAS_CHECK(
        cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof epi));
    if (bias)
        CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias,
                                                    sizeof bias));
    bool optional = epi != CUBLASLT_EPILOGUE_DEFAULT && epi != CUBLASLT_EPILOGUE_BIAS;
    bool bgrad = epi == CUBLASLT_EPILOGUE_DGELU_BGRAD || epi == CUBLASLT_EPILOGUE_BGRADB;
    if (bgrad)
        CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE,
                                                    &bias_type, sizeof bias_type));
    if (aux) {
        int64_t ld_aux = m;
        CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER,
                                                    &aux, sizeof aux));
        CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_LD,
                                                    &ld_aux, sizeof ld_aux));
    }
    cublasLtMatrixLayout_t la, lb, ld;
    CUBLAS_CHECK(
        cublasLtMatrixLayoutCreate(&la, ab_type, transa ? k : m, transa ? m : k, transa ? k : m));
    CUBLAS_CHECK(
        cublasLtMatrixLayoutCreate(&lb, ab_type, transb ? n : k, transb ? k : n, transb ? n : k));
    CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&ld, d_type, m, n, m));

    GemmKey key;
    memset(&key, 0, sizeof key);
    key.m = m, key.n = n, key.k = k, key.transa = transa, key.transb = transb;
    key.ab_type = ab_type, key.d_type = d_type, key.epi = (int)epi, key.beta = beta != 0.0f;
    key.bias_type = bgrad ? bias_type : -1;
    key.align[0] = alignment_of(a), key.align[1] = alignment_of(b), key.align[2] = alignment_of(d);
    if (bias && alignment_of(bias) < key.align[2]) key.align[2] = alignment_of(bias);
    key.align[3] = aux ? alignment_of(aux) : 0;
    key.tuned = tuning && cuda_lever(LEVER_GEMM_TUNE);
    int hit = -1;
    for (int i = 0; i < algo_cached; i++)
        if (memcmp(&algo_cache[i].key, &key, sizeof key) == 0) hit = i;
    cublasLtMatmulAlgo_t algo;
    int found = 0;
    if (hit >= 0) {
        algo = algo_cache[hit].algo;
        found = algo_cache[hit].found;
    } else {
        cublasLtMatmulPreference_t pref;
        CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&pref));
        size_t ws = WORKSPACE_BYTES;
        CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(
            pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws));
        set_pref_align(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, key.align[0]);
        set_pref_align(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, key.align[1]);
        set_pref_align(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, key.align[2]);
        set_pref_align(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, key.align[2]);
        cublasLtMatmulHeuristicResult_t res[TUNE_CANDIDATES];
        cublasStatus_t st = cublasLtMatmulAlgoGetHeuristic(
            lt, op, la, lb, ld, ld, pref, key.tuned ? TUNE_CANDIDATES : 1, res, &found);
        CUBLAS_CHECK(cublasLtMatmulPreferenceDestroy(pref));
        /* an epilogue the caller can do without may be refused with any status */
        if (st != CUBLAS_STATUS_SUCCESS && st != CUBLAS_STATUS_NOT_SUPPORTED && !optional)
            CUBLAS_CHECK(st);
        if (st != CUBLAS_STATUS_SUCCESS) found = 0;
        int pick = 0;
        if (found > 1) {
            size_t d_bytes = (size_t)m * n * (d_type == CUDA_R_32F ? 4 : 2);
            pick = fastest_algo(op, a, la, b, lb, d, ld, d_bytes, beta, res, found);
            tuned += pick >= 0;
            if (pick < 0) pick = 0;
        }
        algo = res[pick].algo;
        if (algo_cached < ALGO_CACHE) {
            algo_cache[algo_cached].key = key;
            algo_cache[algo_cached].algo = algo;
            algo_cache[algo_cached++].found = found;
        }
    }
    float alpha = 1.0f;
    if (found) {
        cublasStatus_t st = cublasLtMatmul(lt, op, &alpha, a, la, b, lb, &beta, d, ld, d, ld, &algo,
                                           workspace, WORKSPACE_BYTES, cuda_stream());
        if (st != CUBLAS_STATUS_SUCCESS && !optional) CUBLAS_CHECK(st);
        found = st == CUBLAS_STATUS_SUCCESS; /* an epilogue refused: the caller's plain path */
    } else if (epi == CUBLASLT_EPILOGUE_DEFAULT) { /* the classic API covers every type here */
        CUBLAS_CHECK(cublasGemmEx(cuda_cublas(), ta, tb, m, n, k, &alpha, a, ab_type,
                                  transa ? k : m, b, ab_type, transb ? n : k, &beta, d, d_type, m,
                                  CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
    } else if (!optional) { /* without its bias the result would be silently wrong */
        cuda_fail("cuBLASLt", "no algorithm for a GEMM with a bias epilogue", __FILE__, __LINE__);
    }
    CUBLAS_CHECK(cublasLtMatrixLayoutDestroy(la));
    CUBLAS_CHECK(cublasLtMatrixLayoutDestroy(lb));
    CUBLAS_CHECK(cublasLtMatrixLayoutDestroy(ld));
    CUBLAS_CHECK(cublasLtMatmulDescDestroy(op));
    return found;
}

/* Row-major X[r,c] is column-major X^T[c,r]; so out = inp W^T + bias becomes
 * out^T[OC,N] = W (as stored, transposed) * inp^T. */
template <typename T>
void matmul_forward_cuda(T *out, const T *inp, const T *weight, const T *bias, int N, int C,
                         int OC) {
    gemm(out, dtype_of<T>(), weight, inp, dtype_of<T>(),
         bias ? CUBLASLT_EPILOGUE_BIAS : CUBLASLT_EPILOGUE_DEFAULT, bias, NULL, OC, N, C, true,
         false, 0.0f);
}

/* the GELU in the GEMM's epilogue, from the fp32 accumulator, when the lever is on and
 * cuBLASLt has a kernel for it (bf16 only: fp32 is the exact test mode) */
template <typename T> static bool gelu_fusable() {
    return std::is_same<T, bf16>::value && cuda_lever(LEVER_GELU_FUSED);
}

template <typename T>
int matmul_gelu_forward_cuda(T *out, T *pre, const T *inp, const T *weight, const T *bias, int N,
                             int C, int OC) {
    if (gelu_fusable<T>() &&
        gemm(out, dtype_of<T>(), weight, inp, dtype_of<T>(),
             bias ? CUBLASLT_EPILOGUE_GELU_AUX_BIAS : CUBLASLT_EPILOGUE_GELU_AUX, bias, pre, OC, N,
             C, true, false, 0.0f))
        return 1;
    matmul_forward_cuda(pre, inp, weight, bias, N, C, OC);
    gelu_forward_cuda(out, pre, (size_t)N * OC);
    return 0;
}

/* dbias[oc] += sum over rows of dout[:, oc]: a thread sums VN adjacent columns (one 16-byte
 * vector, or 1) over every 8th row of its block's share, 32 x 8 threads per block */
template <typename T, int VN>
__global__ void bias_backward_kernel(float *dbias, const T *dout, int N, int OC) {
    __shared__ float part[8][32 * VN];
    int col = (blockIdx.x * 32 + threadIdx.x) * VN;
    float s[VN];
#pragma unroll
    for (int k = 0; k < VN; k++) s[k] = 0.0f;
    if (col < OC)
        for (int r = blockIdx.y * 8 + threadIdx.y; r < N; r += gridDim.y * 8) {
            const T *p = dout + (size_t)r * OC + col;
            if constexpr (VN == 1) {
                s[0] += to_float(*p);
            } else {
                Vec16<T> in;
                in.raw = *(const uint4 *)p;
#pragma unroll
                for (int k = 0; k < VN; k++) s[k] += to_float(in.v[k]);
            }
        }
#pragma unroll
    for (int k = 0; k < VN; k++) part[threadIdx.y][threadIdx.x * VN + k] = s[k];
    __syncthreads();
    int t = threadIdx.y * 32 + threadIdx.x, c = blockIdx.x * 32 * VN + t;
    if (t < 32 * VN && c < OC) {
        float sum = 0.0f;
        for (int y = 0; y < 8; y++) sum += part[y][t];
        atomicAdd(&dbias[c], sum);
    }
}

/* vectors when the lever is on and every row starts 16-byte aligned; enough row blocks to
 * fill the GPU either way */
template <typename T> static void bias_backward(float *dbias, const T *dout, int N, int OC) {
    constexpr int VN = Vec16<T>::n;
    if (cuda_lever(LEVER_BIAS_VEC) && OC % VN == 0 && cuda_aligned16({dout})) {
        unsigned cols = cuda_blocks(OC, 32 * VN), rows = cuda_blocks(N, 64);
        dim3 grid(cols, rows < 256 ? rows : 256);
        bias_backward_kernel<T, VN><<<grid, dim3(32, 8), 0, cuda_stream()>>>(dbias, dout, N, OC);
    } else {
        dim3 grid(cuda_blocks(OC, 32), (N + 255) / 256 < 64 ? (N + 255) / 256 : 64);
        bias_backward_kernel<T, 1><<<grid, dim3(32, 8), 0, cuda_stream()>>>(dbias, dout, N, OC);
    }
    CUDA_CHECK_LAUNCH();
}

template <typename G> __global__ void add_kernel(float *acc, const G *x, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) acc[i] += to_float(x[i]);
}

/* A GEMM whose gradient epilogue (DGELU_BGRAD, BGRADB) sums n bias gradients: into scratch
 * (the epilogue overwrites), then added to dbias. The sums are fp32 where cuBLASLt has
 * such a kernel, else T (cuBLASLt documents bias vectors of D's type, which is T for
 * DGELU_BGRAD). False when it has neither: then nothing ran. */
template <typename T>
static bool gemm_bias_grad(float *dbias, int n, void *d, cudaDataType d_type, const T *a,
                           const T *b, cublasLtEpilogue_t epi, const T *aux, int m, int cols, int k,
                           bool transa, bool transb, float beta) {
    void *g = cuda_scratch(SCRATCH_BIAS_GRAD, n * sizeof(float));
    cudaStream_t s = cuda_stream();
    if (gemm(d, d_type, a, b, dtype_of<T>(), epi, g, aux, m, cols, k, transa, transb, beta,
             CUDA_R_32F))
        add_kernel<<<cuda_blocks(n, 256), 256, 0, s>>>(dbias, (const float *)g, n);
    else if (!std::is_same<T, float>::value && gemm(d, d_type, a, b, dtype_of<T>(), epi, g, aux, m,
                                                    cols, k, transa, transb, beta, dtype_of<T>()))
        add_kernel<<<cuda_blocks(n, 256), 256, 0, s>>>(dbias, (const T *)g, n);
    else
        return false;
    CUDA_CHECK_LAUNCH();
    return true;
}

template <typename T>
int matmul_backward_cuda(T *dinp, float *dweight, float *dbias, const T *dout, const T *inp,
                         const T *weight, int N, int C, int OC, bool accumulate) {
    /* dinp^T[C,N] (+)= W^T[C,OC] dout^T[OC,N]; W as stored is column-major [C,OC] */
    if (dinp)
        gemm(dinp, dtype_of<T>(), weight, dout, dtype_of<T>(), CUBLASLT_EPILOGUE_DEFAULT, NULL,
             NULL, C, N, OC, false, false, accumulate ? 1.0f : 0.0f);
    /* dW^T[C,OC] += inp^T[C,N] dout[N,OC]; dout^T as stored is column-major [OC,N], so the
     * bias gradient (dout summed over rows) is op(B)'s column sums: the BGRADB epilogue */
    if (dbias && cuda_lever(LEVER_BGRADB) &&
        gemm_bias_grad(dbias, OC, dweight, CUDA_R_32F, inp, dout, CUBLASLT_EPILOGUE_BGRADB,
                       (const T *)NULL, C, OC, N, false, true, 1.0f))
        return 1;
    gemm(dweight, CUDA_R_32F, inp, dout, dtype_of<T>(), CUBLASLT_EPILOGUE_DEFAULT, NULL, NULL, C,
         OC, N, false, true, 1.0f);
    if (dbias) bias_backward(dbias, dout, N, OC);
    return 0;
}

/* DGELU: dpre^T[C,N] = (W^T dout^T) * gelu'(pre^T) in one GEMM, with the lever dgelu_bgrad
 * also dpre's bias gradient (its row sums, see gemm_bias_grad);
 * else the plain dinp GEMM into dpre and the GELU backward in place */
template <typename T>
int matmul_dgelu_backward_cuda(T *dpre, float *dpre_bias, float *dweight, float *dbias,
                               const T *dout, const T *inp, const T *pre, const T *weight, int N,
                               int C, int OC) {
    int ran = 0;
    if (gelu_fusable<T>() && dpre_bias && cuda_lever(LEVER_DGELU_BGRAD) &&
        gemm_bias_grad(dpre_bias, C, dpre, dtype_of<T>(), weight, dout,
                       CUBLASLT_EPILOGUE_DGELU_BGRAD, pre, C, N, OC, false, false, 0.0f))
        ran = 2;
    if (!ran && gelu_fusable<T>() &&
        gemm(dpre, dtype_of<T>(), weight, dout, dtype_of<T>(), CUBLASLT_EPILOGUE_DGELU, NULL, pre,
             C, N, OC, false, false, 0.0f))
        ran = 1;
    matmul_backward_cuda(ran ? (T *)NULL : dpre, dweight, dbias, dout, inp, weight, N, C, OC,
                         false);
    if (!ran) gelu_backward_cuda(dpre, pre, dpre, (size_t)N * C, false);
    if (dpre_bias && ran < 2) bias_backward(dpre_bias, dpre, N, C);
    return ran;
}

#define INSTANTIATE(T)                                                                             \
    template void matmul_forward_cuda<T>(T *, const T *, const T *, const T *, int, int, int);     \
    template int matmul_backward_cuda<T>(T *, float *, float *, const T *, const T *, const T *,   \
                                         int, int, int, bool);                                     \
    template int matmul_gelu_forward_cuda<T>(T *, T *, const T *, const T *, const T *, int, int,  \
                                             int);                                                 \
    template int matmul_dgelu_backward_cuda<T>(T *, float *, float *, float *, const T *,          \
                                               const T *, const T *, const T *, int, int, int);
INSTANTIATE(float)
INSTANTIATE(bf16)
