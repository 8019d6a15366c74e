/* cuda_common: checked CUDA calls, the allocator, the stream and the cuBLASLt handle. */
#include "model/cuda_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern "C" {
#define _Noreturn [[noreturn]] /* util.h is C11; this file is C++ */
#include "base/util.h"
#undef _Noreturn
}

void cuda_fail(const char *what, const char *msg, const char *file, int line) {
    die("%s:%d: %s: %s", file, line, what, msg);
}

void cuda_fail_cublas(cublasStatus_t st, const char *file, int line) {
    die("%s:%d: cuBLAS: %s (%s)", file, line, cublasGetStatusString(st), cublasGetStatusName(st));
}

static size_t allocated;

size_t cuda_allocated_bytes(void) {
    return allocated;
}

void *cuda_malloc_checked(size_t bytes, const char *what, const char *file, int line) {
    void *p = NULL;
    cudaError_t e = cudaMalloc(&p, bytes);
    if (e == cudaSuccess) allocated += bytes;
    if (e == cudaErrorMemoryAllocation) {
        size_t free_b = 0, total_b = 0;
        cudaGetLastError(); /* clear the sticky-free error so the query works */
        cudaMemGetInfo(&free_b, &total_b);
        die("%s:%d: out of GPU memory allocating %s: asked %.2f GiB, %.2f of %.2f GiB free; "
            "try a smaller micro-batch (-b)",
            file, line, what, bytes / 1073741824.0, free_b / 1073741824.0, total_b / 1073741824.0);
    }
    if (e != cudaSuccess) cuda_fail(what, cudaGetErrorString(e), file, line);
    return p;
}

void *cuda_scratch(CudaScratch which, size_t bytes) {
    static const char *what[SCRATCH_COUNT] = {"scratch (attention dQ sums)",
                                              "scratch (bias gradient)"};
    static void *buf[SCRATCH_COUNT];
    static size_t have[SCRATCH_COUNT];
    if (bytes > have[which]) {
        if (buf[which]) { /* kernels queued before may still use it */
            CUDA_CHECK(cudaStreamSynchronize(cuda_stream()));
            CUDA_CHECK(cudaFree(buf[which]));
        }
        buf[which] = cuda_malloc(bytes, what[which]);
        have[which] = bytes;
    }
    return buf[which];
}

static cudaError_t setup_error = cudaSuccess;

int cuda_device_count(void) {
    int n = 0, driver = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    cudaGetLastError();
    if (e == cudaSuccess) return n;
    setup_error = e;
    /* without any driver the runtime reports an insufficient one, of version 0 */
    if (e == cudaErrorNoDevice || e == cudaErrorStubLibrary ||
        (e == cudaErrorInsufficientDriver && cudaDriverGetVersion(&driver) == cudaSuccess &&
         driver == 0))
        return 0;
    return -1;
}

const char *cuda_setup_error(void) {
    return cudaGetErrorString(setup_error);
}

static cudaStream_t stream;
static cublasLtHandle_t cublaslt;
static cublasHandle_t cublas;

/* a blocking stream: it orders itself after plain cudaMemcpy/cudaMemset calls (on the
 * legacy default stream), so those need no extra synchronisation */
cudaStream_t cuda_stream(void) {
    if (!stream) CUDA_CHECK(cudaStreamCreate(&stream));
    return stream;
}

cublasLtHandle_t cuda_cublaslt(void) {
    if (!cublaslt) CUBLAS_CHECK(cublasLtCreate(&cublaslt));
    return cublaslt;
}

cublasHandle_t cuda_cublas(void) {
    if (!cublas) {
        CUBLAS_CHECK(cublasCreate(&cublas));
        CUBLAS_CHECK(cublasSetStream(cublas, cuda_stream()));
    }
    return cublas;
}

static const struct {
    const char *name;
    int trial; /* off by default */
} lever_info[LEVER_COUNT] = {
    {"attn_fwd_mma", 0}, {"attn_bwd_mma", 0}, {"attn_fwd_32rows", 0}, {"attn_bwd_1pass", 1},
    {"gelu_fused", 0},   {"ce_vec", 0},       {"bias_vec", 0},        {"ln_vec", 0},
    {"ce_reg", 0},       {"gemm_tune", 1},    {"dgelu_bgrad", 1},     {"bgradb", 1},
};
static int levers[LEVER_COUNT], env_on[LEVER_COUNT], env_off[LEVER_COUNT], levers_read;

/* marks the levers an environment list names; a name that is not a lever is an error:
 * a typo must not leave a lever as it was unnoticed */
static void levers_parse(const char *var, int named[LEVER_COUNT]) {
    const char *env = getenv(var);
    if (!env) return;
    char *list = xstrdup(env), *save = NULL;
    for (char *name = strtok_r(list, ", ", &save); name; name = strtok_r(NULL, ", ", &save)) {
        int found = 0;
        for (int i = 0; i < LEVER_COUNT; i++)
            if (!strcmp(name, "all") || !strcmp(name, lever_info[i].name)) named[i] = 1, found = 1;
        if (!found) {
            char known[512] = "all";
            for (int i = 0; i < LEVER_COUNT; i++)
                snprintf(known + strlen(known), sizeof known - strlen(known), ", %s",
                         lever_info[i].name);
            die("%s: unknown lever '%s' (known: %s)", var, name, known);
        }
    }
    free(list);
}

void cuda_levers_reset(int trials) {
    if (!levers_read) {
        levers_parse("GPT2_CUDA_ON", env_on);
        levers_parse("GPT2_CUDA_OFF", env_off);
        levers_read = 1;
    }
    for (int i = 0; i < LEVER_COUNT; i++)
        levers[i] = !env_off[i] && (!lever_info[i].trial || trials || env_on[i]);
}

int cuda_lever(CudaLever lever) {
    if (!levers_read) cuda_levers_reset(0);
    return levers[lever];
}

void cuda_lever_set(CudaLever lever, int on) {
    if (!levers_read) cuda_levers_reset(0);
    levers[lever] = on;
}

const char *cuda_lever_name(CudaLever lever) {
    return lever_info[lever].name;
}

int cuda_lever_is_trial(CudaLever lever) {
    return lever_info[lever].trial;
}
