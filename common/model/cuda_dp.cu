/* cuda_dp: data parallelism of the CUDA model; cuda_dp.h has the scheme. */
#include "model/cuda_dp.h"
#include "model/kernels/kernels_cuda.h"

#include <math.h>
#include <stdlib.h>

extern "C" {
#define _Noreturn [[noreturn]] /* util.h is C11; this file is C++ */
#include "base/util.h"
#undef _Noreturn
}

/* One tensor of one layer (or a whole tensor outside the layers): [off, off + len) of the
 * parameters, in world parts of q and a tail of len % world at off + world * q. This
 * rank's part and the tail sit at [shard, shard + q + tail) of the shard arrays. */
struct DpSlice {
    size_t off, len, q, tail, shard;
    int tensor;
};

#define DP_LAYER_SLICES 12 /* tensors 2..13: ln1w .. fcprojb */

struct CudaDp {
    CudaCollectives c;
    int zero, armed, reduced;
    cudaStream_t side;
    cudaEvent_t layer_ready, all_reduced;
    DpSlice *slices;
    /* the slices of layer l: [group_first[l], group_first[l + 1]); l = layers: the rest */
    int *group_first;
    int layers;
    size_t shard_len;
    float *master, *m, *v; /* ZeRO-1: this rank's shards; master only with a bf16 copy */
    double *parts;         /* device: each rank's sum of squares of its gradients */
    double *host_parts;
};

static void dp_slice(CudaDp *dp, int n, size_t off, size_t len, int tensor) {
    size_t w = (size_t)dp->c.world;
    DpSlice *s = &dp->slices[n];
    s->off = off, s->len = len, s->q = len / w, s->tail = len % w, s->tensor = tensor;
    s->shard = dp->shard_len;
    dp->shard_len += s->q + s->tail;
}

/* slices grouped by the layer whose backward completes them (the backward goes from the
 * top layer down), then the tensors outside the layers as the last group */
template <typename T> static void dp_plan(CudaDp *dp, const CudaModel<T> *cm) {
    static const int outside[] = {0, 1, 14, 15}; /* wte, wpe, lnfw, lnfb */
    int L = cm->cfg.num_layers, n = 0;
    dp->layers = L;
    dp->slices = (DpSlice *)xcalloc((size_t)L * DP_LAYER_SLICES + 4, sizeof *dp->slices);
    dp->group_first = (int *)xcalloc((size_t)L + 2, sizeof *dp->group_first);
    for (int l = 0; l < L; l++) {
        dp->group_first[l] = n;
        for (int i = 2; i < 2 + DP_LAYER_SLICES; i++) {
            size_t len = cm->sizes[i] / L;
            dp_slice(dp, n++, cm->offsets[i] + (size_t)l * len, len, i);
        }
    }
    dp->group_first[L] = n;
    for (int k = 0; k < 4; k++)
        dp_slice(dp, n++, cm->offsets[outside[k]], cm->sizes[outside[k]], outside[k]);
    dp->group_first[L + 1] = n;
}

static size_t dp_own(const CudaDp *dp, const DpSlice *s) {
    return s->off + (size_t)dp->c.rank * s->q;
}
static size_t dp_tail(const CudaDp *dp, const DpSlice *s) {
    return s->off + (size_t)dp->c.world * s->q;
}

static float *dp_alloc_zeroed(size_t n, const char *what) {
    float *p = (float *)cuda_malloc((n ? n : 1) * sizeof(float), what);
    CUDA_CHECK(cudaMemsetAsync(p, 0, (n ? n : 1) * sizeof(float), cuda_stream()));
    return p;
}

/* this rank's parts and the tails between full (num_params) and shard, either way */
static void dp_move(const CudaDp *dp, float *shard, float *full, int into_shard) {
    for (int k = 0; k < dp->group_first[dp->layers + 1]; k++) {
        const DpSlice *s = &dp->slices[k];
        float *part[2] = {shard + s->shard, full + dp_own(dp, s)};
        float *tail[2] = {shard + s->shard + s->q, full + dp_tail(dp, s)};
        CUDA_CHECK(cudaMemcpyAsync(part[!into_shard], part[into_shard], s->q * sizeof(float),
                                   cudaMemcpyDeviceToDevice, cuda_stream()));
        CUDA_CHECK(cudaMemcpyAsync(tail[!into_shard], tail[into_shard], s->tail * sizeof(float),
                                   cudaMemcpyDeviceToDevice, cuda_stream()));
    }
}

/* full (num_params) from every rank's shard: the other ranks' parts by an all-gather */
static void dp_gather(const CudaDp *dp, float *full, float *shard) {
    dp_move(dp, shard, full, 0);
    dp->c.group(dp->c.ctx, 1);
    for (int k = 0; k < dp->group_first[dp->layers + 1]; k++)
        if (dp->slices[k].q)
            dp->c.all_gather(dp->c.ctx, full + dp->slices[k].off, dp->slices[k].q * sizeof(float),
                             cuda_stream());
    dp->c.group(dp->c.ctx, 0);
}

template <typename T> CudaDp *cuda_dp_create(CudaModel<T> *cm, const CudaCollectives *c, int zero) {
    CudaDp *dp = (CudaDp *)xcalloc(1, sizeof *dp);
    dp->c = *c, dp->zero = zero;
    CUDA_CHECK(cudaStreamCreateWithFlags(&dp->side, cudaStreamNonBlocking));
    CUDA_CHECK(cudaEventCreateWithFlags(&dp->layer_ready, cudaEventDisableTiming));
    CUDA_CHECK(cudaEventCreateWithFlags(&dp->all_reduced, cudaEventDisableTiming));
    dp_plan(dp, cm);
    dp->parts = (double *)cuda_malloc((size_t)c->world * sizeof(double), "gradient norm parts");
    dp->host_parts = (double *)xmalloc((size_t)c->world * sizeof(double));
    if (!zero) return dp;
    dp->m = dp_alloc_zeroed(dp->shard_len, "AdamW m (shard)");
    dp->v = dp_alloc_zeroed(dp->shard_len, "AdamW v (shard)");
    if (cm->m) { /* moments from before (a backend that trained alone) */
        dp_move(dp, dp->m, cm->m, 1);
        dp_move(dp, dp->v, cm->v, 1);
    }
    if (cm->bf16) { /* the fp32 master weights are not the compute copy */
        dp->master = dp_alloc_zeroed(dp->shard_len, "master parameters (shard)");
        dp_move(dp, dp->master, cm->master, 1);
    }
    CUDA_CHECK(cudaStreamSynchronize(cuda_stream()));
    CUDA_CHECK(cudaFree(cm->m));
    CUDA_CHECK(cudaFree(cm->v));
    cm->m = cm->v = NULL;
    if (dp->master) {
        CUDA_CHECK(cudaFree(cm->master));
        cm->master = NULL;
    }
    return dp;
}

void cuda_dp_free(CudaDp *dp) {
    CUDA_CHECK(cudaStreamSynchronize(dp->side));
    CUDA_CHECK(cudaStreamDestroy(dp->side));
    CUDA_CHECK(cudaEventDestroy(dp->layer_ready));
    CUDA_CHECK(cudaEventDestroy(dp->all_reduced));
    void *dev[] = {dp->master, dp->m, dp->v, dp->parts};
    for (size_t i = 0; i < sizeof dev / sizeof *dev; i++) CUDA_CHECK(cudaFree(dev[i]));
    free(dp->slices);
    free(dp->group_first);
    free(dp->host_parts);
    free(dp);
}

int cuda_dp_sharded(const CudaDp *dp) {
    return dp->zero;
}

void cuda_dp_bytes(const CudaBase *cm, size_t *held, size_t *unsharded) {
    size_t per = 2 * sizeof(float) + (cm->bf16 ? sizeof(float) : 0);
    *unsharded = per * cm->num_params;
    *held = cm->dp->zero ? per * cm->dp->shard_len : *unsharded;
}

void cuda_dp_arm(CudaDp *dp) {
    dp->armed = 1;
}

void cuda_dp_layer_done(CudaDp *dp, float *grads, int layer) {
    if (!dp->armed) return;
    /* the side stream goes on from where the model's stream is now */
    CUDA_CHECK(cudaEventRecord(dp->layer_ready, cuda_stream()));
    CUDA_CHECK(cudaStreamWaitEvent(dp->side, dp->layer_ready, 0));
    const CudaCollectives *c = &dp->c;
    c->group(c->ctx, 1);
    for (int k = dp->group_first[layer]; k < dp->group_first[layer + 1]; k++) {
        const DpSlice *s = &dp->slices[k];
        if (!dp->zero) {
            c->all_reduce(c->ctx, grads + s->off, s->len, dp->side);
            continue;
        }
        if (s->q) c->reduce_scatter(c->ctx, grads + s->off, s->q, dp->side);
        if (s->tail) c->all_reduce(c->ctx, grads + dp_tail(dp, s), s->tail, dp->side);
    }
    c->group(c->ctx, 0);
    if (layer == dp->layers) {
        CUDA_CHECK(cudaEventRecord(dp->all_reduced, dp->side));
        dp->armed = 0, dp->reduced = 1;
    }
}

void cuda_dp_wait(CudaDp *dp) {
    if (!dp->reduced)
        die("cuda backend: an update without a reduced backward before it (backend_cuda_arm)");
    CUDA_CHECK(cudaStreamWaitEvent(cuda_stream(), dp->all_reduced, 0));
    dp->reduced = 0;
}

/* From this rank's parts (and, on rank 0, the tails): each rank's sum of squares is
 * gathered, and every rank adds them in rank order. */
float cuda_dp_norm(CudaDp *dp, double *acc, const float *grads) {
    cudaStream_t st = cuda_stream();
    CUDA_CHECK(cudaMemsetAsync(acc, 0, sizeof(double), st));
    for (int k = 0; k < dp->group_first[dp->layers + 1]; k++) {
        const DpSlice *s = &dp->slices[k];
        sum_squares_cuda(acc, grads + dp_own(dp, s), s->q);
        if (dp->c.rank == 0) sum_squares_cuda(acc, grads + dp_tail(dp, s), s->tail);
    }
    CUDA_CHECK(
        cudaMemcpyAsync(dp->parts + dp->c.rank, acc, sizeof(double), cudaMemcpyDeviceToDevice, st));
    dp->c.all_gather(dp->c.ctx, dp->parts, sizeof(double), st);
    CUDA_CHECK(cudaMemcpyAsync(dp->host_parts, dp->parts, (size_t)dp->c.world * sizeof(double),
                               cudaMemcpyDeviceToHost, st));
    CUDA_CHECK(cudaStreamSynchronize(st));
    double ss = 0;
    for (int r = 0; r < dp->c.world; r++) ss += dp->host_parts[r];
    return (float)sqrt(ss);
}

template <typename T> float cuda_dp_update(CudaModel<T> *cm, const AdamWConfig *opt, int t) {
    CudaDp *dp = cm->dp;
    cudaStream_t st = cuda_stream();
    float norm = cuda_dp_norm(dp, cm->norm_acc, cm->grads);
    int n = dp->group_first[dp->layers + 1];
    if (!gpt2_update_skipped(opt, norm)) {
        float scale = gpt2_clip_scale(norm, opt->grad_clip);
        for (int k = 0; k < n; k++) {
            const DpSlice *s = &dp->slices[k];
            float wd = gpt2_param_is_matrix(s->tensor) ? opt->weight_decay : 0.0f;
            /* this rank's part, then the tail */
            size_t at[2] = {dp_own(dp, s), dp_tail(dp, s)}, len[2] = {s->q, s->tail};
            size_t sh[2] = {s->shard, s->shard + s->q};
            for (int j = 0; j < 2; j++) {
                if (!len[j]) continue;
                float *master = dp->master ? dp->master + sh[j] : cm->master + at[j];
                adamw_update_cuda(master, dp->master ? cm->params + at[j] : (T *)NULL,
                                  cm->grads + at[j], dp->m + sh[j], dp->v + sh[j], len[j], opt->lr,
                                  opt->beta1, opt->beta2, opt->eps, wd, scale, t);
            }
        }
        /* the compute copy's parts to every rank (with a float copy, the master itself) */
        dp->c.group(dp->c.ctx, 1);
        for (int k = 0; k < n; k++)
            if (dp->slices[k].q)
                dp->c.all_gather(dp->c.ctx, cm->params + dp->slices[k].off,
                                 dp->slices[k].q * sizeof(T), st);
        dp->c.group(dp->c.ctx, 0);
    }
    CUDA_CHECK(cudaMemsetAsync(cm->grads, 0, cm->num_params * sizeof(float), st));
    return norm;
}

static void dp_download(float *host, const float *dev, size_t n) {
    CUDA_CHECK(
        cudaMemcpyAsync(host, dev, n * sizeof(float), cudaMemcpyDeviceToHost, cuda_stream()));
    CUDA_CHECK(cudaStreamSynchronize(cuda_stream()));
}

static void dp_upload(float *dev, const float *host, size_t n) {
    CUDA_CHECK(
        cudaMemcpyAsync(dev, host, n * sizeof(float), cudaMemcpyHostToDevice, cuda_stream()));
    CUDA_CHECK(cudaStreamSynchronize(cuda_stream()));
}

/* The moments are gathered on every rank, as the others do not know whether one asks */
template <typename T> void cuda_dp_get_state(CudaModel<T> *cm, float *params, float *m, float *v) {
    CudaDp *dp = cm->dp;
    float *stage = cm->grads;
    size_t n = cm->num_params;
    if (dp->master) {
        dp_gather(dp, stage, dp->master);
        dp_download(params, stage, n);
    } else {
        dp_download(params, cm->master, n);
    }
    dp_gather(dp, stage, dp->m);
    if (m) dp_download(m, stage, n);
    dp_gather(dp, stage, dp->v);
    if (v) dp_download(v, stage, n);
    CUDA_CHECK(cudaMemsetAsync(stage, 0, n * sizeof(float), cuda_stream()));
}

template <typename T>
void cuda_dp_set_state(CudaModel<T> *cm, const float *params, const float *m, const float *v) {
    CudaDp *dp = cm->dp;
    float *stage = cm->grads;
    size_t n = cm->num_params;
    if (dp->master) {
        dp_upload(stage, params, n);
        params_copy_cuda(cm->params, stage, n);
        dp_move(dp, dp->master, stage, 1);
    } else {
        dp_upload(cm->master, params, n);
    }
    if (m) {
        dp_upload(stage, m, n);
        dp_move(dp, dp->m, stage, 1);
    }
    if (v) {
        dp_upload(stage, v, n);
        dp_move(dp, dp->v, stage, 1);
    }
    CUDA_CHECK(cudaMemsetAsync(stage, 0, n * sizeof(float), cuda_stream()));
}

#define DP_INSTANTIATE(T)                                                                          \
    template CudaDp *cuda_dp_create<T>(CudaModel<T> *, const CudaCollectives *, int);              \
    template float cuda_dp_update<T>(CudaModel<T> *, const AdamWConfig *, int);                    \
    template void cuda_dp_get_state<T>(CudaModel<T> *, float *, float *, float *);                 \
    template void cuda_dp_set_state<T>(CudaModel<T> *, const float *, const float *, const float *);
DP_INSTANTIATE(float)
DP_INSTANTIATE(bf16)
