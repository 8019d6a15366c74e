/* matmul on the GPU through cuBLASLt: inputs T, fp32 accumulation, bias in the epilogue;
 * weight gradients are produced (and accumulated) directly in fp32. */
#include "kernels_cuda.h"

#include <string.h>

#define WORKSPACE_BYTES (32u << 20)
#define ALGO_CACHE 128

template <typename T> static cudaDataType dtype_of();
template <> cudaDataType dtype_of<float>() { return CUDA_R_32F; }
template <> cudaDataType dtype_of<bf16>() { return CUDA_R_16BF; }

/* what the choice of algorithm depends on */
typedef struct {
    int m, n, k, transa, transb, ab_type, d_type, bias, beta, align[3];
} GemmKey;

static struct {
    GemmKey key;
    cublasLtMatmulAlgo_t algo;
} algo_cache[ALGO_CACHE];
static int algo_cached;
static void *workspace;

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
 * (leading dimension = its stored row count). Row-major callers swap roles (see below). */
static void gemm(void *d, cudaDataType d_type, const void *a, const void *b, cudaDataType ab_type,
                 const void *bias, int m, int n, int k, bool transa, bool transb, float beta) {
    cublasLtHandle_t lt = cuda_cublaslt();
    if (!workspace) workspace = cuda_malloc(WORKSPACE_BYTES, "cuBLASLt workspace");
    cublasLtMatmulDesc_t op;
    CUBLAS_CHECK(cublasLtMatmulDescCreate(&op, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    cublasOperation_t ta = transa ? CUBLAS_OP_T : CUBLAS_OP_N, tb = transb ? CUBLAS_OP_T : CUBLAS_OP_N;
    CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta));
    CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb));
    if (bias) {
        cublasLtEpilogue_t epi = CUBLASLT_EPILOGUE_BIAS;
        CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof epi));
        CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias,
                                                    sizeof bias));
    }
    cublasLtMatrixLayout_t la, lb, ld;
    CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&la, ab_type, transa ? k : m, transa ? m : k, transa ? k : m));
    CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&lb, ab_type, transb ? n : k, transb ? k : n, transb ? n : k));
    CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&ld, d_type, m, n, m));

    GemmKey key;
    memset(&key, 0, sizeof key);
    key.m = m, key.n = n, key.k = k, key.transa = transa, key.transb = transb;
    key.ab_type = ab_type, key.d_type = d_type, key.bias = bias != NULL, key.beta = beta != 0.0f;
    key.align[0] = alignment_of(a), key.align[1] = alignment_of(b), key.align[2] = alignment_of(d);
    if (bias && alignment_of(bias) < key.align[2]) key.align[2] = alignment_of(bias);
    int hit = -1;
    for (int i = 0; i < algo_cached; i++)
        if (memcmp(&algo_cache[i].key, &key, sizeof key) == 0) hit = i;
    cublasLtMatmulAlgo_t algo;
    if (hit >= 0) {
        algo = algo_cache[hit].algo;
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
        cublasLtMatmulHeuristicResult_t res;
        int found = 0;
        CUBLAS_CHECK(cublasLtMatmulAlgoGetHeuristic(lt, op, la, lb, ld, ld, pref, 1, &res, &found));
        CUBLAS_CHECK(cublasLtMatmulPreferenceDestroy(pref));
        if (found == 0)
            cuda_fail("cublasLtMatmulAlgoGetHeuristic", "no algorithm for this GEMM shape",
                      __FILE__, __LINE__);
        algo = res.algo;
        if (algo_cached < ALGO_CACHE) {
            algo_cache[algo_cached].key = key;
            algo_cache[algo_cached++].algo = algo;
        }
    }
    float alpha = 1.0f;
    CUBLAS_CHECK(cublasLtMatmul(lt, op, &alpha, a, la, b, lb, &beta, d, ld, d, ld, &algo, workspace,
                                WORKSPACE_BYTES, cuda_stream()));
    CUBLAS_CHECK(cublasLtMatrixLayoutDestroy(la));
    CUBLAS_CHECK(cublasLtMatrixLayoutDestroy(lb));
    CUBLAS_CHECK(cublasLtMatrixLayoutDestroy(ld));
    CUBLAS_CHECK(cublasLtMatmulDescDestroy(op));
}

/* Row-major X[r,c] is column-major X^T[c,r]; so out = inp W^T + bias becomes
 * out^T[OC,N] = W (as stored, transposed) * inp^T. */
template <typename T>
void matmul_forward_cuda(T *out, const T *inp, const T *weight, const T *bias, int N, int C, int OC) {
    gemm(out, dtype_of<T>(), weight, inp, dtype_of<T>(), bias, OC, N, C, true, false, 0.0f);
}

/* dbias[oc] += sum over rows of dout[:, oc]: 32 columns per block, 8 row lanes */
template <typename T>
__global__ void bias_backward_kernel(float *dbias, const T *dout, int N, int OC) {
    __shared__ float part[8][33];
    int col = blockIdx.x * 32 + threadIdx.x;
    float s = 0.0f;
    if (col < OC)
        for (int r = blockIdx.y * 8 + threadIdx.y; r < N; r += gridDim.y * 8)
            s += to_float(dout[(size_t)r * OC + col]);
    part[threadIdx.y][threadIdx.x] = s;
    __syncthreads();
    if (threadIdx.y == 0 && col < OC) {
        for (int y = 1; y < 8; y++) s += part[y][threadIdx.x];
        atomicAdd(&dbias[col], s);
    }
}

template <typename T>
void matmul_backward_cuda(T *dinp, float *dweight, float *dbias, const T *dout, const T *inp,
                          const T *weight, int N, int C, int OC, bool accumulate) {
    /* dinp^T[C,N] (+)= W^T[C,OC] dout^T[OC,N]; W as stored is column-major [C,OC] */
    gemm(dinp, dtype_of<T>(), weight, dout, dtype_of<T>(), NULL, C, N, OC, false, false,
         accumulate ? 1.0f : 0.0f);
    /* dW^T[C,OC] += inp^T[C,N] dout[N,OC]; dout^T as stored is column-major [OC,N] */
    gemm(dweight, CUDA_R_32F, inp, dout, dtype_of<T>(), NULL, C, OC, N, false, true, 1.0f);
    if (dbias) {
        dim3 grid(cuda_blocks(OC, 32), (N + 255) / 256 < 64 ? (N + 255) / 256 : 64);
        bias_backward_kernel<<<grid, dim3(32, 8), 0, cuda_stream()>>>(dbias, dout, N, OC);
        CUDA_CHECK_LAUNCH();
    }
}

#define INSTANTIATE(T)                                                                           \
    template void matmul_forward_cuda<T>(T *, const T *, const T *, const T *, int, int, int);    \
    template void matmul_backward_cuda<T>(T *, float *, float *, const T *, const T *, const T *, \
                                          int, int, int, bool);
INSTANTIATE(float)
INSTANTIATE(bf16)
