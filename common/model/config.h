/* config: what every backend and file format shares — GPT-2's shapes, the one-allocation
 * parameter layout, the deterministic init, and the AdamW settings and rules. No compute
 * here: the CPU model (model.h) and the CUDA backend both build on it. */
#ifndef GPT2_CONFIG_H
#define GPT2_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#define GPT2_EOT 50256
#define GPT2_NUM_PARAM_TENSORS 16

typedef struct {
    int max_seq_len;       /* maxT, 1024 for GPT-2 */
    int vocab_size;        /* V, 50257 */
    int padded_vocab_size; /* Vp, 50304 (a multiple of 128) */
    int num_layers;        /* L */
    int num_heads;         /* NH */
    int channels;          /* C */
} GPT2Config;

/* The 16 parameter tensors, in llm.c's checkpoint order; each stacked over layers,
 * PyTorch (out, in) layout:
 *   wte [Vp,C] wpe [maxT,C] ln1w ln1b [L,C] qkvw [L,3C,C] qkvb [L,3C] attprojw [L,C,C]
 *   attprojb [L,C] ln2w ln2b [L,C] fcw [L,4C,C] fcb [L,4C] fcprojw [L,C,4C] fcprojb [L,C]
 *   lnfw lnfb [C] */
typedef struct {
    float *wte, *wpe, *ln1w, *ln1b, *qkvw, *qkvb, *attprojw, *attprojb;
    float *ln2w, *ln2b, *fcw, *fcb, *fcprojw, *fcprojb, *lnfw, *lnfb;
} GPT2Params;

extern const char *const gpt2_param_names[GPT2_NUM_PARAM_TENSORS]; /* "wte", ... */

/* A config of these shapes, the vocabulary padded to a multiple of 128 (GPT-2's 50257 to
 * 50304) so that the projection's rows tile; not checked (gpt2_config_check). */
GPT2Config gpt2_config_make(int max_seq_len, int vocab_size, int num_layers, int num_heads,
                            int channels);
/* "d12" (124M), "d24", "d36", "d48"; 0 on success, -1 for an unknown name. */
int gpt2_config_by_name(const char *name, int max_seq_len, GPT2Config *cfg);
/* Checks the invariants (C % NH == 0, Vp >= V, ...); NULL if fine, else a message. */
const char *gpt2_config_check(const GPT2Config *cfg);
void gpt2_param_sizes(const GPT2Config *cfg, size_t sizes[GPT2_NUM_PARAM_TENSORS]);
size_t gpt2_num_params(const GPT2Config *cfg);
/* Points the 16 tensors into one block of gpt2_num_params floats. */
void gpt2_params_point(GPT2Params *p, float *memory, const GPT2Config *cfg);
/* Whether tensor i is a 2-D weight matrix (weight decay applies): wte, wpe, qkvw,
 * attprojw, fcw, fcprojw. */
int gpt2_param_is_matrix(int i);

/* GPT-2 init, deterministic from seed: N(0, 0.02) weights, residual projections
 * (attprojw, fcprojw) N(0, 0.02/sqrt(2L)), zero biases, LayerNorm weight 1, padded wte
 * rows 0. Every backend initialises through this. */
void gpt2_init_params(float *params, const GPT2Config *cfg, uint64_t seed);

typedef struct {
    float lr, beta1, beta2, eps, weight_decay; /* weight decay on matrices only */
    float grad_clip;                           /* clip global norm to this (0: off) */
    /* the step is skipped (gradients zeroed; parameters and moments kept) when skip is
     * set, when the gradient norm is not finite, or when it is above max_norm (0: no
     * limit): a bad batch or a diverging run is never trained on */
    float max_norm;
    int skip;
} AdamWConfig;
/* Whether an update with this gradient norm is skipped (see AdamWConfig). */
int gpt2_update_skipped(const AdamWConfig *opt, float norm);
/* The factor global-norm clipping multiplies the gradients by (1 when clip is 0). */
float gpt2_clip_scale(float norm, float clip);
#endif
