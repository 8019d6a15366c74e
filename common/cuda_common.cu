/* cuda_common: checked CUDA calls, the allocator, the stream and the cuBLASLt handle. */
#include "cuda_common.h"

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

size_t cuda_allocated_bytes(void) { return allocated; }

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
            file, line, what, bytes / 1073741824.0, free_b / 1073741824.0,
            total_b / 1073741824.0);
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

cudaStream_t cuda_stream(void) {
    if (!stream) CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
    return stream;
}

cublasLtHandle_t cuda_cublaslt(void) {
    if (!cublaslt) CUBLAS_CHECK(cublasLtCreate(&cublaslt));
    return cublaslt;
}
