/* backend_cuda: the Backend on an NVIDIA GPU (bf16 compute, or fp32 for tests), and what
 * it offers beyond backend.h for tests and benchmarks. Defined only in builds with CUDA,
 * in gpt2-cuda.so; the GPU tests link it directly. */
#ifndef GPT2_BACKEND_CUDA_H
#define GPT2_BACKEND_CUDA_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "model/backend.h"

/* Why backend_cuda_create opened nothing: callers choose on the code (--device auto falls
 * back to the CPU quietly only on CUDA_NO_DEVICE) and show the message. */
typedef enum {
    CUDA_OPENED = 0,
    CUDA_NO_DEVICE, /* no GPU on this machine */
    CUDA_UNUSABLE,  /* a GPU or driver that CUDA cannot use */
    CUDA_REFUSED,   /* this model or batch shape is beyond the CUDA kernels */
} CudaOpen;

/* The backend on the process's GPU, sized for batches up to [B,T], with a copy of params
 * (the caller keeps them). fp32: full-precision mode for testing; otherwise bf16 compute
 * with fp32 master weights and moments. Returns CUDA_OPENED with *be set, or another code
 * with a message in err. */
CudaOpen backend_cuda_create(const GPT2Config *cfg, const float *params, int B, int T, int fp32,
                             Backend **be, char *err, size_t errlen);

/* GPUs this process can use: 0 when there is none, -1 when the CUDA setup is broken */
int backend_cuda_devices(void);

/* What the tools call, through the plugin (model/cuda_plugin.h): the entry
 * "cuda_backend_entry" of gpt2-cuda.so. */
typedef struct {
    unsigned long abi; /* GPT2_CUDA_ABI */
    CudaOpen (*create)(const GPT2Config *cfg, const float *params, int B, int T, int fp32,
                       Backend **be, char *err, size_t errlen);
    int (*devices)(void);
} CudaBackendEntry;
/* Data parallelism: the collectives the model calls (train/dist_nccl.cu makes them of
 * NCCL), each on the stream given (a cudaStream_t), in place, in the same order on every
 * rank. */
typedef struct {
    int rank, world;
    void *ctx;
    /* buf[0..n) summed over the ranks, on every rank */
    void (*all_reduce)(void *ctx, float *buf, size_t n, void *stream);
    /* buf[0..world*n) summed over the ranks; rank r gets its part buf[r*n..(r+1)*n) */
    void (*reduce_scatter)(void *ctx, float *buf, size_t n, void *stream);
    /* the bytes each rank r has at buf + r*bytes, to every rank */
    void (*all_gather)(void *ctx, void *buf, size_t bytes, void *stream);
    /* the calls between group(ctx, 1) and group(ctx, 0) are launched together */
    void (*group)(void *ctx, int start);
} CudaCollectives;

/* From now on the backend trains as rank c->rank of c->world: the backward after
 * backend_cuda_arm sums the gradients over the ranks, each layer's on a second stream as
 * soon as they are final (overlapping the layers below), and update, get_state and
 * set_state are collectives that every rank calls. zero: ZeRO-1, each rank keeps the
 * AdamW moments and fp32 master weights of 1/world of each tensor (model/cuda_dp.h).
 * held, unsharded: the bytes of optimizer state this rank keeps, and would keep
 * without sharding. c is copied; its ctx must outlive the backend. */
void backend_cuda_distribute(Backend *be, const CudaCollectives *c, int zero, size_t *held,
                             size_t *unsharded);
/* The next train_step is the step's last before update: its backward reduces. */
void backend_cuda_arm(Backend *be);

/* fp32 copy of the accumulated parameter gradients [num_params] to the host */
void backend_cuda_grads(Backend *be, float *grads);
/* bytes of device memory this process has allocated through the backend and kernels */
size_t backend_cuda_allocated(void);
/* waits for the GPU to finish queued work (for timing) */
void backend_cuda_sync(void);

#ifdef __cplusplus
}
#endif

#endif
