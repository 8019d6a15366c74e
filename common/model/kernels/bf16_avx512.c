/* The AVX-512 BF16 path of bf16.h, compiled for that instruction set by target attributes
 * alone, so the build needs no -march and the binary runs on any x86-64: bf16.c calls in
 * here only when CPUID says the CPU has it. */
#include "model/kernels/bf16.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define AVX512_BF16 __attribute__((target("avx512f,avx512bw,avx512bf16")))

AVX512_BF16 static inline __m512bh load32(const uint16_t *p, __mmask32 m) {
    return (__m512bh)_mm512_maskz_loadu_epi16(m, p);
}

/* A tile of up to 4 weight rows by up to 4 inputs: 16 sums in registers, and each vector
 * loaded serves 4 products (one row by one input would load twice per product). */
AVX512_BF16 static void tile(float *out, const uint16_t *x, const uint16_t *weight,
                             const float *bias, int nr, int no, int C, int OC, int r0, int o0) {
    __m512 acc[4][4];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) acc[i][j] = _mm512_setzero_ps();
    for (int k = 0; k < C; k += 32) {
        __mmask32 m = C - k >= 32 ? 0xffffffffu : (1u << (C - k)) - 1;
        __m512bh w[4], xv[4];
        for (int j = 0; j < no; j++) w[j] = load32(weight + (size_t)(o0 + j) * C + k, m);
        for (int i = 0; i < nr; i++) xv[i] = load32(x + (size_t)(r0 + i) * C + k, m);
        for (int i = 0; i < nr; i++)
            for (int j = 0; j < no; j++) acc[i][j] = _mm512_dpbf16_ps(acc[i][j], xv[i], w[j]);
    }
    for (int i = 0; i < nr; i++)
        for (int j = 0; j < no; j++)
            out[(size_t)(r0 + i) * OC + o0 + j] =
                _mm512_reduce_add_ps(acc[i][j]) + (bias ? bias[o0 + j] : 0);
}

/* One weight row against all inputs, streamed once: decode's case (N = 1), where reading
 * the weights is the cost, runs fastest with one stream per thread (measured: 4 rows at
 * once, as tile does, ran at 60% of this speed). */
AVX512_BF16 static void rows_streamed(float *out, const uint16_t *x, const uint16_t *weight,
                                      const float *bias, int N, int C, int OC, int o0, int o1) {
    for (int o = o0; o < o1; o++) {
        const uint16_t *w = weight + (size_t)o * C;
        for (int r = 0; r < N; r++) {
            __m512 acc = _mm512_setzero_ps();
            for (int k = 0; k < C; k += 32) {
                __mmask32 m = C - k >= 32 ? 0xffffffffu : (1u << (C - k)) - 1;
                acc = _mm512_dpbf16_ps(acc, load32(w + k, m), load32(x + (size_t)r * C + k, m));
            }
            out[(size_t)r * OC + o] = _mm512_reduce_add_ps(acc) + (bias ? bias[o] : 0);
        }
    }
}

AVX512_BF16 void bf16_rows_avx512(float *out, const uint16_t *x, const uint16_t *weight,
                                  const float *bias, int N, int C, int OC, int o0, int o1) {
    if (N < 4) {
        rows_streamed(out, x, weight, bias, N, C, OC, o0, o1);
        return;
    }
    for (int o = o0; o < o1; o += 4)
        for (int r = 0; r < N; r += 4)
            tile(out, x, weight, bias, N - r < 4 ? N - r : 4, o1 - o < 4 ? o1 - o : 4, C, OC, r, o);
}
#else
/* not x86-64: bf16_path_supported never picks this */
void bf16_rows_avx512(float *out, const uint16_t *x, const uint16_t *weight, const float *bias,
                      int N, int C, int OC, int o0, int o1) {
    bf16_rows_portable(out, x, weight, bias, N, C, OC, o0, o1);
}
#endif
