/* sampler: picks the next token from a row of logits — greedy, or random with
 * temperature, top-k and top-p (nucleus) — from a seeded generator, so that the same
 * seed and logits give the same tokens on every run and machine. */
#ifndef GPT2_SAMPLER_H
#define GPT2_SAMPLER_H

#include <stdint.h>

typedef struct {
    int vocab_size;    /* V: only logits[0..V) are candidates (the padding is ignored) */
    float temperature; /* 0: greedy (argmax, lowest id on ties) */
    int top_k;         /* keep the k most likely tokens; 0: off */
    float top_p;       /* then the smallest set with probability >= top_p; 1: off */
    uint64_t rng;      /* generator state */
    float *probs;      /* scratch [V] */
    int *cand;         /* scratch [V] */
} Sampler;

void sampler_init(Sampler *s, int vocab_size, float temperature, int top_k, float top_p,
                  uint64_t seed);
void sampler_free(Sampler *s);
int sampler_sample(Sampler *s, const float *logits);

#endif
