/* backend_cpu: the Backend interface (backend.h) over the fp32 CPU model of model.c,
 * and generate.c's key/value cache for decode; for inference in bf16, generate.c alone */
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "model/backend_cpu.h"
#include "model/generate.h"

typedef struct {
    GPT2 model;    /* fp32; none in a bf16 backend */
    Generator gen; /* made by the first decode (fp32), at once (bf16) */
} CpuBackend;

static Generator *cpu_gen(Backend *be) {
    return &((CpuBackend *)be->impl)->gen;
}

static GPT2 *cpu_model(Backend *be) {
    return &((CpuBackend *)be->impl)->model;
}

static float cpu_train_step(Backend *be, const int *inputs, const int *targets, int B, int T,
                            float loss_scale) {
    GPT2 *m = cpu_model(be);
    float loss = gpt2_forward(m, inputs, targets, B, T);
    gpt2_backward(m, loss_scale);
    return loss;
}

static float cpu_eval_losses(Backend *be, const int *inputs, const int *targets, int B, int T,
                             float *losses) {
    GPT2 *m = cpu_model(be);
    float loss = gpt2_forward(m, inputs, targets, B, T);
    if (losses) memcpy(losses, m->losses, (size_t)B * T * sizeof(float));
    return loss;
}

static void cpu_logits(Backend *be, const int *inputs, int B, int T, int from, float *out) {
    GPT2 *m = cpu_model(be);
    gpt2_forward(m, inputs, NULL, B, T);
    size_t Vp = m->config.padded_vocab_size, row = (size_t)(T - from) * Vp;
    for (int b = 0; b < B; b++)
        memcpy(out + b * row, m->logits + ((size_t)b * T + from) * Vp, row * sizeof(float));
}

/* the keys and values kept for decode belong to the old parameters */
static void cpu_decode_drop(Backend *be) {
    Generator *g = cpu_gen(be);
    if (g->capacity) generate_rewind(g, 0);
}

/* Cache slots of a backend's generator: T for one sequence, more for a bigger batch, so
 * that shared_losses feeds several groups together (HellaSwag: -b 4 examples of ~130
 * tokens); at most CPU_GROUP_SLOTS, 75 MB of keys and values for d12. */
enum { CPU_GROUP_SLOTS = 1024 };
static int gen_slots(int B, int T) {
    long slots = (long)B * T < CPU_GROUP_SLOTS ? (long)B * T : CPU_GROUP_SLOTS;
    return slots > T ? (int)slots : T;
}

/* the generator, made on first use in an fp32 backend */
static Generator *cpu_gen_ready(Backend *be) {
    Generator *g = cpu_gen(be);
    if (!g->capacity) generate_init(g, cpu_model(be), gen_slots(be->B, be->T), GENERATE_FP32);
    return g;
}

static void cpu_decode(Backend *be, const int *tokens, int pos, int n, float *out) {
    Generator *g = cpu_gen_ready(be);
    generate_rewind(g, pos);
    memcpy(out, generate_feed(g, tokens, n), sizeof(float) * be->config.padded_vocab_size);
}

/* bf16: each row on its own through the cache, from position 0 */
static float gen_eval_losses(Backend *be, const int *inputs, const int *targets, int B, int T,
                             float *losses) {
    Generator *g = cpu_gen(be);
    float *row = xmalloc(sizeof(float) * T);
    double sum = 0;
    for (int b = 0; b < B; b++) {
        generate_rewind(g, 0);
        generate_feed_losses(g, inputs + (size_t)b * T, targets + (size_t)b * T, T, row);
        for (int t = 0; t < T; t++) sum += row[t];
        if (losses) memcpy(losses + (size_t)b * T, row, sizeof(float) * T);
    }
    free(row);
    return (float)(sum / ((double)B * T));
}

static void gen_logits(Backend *be, const int *inputs, int B, int T, int from, float *out) {
    Generator *g = cpu_gen(be);
    size_t row = (size_t)(T - from) * be->config.padded_vocab_size;
    for (int b = 0; b < B; b++) {
        generate_rewind(g, 0);
        generate_feed_logits(g, inputs + (size_t)b * T, T, from, out + b * row);
    }
}

static void cpu_shared_losses(Backend *be, int groups, const ScoreGroup *gr) {
    generate_score_groups(cpu_gen_ready(be), groups, gr);
}

static float cpu_update(Backend *be, const AdamWConfig *opt, int t) {
    GPT2 *m = cpu_model(be);
    float norm = gpt2_update(m, opt, t);
    gpt2_zero_grad(m);
    cpu_decode_drop(be);
    return norm;
}

static void cpu_get_state(Backend *be, float *params, float *mom, float *vel) {
    GPT2 *m = cpu_model(be);
    size_t bytes = m->num_params * sizeof(float);
    memcpy(params, m->params_memory, bytes);
    if (mom) m->m_memory ? memcpy(mom, m->m_memory, bytes) : memset(mom, 0, bytes);
    if (vel) m->v_memory ? memcpy(vel, m->v_memory, bytes) : memset(vel, 0, bytes);
}

static void cpu_set_state(Backend *be, const float *params, const float *mom, const float *vel) {
    GPT2 *m = cpu_model(be);
    size_t bytes = m->num_params * sizeof(float);
    memcpy(m->params_memory, params, bytes);
    cpu_decode_drop(be);
    if (!m->m_memory && (mom || vel)) {
        m->m_memory = xcalloc_big(m->num_params * sizeof(float));
        m->v_memory = xcalloc_big(m->num_params * sizeof(float));
    }
    if (mom) memcpy(m->m_memory, mom, bytes);
    if (vel) memcpy(m->v_memory, vel, bytes);
}

static float *cpu_grad_memory(Backend *be) {
    GPT2 *m = cpu_model(be);
    if (!m->grads_memory) gpt2_zero_grad(m);
    return m->grads_memory;
}

/* a caller that writes them is updating: the cache of decode is stale */
static float *cpu_param_memory(Backend *be) {
    cpu_decode_drop(be);
    return cpu_model(be)->params_memory;
}

static void cpu_free(Backend *be) {
    CpuBackend *c = be->impl;
    if (c->gen.capacity) generate_free(&c->gen);
    gpt2_free(&c->model);
    free(be->impl);
    free(be);
}

Backend *backend_cpu_create(GPT2 *model, int B, int T) {
    Backend *be = xcalloc(1, sizeof *be);
    CpuBackend *c = xcalloc(1, sizeof *c);
    GPT2 *m = &c->model;
    *m = *model; /* take over its allocations */
    memset(model, 0, sizeof *model);
    if (m->grads_memory) gpt2_zero_grad(m); /* a new backend has no gradients yet */
    *be = (Backend){.name = "cpu",
                    .config = m->config,
                    .B = B,
                    .T = T,
                    .impl = c,
                    .train_step = cpu_train_step,
                    .eval_losses = cpu_eval_losses,
                    .logits = cpu_logits,
                    .decode = cpu_decode,
                    .update = cpu_update,
                    .get_state = cpu_get_state,
                    .set_state = cpu_set_state,
                    .free = cpu_free,
                    .grad_memory = cpu_grad_memory,
                    .param_memory = cpu_param_memory,
                    .shared_losses = cpu_shared_losses};
    return be;
}

Backend *backend_cpu_bf16_create(Generator *gen, int B, int T) {
    GPT2 none = {.config = gen->config}; /* no fp32 parameters */
    Backend *be = backend_cpu_create(&none, B, T);
    CpuBackend *c = be->impl;
    c->gen = *gen; /* take over its allocations */
    memset(gen, 0, sizeof *gen);
    if (!c->gen.capacity) generate_reserve(&c->gen, gen_slots(B, T));
    be->eval_losses = gen_eval_losses;
    be->logits = gen_logits;
    be->train_step = NULL, be->update = NULL, be->get_state = NULL, be->set_state = NULL;
    be->grad_memory = NULL, be->param_memory = NULL;
    return be;
}

Backend *backend_cpu_infer_create(GPT2 *model, int B, int T, GenerateDtype dtype) {
    if (dtype == GENERATE_FP32) return backend_cpu_create(model, B, T);
    Generator gen;
    generate_init_bf16_freeing(&gen, model, gen_slots(B, T)); /* it holds its own copy */
    return backend_cpu_bf16_create(&gen, B, T);
}
