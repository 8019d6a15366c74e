/* cuda_common: checked CUDA calls, the allocator, the stream and the cuBLASLt handle. */
#include "cuda_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern "C" {
#define _Noreturn [[noreturn]] /* util.h is C11; this file is C++ */
#include "util.h"
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

int cuda_device_count(void) {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        cudaGetLastError();
        return 0;
    }
    return n;
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

static const char *lever_names[LEVER_COUNT] = {"attn_fwd_mma", "attn_bwd_mma", "attn_fwd_32rows",
                                               "gelu_fused",   "ce_vec",       "bias_vec",
                                               "ln_vec",       "ce_reg"};
static int levers[LEVER_COUNT], levers_read;

/* a name that is not a lever is an error: a typo must not leave the lever on unnoticed */
static void levers_init(void) {
    for (int i = 0; i < LEVER_COUNT; i++) levers[i] = 1;
    levers_read = 1;
    const char *env = getenv("GPT2_CUDA_OFF");
    if (!env) return;
    char *list = xstrdup(env), *save = NULL;
    for (char *name = strtok_r(list, ", ", &save); name; name = strtok_r(NULL, ", ", &save)) {
        int found = 0;
        for (int i = 0; i < LEVER_COUNT; i++)
            if (!strcmp(name, "all") || !strcmp(name, lever_names[i])) levers[i] = 0, found = 1;
        if (!found) {
            char known[256] = "all";
            for (int i = 0; i < LEVER_COUNT; i++)
                snprintf(known + strlen(known), sizeof known - strlen(known), ", %s",
                         lever_names[i]);
            die("GPT2_CUDA_OFF: unknown lever '%s' (known: %s)", name, known);
        }
    }
    free(list);
}

int cuda_lever(CudaLever lever) {
    if (!levers_read) levers_init();
    return levers[lever];
}

void cuda_lever_set(CudaLever lever, int on) {
    if (!levers_read) levers_init();
    levers[lever] = on;
}

const char *cuda_lever_name(CudaLever lever) {
    return lever_names[lever];
}
