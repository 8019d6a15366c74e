#include "model/cuda_common.h"
#include "train/dist_nccl.h"

#include <nccl.h>
#include <stdio.h>
#include <stdlib.h>

static_assert(sizeof(ncclUniqueId) == DIST_NCCL_ID_BYTES, "ncclUniqueId size");

#define NCCL_CHECK(call)                                                                           \
    do {                                                                                           \
        ncclResult_t r_ = (call);                                                                  \
        if (r_ != ncclSuccess) cuda_fail(#call, ncclGetErrorString(r_), __FILE__, __LINE__);       \
    } while (0)

void dist_nccl_select_device(int local_rank, int local_world) {
    int n = cuda_device_count();
    if (n < 0) {
        fprintf(stderr, "gpt2-train: CUDA is installed but unusable: %s\n", cuda_setup_error());
        exit(1);
    }
    if (n < local_world) {
        fprintf(stderr,
                "gpt2-train: %d ranks on this host but %d CUDA device%s: one GPU per rank\n",
                local_world, n, n == 1 ? "" : "s");
        exit(1);
    }
    CUDA_CHECK(cudaSetDevice(local_rank));
}

void dist_nccl_unique_id(unsigned char id[DIST_NCCL_ID_BYTES]) {
    ncclUniqueId u;
    NCCL_CHECK(ncclGetUniqueId(&u));
    memcpy(id, &u, sizeof u);
}

void *dist_nccl_init(const unsigned char id[DIST_NCCL_ID_BYTES], int world, int rank) {
    ncclUniqueId u;
    memcpy(&u, id, sizeof u);
    ncclComm_t comm;
    NCCL_CHECK(ncclCommInitRank(&comm, world, u, rank));
    return comm;
}

/* After the backward pass, on the model's stream: the reduction does not overlap the
 * backward pass (it needs every layer's gradients first). */
void dist_nccl_allreduce(void *comm, float *grads, size_t n) {
    NCCL_CHECK(ncclAllReduce(grads, grads, n, ncclFloat, ncclSum, (ncclComm_t)comm, cuda_stream()));
    CUDA_CHECK(cudaStreamSynchronize(cuda_stream()));
}

void dist_nccl_free(void *comm) {
    NCCL_CHECK(ncclCommDestroy((ncclComm_t)comm));
}

extern "C" const DistNcclEntry dist_nccl_entry = {GPT2_CUDA_ABI,       dist_nccl_select_device,
                                                  dist_nccl_unique_id, dist_nccl_init,
                                                  dist_nccl_allreduce, dist_nccl_free};
