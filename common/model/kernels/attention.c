/* attention: causal multi-head self-attention on the CPU, keeping the T x T scores.
 * Per head h of size hs = C/NH, query position t:
 *   preatt[t2] = q_t . k_t2 / sqrt(hs)   (t2 <= t)
 *   att = softmax(preatt) over t2 <= t, 0 above the diagonal
 *   out_t = sum_t2 att[t2] v_t2 */
#include <string.h>

#include "model/kernels/kernels.h"
#include "model/kernels/vecmath.h"

void attention_forward(float *out, float *preatt, float *att, const float *qkv, int B, int T, int C,
                       int NH) {
    int hs = C / NH, C3 = 3 * C;
    float scale = 1.0f / sqrtf((float)hs);
    size_t work = (size_t)B * T * T * C;
#pragma omp parallel for collapse(3) if (parallel : work > KERNELS_PARALLEL_MIN)
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            for (int h = 0; h < NH; h++) {
                const float *q = qkv + ((size_t)b * T + t) * C3 + h * hs;
                float *pre = preatt + (((size_t)b * NH + h) * T + t) * T;
                float *a = att + (((size_t)b * NH + h) * T + t) * T;
                float max = -INFINITY;
                for (int t2 = 0; t2 <= t; t2++) {
                    const float *k = qkv + ((size_t)b * T + t2) * C3 + C + h * hs;
                    float s = 0;
#pragma omp simd reduction(+ : s)
                    for (int i = 0; i < hs; i++) s += q[i] * k[i];
                    pre[t2] = s * scale;
                    if (pre[t2] > max) max = pre[t2];
                }
                float sum = 0;
#pragma omp simd reduction(+ : sum)
                for (int t2 = 0; t2 <= t; t2++) sum += a[t2] = expf(pre[t2] - max);
                for (int t2 = 0; t2 <= t; t2++) a[t2] /= sum;
                for (int t2 = t + 1; t2 < T; t2++) pre[t2] = -INFINITY, a[t2] = 0;
                float *o = out + ((size_t)b * T + t) * C + h * hs;
                memset(o, 0, sizeof(float) * hs);
                for (int t2 = 0; t2 <= t; t2++) {
                    const float *v = qkv + ((size_t)b * T + t2) * C3 + 2 * C + h * hs;
#pragma omp simd
                    for (int i = 0; i < hs; i++) o[i] += a[t2] * v[i];
                }
            }
}

/* dqkv accumulates; datt and dpreatt are scratch, overwritten on and below the diagonal.
 * Softmax backward in its O(T) form: dpre[t2] = att[t2] (datt[t2] - sum_t3 att[t3] datt[t3]).
 * Parallel over (b, h) only: every query t adds into the keys and values of all t2 <= t. */
void attention_backward(float *dqkv, float *dpreatt, float *datt, const float *dout,
                        const float *qkv, const float *att, int B, int T, int C, int NH) {
    int hs = C / NH, C3 = 3 * C;
    float scale = 1.0f / sqrtf((float)hs);
    size_t work = (size_t)B * T * T * C;
#pragma omp parallel for collapse(2) if (parallel : work > KERNELS_PARALLEL_MIN)
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++)
            for (int t = 0; t < T; t++) {
                const float *a = att + (((size_t)b * NH + h) * T + t) * T;
                float *da = datt + (((size_t)b * NH + h) * T + t) * T;
                float *dpre = dpreatt + (((size_t)b * NH + h) * T + t) * T;
                const float *d = dout + ((size_t)b * T + t) * C + h * hs;
                const float *q = qkv + ((size_t)b * T + t) * C3 + h * hs;
                float *dq = dqkv + ((size_t)b * T + t) * C3 + h * hs;
                float dot = 0;
                for (int t2 = 0; t2 <= t; t2++) {
                    const float *v = qkv + ((size_t)b * T + t2) * C3 + 2 * C + h * hs;
                    float *dv = dqkv + ((size_t)b * T + t2) * C3 + 2 * C + h * hs;
                    float s = 0;
#pragma omp simd reduction(+ : s)
                    for (int i = 0; i < hs; i++) {
                        s += v[i] * d[i];
                        dv[i] += a[t2] * d[i];
                    }
                    da[t2] = s;
                    dot += a[t2] * s;
                }
                for (int t2 = 0; t2 <= t; t2++) {
                    dpre[t2] = a[t2] * (da[t2] - dot);
                    const float *k = qkv + ((size_t)b * T + t2) * C3 + C + h * hs;
                    float *dk = dqkv + ((size_t)b * T + t2) * C3 + C + h * hs;
                    float g = dpre[t2] * scale;
#pragma omp simd
                    for (int i = 0; i < hs; i++) {
                        dq[i] += g * k[i];
                        dk[i] += g * q[i];
                    }
                }
            }
}
