/* model: GPT-2 in fp32 on the CPU. Parameters live in one allocation (layout in model.h);
 * activations in another, sized for the largest B*T seen. Gradients of activations are
 * kept for one layer at a time, since backward walks the layers one by one. */
#include "model/model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "base/util.h"
#include "model/kernels/kernels.h"

const char *const gpt2_param_names[GPT2_NUM_PARAM_TENSORS] = {
    "wte",  "wpe",  "ln1w", "ln1b", "qkvw",    "qkvb",    "attprojw", "attprojb",
    "ln2w", "ln2b", "fcw",  "fcb",  "fcprojw", "fcprojb", "lnfw",     "lnfb"};

int gpt2_config_by_name(const char *name, int max_seq_len, GPT2Config *cfg) {
    static const struct {
        const char *name;
        int layers, heads, channels;
    } known[] = {
        {"d12", 12, 12, 768}, {"d24", 24, 16, 1024}, {"d36", 36, 20, 1280}, {"d48", 48, 25, 1600}};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (!strcmp(name, known[i].name)) {
            *cfg = (GPT2Config){.max_seq_len = max_seq_len,
                                .vocab_size = 50257,
                                .padded_vocab_size = 50304,
                                .num_layers = known[i].layers,
                                .num_heads = known[i].heads,
                                .channels = known[i].channels};
            return 0;
        }
    return -1;
}

/* The bounds keep every size product within 64 bits, so a hostile file header cannot
 * overflow the size arithmetic before its size is compared with the file's. */
const char *gpt2_config_check(const GPT2Config *c) {
    if (c->max_seq_len < 1 || c->max_seq_len > 1 << 20) return "max_seq_len not in 1..1048576";
    if (c->vocab_size < 1 || c->vocab_size > 1 << 24) return "vocab_size not in 1..16777216";
    if (c->padded_vocab_size < c->vocab_size || c->padded_vocab_size > 1 << 24)
        return "padded_vocab_size smaller than vocab_size or above 16777216";
    if (c->num_layers < 1 || c->num_layers > 4096) return "num_layers not in 1..4096";
    if (c->channels < 1 || c->channels > 1 << 16) return "channels not in 1..65536";
    if (c->num_heads < 1 || c->channels % c->num_heads) return "channels not a multiple of heads";
    return NULL;
}

void gpt2_param_sizes(const GPT2Config *cfg, size_t s[GPT2_NUM_PARAM_TENSORS]) {
    size_t L = cfg->num_layers, C = cfg->channels;
    s[0] = (size_t)cfg->padded_vocab_size * C; /* wte */
    s[1] = (size_t)cfg->max_seq_len * C;       /* wpe */
    s[2] = s[3] = L * C;                       /* ln1w, ln1b */
    s[4] = L * 3 * C * C, s[5] = L * 3 * C;    /* qkvw, qkvb */
    s[6] = L * C * C, s[7] = L * C;            /* attprojw, attprojb */
    s[8] = s[9] = L * C;                       /* ln2w, ln2b */
    s[10] = L * 4 * C * C, s[11] = L * 4 * C;  /* fcw, fcb */
    s[12] = L * C * 4 * C, s[13] = L * C;      /* fcprojw, fcprojb */
    s[14] = s[15] = C;                         /* lnfw, lnfb */
}

size_t gpt2_num_params(const GPT2Config *cfg) {
    size_t s[GPT2_NUM_PARAM_TENSORS], n = 0;
    gpt2_param_sizes(cfg, s);
    for (int i = 0; i < GPT2_NUM_PARAM_TENSORS; i++) n += s[i];
    return n;
}

void gpt2_params_point(GPT2Params *p, float *memory, const GPT2Config *cfg) {
    float **ptrs[GPT2_NUM_PARAM_TENSORS] = {&p->wte,     &p->wpe,     &p->ln1w,     &p->ln1b,
                                            &p->qkvw,    &p->qkvb,    &p->attprojw, &p->attprojb,
                                            &p->ln2w,    &p->ln2b,    &p->fcw,      &p->fcb,
                                            &p->fcprojw, &p->fcprojb, &p->lnfw,     &p->lnfb};
    size_t s[GPT2_NUM_PARAM_TENSORS];
    gpt2_param_sizes(cfg, s);
    for (int i = 0; i < GPT2_NUM_PARAM_TENSORS; i++) {
        *ptrs[i] = memory;
        memory += s[i];
    }
}

int gpt2_param_is_matrix(int i) {
    return i == 0 || i == 1 || i == 4 || i == 6 || i == 10 || i == 12;
}

/* Init RNG: splitmix64 (base/rng.h) gives uniform 64-bit words; Box-Muller turns two into a normal.
 * The parameter array is cut into blocks of 2^16 floats and block k draws from its own
 * stream seeded with seed + k * 2^32, so the result does not depend on the thread count. */
#define INIT_BLOCK ((size_t)1 << 16)

/* uniform in (0, 1]: 53 random bits, never 0 so that log() is finite */
static double uniform_nonzero(uint64_t *state) {
    return (double)((rng_next(state) >> 11) + 1) * 0x1.0p-53;
}

static void init_normal(float *out, size_t n, float std, uint64_t seed, size_t first) {
#pragma omp parallel for
    for (size_t blk = first / INIT_BLOCK; blk <= (first + n - 1) / INIT_BLOCK; blk++) {
        uint64_t st = seed + (uint64_t)blk * 0x100000000ull;
        size_t lo = blk * INIT_BLOCK, hi = lo + INIT_BLOCK;
        for (size_t i = lo; i < hi; i += 2) {
            double r = sqrt(-2.0 * log(uniform_nonzero(&st))),
                   a = 2.0 * M_PI * uniform_nonzero(&st);
            if (i >= first && i < first + n) out[i - first] = (float)(std * r * cos(a));
            if (i + 1 >= first && i + 1 < first + n) out[i + 1 - first] = (float)(std * r * sin(a));
        }
    }
}

void gpt2_init_params(float *params, const GPT2Config *cfg, uint64_t seed) {
    size_t s[GPT2_NUM_PARAM_TENSORS], off = 0;
    gpt2_param_sizes(cfg, s);
    float resid_std = 0.02f / sqrtf(2.0f * cfg->num_layers);
    for (int i = 0; i < GPT2_NUM_PARAM_TENSORS; i++) {
        float *p = params + off;
        if (gpt2_param_is_matrix(i))
            init_normal(p, s[i], (i == 6 || i == 12) ? resid_std : 0.02f, seed, off);
        else if (i == 2 || i == 8 || i == 14) /* LayerNorm weights */
            for (size_t j = 0; j < s[i]; j++) p[j] = 1.0f;
        else
            memset(p, 0, s[i] * sizeof(float));
        off += s[i];
    }
    /* padding rows of wte are never used and stay zero */
    size_t C = cfg->channels;
    memset(params + (size_t)cfg->vocab_size * C, 0,
           (size_t)(cfg->padded_vocab_size - cfg->vocab_size) * C * sizeof(float));
}

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
    a->memory = xmalloc(total * sizeof(float));
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
    m->params_memory = xmalloc(m->num_params * sizeof(float));
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
        m->grads_memory = xmalloc(m->num_params * sizeof(float));
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

/* Clipping as torch.nn.utils.clip_grad_norm_: scale by clip / (norm + 1e-6) when below 1. */
float gpt2_clip_scale(float norm, float clip) {
    float coef = clip > 0 ? clip / (norm + 1e-6f) : 1.0f;
    return coef < 1.0f ? coef : 1.0f;
}

int gpt2_update_skipped(const AdamWConfig *opt, float norm) {
    return opt->skip || !isfinite(norm) || (opt->max_norm > 0 && norm > opt->max_norm);
}

float gpt2_update(GPT2 *m, const AdamWConfig *opt, int t) {
    if (!m->grads_memory) gpt2_zero_grad(m);
    if (!m->m_memory) {
        m->m_memory = xcalloc(m->num_params, sizeof(float));
        m->v_memory = xcalloc(m->num_params, sizeof(float));
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
