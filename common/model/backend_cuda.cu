/* backend_cuda: GPT-2 training on one NVIDIA GPU behind the Backend interface.
 * Mixed precision: the compute copy of the parameters and every activation are T (bf16;
 * float in the test mode), the master parameters, their gradients and the AdamW moments
 * fp32. The layer sequence is model.c's; the differences are fusions: the residual add
 * runs inside the next LayerNorm, the bias (and, a lever, the GELU) inside the GEMM, and
 * softmax + cross-entropy + its backward is one kernel that turns the logits into their
 * gradient in place. */
#include "model/cuda_dp.h"
#include "model/cuda_model.h"
#include "model/kernels/kernels_cuda.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern "C" {
#define _Noreturn [[noreturn]] /* util.h is C11; this file is C++ */
#include "base/util.h"
#undef _Noreturn
}

template <typename T> static T *alloc(size_t count, const char *what) {
    return (T *)cuda_malloc(count * sizeof(T), what);
}

/* the compute copy follows the master after a set_state */
template <typename T> static void refresh_copy(CudaModel<T> *cm) {
    if ((void *)cm->params == (void *)cm->master) return;
    params_copy_cuda(cm->params, cm->master, cm->num_params);
}

template <typename T> static void model_alloc(CudaModel<T> *cm) {
    const GPT2Config *c = &cm->cfg;
    size_t L = c->num_layers, C = c->channels, NH = c->num_heads, Vp = c->padded_vocab_size;
    size_t N = (size_t)cm->Bmax * cm->Tmax, n = cm->num_params;
    cm->master = alloc<float>(n, "master parameters");
    cm->params = sizeof(T) == sizeof(float) ? (T *)cm->master : alloc<T>(n, "parameters");
    cm->inputs = alloc<int>(N, "inputs");
    cm->targets = alloc<int>(N, "targets");
    cm->encoded = alloc<T>(N * C, "activations (encoder)");
    cm->ln1 = alloc<T>(L * N * C, "activations (ln1)");
    cm->qkv = alloc<T>(L * N * 3 * C, "activations (qkv)");
    cm->atty = alloc<T>(L * N * C, "activations (attention)");
    cm->residual2 = alloc<T>(L * N * C, "activations (residual2)");
    cm->ln2 = alloc<T>(L * N * C, "activations (ln2)");
    cm->fch = alloc<T>(L * N * 4 * C, "activations (fch)");
    cm->fch_gelu = alloc<T>(L * N * 4 * C, "activations (fch_gelu)");
    cm->residual3 = alloc<T>(L * N * C, "activations (residual3)");
    cm->lnf = alloc<T>(N * C, "activations (lnf)");
    cm->logits = alloc<T>(N * Vp, "logits");
    cm->ln1_mean = alloc<float>(L * N, "ln1 mean");
    cm->ln1_rstd = alloc<float>(L * N, "ln1 rstd");
    cm->ln2_mean = alloc<float>(L * N, "ln2 mean");
    cm->ln2_rstd = alloc<float>(L * N, "ln2 rstd");
    cm->lnf_mean = alloc<float>(N, "lnf mean");
    cm->lnf_rstd = alloc<float>(N, "lnf rstd");
    cm->att_lse = alloc<float>(L * NH * N, "attention logsumexp");
    cm->losses = alloc<float>(N, "losses");
    cm->proj = alloc<T>(N * C, "scratch (projection)");
    cm->dres = alloc<T>(N * C, "scratch (residual gradient)");
    cm->dln = alloc<T>(N * C, "scratch (ln gradient)");
    cm->datty = alloc<T>(N * C, "scratch (attention gradient)");
    cm->dqkv = alloc<T>(N * 3 * C, "scratch (qkv gradient)");
    cm->dfch = alloc<T>(N * 4 * C, "scratch (fch gradient)");
    cm->att_delta = alloc<float>(NH * N, "scratch (attention delta)");
    cm->norm_acc = alloc<double>(1, "norm accumulator");
    cm->host_losses = (float *)xmalloc(N * sizeof(float));
}

/* Gradients and AdamW moments wait for the first call that needs them: sampling and
 * evaluation never do, and they are three fp32 copies of the parameters (18 GB for
 * GPT-2 XL, which then fits a smaller GPU). With ZeRO-1 the moments are cuda_dp's. */
template <typename T> static void training_alloc(CudaModel<T> *cm) {
    size_t bytes = cm->num_params * sizeof(float);
    if (!cm->grads) {
        cm->grads = alloc<float>(cm->num_params, "gradients");
        CUDA_CHECK(cudaMemsetAsync(cm->grads, 0, bytes, cuda_stream()));
    }
    if (cm->m || (cm->dp && cuda_dp_sharded(cm->dp))) return;
    cm->m = alloc<float>(cm->num_params, "AdamW m");
    cm->v = alloc<float>(cm->num_params, "AdamW v");
    CUDA_CHECK(cudaMemsetAsync(cm->m, 0, bytes, cuda_stream()));
    CUDA_CHECK(cudaMemsetAsync(cm->v, 0, bytes, cuda_stream()));
}

template <typename T> static void model_free(CudaModel<T> *cm) {
    void *dev[] = {cm->master,    cm->grads,     cm->m,        cm->v,        cm->inputs,
                   cm->targets,   cm->encoded,   cm->ln1,      cm->qkv,      cm->atty,
                   cm->residual2, cm->ln2,       cm->fch,      cm->fch_gelu, cm->residual3,
                   cm->lnf,       cm->logits,    cm->ln1_mean, cm->ln1_rstd, cm->ln2_mean,
                   cm->ln2_rstd,  cm->lnf_mean,  cm->lnf_rstd, cm->att_lse,  cm->losses,
                   cm->proj,      cm->dres,      cm->dln,      cm->datty,    cm->dqkv,
                   cm->dfch,      cm->att_delta, cm->norm_acc};
    for (size_t i = 0; i < sizeof dev / sizeof *dev; i++) CUDA_CHECK(cudaFree(dev[i]));
    if ((void *)cm->params != (void *)cm->master) CUDA_CHECK(cudaFree(cm->params));
    free(cm->host_losses);
    free(cm->host_logits);
}

/* Forward to the logits; with targets also the losses, and with backward the logits
 * become their gradient (d mean loss * loss_scale). */
template <typename T>
static void forward(CudaModel<T> *cm, const int *inputs, const int *targets, int B, int Tn,
                    bool backward, float loss_scale) {
    const GPT2Config *c = &cm->cfg;
    int L = c->num_layers, C = c->channels, NH = c->num_heads, V = c->vocab_size;
    int Vp = c->padded_vocab_size, N = B * Tn;
    size_t NC = (size_t)N * C, CC = (size_t)C * C;
    if (B > cm->Bmax || Tn > cm->Tmax || B < 1 || Tn < 1)
        die("cuda backend: batch %dx%d exceeds the sized %dx%d", B, Tn, cm->Bmax, cm->Tmax);
    cudaStream_t s = cuda_stream();
    cm->decoded = 0;
    CUDA_CHECK(cudaMemcpyAsync(cm->inputs, inputs, N * sizeof(int), cudaMemcpyHostToDevice, s));
    if (targets)
        CUDA_CHECK(
            cudaMemcpyAsync(cm->targets, targets, N * sizeof(int), cudaMemcpyHostToDevice, s));
    encoder_forward_cuda(cm->encoded, cm->inputs, param(cm, 0, 0, 0), param(cm, 1, 0, 0), B, Tn, C);
    layernorm_forward_cuda(cm->ln1, cm->ln1_mean, cm->ln1_rstd, cm->encoded, param(cm, 2, 0, C),
                           param(cm, 3, 0, C), N, C);
    for (int l = 0; l < L; l++) {
        const T *res = l ? cm->residual3 + (l - 1) * NC : cm->encoded;
        T *ln1 = cm->ln1 + l * NC, *qkv = cm->qkv + l * 3 * NC, *atty = cm->atty + l * NC;
        T *res2 = cm->residual2 + l * NC, *ln2 = cm->ln2 + l * NC, *res3 = cm->residual3 + l * NC;
        T *fch = cm->fch + l * 4 * NC, *fch_gelu = cm->fch_gelu + l * 4 * NC;
        matmul_forward_cuda(qkv, ln1, param(cm, 4, l, 3 * CC), param(cm, 5, l, 3 * C), N, C, 3 * C);
        attention_forward_cuda(atty, cm->att_lse + (size_t)l * NH * N, qkv, B, Tn, C, NH);
        matmul_forward_cuda(cm->proj, atty, param(cm, 6, l, CC), param(cm, 7, l, C), N, C, C);
        residual_layernorm_forward_cuda(res2, ln2, cm->ln2_mean + l * N, cm->ln2_rstd + l * N, res,
                                        cm->proj, param(cm, 8, l, C), param(cm, 9, l, C), N, C);
        matmul_gelu_forward_cuda(fch_gelu, fch, ln2, param(cm, 10, l, 4 * CC),
                                 param(cm, 11, l, 4 * C), N, C, 4 * C);
        matmul_forward_cuda(cm->proj, fch_gelu, param(cm, 12, l, 4 * CC), param(cm, 13, l, C), N,
                            4 * C, C);
        /* the residual add feeds the next layer's ln1, or lnf after the last layer */
        if (l + 1 < L)
            residual_layernorm_forward_cuda(res3, cm->ln1 + (l + 1) * NC,
                                            cm->ln1_mean + (l + 1) * N, cm->ln1_rstd + (l + 1) * N,
                                            res2, cm->proj, param(cm, 2, l + 1, C),
                                            param(cm, 3, l + 1, C), N, C);
        else
            residual_layernorm_forward_cuda(res3, cm->lnf, cm->lnf_mean, cm->lnf_rstd, res2,
                                            cm->proj, param(cm, 14, 0, 0), param(cm, 15, 0, 0), N,
                                            C);
    }
    matmul_forward_cuda(cm->logits, cm->lnf, param(cm, 0, 0, 0), (const T *)NULL, N, C, Vp);
    if (targets)
        crossentropy_softmax_fused_cuda(cm->logits, cm->losses, cm->targets, loss_scale / N, N, V,
                                        Vp, backward);
}

/* Backward of a forward that ran with backward = true. Parameter gradients accumulate;
 * dres carries the residual stream's gradient down through the layers. */
template <typename T> static void backward(CudaModel<T> *cm, int B, int Tn) {
    const GPT2Config *c = &cm->cfg;
    int L = c->num_layers, C = c->channels, NH = c->num_heads, Vp = c->padded_vocab_size;
    int N = B * Tn;
    size_t NC = (size_t)N * C, CC = (size_t)C * C;
    float *g = cm->grads;
    const size_t *o = cm->offsets;
#define GRAD(i, l, per) (g + o[i] + (size_t)(l) * (per))
    matmul_backward_cuda(cm->dln, GRAD(0, 0, 0), (float *)NULL, cm->logits, cm->lnf,
                         param(cm, 0, 0, 0), N, C, Vp, false);
    layernorm_backward_cuda(cm->dres, GRAD(14, 0, 0), GRAD(15, 0, 0), cm->dln,
                            cm->residual3 + (L - 1) * NC, param(cm, 14, 0, 0), cm->lnf_mean,
                            cm->lnf_rstd, N, C, false);
    for (int l = L - 1; l >= 0; l--) {
        const T *res = l ? cm->residual3 + (l - 1) * NC : cm->encoded;
        matmul_dgelu_backward_cuda(cm->dfch, GRAD(11, l, 4 * C), GRAD(12, l, 4 * CC),
                                   GRAD(13, l, C), cm->dres, cm->fch_gelu + l * 4 * NC,
                                   cm->fch + l * 4 * NC, param(cm, 12, l, 4 * CC), N, 4 * C, C);
        matmul_backward_cuda(cm->dln, GRAD(10, l, 4 * CC), (float *)NULL, cm->dfch,
                             cm->ln2 + l * NC, param(cm, 10, l, 4 * CC), N, C, 4 * C, false);
        layernorm_backward_cuda(cm->dres, GRAD(8, l, C), GRAD(9, l, C), cm->dln,
                                cm->residual2 + l * NC, param(cm, 8, l, C), cm->ln2_mean + l * N,
                                cm->ln2_rstd + l * N, N, C, true);
        matmul_backward_cuda(cm->datty, GRAD(6, l, CC), GRAD(7, l, C), cm->dres, cm->atty + l * NC,
                             param(cm, 6, l, CC), N, C, C, false);
        attention_backward_cuda(cm->dqkv, cm->att_delta, cm->datty, cm->qkv + l * 3 * NC,
                                cm->atty + l * NC, cm->att_lse + (size_t)l * NH * N, B, Tn, C, NH,
                                false);
        matmul_backward_cuda(cm->dln, GRAD(4, l, 3 * CC), GRAD(5, l, 3 * C), cm->dqkv,
                             cm->ln1 + l * NC, param(cm, 4, l, 3 * CC), N, C, 3 * C, false);
        layernorm_backward_cuda(cm->dres, GRAD(2, l, C), GRAD(3, l, C), cm->dln, res,
                                param(cm, 2, l, C), cm->ln1_mean + l * N, cm->ln1_rstd + l * N, N,
                                C, true);
        if (cm->dp) cuda_dp_layer_done(cm->dp, g, l); /* the layer's gradients are final */
    }
    encoder_backward_cuda(GRAD(0, 0, 0), GRAD(1, 0, 0), cm->dres, cm->inputs, B, Tn, C);
    if (cm->dp) cuda_dp_layer_done(cm->dp, g, L);
#undef GRAD
}

/* losses to the host; returns their mean */
template <typename T> static float fetch_losses(CudaModel<T> *cm, int N, float *out) {
    float *h = out ? out : cm->host_losses;
    CUDA_CHECK(
        cudaMemcpyAsync(h, cm->losses, N * sizeof(float), cudaMemcpyDeviceToHost, cuda_stream()));
    CUDA_CHECK(cudaStreamSynchronize(cuda_stream()));
    double sum = 0;
    for (int i = 0; i < N; i++) sum += h[i];
    return (float)(sum / N);
}

template <typename T> static CudaModel<T> *impl(Backend *be) {
    return static_cast<CudaModel<T> *>((CudaBase *)be->impl);
}

template <typename T>
static float cuda_train_step(Backend *be, const int *inputs, const int *targets, int B, int Tn,
                             float loss_scale) {
    CudaModel<T> *cm = impl<T>(be);
    training_alloc(cm);
    matmul_tuning(1); /* every step has the same shapes */
    forward(cm, inputs, targets, B, Tn, true, loss_scale);
    backward(cm, B, Tn);
    matmul_tuning(0);
    return fetch_losses(cm, B * Tn, NULL);
}

template <typename T>
static float cuda_eval_losses(Backend *be, const int *inputs, const int *targets, int B, int Tn,
                              float *losses) {
    CudaModel<T> *cm = impl<T>(be);
    forward(cm, inputs, targets, B, Tn, false, 1.0f);
    return fetch_losses(cm, B * Tn, losses);
}

/* rows of row logits each, pitch apart on the device from src, to host fp32: only what
 * the caller wants crosses the bus and gets converted (a sampled token needs one row of
 * up to 1024, and those are 100 MB of bf16 logits at GPT-2's vocabulary) */
template <typename T>
static void logits_download(CudaModel<T> *cm, float *out, const T *src, size_t row, size_t pitch,
                            int rows) {
    bool convert = sizeof(T) != sizeof(float);
    if (convert && !cm->host_logits) {
        size_t max = (size_t)cm->Bmax * cm->Tmax * cm->cfg.padded_vocab_size;
        cm->host_logits = (T *)xmalloc(max * sizeof(T));
    }
    T *h = convert ? cm->host_logits : (T *)out;
    CUDA_CHECK(cudaMemcpy2DAsync(h, row * sizeof(T), src, pitch * sizeof(T), row * sizeof(T), rows,
                                 cudaMemcpyDeviceToHost, cuda_stream()));
    CUDA_CHECK(cudaStreamSynchronize(cuda_stream()));
    if (convert)
        for (size_t i = 0; i < row * rows; i++) out[i] = __bfloat162float(((bf16 *)h)[i]);
}

template <typename T>
static void cuda_logits(Backend *be, const int *inputs, int B, int Tn, int from, float *out) {
    CudaModel<T> *cm = impl<T>(be);
    forward(cm, inputs, (const int *)NULL, B, Tn, false, 1.0f);
    size_t Vp = cm->cfg.padded_vocab_size;
    logits_download(cm, out, cm->logits + from * Vp, (Tn - from) * Vp, Tn * Vp, B);
}

/* Sampling (backend.h): each layer's qkv activations [Tmax, 3C] (one sequence) hold the
 * keys and values by position, and the new rows go through the layers in the first
 * slots of the other activations; only the last row's logits are computed. */
template <typename T>
static void cuda_decode(Backend *be, const int *tokens, int pos, int n, float *out) {
    CudaModel<T> *cm = impl<T>(be);
    const GPT2Config *c = &cm->cfg;
    int L = c->num_layers, C = c->channels, NH = c->num_heads, Vp = c->padded_vocab_size;
    size_t NC = (size_t)cm->Bmax * cm->Tmax * C, CC = (size_t)C * C;
    if (pos < 0 || pos > cm->decoded || n < 1 || pos + n > cm->Tmax)
        die("cuda backend: decode of positions %d..%d with %d kept, window %d", pos, pos + n - 1,
            cm->decoded, cm->Tmax);
    CUDA_CHECK(cudaMemcpyAsync(cm->inputs, tokens, n * sizeof(int), cudaMemcpyHostToDevice,
                               cuda_stream()));
    encoder_forward_cuda(cm->encoded, cm->inputs, param(cm, 0, 0, 0),
                         param(cm, 1, 0, 0) + (size_t)pos * C, 1, n, C);
    layernorm_forward_cuda(cm->ln1, cm->ln1_mean, cm->ln1_rstd, cm->encoded, param(cm, 2, 0, C),
                           param(cm, 3, 0, C), n, C);
    for (int l = 0; l < L; l++) {
        const T *res = l ? cm->residual3 : cm->encoded;
        T *qkv = cm->qkv + l * 3 * NC;
        matmul_forward_cuda(qkv + (size_t)pos * 3 * C, cm->ln1, param(cm, 4, l, 3 * CC),
                            param(cm, 5, l, 3 * C), n, C, 3 * C);
        attention_decode_cuda(cm->atty, qkv, pos, n, C, NH);
        matmul_forward_cuda(cm->proj, cm->atty, param(cm, 6, l, CC), param(cm, 7, l, C), n, C, C);
        residual_layernorm_forward_cuda(cm->residual2, cm->ln2, cm->ln2_mean, cm->ln2_rstd, res,
                                        cm->proj, param(cm, 8, l, C), param(cm, 9, l, C), n, C);
        matmul_gelu_forward_cuda(cm->fch_gelu, cm->fch, cm->ln2, param(cm, 10, l, 4 * CC),
                                 param(cm, 11, l, 4 * C), n, C, 4 * C);
        matmul_forward_cuda(cm->proj, cm->fch_gelu, param(cm, 12, l, 4 * CC), param(cm, 13, l, C),
                            n, 4 * C, C);
        bool last = l + 1 == L; /* the residual add feeds the next ln1, or lnf */
        residual_layernorm_forward_cuda(cm->residual3, last ? cm->lnf : cm->ln1, cm->ln1_mean,
                                        cm->ln1_rstd, cm->residual2, cm->proj,
                                        last ? param(cm, 14, 0, 0) : param(cm, 2, l + 1, C),
                                        last ? param(cm, 15, 0, 0) : param(cm, 3, l + 1, C), n, C);
    }
    matmul_forward_cuda(cm->logits, cm->lnf + (size_t)(n - 1) * C, param(cm, 0, 0, 0),
                        (const T *)NULL, 1, C, Vp);
    cm->decoded = pos + n;
    logits_download(cm, out, cm->logits, Vp, Vp, 1);
}

/* clipping as the CPU model: scale by clip / (norm + 1e-6) when that is below 1 */
template <typename T> static float cuda_update(Backend *be, const AdamWConfig *opt, int t) {
    CudaModel<T> *cm = impl<T>(be);
    cudaStream_t s = cuda_stream();
    training_alloc(cm);
    cm->decoded = 0; /* kept keys and values belong to the old parameters */
    float norm;
    if (cm->dp) {
        cuda_dp_wait(cm->dp);
        if (cuda_dp_sharded(cm->dp)) return cuda_dp_update(cm, opt, t);
        /* the same bits on every rank, so all skip or clip alike */
        norm = cuda_dp_norm(cm->dp, cm->norm_acc, cm->grads);
    } else {
        CUDA_CHECK(cudaMemsetAsync(cm->norm_acc, 0, sizeof(double), s));
        sum_squares_cuda(cm->norm_acc, cm->grads, cm->num_params);
        double sq = 0;
        CUDA_CHECK(cudaMemcpyAsync(&sq, cm->norm_acc, sizeof sq, cudaMemcpyDeviceToHost, s));
        CUDA_CHECK(cudaStreamSynchronize(s));
        norm = (float)sqrt(sq);
    }
    float scale = gpt2_clip_scale(norm, opt->grad_clip);
    bool copy = (void *)cm->params != (void *)cm->master;
    for (int i = 0; i < GPT2_NUM_PARAM_TENSORS && !gpt2_update_skipped(opt, norm); i++) {
        size_t off = cm->offsets[i];
        adamw_update_cuda(cm->master + off, copy ? cm->params + off : (T *)NULL, cm->grads + off,
                          cm->m + off, cm->v + off, cm->sizes[i], opt->lr, opt->beta1, opt->beta2,
                          opt->eps, gpt2_param_is_matrix(i) ? opt->weight_decay : 0.0f, scale, t);
    }
    CUDA_CHECK(cudaMemsetAsync(cm->grads, 0, cm->num_params * sizeof(float), s));
    return norm;
}

template <typename T> static void cuda_get_state(Backend *be, float *params, float *m, float *v) {
    CudaModel<T> *cm = impl<T>(be);
    size_t bytes = cm->num_params * sizeof(float);
    if (cm->dp && cuda_dp_sharded(cm->dp)) return cuda_dp_get_state(cm, params, m, v);
    if (m || v) training_alloc(cm);
    CUDA_CHECK(cudaStreamSynchronize(cuda_stream()));
    CUDA_CHECK(cudaMemcpy(params, cm->master, bytes, cudaMemcpyDeviceToHost));
    if (m) CUDA_CHECK(cudaMemcpy(m, cm->m, bytes, cudaMemcpyDeviceToHost));
    if (v) CUDA_CHECK(cudaMemcpy(v, cm->v, bytes, cudaMemcpyDeviceToHost));
}

/* moments given as NULL stay as they are (zero on a fresh backend), as on the CPU */
template <typename T>
static void cuda_set_state(Backend *be, const float *params, const float *m, const float *v) {
    CudaModel<T> *cm = impl<T>(be);
    size_t bytes = cm->num_params * sizeof(float);
    cm->decoded = 0; /* kept keys and values belong to the old parameters */
    if (cm->dp && cuda_dp_sharded(cm->dp)) return cuda_dp_set_state(cm, params, m, v);
    if (m || v) training_alloc(cm);
    CUDA_CHECK(cudaStreamSynchronize(cuda_stream()));
    CUDA_CHECK(cudaMemcpy(cm->master, params, bytes, cudaMemcpyHostToDevice));
    if (m) CUDA_CHECK(cudaMemcpy(cm->m, m, bytes, cudaMemcpyHostToDevice));
    if (v) CUDA_CHECK(cudaMemcpy(cm->v, v, bytes, cudaMemcpyHostToDevice));
    refresh_copy(cm);
}

template <typename T> static void cuda_free(Backend *be) {
    CudaModel<T> *cm = impl<T>(be);
    CUDA_CHECK(cudaStreamSynchronize(cuda_stream()));
    if (cm->dp) cuda_dp_free(cm->dp);
    model_free(cm);
    free(cm);
    free(be);
}

template <typename T>
static Backend *create(const GPT2Config *cfg, const float *params, int B, int Tn) {
    CudaModel<T> *cm = (CudaModel<T> *)xcalloc(1, sizeof *cm); /* plain data: calloc is fine */
    cm->cfg = *cfg, cm->Bmax = B, cm->Tmax = Tn, cm->bf16 = sizeof(T) == sizeof(bf16);
    gpt2_param_sizes(cfg, cm->sizes);
    for (int i = 0; i < GPT2_NUM_PARAM_TENSORS; i++) {
        cm->offsets[i] = cm->num_params;
        cm->num_params += cm->sizes[i];
    }
    model_alloc(cm);
    Backend *be = (Backend *)xcalloc(1, sizeof *be);
    be->name = "cuda";
    be->config = *cfg, be->B = B, be->T = Tn;
    be->impl = static_cast<CudaBase *>(cm);
    be->train_step = cuda_train_step<T>;
    be->eval_losses = cuda_eval_losses<T>;
    be->logits = cuda_logits<T>;
    be->decode = cuda_decode<T>;
    be->update = cuda_update<T>;
    be->get_state = cuda_get_state<T>;
    be->set_state = cuda_set_state<T>;
    be->free = cuda_free<T>;
    cuda_set_state<T>(be, params, NULL, NULL);
    return be;
}

extern "C" CudaOpen backend_cuda_create(const GPT2Config *cfg, const float *params, int B, int T,
                                        int fp32, Backend **be, char *err, size_t errlen) {
    int devices = cuda_device_count();
    if (devices == 0) {
        snprintf(err, errlen, "no CUDA device");
        return CUDA_NO_DEVICE;
    }
    if (devices < 0) {
        snprintf(err, errlen, "CUDA is installed but unusable: %s", cuda_setup_error());
        return CUDA_UNUSABLE;
    }
    const char *bad = gpt2_config_check(cfg);
    if (!bad && cfg->channels != 64 * cfg->num_heads) bad = "the CUDA attention needs head size 64";
    if (!bad && (B < 1 || T < 1 || T > cfg->max_seq_len)) bad = "batch shape out of range";
    if (bad) {
        snprintf(err, errlen, "%s", bad);
        return CUDA_REFUSED;
    }
    *be = fp32 ? create<float>(cfg, params, B, T) : create<bf16>(cfg, params, B, T);
    return CUDA_OPENED;
}

int backend_cuda_devices(void) {
    return cuda_device_count();
}

extern "C" const CudaBackendEntry cuda_backend_entry = {GPT2_CUDA_ABI, backend_cuda_create,
                                                        backend_cuda_devices};

template <typename T>
static void distribute(Backend *be, const CudaCollectives *c, int zero, size_t *held,
                       size_t *unsharded) {
    CudaModel<T> *cm = impl<T>(be);
    if (cm->dp) die("cuda backend: distributed twice");
    cm->dp = cuda_dp_create(cm, c, zero);
    training_alloc(cm); /* the gradients the collectives work on */
    cuda_dp_bytes(cm, held, unsharded);
}

void backend_cuda_distribute(Backend *be, const CudaCollectives *c, int zero, size_t *held,
                             size_t *unsharded) {
    if (((CudaBase *)be->impl)->bf16)
        distribute<bf16>(be, c, zero, held, unsharded);
    else
        distribute<float>(be, c, zero, held, unsharded);
}

void backend_cuda_arm(Backend *be) {
    CudaBase *cm = (CudaBase *)be->impl;
    if (!cm->dp) die("cuda backend: armed for a reduction, but not distributed");
    cuda_dp_arm(cm->dp);
}

void backend_cuda_grads(Backend *be, float *grads) {
    CudaBase *cm = (CudaBase *)be->impl;
    if (!cm->grads) { /* never trained */
        memset(grads, 0, cm->num_params * sizeof(float));
        return;
    }
    CUDA_CHECK(cudaDeviceSynchronize()); /* the reductions' stream too */
    CUDA_CHECK(
        cudaMemcpy(grads, cm->grads, cm->num_params * sizeof(float), cudaMemcpyDeviceToHost));
}

size_t backend_cuda_allocated(void) {
    return cuda_allocated_bytes();
}

void backend_cuda_sync(void) {
    CUDA_CHECK(cudaStreamSynchronize(cuda_stream()));
}
