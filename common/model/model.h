/* model: GPT-2 on the CPU in fp32 — forward, backward and AdamW over the parameter
 * layout of config.h. */
#ifndef GPT2_MODEL_H
#define GPT2_MODEL_H

#include "model/config.h"

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
/* One AdamW step t (from 1) with clipping, unless skipped; returns the gradient norm
 * before clipping. */
float gpt2_update(GPT2 *m, const AdamWConfig *opt, int t);

#endif
