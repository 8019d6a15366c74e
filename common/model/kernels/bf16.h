/* bf16: bfloat16 weights for inference (gpt2-sample, gpt2-eval): the top 16 bits of an
 * fp32, half the bytes to read per token for the same exponent range. Products are
 * accumulated in fp32. Three paths compute matmul_bf16_forward, the best this CPU and
 * build have chosen at run time: oneDNN's matmul for several rows with the AVX-512 row
 * kernel for one (builds with oneDNN, CPUs with AVX-512 BF16), AVX-512 BF16 (vdpbf16ps)
 * alone, and a portable C loop that runs anywhere. All round the input rows to bf16
 * first, so they differ only in the order of fp32 sums. */
#ifndef GPT2_BF16_H
#define GPT2_BF16_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline float bf16_to_float(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* round to nearest, ties to even (NaN stays NaN) */
uint16_t bf16_from_float(float f);
void bf16_from_floats(uint16_t *dst, const float *src, size_t n);

typedef enum { BF16_PATH_PORTABLE, BF16_PATH_AVX512, BF16_PATH_ONEDNN, BF16_NUM_PATHS } Bf16Path;

/* The path in use: the last of the enum this CPU and build can run, unless the environment
 * names another with GPT2_BF16_PATH=portable|avx512bf16|onednn (tests and benchmarks
 * compare them; a path this machine lacks is refused at the first product). */
Bf16Path bf16_path(void);
const char *bf16_path_name(Bf16Path p);
/* Whether this CPU can run path p. */
int bf16_path_supported(Bf16Path p);
/* Makes p the path in use (tests); 0, or -1 if this CPU cannot run it. */
int bf16_path_set(Bf16Path p);

/* out[N,OC] = bf16(inp)[N,C] @ weight[OC,C]^T + bias[OC] (bias may be NULL), fp32 sums;
 * split by output rows over `threads` OpenMP threads. */
void matmul_bf16_forward(float *out, const float *inp, const uint16_t *weight, const float *bias,
                         int N, int C, int OC, int threads);

/* The per-path kernel: rows [o0, o1) of out for all N inputs (x already bf16). */
typedef void Bf16RowsFn(float *out, const uint16_t *x, const uint16_t *weight, const float *bias,
                        int N, int C, int OC, int o0, int o1);
Bf16RowsFn bf16_rows_portable, bf16_rows_avx512;
/* out[N,OC] for x already bf16, by oneDNN (bf16_onednn.c); whether this build has it */
void bf16_gemm_onednn(float *out, const uint16_t *x, const uint16_t *weight, const float *bias,
                      int N, int C, int OC, int threads);
int bf16_onednn_built(void);

#endif
