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

/* one weight row against up to 4 inputs: the row is read once for all of them */
AVX512_BF16 void bf16_rows_avx512(float *out, const uint16_t *x, const uint16_t *weight,
                                  const float *bias, int N, int C, int OC, int o0, int o1) {
    for (int o = o0; o < o1; o++) {
        const uint16_t *w = weight + (size_t)o * C;
        float b = bias ? bias[o] : 0;
        for (int r = 0; r < N; r += 4) {
            int nr = N - r < 4 ? N - r : 4;
            const uint16_t *x0 = x + (size_t)r * C;
            __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(),
                             _mm512_setzero_ps()};
            for (int k = 0; k < C; k += 32) {
                __mmask32 m = C - k >= 32 ? 0xffffffffu : (1u << (C - k)) - 1;
                __m512bh wk = load32(w + k, m);
                for (int i = 0; i < nr; i++)
                    acc[i] = _mm512_dpbf16_ps(acc[i], wk, load32(x0 + (size_t)i * C + k, m));
            }
            for (int i = 0; i < nr; i++)
                out[(size_t)(r + i) * OC + o] = _mm512_reduce_add_ps(acc[i]) + b;
        }
    }
}
#else
/* not x86-64: bf16_path_supported never picks this */
void bf16_rows_avx512(float *out, const uint16_t *x, const uint16_t *weight, const float *bias,
                      int N, int C, int OC, int o0, int o1) {
    bf16_rows_portable(out, x, weight, bias, N, C, OC, o0, o1);
}
#endif
