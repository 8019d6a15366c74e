/* bf16 weights (common/model/kernels/bf16.h): rounding to nearest even, and the matrix
 * product on every path this CPU can run against a double-precision sum of the same
 * rounded numbers; the AVX-512 path, when present, against the portable one. */
#include "base/util.h"
#include "model/kernels/bf16.h"
#include "tap.h"

#include <math.h>
#include <stdlib.h>

static uint16_t bits(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return bf16_from_float(f);
}

static float frand(uint64_t *s) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((*s >> 40) / (double)(1 << 24)) * 2 - 1;
}

int main(void) {
    util_init("test-bf16");
    is_int(bits(0x3f800000u), 0x3f80, "1.0 is exact");
    is_int(bits(0x3f808000u), 0x3f80, "a tie rounds to the even neighbour (down)");
    is_int(bits(0x3f818000u), 0x3f82, "a tie rounds to the even neighbour (up)");
    is_int(bits(0x3f808001u), 0x3f81, "just above a tie rounds up");
    is_int(bits(0xbf80ffffu), 0xbf81, "negative numbers round by magnitude");
    is_int(bits(0x7f7fffffu), 0x7f80, "the largest float rounds to infinity");
    is_int(bits(0xff800000u), 0xff80, "-infinity stays");
    ok(isnan(bf16_to_float(bits(0x7f800001u))), "a NaN whose payload is in the low bits stays NaN");
    ok(bf16_to_float(bits(0x40490fdbu)) == 3.140625f, "pi to 8 bits of mantissa");

    /* odd sizes: C not a multiple of 32 (the masked tail), OC not of the row block */
    enum { N = 5, C = 200, OC = 150 };
    uint64_t seed = 3;
    float *x = xmalloc(sizeof(float) * N * C), *bias = xmalloc(sizeof(float) * OC);
    uint16_t *w = xmalloc(sizeof(uint16_t) * OC * C);
    for (int i = 0; i < N * C; i++) x[i] = frand(&seed);
    for (int i = 0; i < OC * C; i++) w[i] = bf16_from_float(frand(&seed) * 0.1f);
    for (int i = 0; i < OC; i++) bias[i] = frand(&seed);
    double *want = xmalloc(sizeof(double) * N * OC);
    for (int r = 0; r < N; r++)
        for (int o = 0; o < OC; o++) {
            double s = bias[o];
            for (int k = 0; k < C; k++)
                s += (double)bf16_to_float(bf16_from_float(x[r * C + k])) *
                     bf16_to_float(w[o * C + k]);
            want[r * OC + o] = s;
        }
    float *got[BF16_NUM_PATHS] = {0};
    for (Bf16Path p = 0; p < BF16_NUM_PATHS; p++) {
        if (bf16_path_set(p)) {
            diag("path %s: this CPU lacks it; not tested", bf16_path_name(p));
            continue;
        }
        for (int threads = 1; threads <= 2; threads++) {
            float *out = xmalloc(sizeof(float) * N * OC);
            matmul_bf16_forward(out, x, w, threads == 1 ? bias : NULL, N, C, OC, threads);
            double worst = 0;
            for (int i = 0; i < N * OC; i++) {
                double d = fabs(out[i] + (threads == 1 ? 0 : bias[i % OC]) - want[i]);
                if (d > worst) worst = d;
            }
            /* 200 products of size <= 0.1 summed in fp32: errors near 1e-6 */
            ok(worst < 1e-5, "%s, %d thread(s)%s: equals the double sum (max abs diff %.2g)",
               bf16_path_name(p), threads, threads == 1 ? ", bias" : ", no bias", worst);
            if (threads == 1)
                got[p] = out;
            else
                free(out);
        }
    }
    if (got[BF16_PATH_AVX512]) {
        double worst = 0;
        for (int i = 0; i < N * OC; i++) {
            double d = fabs(got[BF16_PATH_AVX512][i] - got[BF16_PATH_PORTABLE][i]);
            if (d > worst) worst = d;
        }
        ok(worst < 1e-5, "avx512bf16 and portable agree (max abs diff %.2g)", worst);
    }
    for (Bf16Path p = 0; p < BF16_NUM_PATHS; p++) free(got[p]);
    free(x), free(w), free(bias), free(want);
    return done_testing();
}
