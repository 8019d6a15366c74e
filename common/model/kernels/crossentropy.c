/* softmax over the real vocabulary and the cross-entropy loss, with their fused backward */
#include "model/kernels/kernels.h"
#include "model/kernels/vecmath.h"

void softmax_forward(float *probs, const float *logits, int N, int V, int Vp) {
#pragma omp parallel for if (parallel : (size_t)N * V > KERNELS_PARALLEL_MIN)
    for (int r = 0; r < N; r++) {
        const float *l = logits + (size_t)r * Vp;
        float *p = probs + (size_t)r * Vp;
        float max = -INFINITY;
#pragma omp simd reduction(max : max)
        for (int i = 0; i < V; i++) max = l[i] > max ? l[i] : max;
        float sum = 0;
#pragma omp simd reduction(+ : sum)
        for (int i = 0; i < V; i++) sum += p[i] = expf(l[i] - max);
        float inv = 1.0f / sum;
        for (int i = 0; i < V; i++) p[i] *= inv;
        for (int i = V; i < Vp; i++) p[i] = 0;
    }
}

/* The same sums as softmax_forward, in the same order, without writing the probabilities */
void crossentropy_logits_forward(float *losses, const float *logits, const int *targets, int N,
                                 int V, int Vp) {
#pragma omp parallel for if (parallel : (size_t)N * V > KERNELS_PARALLEL_MIN)
    for (int r = 0; r < N; r++) {
        const float *l = logits + (size_t)r * Vp;
        float max = -INFINITY;
#pragma omp simd reduction(max : max)
        for (int i = 0; i < V; i++) max = l[i] > max ? l[i] : max;
        float sum = 0;
#pragma omp simd reduction(+ : sum)
        for (int i = 0; i < V; i++) sum += expf(l[i] - max);
        losses[r] = logf(sum) + max - l[targets[r]];
    }
}

void crossentropy_forward(float *losses, const float *probs, const int *targets, int N, int Vp) {
    for (int r = 0; r < N; r++) losses[r] = -logf(probs[(size_t)r * Vp + targets[r]]);
}

void crossentropy_softmax_backward(float *dlogits, const float *dlosses, const float *probs,
                                   const int *targets, int N, int V, int Vp) {
#pragma omp parallel for if (parallel : (size_t)N * V > KERNELS_PARALLEL_MIN)
    for (int r = 0; r < N; r++) {
        float *dl = dlogits + (size_t)r * Vp;
        const float *p = probs + (size_t)r * Vp;
        float d = dlosses[r];
        for (int i = 0; i < V; i++) dl[i] += d * p[i];
        dl[targets[r]] -= d;
    }
}
