/* kernels: the CPU reference for every operation of GPT-2 training, fp32.
 * Each op lives in its own file (layernorm.c ...) and, when built with CUDA, beside a
 * GPU version (layernorm.cu) declared in kernels_cuda.h with the same argument list on
 * device memory, so a test can run both on the same inputs and compare.
 *
 * Shapes: B batch, T time, C channels, N = B*T rows, OC output channels, NH heads,
 * V real vocabulary (50257), Vp padded vocabulary (50304). Row-major everywhere;
 * weights in PyTorch (out, in) layout. Backward functions ACCUMULATE (+=) into every
 * gradient they write (inputs and parameters alike), so a step zeroes gradients once. */
#ifndef GPT2_KERNELS_H
#define GPT2_KERNELS_H

#include <stddef.h>

/* Work (elements; multiply-adds for attention) up to which a kernel stays on the calling
 * thread: waking OpenMP's threads costs more than such small calls gain, far more on a
 * loaded machine (generation with a tiny model). Every kernel splits its work so that
 * each element is computed the same way on any number of threads. */
#define KERNELS_PARALLEL_MIN ((size_t)1 << 16)

/* out[b,t,:] = wte[inp[b,t],:] + wpe[t,:] */
void encoder_forward(float *out, const int *inp, const float *wte, const float *wpe, int B, int T,
                     int C);
void encoder_backward(float *dwte, float *dwpe, const float *dout, const int *inp, int B, int T,
                      int C);

/* per row: out = (x - mean) * rstd * weight + bias; mean, rstd [N] kept for backward (eps 1e-5) */
void layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *weight,
                       const float *bias, int N, int C);
void layernorm_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                        const float *inp, const float *weight, const float *mean, const float *rstd,
                        int N, int C);

/* Sets OpenBLAS to one thread (once): every caller of sgemm splits work over OpenMP's
 * threads, so OpenBLAS's own pool would only spin beside them. */
void blas_single_threaded(void);
/* out[N,OC] = inp[N,C] @ weight[OC,C]^T + bias[OC] (bias may be NULL) */
void matmul_forward(float *out, const float *inp, const float *weight, const float *bias, int N,
                    int C, int OC);
void matmul_backward(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                     const float *weight, int N, int C, int OC);
/* matmul_forward for few rows (decode): sgemv per row, output rows split over threads */
void matvec_forward(float *out, const float *inp, const float *weight, const float *bias, int N,
                    int C, int OC, int threads);
/* the plain triple loop the BLAS path is tested against */
void matmul_forward_reference(float *out, const float *inp, const float *weight, const float *bias,
                              int N, int C, int OC);

/* Causal self-attention. qkv [B,T,3C] = (q | k | v), heads of size C/NH; out [B,T,C].
 * preatt, att [B,NH,T,T] are scratch kept for backward (the GPU version keeps no T x T
 * tensors; see kernels_cuda.h). In the backward only dqkv accumulates; dpreatt and datt
 * are scratch, overwritten. */
void attention_forward(float *out, float *preatt, float *att, const float *qkv, int B, int T, int C,
                       int NH);
void attention_backward(float *dqkv, float *dpreatt, float *datt, const float *dout,
                        const float *qkv, const float *att, int B, int T, int C, int NH);

/* GELU, tanh approximation */
void gelu_forward(float *out, const float *inp, size_t n);
void gelu_backward(float *dinp, const float *inp, const float *dout, size_t n);

void residual_forward(float *out, const float *a, const float *b, size_t n);
void residual_backward(float *da, float *db, const float *dout, size_t n);

/* probs over the first V of Vp logits per row (padding columns get probability 0) */
void softmax_forward(float *probs, const float *logits, int N, int V, int Vp);
/* losses[i] = -log softmax(logits[i])[targets[i]] over the first V of Vp logits, without
 * the probabilities (scoring) */
void crossentropy_logits_forward(float *losses, const float *logits, const int *targets, int N,
                                 int V, int Vp);
/* losses[i] = -log probs[i, targets[i]] */
void crossentropy_forward(float *losses, const float *probs, const int *targets, int N, int Vp);
/* dlogits[i,:] += dlosses[i] * (probs[i,:] - onehot(targets[i])), padding columns untouched */
void crossentropy_softmax_backward(float *dlogits, const float *dlosses, const float *probs,
                                   const int *targets, int N, int V, int Vp);

/* AdamW as torch.optim.AdamW (decoupled decay), step t counts from 1; the gradient is
 * multiplied by grad_scale first (global-norm clipping folds in here). */
void adamw_update(float *params, const float *grads, float *m, float *v, size_t n, float lr,
                  float beta1, float beta2, float eps, float weight_decay, float grad_scale, int t);
/* sum of squares of g (for the global gradient norm), accumulated in double */
double sum_squares(const float *g, size_t n);
/* sum_squares' partial sums, one per SUM_SQUARES_CHUNK floats, into part: summed in
 * order they give sum_squares exactly, also when the chunks were split between
 * processes along chunk boundaries (ZeRO-1 shards, train/dist.h). */
#define SUM_SQUARES_CHUNK ((size_t)1 << 16)
void sum_squares_parts(const float *g, size_t n, double *part);

#endif
