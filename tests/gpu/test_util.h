/* test_util: what the GPU tests share — host<->device copies in either element type,
 * random inputs, and one TAP line per compared array (worst error shown on failure). */
#ifndef GPT2_TEST_GPU_UTIL_H
#define GPT2_TEST_GPU_UTIL_H

#include "model/cuda_common.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

extern "C" {
#define _Noreturn [[noreturn]] /* the C11 headers, from C++ */
#include "base/util.h"
#include "model/backend_cpu.h"
#include "model/kernels/kernels.h"
#include "model/model.h"
#undef _Noreturn
}
#include "tap.h"

static uint64_t test_rng = 0x9e3779b97f4a7c15ull;

/* uniform in [-scale, scale) */
static inline float test_rand(float scale) {
    test_rng = test_rng * 6364136223846793005ull + 1442695040888963407ull;
    return scale * ((float)(test_rng >> 40) / (float)(1 << 24) * 2.0f - 1.0f);
}

static inline float *rand_array(size_t n, float scale) {
    float *a = (float *)xmalloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) a[i] = test_rand(scale);
    return a;
}

template <typename T> static inline T host_from_float(float x);
template <> inline float host_from_float<float>(float x) {
    return x;
}
template <> inline bf16 host_from_float<bf16>(float x) {
    return __float2bfloat16(x);
}
static inline float host_to_float(float x) {
    return x;
}
static inline float host_to_float(bf16 x) {
    return __bfloat162float(x);
}

/* rounds a host array to what T can hold, so the CPU reference sees the GPU's inputs */
template <typename T> static void round_to(float *a, size_t n) {
    for (size_t i = 0; i < n; i++) a[i] = host_to_float(host_from_float<T>(a[i]));
}

template <typename T> static T *upload(const float *a, size_t n) {
    T *h = (T *)xmalloc(n * sizeof(T) + 1);
    for (size_t i = 0; i < n; i++) h[i] = host_from_float<T>(a[i]);
    T *d = (T *)cuda_malloc(n * sizeof(T) + 1, "test array");
    CUDA_CHECK(cudaMemcpy(d, h, n * sizeof(T), cudaMemcpyHostToDevice));
    free(h);
    return d;
}

template <typename T> static float *download(const T *d, size_t n) {
    CUDA_CHECK(cudaDeviceSynchronize());
    T *h = (T *)xmalloc(n * sizeof(T) + 1);
    CUDA_CHECK(cudaMemcpy(h, d, n * sizeof(T), cudaMemcpyDeviceToHost));
    float *f = (float *)xmalloc(n * sizeof(float) + 1);
    for (size_t i = 0; i < n; i++) f[i] = host_to_float(h[i]);
    free(h);
    return f;
}

/* ok when every |got - want| <= atol + rtol*|want|; frees got */
static inline int compare(const char *name, float *got, const float *want, size_t n, float atol,
                          float rtol) {
    size_t worst = 0;
    double worst_excess = -1e30, max_err = 0;
    int finite = 1;
    for (size_t i = 0; i < n; i++) {
        double err = fabs((double)got[i] - want[i]);
        if (!isfinite(got[i])) finite = 0;
        if (err > max_err) max_err = err;
        double excess = err - (atol + rtol * fabs(want[i]));
        if (excess > worst_excess) worst_excess = excess, worst = i;
    }
    int pass = ok(finite && n > 0 && worst_excess <= 0, "%s (%zu values, max abs err %.3g)", name,
                  n, max_err);
    if (!pass && n > 0)
        diag("     at %zu: got %.9g, expected %.9g (atol %g, rtol %g)", worst, got[worst],
             want[worst], atol, rtol);
    free(got);
    return pass;
}

/* GPT-2's AdamW settings with a learning rate for a few steps of a small model */
static inline AdamWConfig test_adamw_config(float eps) {
    return (AdamWConfig){.lr = 1e-3f,
                         .beta1 = 0.9f,
                         .beta2 = 0.95f,
                         .eps = eps,
                         .weight_decay = 0.1f,
                         .grad_clip = 1.0f,
                         .max_norm = 0,
                         .skip = 0};
}

/* Skips only where there is genuinely no device (none, or no driver at all); a broken
 * setup (an old driver, no permission) fails, so that it cannot pass as a machine without
 * a GPU. */
static inline void require_device(void) {
    int n = cuda_device_count();
    if (n == 0) skip_all("no CUDA device");
    if (n < 0) {
        printf("1..1\nnot ok 1 - CUDA is installed but unusable: %s\n", cuda_setup_error());
        exit(1);
    }
}

#endif
