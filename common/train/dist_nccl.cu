#include "model/backend_cuda.h"
#include "model/cuda_common.h"
#include "train/dist_nccl.h"

#include <nccl.h>
#include <stdio.h>
#include <stdlib.h>

extern "C" {
#define _Noreturn [[noreturn]] /* util.h is C11; this file is C++ */
#include "base/util.h"
#undef _Noreturn
}

static_assert(sizeof(ncclUniqueId) == DIST_NCCL_ID_BYTES, "ncclUniqueId size");

#define NCCL_CHECK(call)                                                                           \
    do {                                                                                           \
        ncclResult_t r_ = (call);                                                                  \
        if (r_ != ncclSuccess) cuda_fail(#call, ncclGetErrorString(r_), __FILE__, __LINE__);       \
    } while (0)

/* a communicator and the collectives the CUDA model calls on it */
struct NcclRank {
    ncclComm_t comm;
    CudaCollectives coll;
};

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

static void nccl_all_reduce(void *ctx, float *buf, size_t n, void *stream) {
    NcclRank *r = (NcclRank *)ctx;
    NCCL_CHECK(ncclAllReduce(buf, buf, n, ncclFloat, ncclSum, r->comm, (cudaStream_t)stream));
}

/* in place: NCCL's form with recvbuff = sendbuff + rank * recvcount */
static void nccl_reduce_scatter(void *ctx, float *buf, size_t n, void *stream) {
    NcclRank *r = (NcclRank *)ctx;
    NCCL_CHECK(ncclReduceScatter(buf, buf + (size_t)r->coll.rank * n, n, ncclFloat, ncclSum,
                                 r->comm, (cudaStream_t)stream));
}

/* in place (sendbuff = recvbuff + rank * sendcount); bytes, as nothing is summed */
static void nccl_all_gather(void *ctx, void *buf, size_t bytes, void *stream) {
    NcclRank *r = (NcclRank *)ctx;
    char *b = (char *)buf;
    NCCL_CHECK(ncclAllGather(b + (size_t)r->coll.rank * bytes, b, bytes, ncclUint8, r->comm,
                             (cudaStream_t)stream));
}

static void nccl_group(void *ctx, int start) {
    (void)ctx;
    NCCL_CHECK(start ? ncclGroupStart() : ncclGroupEnd());
}

void *dist_nccl_init(const unsigned char id[DIST_NCCL_ID_BYTES], int world, int rank) {
    ncclUniqueId u;
    memcpy(&u, id, sizeof u);
    NcclRank *r = (NcclRank *)xcalloc(1, sizeof *r);
    NCCL_CHECK(ncclCommInitRank(&r->comm, world, u, rank));
    r->coll = (CudaCollectives){.rank = rank,
                                .world = world,
                                .ctx = r,
                                .all_reduce = nccl_all_reduce,
                                .reduce_scatter = nccl_reduce_scatter,
                                .all_gather = nccl_all_gather,
                                .group = nccl_group};
    return r;
}

void dist_nccl_distribute(void *comm, Backend *be, int zero, size_t *held, size_t *unsharded) {
    backend_cuda_distribute(be, &((NcclRank *)comm)->coll, zero, held, unsharded);
}

void dist_nccl_free(void *comm) {
    NcclRank *r = (NcclRank *)comm;
    NCCL_CHECK(ncclCommDestroy(r->comm));
    free(r);
}

extern "C" const DistNcclEntry dist_nccl_entry = {
    GPT2_CUDA_ABI,        dist_nccl_select_device, dist_nccl_unique_id, dist_nccl_init,
    dist_nccl_distribute, backend_cuda_arm,        dist_nccl_free};
