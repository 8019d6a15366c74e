/* model: configs, parameter layout, init, gradient accumulation, activation regrowth and
 * the CPU backend (numerics against PyTorch are in tests/cli/model-torch.sh). */
#include "model/model.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "model/backend_cpu.h"
#include "tap.h"

static const GPT2Config tiny = {.max_seq_len = 16,
                                .vocab_size = 50,
                                .padded_vocab_size = 64,
                                .num_layers = 2,
                                .num_heads = 2,
                                .channels = 16};

static void test_configs(void) {
    GPT2Config c;
    ok(gpt2_config_by_name("d12", 1024, &c) == 0, "d12 is known");
    is_int(gpt2_num_params(&c), 124475904, "d12 has 124,475,904 parameters (padded vocab)");
    ok(!gpt2_config_check(&c), "d12 passes the checks");
    ok(gpt2_config_by_name("d48", 1024, &c) == 0 && c.num_layers == 48 && c.num_heads == 25 &&
           c.channels == 1600,
       "d48 is 48 layers, 25 heads, 1600 channels");
    ok(gpt2_config_by_name("d7", 1024, &c) == -1, "unknown names are refused");
    GPT2Config bad = tiny;
    bad.num_heads = 3;
    ok(gpt2_config_check(&bad) != NULL, "channels not a multiple of heads is refused");
    bad = tiny, bad.padded_vocab_size = 40;
    ok(gpt2_config_check(&bad) != NULL, "padded vocab below vocab is refused");
    bad = tiny, bad.num_layers = 0;
    ok(gpt2_config_check(&bad) != NULL, "zero layers is refused");
    bad = tiny, bad.channels = 1 << 30, bad.num_heads = 1;
    ok(gpt2_config_check(&bad) != NULL, "absurd sizes are refused");
    int matrices = 0;
    for (int i = 0; i < GPT2_NUM_PARAM_TENSORS; i++) matrices += gpt2_param_is_matrix(i);
    ok(matrices == 6 && gpt2_param_is_matrix(0) && gpt2_param_is_matrix(12) &&
           !gpt2_param_is_matrix(2) && !gpt2_param_is_matrix(15),
       "six matrices get weight decay: wte wpe qkvw attprojw fcw fcprojw");
    ok(!strcmp(gpt2_param_names[0], "wte") && !strcmp(gpt2_param_names[15], "lnfb"),
       "tensor names in llm.c order");
    GPT2Params p;
    float *base = malloc(gpt2_num_params(&tiny) * sizeof *base);
    gpt2_params_point(&p, base, &tiny);
    ok(p.wpe - base == 64 * 16 && p.lnfb - base == (long)gpt2_num_params(&tiny) - 16,
       "tensors are packed in order");
    free(base);
}

static double stddev(const float *x, size_t n) {
    double s = 0, s2 = 0;
    for (size_t i = 0; i < n; i++) s += x[i], s2 += (double)x[i] * x[i];
    return sqrt(s2 / n - (s / n) * (s / n));
}

static void test_init(void) {
    GPT2Config c;
    gpt2_config_by_name("d12", 64, &c);
    c.num_layers = 2, c.vocab_size = 1000, c.padded_vocab_size = 1024;
    size_t n = gpt2_num_params(&c);
    float *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
    omp_set_num_threads(1);
    gpt2_init_params(a, &c, 7);
    omp_set_num_threads(2);
    gpt2_init_params(b, &c, 7);
    ok(!memcmp(a, b, n * sizeof *a), "init is deterministic (1 and 2 threads agree)");
    gpt2_init_params(b, &c, 8);
    ok(memcmp(a, b, n * sizeof *a), "another seed gives other weights");
    GPT2Params p;
    gpt2_params_point(&p, a, &c);
    near(stddev(p.wte, (size_t)c.vocab_size * c.channels), 0.02, 2e-4, 0, "wte std 0.02");
    near(stddev(p.qkvw, 2 * 3 * 768 * 768), 0.02, 2e-4, 0, "qkvw std 0.02");
    near(stddev(p.fcprojw, 2 * 4 * 768 * 768), 0.02 / sqrt(4), 2e-4, 0,
         "fcprojw std 0.02/sqrt(2L)");
    int padzero = 1, lnone = 1, bias0 = 1;
    for (size_t i = (size_t)c.vocab_size * 768; i < (size_t)c.padded_vocab_size * 768; i++)
        padzero &= p.wte[i] == 0;
    for (int i = 0; i < 2 * 768; i++) lnone &= p.ln1w[i] == 1 && p.ln2w[i] == 1;
    for (int i = 0; i < 2 * 3 * 768; i++) bias0 &= p.qkvb[i] == 0;
    ok(padzero, "padded wte rows are zero");
    ok(lnone && p.lnfw[5] == 1, "LayerNorm weights are 1");
    ok(bias0 && p.lnfb[3] == 0, "biases are zero");
    free(a), free(b);
}

static void tokens(int *x, int n, int V, unsigned seed) {
    for (int i = 0; i < n; i++) x[i] = (int)((seed = seed * 1103515245u + 12345u) >> 16) % V;
}

static double max_diff(const float *a, const float *b, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs(a[i] - b[i]));
    return m;
}

static double sum_sq(const float *g, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)g[i] * g[i];
    return s;
}

static void test_model(void) {
    GPT2 m;
    gpt2_create(&m, &tiny);
    gpt2_init_params(m.params_memory, &tiny, 1);
    int B = 2, T = 8, in[32], tg[32];
    tokens(in, B * T, tiny.vocab_size, 1), tokens(tg, B * T, tiny.vocab_size, 2);
    ok(gpt2_forward(&m, in, NULL, B, T) == -1 && m.losses == NULL,
       "forward without targets returns -1");
    size_t nl = (size_t)B * T * tiny.padded_vocab_size;
    float *logits = malloc(nl * sizeof *logits);
    memcpy(logits, m.logits, nl * sizeof *logits);
    float loss = gpt2_forward(&m, in, tg, B, T);
    ok(!memcmp(logits, m.logits, nl * sizeof *logits), "logits do not depend on targets");
    near(loss, log(50.0), 0.05, 0, "fresh model's loss is about ln(V) (%.4f)", loss);
    double sum = 0;
    for (int i = 0; i < B * T; i++) sum += m.losses[i];
    near(sum / (B * T), loss, 1e-6, 1e-6, "mean of per-position losses is the loss");

    gpt2_zero_grad(&m);
    gpt2_backward(&m, 1.0f);
    float *g1 = malloc(m.num_params * sizeof *g1);
    memcpy(g1, m.grads_memory, m.num_params * sizeof *g1);
    gpt2_zero_grad(&m);
    gpt2_forward(&m, in, tg, B, T);
    gpt2_backward(&m, 0.5f);
    gpt2_forward(&m, in, tg, B, T);
    gpt2_backward(&m, 0.5f);
    ok(max_diff(g1, m.grads_memory, m.num_params) < 1e-6,
       "two backwards at loss_scale 0.5 accumulate to one at 1");
    near(gpt2_grad_norm(&m), sqrt(sum_sq(g1, m.num_params)), 1e-5, 1e-5, "grad norm");

    /* a shape larger than any before regrows the activations; results as a fresh model */
    int B2 = 3, T2 = 16, in2[48], tg2[48];
    tokens(in2, B2 * T2, tiny.vocab_size, 3), tokens(tg2, B2 * T2, tiny.vocab_size, 4);
    float l2 = gpt2_forward(&m, in2, tg2, B2, T2);
    GPT2 fresh;
    gpt2_create(&fresh, &tiny);
    memcpy(fresh.params_memory, m.params_memory, m.num_params * sizeof(float));
    ok(gpt2_forward(&fresh, in2, tg2, B2, T2) == l2,
       "regrown activations give a fresh model's loss");
    gpt2_free(&fresh);
    ok(gpt2_forward(&m, in, tg, B, T) == loss, "a smaller shape after a larger one");

    AdamWConfig opt = {.lr = 1e-2f,
                       .beta1 = 0.9f,
                       .beta2 = 0.95f,
                       .eps = 1e-8f,
                       .weight_decay = 0.1f,
                       .grad_clip = 1.0f};
    float first = 0, last = 0;
    for (int t = 1; t <= 10; t++) {
        gpt2_zero_grad(&m);
        last = gpt2_forward(&m, in, tg, B, T);
        if (t == 1) first = last;
        gpt2_backward(&m, 1.0f);
        gpt2_update(&m, &opt, t);
    }
    ok(last < first - 0.5, "10 AdamW steps on one batch lower the loss (%.3f -> %.3f)", first,
       last);
    free(logits), free(g1);
    gpt2_free(&m);
}

static void test_backend(void) {
    GPT2 a, b;
    gpt2_create(&a, &tiny);
    gpt2_init_params(a.params_memory, &tiny, 5);
    gpt2_create(&b, &tiny);
    memcpy(b.params_memory, a.params_memory, a.num_params * sizeof(float));
    int in[16], tg[16];
    tokens(in, 16, tiny.vocab_size, 9), tokens(tg, 16, tiny.vocab_size, 10);
    /* gradients the model holds already: a new backend starts from zero all the same */
    gpt2_forward(&b, in, tg, 2, 8);
    gpt2_backward(&b, 1.0f);
    Backend *be = backend_cpu_create(&b, 2, 8);
    ok(!strcmp(be->name, "cpu") && be->B == 2 && be->T == 8 && be->config.channels == 16,
       "backend_cpu_create: name, shape, config");
    AdamWConfig opt = {.lr = 1e-3f,
                       .beta1 = 0.9f,
                       .beta2 = 0.95f,
                       .eps = 1e-8f,
                       .weight_decay = 0.1f,
                       .grad_clip = 1.0f};
    gpt2_zero_grad(&a);
    float want = 0, norm_want = 0;
    for (int k = 0; k < 2; k++) { /* accumulation over two micro-steps */
        want = gpt2_forward(&a, in, tg, 2, 8);
        gpt2_backward(&a, 0.5f);
    }
    norm_want = gpt2_update(&a, &opt, 1);
    float got = 0;
    for (int k = 0; k < 2; k++) got = be->train_step(be, in, tg, 2, 8, 0.5f);
    float norm = be->update(be, &opt, 1);
    ok(got == want && norm == norm_want, "train_step + update equal the model's own calls");
    size_t n = a.num_params;
    float *p = malloc(n * sizeof *p), *mm = malloc(n * sizeof *mm), *vv = malloc(n * sizeof *vv);
    be->get_state(be, p, mm, vv);
    ok(!memcmp(p, a.params_memory, n * sizeof *p) && !memcmp(mm, a.m_memory, n * sizeof *p) &&
           !memcmp(vv, a.v_memory, n * sizeof *p),
       "get_state returns parameters and moments");
    float losses[16];
    float mean = be->eval_losses(be, in, tg, 2, 8, losses);
    gpt2_forward(&a, in, tg, 2, 8);
    ok(mean == a.mean_loss && !memcmp(losses, a.losses, sizeof losses),
       "eval_losses: mean and per-position losses");
    ok(be->eval_losses(be, in, tg, 2, 8, NULL) == mean, "eval_losses without a losses array");
    size_t nl = 16 * (size_t)tiny.padded_vocab_size;
    float *logits = malloc(nl * sizeof *logits);
    be->logits(be, in, 2, 8, 0, logits);
    ok(!memcmp(logits, a.logits, nl * sizeof *logits), "logits");
    be->logits(be, in, 2, 8, 5, logits);
    size_t Vp = tiny.padded_vocab_size;
    ok(!memcmp(logits, a.logits + 5 * Vp, 3 * Vp * sizeof *logits) &&
           !memcmp(logits + 3 * Vp, a.logits + 13 * Vp, 3 * Vp * sizeof *logits),
       "logits of positions 5..7 of each row");
    /* set_state: a second backend continues exactly like the first */
    GPT2 c;
    gpt2_create(&c, &tiny);
    Backend *be2 = backend_cpu_create(&c, 2, 8);
    be2->set_state(be2, p, mm, vv);
    be2->eval_losses(be2, in, tg, 2, 8, NULL);
    ok(!((GPT2 *)be2->impl)->grads_memory, "no gradient memory before the first train_step");
    be->train_step(be, in, tg, 2, 8, 1.0f), be->update(be, &opt, 2);
    be2->train_step(be2, in, tg, 2, 8, 1.0f), be2->update(be2, &opt, 2);
    float *p2 = malloc(n * sizeof *p2);
    be->get_state(be, p, NULL, NULL);
    be2->get_state(be2, p2, NULL, NULL);
    ok(!memcmp(p, p2, n * sizeof *p), "set_state resumes bit-for-bit");
    be->free(be), be2->free(be2);
    gpt2_free(&a);
    free(p), free(mm), free(vv), free(p2), free(logits);
}

int main(void) {
    test_configs();
    test_init();
    test_model();
    test_backend();
    return done_testing();
}
