/* cuda_model: the device state of the CUDA model, shared by backend_cuda.cu (the model on
 * one GPU) and cuda_dp.cu (its data-parallel side). C++ (nvcc) only. */
#ifndef GPT2_CUDA_MODEL_H
#define GPT2_CUDA_MODEL_H

#include "model/cuda_common.h"
#include "model/backend_cuda.h"

struct CudaDp; /* cuda_dp.h: set when the model trains as one of several ranks */

/* what does not depend on the element type (first, so be->impl points at it too) */
struct CudaBase {
    size_t num_params;
    float *grads; /* fp32 in either mode */
    int bf16;     /* the element type: bf16, or float (test mode) */
    CudaDp *dp;
};

template <typename T> struct CudaModel : CudaBase {
    GPT2Config cfg;
    int Bmax, Tmax; /* sized for */
    size_t sizes[GPT2_NUM_PARAM_TENSORS], offsets[GPT2_NUM_PARAM_TENSORS];
    /* fp32, num_params each; with ZeRO-1 the rank's shards live in dp instead, and m, v
     * (and master, unless it is params) are NULL */
    float *master, *m, *v;
    T *params; /* compute copy; the master itself when T is float */
    int *inputs, *targets;
    /* activations kept for backward, [L, N, ...] where stacked over layers */
    T *encoded, *ln1, *qkv, *atty, *residual2, *ln2, *fch, *fch_gelu, *residual3, *lnf, *logits;
    float *ln1_mean, *ln1_rstd, *ln2_mean, *ln2_rstd, *lnf_mean, *lnf_rstd, *att_lse, *losses;
    /* scratch: one layer's output projection; the backward's activation gradients */
    T *proj, *dres, *dln, *datty, *dqkv, *dfch;
    float *att_delta;
    double *norm_acc;
    float *host_losses;
    T *host_logits; /* staging for bf16 -> fp32, allocated by the first download */
    int decoded;    /* positions decode keeps in qkv, which a forward overwrites */
};

template <typename T> static T *param(CudaModel<T> *cm, int i, int layer, size_t per_layer) {
    return cm->params + cm->offsets[i] + (size_t)layer * per_layer;
}

#endif
