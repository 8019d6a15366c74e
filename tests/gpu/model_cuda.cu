/* The whole CUDA backend against the CPU model on a small GPT-2 (L=2, C=128, 2 heads,
 * T=40 so attention tiles are partial): logits, loss, every gradient tensor, 10 AdamW
 * steps, and a resume in the middle giving the same losses as an uninterrupted run.
 * fp32 mode with tight tolerances; bf16 mode with loose ones (8-bit mantissas). */
#include "model/backend_cuda.h"
#include "model/kernels/kernels_cuda.h"
#include "test_util.h"

#define B 2
#define TT 40
#define STEPS 10

static const GPT2Config cfg = gpt2_config_make(64, 500, 2, 2, 128);
static const AdamWConfig opt = test_adamw_config(1e-8f);

enum { LEVERS_OFF, LEVERS_DEFAULT, LEVERS_TRIALS /* the defaults and every trial lever */ };

typedef struct {
    const char *mode;
    int fp32, levers; /* the speed levers (cuda_common.h): LEVERS_* */
    float logit_tol, loss_tol, grad_tol, step_loss_tol, param_tol, resume_tol;
} Mode;

static int inputs[STEPS][B * TT], targets[STEPS][B * TT];

/* worst |a - b| relative to the largest |b| of the tensor: gradients span many scales */
static int compare_scaled(const char *name, const float *got, const float *want, size_t n,
                          float tol) {
    double maxw = 0, maxd = 0;
    for (size_t i = 0; i < n; i++) {
        maxw = fmax(maxw, fabs(want[i]));
        if (!isfinite(got[i])) maxd = INFINITY;
        maxd = fmax(maxd, fabs((double)got[i] - want[i]));
    }
    return ok(maxd <= tol * maxw + 1e-8, "%s (max err %.3g of max %.3g, tol %g)", name, maxd, maxw,
              tol);
}

static Backend *gpu(const float *params, int fp32) {
    char err[256];
    Backend *be;
    if (backend_cuda_create(&cfg, params, B, TT, fp32, &be, err, sizeof err))
        die("backend_cuda_create: %s", err);
    return be;
}

static void test_mode(const Mode *md, const float *params) {
    size_t np = gpt2_num_params(&cfg), nlog = (size_t)B * TT * cfg.padded_vocab_size;
    /* the CPU reference: one forward/backward, then 10 steps through its backend */
    GPT2 m;
    gpt2_create(&m, &cfg);
    memcpy(m.params_memory, params, np * sizeof(float));
    float cpu_loss = gpt2_forward(&m, inputs[0], targets[0], B, TT);
    float *cpu_logits = (float *)xmalloc(nlog * sizeof(float));
    memcpy(cpu_logits, m.logits, nlog * sizeof(float));
    gpt2_zero_grad(&m);
    gpt2_backward(&m, 1.0f);
    float *cpu_grads = (float *)xmalloc(np * sizeof(float));
    memcpy(cpu_grads, m.grads_memory, np * sizeof(float));
    Backend *cpu = backend_cpu_create(&m, B, TT);
    float cpu_losses[STEPS], cpu_norms[STEPS];
    for (int s = 0; s < STEPS; s++) {
        cpu_losses[s] = cpu->train_step(cpu, inputs[s], targets[s], B, TT, 1.0f);
        cpu_norms[s] = cpu->update(cpu, &opt, s + 1);
    }
    float *cpu_params = (float *)xmalloc(np * sizeof(float));
    cpu->get_state(cpu, cpu_params, NULL, NULL);
    cpu->free(cpu);

    Backend *be = gpu(params, md->fp32);
    float *logits = (float *)xmalloc(nlog * sizeof(float));
    be->logits(be, inputs[0], B, TT, 0, logits);
    compare_scaled(xasprintf("%s logits", md->mode), logits, cpu_logits, nlog, md->logit_tol);
    /* the last position of each row alone, as gpt2-sample asks */
    size_t Vp = cfg.padded_vocab_size;
    float *last = (float *)xmalloc(B * Vp * sizeof(float)),
          *want = (float *)xmalloc(B * Vp * sizeof(float));
    be->logits(be, inputs[0], B, TT, TT - 1, last);
    for (int b = 0; b < B; b++)
        memcpy(want + b * Vp, logits + ((size_t)b * TT + TT - 1) * Vp, Vp * sizeof(float));
    ok(!memcmp(last, want, B * Vp * sizeof(float)), "%s logits of the last positions alone",
       md->mode);
    free(last), free(want);
    /* sampling with the cache: a prompt, one token at a time, then back to an earlier
     * position; each call's logits are those of the full forward at its last position.
     * Batch row 1: the forward above left row 0's keys and values where decode keeps its
     * own, so a decode that failed to store them would still pass with row 0. */
    int decode_calls[][2] = {{0, 25}, {25, 1}, {26, 1}, {27, TT - 27}, {10, 5}, {15, 1}};
    float *dec = (float *)xmalloc(Vp * sizeof(float));
    for (auto &pn : decode_calls) {
        int pos = pn[0], n = pn[1];
        be->decode(be, inputs[0] + TT + pos, pos, n, dec);
        compare_scaled(xasprintf("%s decode of positions %d..%d", md->mode, pos, pos + n - 1), dec,
                       cpu_logits + (size_t)(TT + pos + n - 1) * Vp, Vp, md->logit_tol);
    }
    free(dec);
    float losses[B * TT];
    float mean = be->eval_losses(be, inputs[0], targets[0], B, TT, losses);
    near(mean, cpu_loss, md->loss_tol, 0, "%s eval loss", md->mode);
    /* gradients and moments come with the first training step, not before */
    size_t inference_bytes = backend_cuda_allocated();
    float loss = be->train_step(be, inputs[0], targets[0], B, TT, 1.0f);
    size_t training_bytes = backend_cuda_allocated() - inference_bytes;
    ok(training_bytes >= 3 * np * sizeof(float),
       "%s: the first train_step allocates gradients and moments (%zu bytes, 3 x %zu)", md->mode,
       training_bytes, np * sizeof(float));
    near(loss, cpu_loss, md->loss_tol, 0, "%s train_step loss", md->mode);
    float *grads = (float *)xmalloc(np * sizeof(float));
    backend_cuda_grads(be, grads);
    size_t sizes[GPT2_NUM_PARAM_TENSORS], off = 0;
    gpt2_param_sizes(&cfg, sizes);
    for (int i = 0; i < GPT2_NUM_PARAM_TENSORS; i++) {
        compare_scaled(xasprintf("%s grad %s", md->mode, gpt2_param_names[i]), grads + off,
                       cpu_grads + off, sizes[i], md->grad_tol);
        off += sizes[i];
    }
    /* the step above was step 1 of the run; 9 more */
    float losses_gpu[STEPS], norms[STEPS];
    losses_gpu[0] = loss;
    norms[0] = be->update(be, &opt, 1);
    for (int s = 1; s < STEPS; s++) {
        losses_gpu[s] = be->train_step(be, inputs[s], targets[s], B, TT, 1.0f);
        norms[s] = be->update(be, &opt, s + 1);
    }
    /* Step 1's norms are those of the gradients compared above (fp32 on the device in
     * both modes, summed in double), so by the triangle inequality they differ by at most
     * the norm of the gradients' difference: a bound as tight as the gradients are, in
     * bf16 as in fp32. The slack covers the rounding of the two sums. */
    double diff2 = 0, gpu2 = 0;
    for (size_t i = 0; i < np; i++) {
        double d = (double)grads[i] - cpu_grads[i];
        diff2 += d * d, gpu2 += (double)grads[i] * grads[i];
    }
    near(norms[0], sqrt(gpu2), 0, 1e-5, "%s step 1 grad norm is the norm of its gradients",
         md->mode);
    ok(fabs((double)norms[0] - cpu_norms[0]) <= sqrt(diff2) + 1e-5 * cpu_norms[0],
       "%s step 1 grad norm: off the CPU's by no more than its gradients are (%.3g <= %.3g)",
       md->mode, fabs((double)norms[0] - cpu_norms[0]), sqrt(diff2));
    /* later steps start from parameters that have drifted apart (param_tol), which no
     * bound follows from: these check only the rough size, and say so */
    for (int s = 0; s < STEPS; s++) {
        near(losses_gpu[s], cpu_losses[s], md->step_loss_tol, 0, "%s step %d loss", md->mode,
             s + 1);
        if (s)
            near(norms[s], cpu_norms[s], 0, md->grad_tol * 4,
                 "%s step %d grad norm within %g%% of the CPU's", md->mode, s + 1,
                 md->grad_tol * 400);
    }
    float *gpu_params = (float *)xmalloc(np * sizeof(float));
    be->get_state(be, gpu_params, NULL, NULL);
    compare_scaled(xasprintf("%s parameters after %d steps", md->mode, STEPS), gpu_params,
                   cpu_params, np, md->param_tol);
    be->free(be);

    /* resume: 5 steps, state out, a new backend with that state, 5 more */
    float *p = (float *)xmalloc(np * sizeof(float)), *mm = (float *)xmalloc(np * sizeof(float)),
          *vv = (float *)xmalloc(np * sizeof(float));
    be = gpu(params, md->fp32);
    for (int s = 0; s < STEPS / 2; s++) {
        be->train_step(be, inputs[s], targets[s], B, TT, 1.0f);
        be->update(be, &opt, s + 1);
    }
    be->get_state(be, p, mm, vv);
    be->free(be);
    be = gpu(p, md->fp32);
    be->set_state(be, p, mm, vv);
    int same = 1;
    for (int s = STEPS / 2; s < STEPS; s++) {
        float l = be->train_step(be, inputs[s], targets[s], B, TT, 1.0f);
        be->update(be, &opt, s + 1);
        /* only the order of float atomics differs between the runs (and, in bf16, a
         * parameter rounding it may flip) */
        if (fabsf(l - losses_gpu[s]) > md->resume_tol * fabsf(losses_gpu[s])) {
            same = 0;
            diag("step %d: resumed %.9g, uninterrupted %.9g", s + 1, l, losses_gpu[s]);
        }
    }
    ok(same, "%s resume after %d steps gives the uninterrupted losses", md->mode, STEPS / 2);
    be->free(be);
    free(p), free(mm), free(vv), free(gpu_params), free(grads), free(logits), free(cpu_params);
    free(cpu_grads), free(cpu_logits);
}

int main(void) {
    util_init("model_cuda");
    require_device();
    for (int s = 0; s < STEPS; s++)
        for (int i = 0; i < B * TT; i++) {
            inputs[s][i] = (int)((test_rand(0.5f) + 0.5f) * cfg.vocab_size) % cfg.vocab_size;
            targets[s][i] = (int)((test_rand(0.5f) + 0.5f) * cfg.vocab_size) % cfg.vocab_size;
        }
    float *params = (float *)xmalloc(gpt2_num_params(&cfg) * sizeof(float));
    gpt2_init_params(params, &cfg, 42);
    const Mode modes[] = {
        {"fp32", 1, LEVERS_DEFAULT, 1e-4f, 1e-5f, 1e-3f, 1e-4f, 1e-3f, 1e-5f},
        /* bf16: ~3 significant digits per activation, over two layers */
        {"bf16-levers-off", 0, LEVERS_OFF, 3e-2f, 2e-2f, 8e-2f, 3e-2f, 2e-2f, 1e-3f},
        {"bf16", 0, LEVERS_DEFAULT, 3e-2f, 2e-2f, 8e-2f, 3e-2f, 2e-2f, 1e-3f},
        {"bf16-trials-on", 0, LEVERS_TRIALS, 3e-2f, 2e-2f, 8e-2f, 3e-2f, 2e-2f, 1e-3f},
    };
    int trials = 0;
    for (int l = 0; l < LEVER_COUNT; l++) trials += cuda_lever_is_trial((CudaLever)l);
    for (size_t i = 0; i < sizeof modes / sizeof *modes; i++) {
        if (modes[i].levers == LEVERS_TRIALS && !trials) {
            diag("%s: no trial lever to switch on", modes[i].mode);
            continue;
        }
        if (modes[i].levers == LEVERS_OFF)
            for (int l = 0; l < LEVER_COUNT; l++) cuda_lever_set((CudaLever)l, 0);
        else
            cuda_levers_reset(modes[i].levers == LEVERS_TRIALS);
        test_mode(&modes[i], params);
    }
    free(params);
    return done_testing();
}
