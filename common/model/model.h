/* model: GPT-2 on the CPU in fp32 — config, the one-allocation parameter layout shared
 * by every backend and file format, init, forward, backward, AdamW. */
#ifndef GPT2_MODEL_H
#define GPT2_MODEL_H

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

typedef struct GPT2Acts GPT2Acts; /* CPU activations, private to model.c */

typedef struct {
    GPT2Config config;
    GPT2Params params;
    float *params_memory;
    size_t num_params;
    GPT2Params grads;
    float *grads_memory;        /* allocated on the first backward */
    float *m_memory, *v_memory; /* AdamW moments, allocated on the first update */
    GPT2Acts *acts;             /* sized for the largest B, T seen */
    int B, T;                   /* shape of the last forward */
    float *logits;              /* [B,T,Vp] of the last forward */
    float mean_loss;            /* of the last forward with targets, else -1 */
    float *losses;              /* [B,T] per-position losses of that forward, else NULL */
} GPT2;

/* Zeroed model with the config's parameters allocated (not initialised). */
void gpt2_create(GPT2 *m, const GPT2Config *cfg);
void gpt2_free(GPT2 *m);

/* Forward over tokens [B,T]; with targets [B,T] also the loss (returned, and kept in
 * mean_loss and per position in losses), without them returns -1 and only logits are
 * valid. Token ids must be below vocab_size and T at most max_seq_len (dies otherwise:
 * callers check their input first). Threads: OpenMP's (OMP_NUM_THREADS); OpenBLAS is
 * set to one thread and each GEMM is split over the OpenMP threads. */
float gpt2_forward(GPT2 *m, const int *inputs, const int *targets, int B, int T);
void gpt2_zero_grad(GPT2 *m);
/* Backward of the last forward (which had targets); gradients of mean loss * loss_scale
 * are ACCUMULATED into grads (loss_scale = 1/accumulation steps). */
void gpt2_backward(GPT2 *m, float loss_scale);
/* Global L2 norm of all gradients. */
float gpt2_grad_norm(const GPT2 *m);
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
/* One AdamW step t (from 1) with clipping, unless skipped; returns the gradient norm
 * before clipping. */
float gpt2_update(GPT2 *m, const AdamWConfig *opt, int t);

#endif
