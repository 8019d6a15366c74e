/* dist: data-parallel training over the processes that MPI launched (mpirun -np N, srun):
 * the process group, the few collectives gpt2-train needs, and the optimizer step with
 * gradients averaged across ranks (optionally ZeRO-1: AdamW moments sharded). See
 * gpt2-train(1), "Several GPUs and machines".
 *
 * A process started without a launcher, or as the only rank, is a world of one: no MPI
 * call is made and every function below does what a single process would. A build
 * without MPI (no GPT2_MPI) is always a world of one, and refuses a launch of several.
 *
 * Every collective is watched by a timer: a rank that waits longer than the timeout for
 * the others (one died or hangs) says so and exits 1, which ends the job. */
#ifndef GPT2_TRAIN_DIST_H
#define GPT2_TRAIN_DIST_H

#include <stddef.h>

#include "model/backend.h"
#include "model/model.h"
#include "train/dist_nccl.h"

typedef struct {
    int rank, world;             /* this process and the number of processes */
    int local_rank, local_world; /* the same among the processes of this host */
    int zero;                    /* ZeRO-1: each rank keeps the optimizer state of its shard */
    const DistNcclEntry *nccl;   /* CUDA: the backend reduces and shards itself, over NCCL */
    size_t held, unsharded;      /* CUDA: its optimizer-state bytes */
    double timeout;              /* seconds one collective may wait */
    size_t num_params;
    int *counts, *displs;             /* per rank: its shard of the parameters */
    int *chunk_counts, *chunk_displs; /* the same in sum_squares chunks */
    float *grad_shard, *m, *v;        /* this rank's reduced gradients and moments (ZeRO) */
    double *parts;                    /* sum-of-squares partials of all chunks */
    void *nccl_comm;
} Dist;

/* Joins the process group the launcher made (MPI_Init when there are several ranks),
 * with the timeout for collectives. Dies when several ranks were launched but this build
 * has no MPI. */
void dist_init(Dist *d, double timeout);
/* Ends it (MPI_Finalize); the group must be idle. */
void dist_finalize(Dist *d);
/* Readies the optimizer step for a model of num_params parameters on be; zero asks for
 * ZeRO-1. On CUDA with several ranks, NCCL is opened here and the backend does the
 * reduction and the sharding itself (backend_cuda_distribute); the local rank's GPU
 * was picked before the backend was opened (dist_select_device). */
void dist_setup(Dist *d, Backend *be, size_t num_params, int zero);
/* For CUDA: the GPU of this local rank (before the backend is opened); dies when the host
 * has fewer GPUs than ranks. */
void dist_select_device(const Dist *d);
/* Bytes of optimizer state each rank holds (the AdamW moments; on CUDA also the fp32
 * master weights), and what it would hold without sharding; what that state is. */
const char *dist_state_bytes(const Dist *d, size_t *held, size_t *unsharded);

/* The largest flag of all ranks (agreement on a stop request). */
int dist_max(Dist *d, int flag);
/* Sum of the values of all ranks in the order of one process: mine[j] of rank r is value
 * j*world + r. Every rank gets the same bits, those of the sequential sum. */
double dist_sum_interleaved(Dist *d, const double *mine, int n);
/* Waits for every rank. */
void dist_barrier(Dist *d);

/* Before the step's last micro-step (be->train_step): on CUDA its backward sums the
 * gradients over the ranks, overlapped with the layers below, and the timeout watches
 * it from here on. */
void dist_last_micro_step(Dist *d, Backend *be);
/* Clip by the global norm + AdamW step t + zero the gradients, with the gradients summed
 * over the ranks first (each rank's micro-steps scale theirs by 1/(accum*world)). Every
 * rank ends with the same parameters. Returns the norm. */
float dist_update(Dist *d, Backend *be, const AdamWConfig *opt, int t);
/* be->get_state for the whole job: the parameters on every rank; the moments (when m, v
 * are given: on rank 0, the others pass NULL; with_moments the same on all ranks) are
 * gathered from the shards. */
void dist_get_state(Dist *d, Backend *be, float *params, float *m, float *v, int with_moments);
/* be->set_state for the whole job: every rank passes the full state (m, v may be NULL);
 * each keeps its shard of the moments. */
void dist_set_state(Dist *d, Backend *be, const float *params, const float *m, const float *v);

#endif
