/* model: GPT-2 in fp32 on the CPU. Parameters live in one allocation (layout in model.h);
 * activations in another, sized for the largest B*T seen. Gradients of activations are
 * kept for one layer at a time, since backward walks the layers one by one. */
#include "model/model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "model/kernels/kernels.h"

/* Forward activations, all kept for backward ([L,...] stacked per layer), plus the
 * gradient scratch of one layer and of the head. */
struct GPT2Acts {
    size_t BT, BTT;                   /* B*T and B*T*T the buffers hold */
    int *inputs, *targets;            /* [BT] of the last forward */
    float *encoded;                   /* [BT,C] */
    float *ln1, *ln1_mean, *ln1_rstd; /* [L,BT,C], [L,BT] */
    float *qkv;                       /* [L,BT,3C] */
    float *atty;                      /* [L,BT,C] */
    float *preatt, *att;              /* [L,B,NH,T,T] */
    float *attproj;                   /* [L,BT,C] */
    float *residual2;                 /* [L,BT,C] */
    float *ln2, *ln2_mean, *ln2_rstd;
    float *fch, *fch_gelu;     /* [L,BT,4C] */
    float *fcproj, *residual3; /* [L,BT,C] */
    float *lnf, *lnf_mean, *lnf_rstd;
    float *logits, *probs; /* [BT,Vp] */
    float *losses;         /* [BT] */
    /* backward scratch */
    float *dresidual, *dln, *datty; /* [BT,C] */
    float *dqkv;                    /* [BT,3C] */
    float *dfch, *dfch_gelu;        /* [BT,4C] */
    float *dpreatt, *datt;          /* [B,NH,T,T] for one layer */
    float *dlogits;                 /* [BT,Vp] */
    float *dlosses;                 /* [BT] */
    float *memory;
};

/* what a buffer sized for `have` grows to for `want`: at least twice, so that callers
 * whose shapes creep up (gpt2-sample's window without the cache, HellaSwag batches in
 * length order) reallocate, and fault fresh pages in, a few times rather than at every
 * call; untouched pages cost no memory */
static size_t grown(size_t have, size_t want) {
    return want <= have ? have : want > 2 * have ? want : 2 * have;
}

/* Activations for B rows of T positions. Only B*T and B*T*T matter for the sizes, so
 * they are kept for the largest of each. */
static void acts_alloc(GPT2 *m, int B, int T) {
    GPT2Acts *a = m->acts;
    size_t BT = (size_t)B * T, BTT = BT * T;
    if (a && a->BT >= BT && a->BTT >= BTT) return;
    if (a) {
        BT = grown(a->BT, BT);
        BTT = grown(a->BTT, BTT);
        free(a->memory);
        free(a->inputs);
    } else {
        a = m->acts = xcalloc(1, sizeof *a);
    }
    const GPT2Config *c = &m->config;
    size_t L = c->num_layers, C = c->channels, NH = c->num_heads, Vp = c->padded_vocab_size;
    size_t att = BTT * NH;
    struct {
        float **p;
        size_t n;
    } bufs[] = {
        {&a->encoded, BT * C},
        {&a->ln1, L * BT * C},
        {&a->ln1_mean, L * BT},
        {&a->ln1_rstd, L * BT},
        {&a->qkv, L * BT * 3 * C},
        {&a->atty, L * BT * C},
        {&a->preatt, L * att},
        {&a->att, L * att},
        {&a->attproj, L * BT * C},
        {&a->residual2, L * BT * C},
        {&a->ln2, L * BT * C},
        {&a->ln2_mean, L * BT},
        {&a->ln2_rstd, L * BT},
        {&a->fch, L * BT * 4 * C},
        {&a->fch_gelu, L * BT * 4 * C},
        {&a->fcproj, L * BT * C},
        {&a->residual3, L * BT * C},
        {&a->lnf, BT * C},
        {&a->lnf_mean, BT},
        {&a->lnf_rstd, BT},
        {&a->logits, BT * Vp},
        {&a->probs, BT * Vp},
        {&a->losses, BT},
        {&a->dresidual, BT * C},
        {&a->dln, BT * C},
        {&a->datty, BT * C},
        {&a->dqkv, BT * 3 * C},
        {&a->dfch, BT * 4 * C},
        {&a->dfch_gelu, BT * 4 * C},
        {&a->dpreatt, att},
        {&a->datt, att},
        {&a->dlogits, BT * Vp},
        {&a->dlosses, BT},
    };
    size_t total = 0;
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) total += bufs[i].n;
    a->memory = xmalloc_big(total * sizeof(float));
    float *p = a->memory;
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) {
        *bufs[i].p = p;
        p += bufs[i].n;
    }
    a->inputs = xmalloc(2 * BT * sizeof(int));
    a->targets = a->inputs + BT;
    a->BT = BT, a->BTT = BTT;
}

void gpt2_create(GPT2 *m, const GPT2Config *cfg) {
    memset(m, 0, sizeof *m);
    m->config = *cfg;
    m->num_params = gpt2_num_params(cfg);
    m->params_memory = xmalloc_big(m->num_params * sizeof(float));
    gpt2_params_point(&m->params, m->params_memory, cfg);
    m->mean_loss = -1;
}

void gpt2_free(GPT2 *m) {
    free(m->params_memory);
    free(m->grads_memory);
    free(m->m_memory);
    free(m->v_memory);
    if (m->acts) free(m->acts->memory), free(m->acts->inputs);
    free(m->acts);
    memset(m, 0, sizeof *m);
}

float gpt2_forward(GPT2 *m, const int *inputs, const int *targets, int B, int T) {
    const GPT2Config *c = &m->config;
    if (T > c->max_seq_len)
        die("sequence length %d above the model's maximum %d", T, c->max_seq_len);
    for (int i = 0; i < B * T; i++)
        if (inputs[i] < 0 || inputs[i] >= c->vocab_size ||
            (targets && (targets[i] < 0 || targets[i] >= c->vocab_size)))
            die("token id out of range 0..%d at position %d", c->vocab_size - 1, i);
    acts_alloc(m, B, T);
    m->B = B, m->T = T;
    GPT2Acts *a = m->acts;
    GPT2Params *p = &m->params;
    size_t L = c->num_layers, C = c->channels, NH = c->num_heads, Vp = c->padded_vocab_size;
    size_t N = (size_t)B * T, att = N * T * NH;

    memcpy(a->inputs, inputs, N * sizeof(int));
    encoder_forward(a->encoded, inputs, p->wte, p->wpe, B, T, C);
    for (size_t l = 0; l < L; l++) {
        const float *x = l == 0 ? a->encoded : a->residual3 + (l - 1) * N * C;
        float *ln1 = a->ln1 + l * N * C, *qkv = a->qkv + l * N * 3 * C, *atty = a->atty + l * N * C;
        float *attproj = a->attproj + l * N * C, *res2 = a->residual2 + l * N * C;
        float *ln2 = a->ln2 + l * N * C, *fch = a->fch + l * N * 4 * C;
        float *fch_gelu = a->fch_gelu + l * N * 4 * C, *fcproj = a->fcproj + l * N * C;
        layernorm_forward(ln1, a->ln1_mean + l * N, a->ln1_rstd + l * N, x, p->ln1w + l * C,
                          p->ln1b + l * C, N, C);
        matmul_forward(qkv, ln1, p->qkvw + l * 3 * C * C, p->qkvb + l * 3 * C, N, C, 3 * C);
        attention_forward(atty, a->preatt + l * att, a->att + l * att, qkv, B, T, C, NH);
        matmul_forward(attproj, atty, p->attprojw + l * C * C, p->attprojb + l * C, N, C, C);
        residual_forward(res2, x, attproj, N * C);
        layernorm_forward(ln2, a->ln2_mean + l * N, a->ln2_rstd + l * N, res2, p->ln2w + l * C,
                          p->ln2b + l * C, N, C);
        matmul_forward(fch, ln2, p->fcw + l * 4 * C * C, p->fcb + l * 4 * C, N, C, 4 * C);
        gelu_forward(fch_gelu, fch, N * 4 * C);
        matmul_forward(fcproj, fch_gelu, p->fcprojw + l * 4 * C * C, p->fcprojb + l * C, N, 4 * C,
                       C);
        residual_forward(a->residual3 + l * N * C, res2, fcproj, N * C);
    }
    layernorm_forward(a->lnf, a->lnf_mean, a->lnf_rstd, a->residual3 + (L - 1) * N * C, p->lnfw,
                      p->lnfb, N, C);
    matmul_forward(a->logits, a->lnf, p->wte, NULL, N, C, Vp);
    m->logits = a->logits;
    m->losses = NULL;
    m->mean_loss = -1;
    if (!targets) return -1;

    memcpy(a->targets, targets, N * sizeof(int));
    softmax_forward(a->probs, a->logits, N, c->vocab_size, Vp);
    crossentropy_forward(a->losses, a->probs, targets, N, Vp);
    double sum = 0;
    for (size_t i = 0; i < N; i++) sum += a->losses[i];
    m->losses = a->losses;
    m->mean_loss = (float)(sum / N);
    return m->mean_loss;
}

/* memset over the threads: large buffers clear faster in parallel */
static void zero_floats(float *p, size_t n) {
#pragma omp parallel for if (n > KERNELS_PARALLEL_MIN)
    for (size_t i = 0; i < n; i += 1 << 16)
        memset(p + i, 0, sizeof(float) * (n - i < 1 << 16 ? n - i : 1 << 16));
}

void gpt2_zero_grad(GPT2 *m) {
    if (!m->grads_memory) {
        m->grads_memory = xmalloc_big(m->num_params * sizeof(float));
        gpt2_params_point(&m->grads, m->grads_memory, &m->config);
    }
    zero_floats(m->grads_memory, m->num_params);
}

void gpt2_backward(GPT2 *m, float loss_scale) {
    if (m->mean_loss < 0) die("gpt2_backward: the last forward had no targets");
    if (!m->grads_memory) gpt2_zero_grad(m);
    const GPT2Config *c = &m->config;
    GPT2Acts *a = m->acts;
    GPT2Params *p = &m->params, *g = &m->grads;
    int B = m->B, T = m->T;
    size_t L = c->num_layers, C = c->channels, NH = c->num_heads, Vp = c->padded_vocab_size;
    size_t N = (size_t)B * T, att = N * T * NH;

    /* head: mean over positions, then LM head tied to wte, final LayerNorm */
    for (size_t i = 0; i < N; i++) a->dlosses[i] = loss_scale / N;
    zero_floats(a->dlogits, N * Vp);
    crossentropy_softmax_backward(a->dlogits, a->dlosses, a->probs, a->targets, N, c->vocab_size,
                                  Vp);
    zero_floats(a->dln, N * C);
    matmul_backward(a->dln, g->wte, NULL, a->dlogits, a->lnf, p->wte, N, C, Vp);
    zero_floats(a->dresidual, N * C);
    layernorm_backward(a->dresidual, g->lnfw, g->lnfb, a->dln, a->residual3 + (L - 1) * N * C,
                       p->lnfw, a->lnf_mean, a->lnf_rstd, N, C);

    /* dresidual holds the gradient of the current layer's output. A residual add passes it
     * on unchanged to both branches, so it serves directly as the projections' dout, and
     * the LayerNorm backwards add their input gradients into it. */
    for (size_t l = L; l-- > 0;) {
        const float *x = l == 0 ? a->encoded : a->residual3 + (l - 1) * N * C;
        float *ln1 = a->ln1 + l * N * C, *qkv = a->qkv + l * N * 3 * C, *atty = a->atty + l * N * C;
        float *res2 = a->residual2 + l * N * C, *ln2 = a->ln2 + l * N * C;
        float *fch = a->fch + l * N * 4 * C, *fch_gelu = a->fch_gelu + l * N * 4 * C;

        zero_floats(a->dfch_gelu, N * 4 * C);
        matmul_backward(a->dfch_gelu, g->fcprojw + l * 4 * C * C, g->fcprojb + l * C, a->dresidual,
                        fch_gelu, p->fcprojw + l * 4 * C * C, N, 4 * C, C);
        zero_floats(a->dfch, N * 4 * C);
        gelu_backward(a->dfch, fch, a->dfch_gelu, N * 4 * C);
        zero_floats(a->dln, N * C);
        matmul_backward(a->dln, g->fcw + l * 4 * C * C, g->fcb + l * 4 * C, a->dfch, ln2,
                        p->fcw + l * 4 * C * C, N, C, 4 * C);
        layernorm_backward(a->dresidual, g->ln2w + l * C, g->ln2b + l * C, a->dln, res2,
                           p->ln2w + l * C, a->ln2_mean + l * N, a->ln2_rstd + l * N, N, C);

        zero_floats(a->datty, N * C);
        matmul_backward(a->datty, g->attprojw + l * C * C, g->attprojb + l * C, a->dresidual, atty,
                        p->attprojw + l * C * C, N, C, C);
        zero_floats(a->dqkv, N * 3 * C);
        attention_backward(a->dqkv, a->dpreatt, a->datt, a->datty, qkv, a->att + l * att, B, T, C,
                           NH);
        zero_floats(a->dln, N * C);
        matmul_backward(a->dln, g->qkvw + l * 3 * C * C, g->qkvb + l * 3 * C, a->dqkv, ln1,
                        p->qkvw + l * 3 * C * C, N, C, 3 * C);
        layernorm_backward(a->dresidual, g->ln1w + l * C, g->ln1b + l * C, a->dln, x,
                           p->ln1w + l * C, a->ln1_mean + l * N, a->ln1_rstd + l * N, N, C);
    }
    encoder_backward(g->wte, g->wpe, a->dresidual, a->inputs, B, T, C);
}

float gpt2_grad_norm(const GPT2 *m) {
    return m->grads_memory ? (float)sqrt(sum_squares(m->grads_memory, m->num_params)) : 0.0f;
}

float gpt2_update(GPT2 *m, const AdamWConfig *opt, int t) {
    if (!m->grads_memory) gpt2_zero_grad(m);
    if (!m->m_memory) {
        m->m_memory = xcalloc_big(m->num_params * sizeof(float));
        m->v_memory = xcalloc_big(m->num_params * sizeof(float));
    }
    float norm = gpt2_grad_norm(m), scale = gpt2_clip_scale(norm, opt->grad_clip);
    if (gpt2_update_skipped(opt, norm)) return norm;
    size_t s[GPT2_NUM_PARAM_TENSORS], off = 0;
    gpt2_param_sizes(&m->config, s);
    for (int i = 0; i < GPT2_NUM_PARAM_TENSORS; i++) {
        adamw_update(m->params_memory + off, m->grads_memory + off, m->m_memory + off,
                     m->v_memory + off, s[i], opt->lr, opt->beta1, opt->beta2, opt->eps,
                     gpt2_param_is_matrix(i) ? opt->weight_decay : 0.0f, scale, t);
        off += s[i];
    }
    return norm;
}
