/* backend_cuda: what the CUDA backend offers beyond backend.h, for tests and benchmarks. */
#ifndef GPT2_BACKEND_CUDA_H
#define GPT2_BACKEND_CUDA_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "model/backend.h"

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
