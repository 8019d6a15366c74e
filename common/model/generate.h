/* generate: incremental GPT-2 forward on the CPU with a key/value cache, for sampling.
 * Each new token costs one position: the keys and values of earlier positions are kept
 * per layer, so only the new rows go through the layers (the reference kernels of
 * kernels.h) and attend to the cache. Logits agree with gpt2_forward over the whole
 * sequence up to float rounding. */
#ifndef GPT2_GENERATE_H
#define GPT2_GENERATE_H

#include "model/model.h"

typedef struct {
    const GPT2 *model;
    int capacity;           /* positions the cache holds, at most max_seq_len */
    int pos;                /* positions filled */
    int chunk;              /* rows pushed through the layers at once */
    float *kcache, *vcache; /* [L, capacity, C] */
    float *x, *ln, *qkv, *atty, *proj, *fch, *fch_gelu, *mean, *rstd; /* [chunk, ...] */
    float *att;    /* [chunk, NH, capacity] attention weights */
    float *logits; /* [Vp] of the last position fed */
} Generator;

void generate_init(Generator *g, const GPT2 *model, int capacity);
void generate_free(Generator *g);
/* Keeps only the first pos positions (0: a new sequence), e.g. to sample again from
 * the same prompt without recomputing it. */
void generate_rewind(Generator *g, int pos);
/* Appends tokens[0..n) at positions pos.. (pos + n <= capacity, n >= 1) and returns the
 * logits [Vp] that follow the last of them (valid until the next call). */
const float *generate_feed(Generator *g, const int *tokens, int n);

#endif
