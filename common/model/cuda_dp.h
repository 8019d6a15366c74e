/* cuda_dp: the CUDA model as one rank of a data-parallel job (backend_cuda_distribute in
 * backend_cuda.h says what the caller sees). C++ (nvcc) only.
 *
 * Gradients: in the step's last backward (armed), each layer's gradient slices go to a
 * second stream as soon as that layer's backward is done, which sums them over the ranks
 * while the layers below are computed. The embeddings and the final LayerNorm go last
 * (wte's gradient is complete only after the encoder's backward). The update waits for
 * that stream.
 *
 * ZeRO-1: every slice (one tensor of one layer) is cut into world parts of
 * q = len / world elements. Rank r keeps the AdamW moments and the fp32 master weights of
 * part r; the reduce-scatter leaves it that part's sum, it updates the part, and an
 * all-gather of the compute copy (bf16: half the bytes of fp32) gives every rank the new
 * weights. The len % world elements at a slice's end (fewer than world) are all-reduced
 * and updated by every rank alike, so any parameter count works without padding.
 * Gradients cross in fp32: they accumulate in fp32, and a sum of bf16 copies would round
 * each rank's share. */
#ifndef GPT2_CUDA_DP_H
#define GPT2_CUDA_DP_H

#include "model/cuda_model.h"

/* A dp for cm over c's ranks; zero: ZeRO-1 (moments and master weights that cm already
 * has move into the shards, and cm's full copies are freed). */
template <typename T> CudaDp *cuda_dp_create(CudaModel<T> *cm, const CudaCollectives *c, int zero);
void cuda_dp_free(CudaDp *dp);
int cuda_dp_sharded(const CudaDp *dp);
/* optimizer-state bytes this rank of cm (distributed) keeps, and would keep unsharded */
void cuda_dp_bytes(const CudaBase *cm, size_t *held, size_t *unsharded);

/* The next backward reduces: the backward calls cuda_dp_layer_done after each layer
 * (from the top), then with layer = num_layers for the rest. */
void cuda_dp_arm(CudaDp *dp);
void cuda_dp_layer_done(CudaDp *dp, float *grads, int layer);
/* The model's stream waits for the reduction of the armed backward (dies when there was
 * none: the update would use this rank's gradients alone). */
void cuda_dp_wait(CudaDp *dp);

/* The global norm of the reduced gradients (a collective), with the same bits on every
 * rank, so that all skip or clip alike; acc: a device double to sum in. */
float cuda_dp_norm(CudaDp *dp, double *acc, const float *grads);
/* With ZeRO-1, the Backend's update, get_state and set_state (collectives; get_state
 * and set_state use the gradient memory as staging, so they belong between steps). */
template <typename T> float cuda_dp_update(CudaModel<T> *cm, const AdamWConfig *opt, int t);
template <typename T> void cuda_dp_get_state(CudaModel<T> *cm, float *params, float *m, float *v);
template <typename T>
void cuda_dp_set_state(CudaModel<T> *cm, const float *params, const float *m, const float *v);

#endif
