#include "model/kernels/bf16.h"
#include "base/util.h"

#include <stdlib.h>

uint16_t bf16_from_float(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40); /* quiet NaN */
    u += 0x7fffu + ((u >> 16) & 1);
    return (uint16_t)(u >> 16);
}

void bf16_from_floats(uint16_t *dst, const float *src, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] = bf16_from_float(src[i]);
}

/* A weight row stays in L1 while all N inputs pass over it; 16 running sums (one per lane
 * of a vector register) let the compiler vectorise the loop without reassociating. */
enum { BF16_LANES = 16 };

void bf16_rows_portable(float *out, const uint16_t *x, const uint16_t *weight, const float *bias,
                        int N, int C, int OC, int o0, int o1) {
    for (int o = o0; o < o1; o++) {
        const uint16_t *w = weight + (size_t)o * C;
        for (int r = 0; r < N; r++) {
            const uint16_t *xr = x + (size_t)r * C;
            float acc[BF16_LANES] = {0}, s = 0;
            int k = 0;
            for (; k + BF16_LANES <= C; k += BF16_LANES)
                for (int j = 0; j < BF16_LANES; j++)
                    acc[j] += bf16_to_float(xr[k + j]) * bf16_to_float(w[k + j]);
            for (; k < C; k++) s += bf16_to_float(xr[k]) * bf16_to_float(w[k]);
            for (int j = 0; j < BF16_LANES; j++) s += acc[j];
            out[(size_t)r * OC + o] = s + (bias ? bias[o] : 0);
        }
    }
}

static Bf16Path path_in_use = BF16_NUM_PATHS; /* not chosen yet */

static const char *const path_names[BF16_NUM_PATHS] = {"portable", "avx512bf16", "onednn"};

int bf16_path_supported(Bf16Path p) {
    if (p == BF16_PATH_PORTABLE) return 1;
    if (p == BF16_PATH_ONEDNN && !bf16_onednn_built()) return 0;
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    return p < BF16_NUM_PATHS && __builtin_cpu_supports("avx512bf16") &&
           __builtin_cpu_supports("avx512bw");
#else
    return 0;
#endif
}

Bf16Path bf16_path(void) {
    if (path_in_use == BF16_NUM_PATHS) {
        const char *env = getenv("GPT2_BF16_PATH");
        if (env && *env) {
            Bf16Path p = 0;
            while (p < BF16_NUM_PATHS && strcmp(env, path_names[p])) p++;
            if (p == BF16_NUM_PATHS || !bf16_path_supported(p))
                die("GPT2_BF16_PATH=%s: not a path this machine and build can run (portable, "
                    "avx512bf16, onednn)",
                    env);
            path_in_use = p;
        } else {
            path_in_use = BF16_NUM_PATHS - 1;
            while (!bf16_path_supported(path_in_use)) path_in_use--;
        }
    }
    return path_in_use;
}

const char *bf16_path_name(Bf16Path p) {
    return p < BF16_NUM_PATHS ? path_names[p] : "?";
}

int bf16_path_set(Bf16Path p) {
    if (p >= BF16_NUM_PATHS || !bf16_path_supported(p)) return -1;
    path_in_use = p;
    return 0;
}

/* output rows per unit of work: enough to amortise the split, few enough to balance */
enum { BF16_ROW_BLOCK = 64 };

void matmul_bf16_forward(float *out, const float *inp, const uint16_t *weight, const float *bias,
                         int N, int C, int OC, int threads) {
    Bf16Path path = bf16_path();
    uint16_t *x = xmalloc(sizeof *x * (size_t)N * C);
    bf16_from_floats(x, inp, (size_t)N * C);
    if (path == BF16_PATH_ONEDNN && N > 1) {
        bf16_gemm_onednn(out, x, weight, bias, N, C, OC, threads);
        free(x);
        return;
    }
    Bf16RowsFn *rows = path == BF16_PATH_PORTABLE ? bf16_rows_portable : bf16_rows_avx512;
    int blocks = (OC + BF16_ROW_BLOCK - 1) / BF16_ROW_BLOCK;
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int b = 0; b < blocks; b++) {
        int o1 = (b + 1) * BF16_ROW_BLOCK;
        rows(out, x, weight, bias, N, C, OC, b * BF16_ROW_BLOCK, o1 < OC ? o1 : OC);
    }
    free(x);
}
