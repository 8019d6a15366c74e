/* kernels_cuda: the GPU version of every op in kernels.h, same argument lists on device
 * memory, for element type T = float (test mode) or bf16 (training). C++ (nvcc) only.
 *
 * Differences from the CPU reference, on purpose:
 *  - activations and weights are T; parameter gradients, LayerNorm statistics and
 *    losses stay fp32 (parameter gradients are one fp32 allocation, as the master weights);
 *  - backward functions accumulate (+=) into every gradient as on the CPU, except that
 *    `accumulate = false` lets the backend overwrite a scratch activation gradient
 *    instead of zeroing it first (parameter gradients always accumulate);
 *  - attention keeps no T x T tensors: the forward saves the per-row logsumexp, the
 *    backward recomputes the probabilities (flash attention);
 *  - softmax, cross-entropy and its backward are one kernel that turns the logits into
 *    their gradient in place, so no probabilities are ever stored;
 *  - a fused residual add + LayerNorm (the residual stream is written on the way).
 * Everything runs on cuda_stream(). */
#ifndef GPT2_KERNELS_CUDA_H
#define GPT2_KERNELS_CUDA_H

#include "model/cuda_common.h"

template <typename T>
void encoder_forward_cuda(T *out, const int *inp, const T *wte, const T *wpe, int B, int Tn, int C);
template <typename T>
void encoder_backward_cuda(float *dwte, float *dwpe, const T *dout, const int *inp, int B, int Tn,
                           int C);

/* They return 1 when the faster register kernels of the lever LEVER_LN_VEC ran, 0 when
 * the plain ones did (lever off, or a shape or alignment they do not take). */
template <typename T>
int layernorm_forward_cuda(T *out, float *mean, float *rstd, const T *inp, const T *weight,
                           const T *bias, int N, int C);
/* residual = a + b, then out = LayerNorm(residual) */
template <typename T>
int residual_layernorm_forward_cuda(T *residual, T *out, float *mean, float *rstd, const T *a,
                                    const T *b, const T *weight, const T *bias, int N, int C);
template <typename T>
int layernorm_backward_cuda(T *dinp, float *dweight, float *dbias, const T *dout, const T *inp,
                            const T *weight, const float *mean, const float *rstd, int N, int C,
                            bool accumulate = true);

/* While on, with the lever LEVER_GEMM_TUNE, each GEMM shape met for the first time times
 * cuBLASLt's first candidates on its own operands and keeps the fastest: for callers
 * whose shapes repeat (the training step), not for ones whose shapes keep changing. */
void matmul_tuning(int on);
int matmul_tuned(void); /* shapes whose algorithm timing chose so far */
/* cuBLASLt, fp32 accumulation; the bias rides in the GEMM epilogue; the backward's dinp
 * may be NULL (no input gradient wanted); it returns 1 when the weight gradient's GEMM
 * summed dbias too (the lever LEVER_BGRADB), 0 when a separate kernel did */
template <typename T>
void matmul_forward_cuda(T *out, const T *inp, const T *weight, const T *bias, int N, int C,
                         int OC);
template <typename T>
int matmul_backward_cuda(T *dinp, float *dweight, float *dbias, const T *dout, const T *inp,
                         const T *weight, int N, int C, int OC, bool accumulate = true);

/* a linear layer followed by GELU: pre = inp W^T + bias, out = gelu(pre); and the backward
 * of the next linear layer, whose input was out = gelu(pre), carried through the GELU:
 * dpre = (dout W) * gelu'(pre) (overwritten), the parameter gradients accumulate, and so
 * does dpre_bias (unless NULL), the first layer's bias gradient (dpre summed over rows).
 * With the lever LEVER_GELU_FUSED (bf16) the GELU runs in the cuBLASLt epilogue; they
 * return 1 when it did, 0 when the separate kernels ran; the backward returns 2 when the
 * epilogue summed dpre_bias too (the lever LEVER_DGELU_BGRAD). */
template <typename T>
int matmul_gelu_forward_cuda(T *out, T *pre, const T *inp, const T *weight, const T *bias, int N,
                             int C, int OC);
template <typename T>
int matmul_dgelu_backward_cuda(T *dpre, float *dpre_bias, float *dweight, float *dbias,
                               const T *dout, const T *inp, const T *pre, const T *weight, int N,
                               int C, int OC);

/* head size 64 only; lse [B,NH,T]; delta [B,NH,T] is scratch */
template <typename T>
void attention_forward_cuda(T *out, float *lse, const T *qkv, int B, int Tn, int C, int NH);
/* sampling with a key/value cache: rows pos..pos+n-1 of one sequence's qkv [pos+n, 3C]
 * attend to the rows up to each; out [n, C] */
template <typename T>
void attention_decode_cuda(T *out, const T *qkv, int pos, int n, int C, int NH);
template <typename T>
void attention_backward_cuda(T *dqkv, float *delta, const T *dout, const T *qkv, const T *out,
                             const float *lse, int B, int Tn, int C, int NH,
                             bool accumulate = true);

/* the tensor-core kernels (attention_mma.cu: mma.sync, scores in registers), bf16 only;
 * attention_*_cuda<bf16> take them when the levers LEVER_ATTN_FWD_MMA / LEVER_ATTN_BWD_MMA
 * are on (cuda_common.h). They return 0 (and run nothing) when the data is not aligned
 * for them, else 1; the backward returns 2 when it ran in one pass (LEVER_ATTN_BWD_1PASS). */
int attention_forward_mma(bf16 *out, float *lse, const bf16 *qkv, int B, int Tn, int C, int NH);
int attention_backward_mma(bf16 *dqkv, float *delta, const bf16 *dout, const bf16 *qkv,
                           const bf16 *out, const float *lse, int B, int Tn, int C, int NH,
                           bool accumulate);

template <typename T> void gelu_forward_cuda(T *out, const T *inp, size_t n);
template <typename T>
void gelu_backward_cuda(T *dinp, const T *inp, const T *dout, size_t n, bool accumulate = true);

template <typename T> void residual_forward_cuda(T *out, const T *a, const T *b, size_t n);

/* Per row of logits [N,Vp]: losses[i] = logsumexp over the first V - logits[i,targets[i]];
 * with backward, logits[i,:] becomes dloss * (softmax - onehot) (padding columns 0).
 * Returns 1 when the register kernel (lever LEVER_CE_REG) ran, 0 for the others. */
template <typename T>
int crossentropy_softmax_fused_cuda(T *logits, float *losses, const int *targets, float dloss,
                                    int N, int V, int Vp, bool backward);

/* AdamW on fp32 master params; writes the compute copy (T, may be NULL) on the way. */
template <typename T>
void adamw_update_cuda(float *params, T *params_copy, const float *grads, float *m, float *v,
                       size_t n, float lr, float beta1, float beta2, float eps, float weight_decay,
                       float grad_scale, int t);
/* the compute copy of the master weights (after they were set) */
template <typename T> void params_copy_cuda(T *copy, const float *master, size_t n);
/* *acc += sum of squares of g (acc is device memory) */
void sum_squares_cuda(double *acc, const float *g, size_t n);

#endif
