#include "train/dist.h"
#include "base/util.h"
#include "model/cuda_plugin.h"
#include "model/kernels/kernels.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#ifdef GPT2_MPI
#include <mpi.h>
#endif

/* The number of ranks the launcher started, before any MPI call: OpenMPI's mpirun, the
 * PMI of MPICH/Hydra and Slurm, or srun's own step size. */
static int launched_world(void) {
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_STEP_NUM_TASKS"};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++) {
        const char *v = getenv(vars[i]);
        if (v && *v) return atoi(v);
    }
    return 1;
}

#ifdef GPT2_MPI
/* The watchdog: armed around each collective, it fires when the others do not come.
 * The message is written beforehand, as a signal handler may only write(2) it. */
static char watch_msg[256];
static size_t watch_len;

static void on_watchdog(int sig) {
    (void)sig;
    if (write(STDERR_FILENO, watch_msg, watch_len) < 0) _exit(1);
    _exit(1);
}

static void watch(const Dist *d, const char *what) {
    int n = snprintf(watch_msg, sizeof watch_msg,
                     "gpt2-train: rank %d of %d: no answer from the other ranks for %g s in %s "
                     "(one died or hangs; --dp-timeout); giving up\n",
                     d->rank, d->world, d->timeout, what);
    watch_len = n < (int)sizeof watch_msg ? (size_t)n : sizeof watch_msg - 1;
    struct itimerval it = {0};
    it.it_value.tv_sec = (time_t)d->timeout;
    it.it_value.tv_usec = (suseconds_t)((d->timeout - (double)(time_t)d->timeout) * 1e6);
    if (!it.it_value.tv_sec && !it.it_value.tv_usec) it.it_value.tv_usec = 1;
    setitimer(ITIMER_REAL, &it, NULL);
}

static void unwatch(void) {
    struct itimerval it = {0};
    setitimer(ITIMER_REAL, &it, NULL);
}
#endif

void dist_init(Dist *d, double timeout) {
    memset(d, 0, sizeof *d);
    d->world = d->local_world = 1;
    d->timeout = timeout;
    int launched = launched_world();
    if (launched <= 1) return;
#ifndef GPT2_MPI
    die("started as one of %d ranks, but this gpt2-train was built without MPI (install "
        "libopenmpi-dev and rebuild); each rank would train alone",
        launched);
#else
    MPI_Init(NULL, NULL);
    MPI_Comm_rank(MPI_COMM_WORLD, &d->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &d->world);
    MPI_Comm local;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, d->rank, MPI_INFO_NULL, &local);
    MPI_Comm_rank(local, &d->local_rank);
    MPI_Comm_size(local, &d->local_world);
    MPI_Comm_free(&local);
    struct sigaction sa = {0};
    sa.sa_handler = on_watchdog;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, NULL);
#endif
}

void dist_finalize(Dist *d) {
    if (d->nccl_comm) d->nccl->free(d->nccl_comm);
#ifdef GPT2_MPI
    if (d->world > 1) {
        watch(d, "the end of the run");
        MPI_Finalize();
        unwatch();
    }
#endif
    free(d->counts);
    free(d->displs);
    free(d->chunk_counts);
    free(d->chunk_displs);
    free(d->grad_shard);
    free(d->m);
    free(d->v);
    free(d->parts);
    memset(d, 0, sizeof *d);
}

/* NCCL's calls in the CUDA plugin, or NULL with the reason in err */
static const DistNcclEntry *nccl_entry(char *err, size_t errlen) {
    return cuda_plugin_entry("dist_nccl_entry", err, errlen);
}

void dist_select_device(const Dist *d) {
    char err[1024];
    const DistNcclEntry *nccl;
    /* no driver: no GPU to pick; no NCCL: dist_setup says so if CUDA is used */
    if (d->world > 1 && cuda_driver_present() && (nccl = nccl_entry(err, sizeof err)))
        nccl->select_device(d->local_rank, d->local_world);
}

void dist_setup(Dist *d, Backend *be, size_t num_params, int zero) {
    d->num_params = num_params;
    if (d->world == 1) return;
    if (!strcmp(be->name, "cuda")) {
#ifdef GPT2_MPI /* several ranks: a build with MPI (dist_init) */
        char err[1024];
        if (!(d->nccl = nccl_entry(err, sizeof err)))
            die("several ranks on CUDA need NCCL: %s", err);
        unsigned char id[DIST_NCCL_ID_BYTES];
        if (d->rank == 0) d->nccl->unique_id(id);
        watch(d, "the NCCL set-up");
        MPI_Bcast(id, DIST_NCCL_ID_BYTES, MPI_BYTE, 0, MPI_COMM_WORLD);
        d->nccl_comm = d->nccl->init(id, d->world, d->rank);
        unwatch();
        d->zero = zero;
        d->nccl->distribute(d->nccl_comm, be, zero, &d->held, &d->unsharded);
        return;
#endif
    }
    d->zero = zero;
    /* shards of whole sum_squares chunks, so that the norm sums the same partials in the
     * same order as one process; the last ranks' shards are shorter or empty */
    size_t chunks = (num_params + SUM_SQUARES_CHUNK - 1) / SUM_SQUARES_CHUNK;
    size_t per = (chunks + (size_t)d->world - 1) / (size_t)d->world;
    d->counts = xcalloc((size_t)d->world, sizeof *d->counts);
    d->displs = xcalloc((size_t)d->world, sizeof *d->displs);
    d->chunk_counts = xcalloc((size_t)d->world, sizeof *d->chunk_counts);
    d->chunk_displs = xcalloc((size_t)d->world, sizeof *d->chunk_displs);
    for (int r = 0; r < d->world; r++) {
        size_t c0 = (size_t)r * per < chunks ? (size_t)r * per : chunks;
        size_t c1 = c0 + per < chunks ? c0 + per : chunks;
        size_t lo = c0 * SUM_SQUARES_CHUNK, hi = c1 * SUM_SQUARES_CHUNK;
        if (lo > num_params) lo = num_params;
        if (hi > num_params) hi = num_params;
        if (hi - lo > (size_t)INT32_MAX)
            die("a shard of %zu parameters is too large for MPI", hi - lo);
        d->displs[r] = (int)lo, d->counts[r] = (int)(hi - lo);
        d->chunk_displs[r] = (int)c0, d->chunk_counts[r] = (int)(c1 - c0);
    }
    size_t mine = (size_t)d->counts[d->rank];
    d->grad_shard = xcalloc(mine ? mine : 1, sizeof(float));
    d->parts = xcalloc(chunks ? chunks : 1, sizeof(double));
    if (zero) {
        if (!be->param_memory) die("--zero 1: the %s backend cannot shard its optimizer", be->name);
        d->m = xcalloc(mine ? mine : 1, sizeof(float));
        d->v = xcalloc(mine ? mine : 1, sizeof(float));
    }
}

const char *dist_state_bytes(const Dist *d, size_t *held, size_t *unsharded) {
    if (d->nccl) {
        *held = d->held, *unsharded = d->unsharded;
        return "AdamW moments and master weights";
    }
    *unsharded = 2 * d->num_params * sizeof(float);
    *held = d->zero ? 2 * (size_t)d->counts[d->rank] * sizeof(float) : *unsharded;
    return "AdamW moments";
}

int dist_max(Dist *d, int flag) {
#ifdef GPT2_MPI
    if (d->world > 1) {
        int all;
        watch(d, "agreeing on a stop");
        MPI_Allreduce(&flag, &all, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
        unwatch();
        return all;
    }
#else
    (void)d;
#endif
    return flag;
}

double dist_sum_interleaved(Dist *d, const double *mine, int n) {
    double sum = 0;
    if (d->world == 1) {
        for (int j = 0; j < n; j++) sum += mine[j];
        return sum;
    }
#ifdef GPT2_MPI
    double *all = xmalloc((size_t)n * (size_t)d->world * sizeof *all);
    watch(d, "summing the losses");
    MPI_Allgather(mine, n, MPI_DOUBLE, all, n, MPI_DOUBLE, MPI_COMM_WORLD);
    unwatch();
    for (int j = 0; j < n; j++)
        for (int r = 0; r < d->world; r++) sum += all[(size_t)r * n + j];
    free(all);
#endif
    return sum;
}

void dist_barrier(Dist *d) {
#ifdef GPT2_MPI
    if (d->world > 1) {
        watch(d, "waiting for the other ranks");
        MPI_Barrier(MPI_COMM_WORLD);
        unwatch();
    }
#else
    (void)d;
#endif
}

#ifdef GPT2_MPI
/* AdamW on this rank's shard [lo, lo+n) of the parameters, tensor by tensor (weight
 * decay is per tensor), with the moments of the shard: what gpt2_update does to it. */
static void update_shard(Dist *d, float *params, const GPT2Config *cfg, const AdamWConfig *opt,
                         float scale, int t) {
    size_t lo = (size_t)d->displs[d->rank], hi = lo + (size_t)d->counts[d->rank];
    size_t s[GPT2_NUM_PARAM_TENSORS], off = 0;
    gpt2_param_sizes(cfg, s);
    for (int i = 0; i < GPT2_NUM_PARAM_TENSORS; off += s[i], i++) {
        size_t a = off > lo ? off : lo, b = off + s[i] < hi ? off + s[i] : hi;
        if (a >= b) continue;
        adamw_update(params + a, d->grad_shard + (a - lo), d->m + (a - lo), d->v + (a - lo), b - a,
                     opt->lr, opt->beta1, opt->beta2, opt->eps,
                     gpt2_param_is_matrix(i) ? opt->weight_decay : 0.0f, scale, t);
    }
}
#endif

void dist_last_micro_step(Dist *d, Backend *be) {
#ifdef GPT2_MPI
    if (d->nccl) {
        d->nccl->arm(be);
        /* NCCL may block the host in the backward (connecting on first use): watched
         * until the next collective's watch replaces this one */
        watch(d, "the gradient reduction (NCCL)");
    }
#else
    (void)d, (void)be;
#endif
}

float dist_update(Dist *d, Backend *be, const AdamWConfig *opt, int t) {
    if (d->world == 1) return be->update(be, opt, t);
#ifdef GPT2_MPI
    if (d->nccl) { /* waits for the reduction the backward began, then updates */
        watch(d, "the gradient reduction or the update (NCCL)");
        float norm = be->update(be, opt, t);
        unwatch();
        return norm;
    }
#endif
#ifdef GPT2_MPI
    /* reduce-scatter + all-gather rather than one all-reduce: each sum is made once, by
     * one rank, so every rank holds the same bits (an all-reduce does not promise that) */
    float *g = be->grad_memory(be);
    watch(d, "the gradient reduce-scatter");
    MPI_Reduce_scatter(g, d->grad_shard, d->counts, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    unwatch();
    if (!d->zero) {
        watch(d, "the gradient all-gather");
        MPI_Allgatherv(d->grad_shard, d->counts[d->rank], MPI_FLOAT, g, d->counts, d->displs,
                       MPI_FLOAT, MPI_COMM_WORLD);
        unwatch();
        return be->update(be, opt, t);
    }
    sum_squares_parts(d->grad_shard, (size_t)d->counts[d->rank],
                      d->parts + d->chunk_displs[d->rank]);
    watch(d, "the gradient norm");
    MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, d->parts, d->chunk_counts, d->chunk_displs,
                   MPI_DOUBLE, MPI_COMM_WORLD);
    unwatch();
    size_t chunks = (d->num_params + SUM_SQUARES_CHUNK - 1) / SUM_SQUARES_CHUNK;
    double ss = 0;
    for (size_t c = 0; c < chunks; c++) ss += d->parts[c];
    float norm = (float)sqrt(ss);
    float *params = be->param_memory(be);
    /* every rank has the same bits of the norm, so all skip or none */
    if (!gpt2_update_skipped(opt, norm)) {
        update_shard(d, params, &be->config, opt, gpt2_clip_scale(norm, opt->grad_clip), t);
        watch(d, "the parameter all-gather");
        MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, params, d->counts, d->displs, MPI_FLOAT,
                       MPI_COMM_WORLD);
        unwatch();
    }
    memset(g, 0, d->num_params * sizeof(float));
    return norm;
#else
    return be->update(be, opt, t);
#endif
}

void dist_get_state(Dist *d, Backend *be, float *params, float *m, float *v, int with_moments) {
#ifdef GPT2_MPI
    if (d->nccl) { /* a collective in the backend: it gathers the shards itself */
        watch(d, "gathering the state (NCCL)");
        be->get_state(be, params, m, v);
        unwatch();
        return;
    }
#endif
    if (!d->zero) {
        be->get_state(be, params, m, v);
        return;
    }
    be->get_state(be, params, NULL, NULL);
    if (!with_moments) return;
#ifdef GPT2_MPI
    watch(d, "gathering the optimizer state");
    MPI_Gatherv(d->m, d->counts[d->rank], MPI_FLOAT, m, d->counts, d->displs, MPI_FLOAT, 0,
                MPI_COMM_WORLD);
    MPI_Gatherv(d->v, d->counts[d->rank], MPI_FLOAT, v, d->counts, d->displs, MPI_FLOAT, 0,
                MPI_COMM_WORLD);
    unwatch();
#endif
}

void dist_set_state(Dist *d, Backend *be, const float *params, const float *m, const float *v) {
    if (!d->zero || d->nccl) { /* the CUDA backend keeps its shards itself */
        be->set_state(be, params, m, v);
        return;
    }
    be->set_state(be, params, NULL, NULL);
    size_t lo = (size_t)d->displs[d->rank], n = (size_t)d->counts[d->rank];
    if (m) memcpy(d->m, m + lo, n * sizeof(float));
    if (v) memcpy(d->v, v + lo, n * sizeof(float));
}
