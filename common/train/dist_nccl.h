/* dist_nccl: the CUDA side of data parallelism (dist.h) — one GPU per local rank, and
 * the collectives of the CUDA model's data-parallel training (backend_cuda_distribute)
 * made of NCCL's. Part of gpt2-cuda.so when the CUDA toolkit has nccl.h (the Makefile's
 * NCCL switch); the tools reach it through DistNcclEntry, the GPU tests directly. */
#ifndef GPT2_TRAIN_DIST_NCCL_H
#define GPT2_TRAIN_DIST_NCCL_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "model/backend.h"

#define DIST_NCCL_ID_BYTES 128 /* sizeof(ncclUniqueId) */

/* cudaSetDevice(local_rank); dies when the host has fewer GPUs than local ranks. */
void dist_nccl_select_device(int local_rank, int local_world);
/* A new communicator's id (rank 0 makes it, the launcher's MPI hands it to the others). */
void dist_nccl_unique_id(unsigned char id[DIST_NCCL_ID_BYTES]);
/* This rank's communicator; every rank calls it with the same id. */
void *dist_nccl_init(const unsigned char id[DIST_NCCL_ID_BYTES], int world, int rank);
/* backend_cuda_distribute over comm's ranks (be is a CUDA backend) */
void dist_nccl_distribute(void *comm, Backend *be, int zero, size_t *held, size_t *unsharded);
/* after the backends that use it are freed */
void dist_nccl_free(void *comm);

/* The same calls as the entry "dist_nccl_entry" of gpt2-cuda.so (model/cuda_plugin.h),
 * there only when it was built with NCCL. */
typedef struct {
    unsigned long abi; /* GPT2_CUDA_ABI */
    void (*select_device)(int local_rank, int local_world);
    void (*unique_id)(unsigned char id[DIST_NCCL_ID_BYTES]);
    void *(*init)(const unsigned char id[DIST_NCCL_ID_BYTES], int world, int rank);
    void (*distribute)(void *comm, Backend *be, int zero, size_t *held, size_t *unsharded);
    void (*arm)(Backend *be);
    void (*free)(void *comm);
} DistNcclEntry;

#ifdef __cplusplus
}
#endif

#endif
