/* backend: one interface over the places a GPT-2 can run — the CPU model (backend_cpu.h)
 * and the CUDA model (backend_cuda.h) — so gpt2-train, gpt2-eval and gpt2-sample drive
 * either the same way; device.h opens the one asked for. Parameters cross the interface
 * as fp32 host arrays in config.h's layout. Token ids
 * (inputs, targets, tokens) must lie in [0, vocab_size): callers check them, as the CUDA
 * kernels index with them unchecked. */
#ifndef GPT2_BACKEND_H
#define GPT2_BACKEND_H

#include "model/config.h"

/* Rows that share a prefix (HellaSwag: a context and its endings), scored forward only:
 * prefix[0..np) is computed once and each row k's tokens[k][0..n[k]) on its keys and
 * values; losses[k][i] is the loss of targets[k][i] after tokens[k][i], as eval_losses
 * would give for the row prefix + tokens[k]. np + n[k] <= T; n[k] may be 0. */
typedef struct {
    const int *prefix;
    int np, rows;
    const int *const *tokens, *const *targets;
    const int *n;
    float *const *losses;
} ScoreGroup;

typedef struct Backend Backend;
struct Backend {
    const char *name; /* "cpu", "cuda" */
    GPT2Config config;
    int B, T; /* the largest batch shape this backend was sized for */
    void *impl;
    /* One micro-step: forward + backward on inputs/targets [B,T] (B, T at most the sized
     * ones); gradients of mean loss * loss_scale ACCUMULATE. Returns the mean loss. */
    float (*train_step)(Backend *be, const int *inputs, const int *targets, int B, int T,
                        float loss_scale);
    /* Forward only: per-position losses [B*T] into losses (may be NULL); returns the mean. */
    float (*eval_losses)(Backend *be, const int *inputs, const int *targets, int B, int T,
                         float *losses);
    /* Forward only: the logits of positions from..T-1 of each row, [B,T-from,Vp], copied
     * to host fp32 (sampling wants the last position's alone). */
    void (*logits)(Backend *be, const int *inputs, int B, int T, int from, float *out);
    /* Sampling one sequence with its keys and values kept between calls: feeds tokens[0..n)
     * at positions pos..pos+n-1 and writes the logits [Vp] that follow the last of them
     * to out. Positions before pos are the ones fed before (pos at most their count),
     * those from pos on are dropped; pos + n <= T. Other calls may drop them all, and
     * those that change the parameters (update, set_state) do. */
    void (*decode)(Backend *be, const int *tokens, int pos, int n, float *out);
    /* Clip by global norm + AdamW step t (from 1) + zero the gradients. Returns the norm. */
    float (*update)(Backend *be, const AdamWConfig *opt, int t);
    /* fp32 copies of the parameters and AdamW moments (m, v may be NULL) to/from host. */
    void (*get_state)(Backend *be, float *params, float *m, float *v);
    void (*set_state)(Backend *be, const float *params, const float *m, const float *v);
    void (*free)(Backend *be);
    /* Data parallelism over MPI (train/dist.h) reduces and updates these in place between
     * the micro-steps and the update: the accumulated fp32 gradients and the fp32
     * parameters, num_params each, in host memory. NULL on CUDA, which reduces and shards
     * itself (backend_cuda_distribute). */
    float *(*grad_memory)(Backend *be);
    float *(*param_memory)(Backend *be);
    /* Forward only, groups of rows that share a prefix (ScoreGroup): NULL where the
     * backend keeps no such cache (callers use eval_losses). */
    void (*shared_losses)(Backend *be, int groups, const ScoreGroup *g);
};

#endif
