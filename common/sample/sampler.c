#include "sample/sampler.h"
#include "base/rng.h"
#include "base/util.h"

#include <math.h>
#include <stdlib.h>

void sampler_init(Sampler *s, int vocab_size, float temperature, int top_k, float top_p,
                  uint64_t seed) {
    s->vocab_size = vocab_size;
    s->temperature = temperature;
    s->top_k = top_k > 0 && top_k < vocab_size ? top_k : 0;
    s->top_p = top_p;
    s->rng = seed;
    s->probs = xmalloc(sizeof(float) * vocab_size);
    s->cand = xmalloc(sizeof(int) * vocab_size);
}

void sampler_free(Sampler *s) {
    free(s->probs);
    free(s->cand);
}

static int argmax(const float *x, int n) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

/* The candidate order: more likely first, lower id first on equal probability, so the
 * outcome never depends on how a sort treats ties. */
static int cand_before(const float *p, int a, int b) {
    return p[a] > p[b] || (p[a] == p[b] && a < b);
}
static int cand_cmp(const void *a, const void *b, void *probs) {
    int x = *(const int *)a, y = *(const int *)b;
    return cand_before(probs, x, y) ? -1 : cand_before(probs, y, x);
}

/* Min-heap (worst candidate on top) of the k best: O(V log k) instead of a full sort. */
static void heap_sift_down(int *h, int k, int i, const float *p) {
    for (;;) {
        int worst = i, l = 2 * i + 1, r = l + 1;
        if (l < k && cand_before(p, h[worst], h[l])) worst = l;
        if (r < k && cand_before(p, h[worst], h[r])) worst = r;
        if (worst == i) return;
        int t = h[i];
        h[i] = h[worst], h[worst] = t, i = worst;
    }
}

static int select_top_k(int *cand, const float *probs, int V, int k) {
    for (int i = 0; i < k; i++) cand[i] = i;
    for (int i = k / 2 - 1; i >= 0; i--) heap_sift_down(cand, k, i, probs);
    for (int i = k; i < V; i++)
        if (cand_before(probs, i, cand[0])) cand[0] = i, heap_sift_down(cand, k, 0, probs);
    return k;
}

static double cand_mass(const float *p, const int *cand, int n) {
    double mass = 0;
    for (int i = 0; i < n; i++) mass += p[cand[i]];
    return mass;
}

int sampler_sample(Sampler *s, const float *logits) {
    int V = s->vocab_size;
    if (s->temperature <= 0) return argmax(logits, V);
    float max = logits[argmax(logits, V)], *p = s->probs;
    double total = 0;
    for (int i = 0; i < V; i++) total += p[i] = expf((logits[i] - max) / s->temperature);

    int n = V, *cand = s->cand;
    if (s->top_k) {
        n = select_top_k(cand, p, V, s->top_k);
    } else if (s->top_p < 1) {
        /* A token below (1-p)/(V-1) of the mass can't be in the nucleus: even all the
         * others below it sum to less than 1-p. Dropping them first keeps the sort short. */
        double floor = fmin((1 - s->top_p) / (V - 1) * total, 1); /* the argmax has p 1 */
        n = 0;
        for (int i = 0; i < V; i++)
            if (p[i] >= floor) cand[n++] = i;
    } else {
        for (int i = 0; i < V; i++) cand[i] = i;
    }
    if (s->top_p < 1) {
        qsort_r(cand, n, sizeof(int), cand_cmp, p);
        /* the nucleus is taken from what top-k kept, renormalised */
        double kept = 0, mass = s->top_k ? cand_mass(p, cand, n) : total;
        int m = 0;
        do kept += p[cand[m++]];
        while (m < n && kept < s->top_p * mass);
        n = m;
    }
    double r = rng_uniform(&s->rng) * cand_mass(p, cand, n), acc = 0;
    for (int i = 0; i < n; i++)
        if ((acc += p[cand[i]]) > r) return cand[i];
    return cand[n - 1]; /* r landed in the rounding error at the top */
}
