/* cuda_common: what every CUDA file needs — checked calls that name file:line and the
 * library's own message, an allocator whose out-of-memory error says how much was asked,
 * the compute element type, and small device helpers. C++ (nvcc) only. */
#ifndef GPT2_CUDA_COMMON_H
#define GPT2_CUDA_COMMON_H

#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <stddef.h>
#include <stdint.h>

#include <initializer_list>

typedef __nv_bfloat16 bf16;

/* Report a failed call and exit 1 (runtime error, as die() does). */
[[noreturn]] void cuda_fail(const char *what, const char *msg, const char *file, int line);
[[noreturn]] void cuda_fail_cublas(cublasStatus_t st, const char *file, int line);

#define CUDA_CHECK(call)                                                                           \
    do {                                                                                           \
        cudaError_t e_ = (call);                                                                   \
        if (e_ != cudaSuccess) cuda_fail(#call, cudaGetErrorString(e_), __FILE__, __LINE__);       \
    } while (0)
#define CUBLAS_CHECK(call)                                                                         \
    do {                                                                                           \
        cublasStatus_t s_ = (call);                                                                \
        if (s_ != CUBLAS_STATUS_SUCCESS) cuda_fail_cublas(s_, __FILE__, __LINE__);                 \
    } while (0)
/* after a kernel launch: launch-configuration errors surface here, not at the next sync */
#define CUDA_CHECK_LAUNCH() CUDA_CHECK(cudaGetLastError())

/* cudaMalloc that exits with the size asked, what is free, and a hint on failure. */
void *cuda_malloc_checked(size_t bytes, const char *what, const char *file, int line);
#define cuda_malloc(bytes, what) cuda_malloc_checked((bytes), (what), __FILE__, __LINE__)
/* total asked through cuda_malloc so far (never decreases: a high-water mark) */
size_t cuda_allocated_bytes(void);

/* Scratch on the device for one purpose each, grown to the largest size asked (the old
 * contents are lost then) and kept for the life of the program. */
typedef enum { SCRATCH_ATTN_DQ, SCRATCH_BIAS_GRAD, SCRATCH_COUNT } CudaScratch;
void *cuda_scratch(CudaScratch which, size_t bytes);

/* Number of usable CUDA devices: 0 when there is none (no device, or no driver at all),
 * -1 when the setup is broken (a driver too old for this runtime, no permission, a failed
 * initialisation), which cuda_setup_error() then describes. */
int cuda_device_count(void);
const char *cuda_setup_error(void);

/* The stream every kernel and cuBLASLt call of this program runs on, and the shared
 * cuBLASLt handle and workspace (created on first use). */
cudaStream_t cuda_stream(void);
cublasLtHandle_t cuda_cublaslt(void);
cublasHandle_t cuda_cublas(void); /* fallback for GEMMs cuBLASLt has no algorithm for */

/* Speed levers: faster code paths that each have a plain twin, so that one that
 * misbehaves on some GPU can be switched off without a rebuild (gpt2-cuda(7) lists them).
 * Most are on by default; a trial lever is off until a GPU run has shown it correct and
 * faster. GPT2_CUDA_ON and GPT2_CUDA_OFF (comma lists of names, or "all") switch levers
 * on and off; OFF wins. */
typedef enum {
    LEVER_ATTN_FWD_MMA, /* attention forward on tensor cores (mma.sync), scores in registers (bf16)
                         */
    LEVER_ATTN_BWD_MMA, /* attention backward the same way (bf16) */
    LEVER_ATTN_FWD_32ROWS, /* the mma attention forward with 32 query rows per warp, not 16 */
    LEVER_ATTN_BWD_1PASS,  /* (trial) the mma attention backward in one pass, dQ by atomics */
    LEVER_GELU_FUSED,      /* GELU and its gradient in the cuBLASLt epilogues (bf16) */
    LEVER_CE_VEC,          /* cross-entropy reads and writes logits 16 bytes at a time */
    LEVER_BIAS_VEC,        /* bias gradients summed from 16-byte loads */
    LEVER_LN_VEC,          /* LayerNorm rows in registers, 16-byte loads, register gradient sums */
    LEVER_CE_REG,          /* cross-entropy with the row in registers, read once (bf16) */
    LEVER_GEMM_TUNE,       /* (trial) training GEMMs take the fastest of cuBLASLt's candidates */
    LEVER_DGELU_BGRAD,     /* (trial) the DGELU epilogue also sums the MLP's first bias gradient */
    LEVER_BGRADB,          /* (trial) other bias gradients summed by the weight gradient's GEMM */
    LEVER_COUNT
} CudaLever;
int cuda_lever(CudaLever lever);
/* overrides the environment (tests run each path) */
void cuda_lever_set(CudaLever lever, int on);
/* every lever back to its default as the environment amends it; with trials, also every
 * trial lever on that GPT2_CUDA_OFF does not name */
void cuda_levers_reset(int trials);
const char *cuda_lever_name(CudaLever lever);
int cuda_lever_is_trial(CudaLever lever);

static inline unsigned cuda_blocks(size_t n, unsigned threads) {
    return (unsigned)((n + threads - 1) / threads);
}

/* element conversions: kernels are written once for float and bf16 */
__device__ __forceinline__ float to_float(float x) {
    return x;
}
__device__ __forceinline__ float to_float(bf16 x) {
    return __bfloat162float(x);
}
template <typename T> __device__ __forceinline__ T from_float(float x);
template <> __device__ __forceinline__ float from_float<float>(float x) {
    return x;
}
template <> __device__ __forceinline__ bf16 from_float<bf16>(float x) {
    return __float2bfloat16(x);
}

/* 16 bytes of T, for loads and stores a vector at a time */
template <typename T> struct Vec16 {
    static constexpr int n = 16 / sizeof(T);
    union {
        uint4 raw;
        T v[n];
    };
};

/* whether every pointer is 16-byte aligned (NULL ones count as aligned): what the
 * kernels that move 16-byte vectors need */
static inline bool cuda_aligned16(std::initializer_list<const void *> ptrs) {
    uintptr_t bits = 0;
    for (const void *p : ptrs) bits |= (uintptr_t)p;
    return bits % 16 == 0;
}

#define LOG2E 1.4426950408889634f
/* 2^x on the special-function unit (2^-inf = 0): exp(x) is exp2_approx(x * LOG2E), and
 * prescaling lets one FMA form the argument */
__device__ __forceinline__ float exp2_approx(float x) {
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
    return y;
}

__device__ __forceinline__ float warp_sum(float x) {
    for (int o = 16; o > 0; o >>= 1) x += __shfl_xor_sync(0xffffffffu, x, o);
    return x;
}
__device__ __forceinline__ float warp_max(float x) {
    for (int o = 16; o > 0; o >>= 1) x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, o));
    return x;
}

#endif
