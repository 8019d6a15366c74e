/* generate: incremental GPT-2 forward on the CPU with a key/value cache, for sampling and
 * for scoring. Each new token costs one position: the keys and values of earlier positions
 * are kept per layer, so only the new rows go through the layers and attend to the cache.
 * The weight matrices are fp32 (the model's own; logits agree with gpt2_forward over the
 * whole sequence up to float rounding) or bf16 (a converted copy: half the bytes to read
 * per token, fp32 sums; see kernels/bf16.h). The vocabulary projection is computed only
 * for the positions whose logits are asked for. */
#ifndef GPT2_GENERATE_H
#define GPT2_GENERATE_H

#include "model/backend.h"
#include "model/model.h"

typedef enum { GENERATE_FP32, GENERATE_BF16 } GenerateDtype;

/* a weight matrix in one of the two types (the other pointer is NULL) */
typedef struct {
    const float *f32;
    const uint16_t *bf16;
} GenerateMatrix;

typedef struct {
    GPT2Config config;
    GenerateDtype dtype;
    GPT2Params p; /* fp32 tensors: the model's, or with bf16 a copy of the vectors and wpe */
    GenerateMatrix wte, qkvw, attprojw, fcw, fcprojw;
    float *own_f32;         /* bf16: the copied fp32 tensors */
    uint16_t *own_bf16;     /* bf16: the matrices */
    int capacity;           /* slots the cache holds (0: no init) */
    int pos;                /* positions filled */
    int chunk;              /* rows pushed through the layers at once */
    float *kcache, *vcache; /* [L, capacity, C] */
    float *x, *ln, *qkv, *atty, *proj, *fch, *fch_gelu, *mean, *rstd; /* [chunk, ...] */
    float *att;    /* [chunk, NH, capacity] attention weights */
    float *logits; /* [GENERATE_HEAD_ROWS, Vp] */
} Generator;

/* fp32 uses the model's parameters in place (keep the model while the generator lives);
 * bf16 copies what it needs, so the model may be freed after this call. */
void generate_init(Generator *g, const GPT2 *model, int capacity, GenerateDtype dtype);
/* bf16 from a model that is freed in the process (gpt2_free), tensor by tensor as they
 * are converted: the peak memory is the fp32 model's and one bf16 tensor, not both models. */
void generate_init_bf16_freeing(Generator *g, GPT2 *model, int capacity);
/* bf16 straight from a model file (modelfile_read), each range of values converted as it
 * is read: the fp32 model is never held whole. The weights only: generate_reserve makes
 * the cache. 0, or -1 with modelfile_read's message. */
int generate_load_bf16(Generator *g, const char *path, char *err, size_t errlen);
/* The key/value cache of capacity slots (a sequence's positions stay below max_seq_len;
 * scoring groups fills more slots) and the buffers of a forward, for a generator that has
 * none. */
void generate_reserve(Generator *g, int capacity);
void generate_free(Generator *g);
/* "fp32" or "bf16" into *dtype; 0, or -1 for anything else */
int generate_dtype_parse(const char *s, GenerateDtype *dtype);
/* Keeps only the first pos positions (0: a new sequence), e.g. to sample again from
 * the same prompt without recomputing it. */
void generate_rewind(Generator *g, int pos);
/* Appends tokens[0..n) at positions pos.. (pos + n <= capacity and max_seq_len, n >= 1)
 * and returns the logits [Vp] that follow the last of them (valid until the next call). */
const float *generate_feed(Generator *g, const int *tokens, int n);
/* Appends tokens[0..n) (n >= 1) without computing any logits: a prefix to build on. */
void generate_append(Generator *g, const int *tokens, int n);
/* Appends tokens[0..n) and writes the logits after each of tokens[from..n) to out
 * [n-from, Vp]. */
void generate_feed_logits(Generator *g, const int *tokens, int n, int from, float *out);
/* Appends tokens[0..n) and writes the cross-entropy of targets[i] given tokens up to i
 * (the training loss at that position) to losses[i], for every i in [0, n). */
void generate_feed_losses(Generator *g, const int *tokens, const int *targets, int n,
                          float *losses);
/* Scores groups of rows that share a prefix (ScoreGroup, model/backend.h) from an empty
 * cache, which they then fill: rewind after. As many groups as the cache holds go through
 * two feeds (their prefixes, then all their rows, each row attending to its group's prefix
 * and to itself), so the weights are read once for all; a group whose rows do not fit
 * together is scored a row at a time. Each group: np + n[k] <= max_seq_len. */
void generate_score_groups(Generator *g, int groups, const ScoreGroup *gr);

#endif
