#include "model/generate.h"
#include "base/util.h"
#include "model/kernels/kernels.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

enum { GENERATE_CHUNK = 128 };

void generate_init(Generator *g, const GPT2 *model, int capacity) {
    const GPT2Config *c = &model->config;
    size_t C = c->channels, chunk = capacity < GENERATE_CHUNK ? capacity : GENERATE_CHUNK;
    size_t cache = (size_t)c->num_layers * capacity * C;
    memset(g, 0, sizeof *g);
    g->model = model, g->capacity = capacity, g->chunk = (int)chunk;
    g->kcache = xmalloc(sizeof(float) * cache);
    g->vcache = xmalloc(sizeof(float) * cache);
    g->x = xmalloc(sizeof(float) * chunk * C);
    g->ln = xmalloc(sizeof(float) * chunk * C);
    g->qkv = xmalloc(sizeof(float) * chunk * 3 * C);
    g->atty = xmalloc(sizeof(float) * chunk * C);
    g->proj = xmalloc(sizeof(float) * chunk * C);
    g->fch = xmalloc(sizeof(float) * chunk * 4 * C);
    g->fch_gelu = xmalloc(sizeof(float) * chunk * 4 * C);
    g->mean = xmalloc(sizeof(float) * chunk);
    g->rstd = xmalloc(sizeof(float) * chunk);
    g->att = xmalloc(sizeof(float) * chunk * c->num_heads * capacity);
    g->logits = xmalloc(sizeof(float) * c->padded_vocab_size);
}

void generate_free(Generator *g) {
    float *bufs[] = {g->kcache, g->vcache,   g->x,    g->ln,   g->qkv, g->atty,  g->proj,
                     g->fch,    g->fch_gelu, g->mean, g->rstd, g->att, g->logits};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) free(bufs[i]);
}

void generate_rewind(Generator *g, int pos) {
    if (pos < 0 || pos > g->pos) abort(); /* caller bug */
    g->pos = pos;
}

/* The one new piece: causal attention of n new rows (positions pos..pos+n-1, their
 * q in qkv [n,3C]) over the cached keys and values [0, pos+i]; same arithmetic as
 * attention_forward, so results match it to rounding. */
static void attention_cached(float *out, float *att, const float *qkv, const float *kc,
                             const float *vc, int pos, int n, int C, int NH, int capacity,
                             int threads) {
    int hs = C / NH;
    float scale = 1.0f / sqrtf((float)hs);
#pragma omp parallel for collapse(2)                                                               \
    num_threads(threads) if ((size_t)n * (pos + n) * C > KERNELS_PARALLEL_MIN)
    for (int i = 0; i < n; i++)
        for (int h = 0; h < NH; h++) {
            const float *q = qkv + (size_t)i * 3 * C + h * hs;
            float *a = att + ((size_t)i * NH + h) * capacity, max = -INFINITY;
            int t = pos + i;
            for (int t2 = 0; t2 <= t; t2++) {
                const float *k = kc + (size_t)t2 * C + h * hs;
                float s = 0;
                for (int d = 0; d < hs; d++) s += q[d] * k[d];
                a[t2] = s * scale;
                if (a[t2] > max) max = a[t2];
            }
            float sum = 0;
            for (int t2 = 0; t2 <= t; t2++) sum += a[t2] = expf(a[t2] - max);
            for (int t2 = 0; t2 <= t; t2++) a[t2] /= sum;
            float *o = out + (size_t)i * C + h * hs;
            memset(o, 0, sizeof(float) * hs);
            for (int t2 = 0; t2 <= t; t2++) {
                const float *v = vc + (size_t)t2 * C + h * hs;
                for (int d = 0; d < hs; d++) o[d] += a[t2] * v[d];
            }
        }
}

/* matmul_forward for a few rows: a GEMM packs the whole weight matrix before it
 * multiplies, which for one row costs more than the product itself, so rows up to 4 go
 * through the BLAS matrix-vector product (d12, one thread: 2.9 -> 8.4 tokens/s). */
static void linear(float *out, const float *inp, const float *weight, const float *bias, int n,
                   int C, int OC) {
    if (n > 4) {
        matmul_forward(out, inp, weight, bias, n, C, OC);
        return;
    }
    for (int r = 0; r < n; r++) {
        float *o = out + (size_t)r * OC;
        if (bias) memcpy(o, bias, sizeof(float) * OC);
        cblas_sgemv(CblasRowMajor, CblasNoTrans, OC, C, 1.0f, weight, C, inp + (size_t)r * C, 1,
                    bias ? 1.0f : 0.0f, o, 1);
    }
}

/* n <= chunk rows through every layer; the residual stream lives in g->x. */
static void feed_chunk(Generator *g, const int *tokens, int n, int threads) {
    const GPT2Config *cfg = &g->model->config;
    const GPT2Params *p = &g->model->params;
    int C = cfg->channels, NH = cfg->num_heads, pos = g->pos;
    size_t NC = (size_t)n * C;
    encoder_forward(g->x, tokens, p->wte, p->wpe + (size_t)pos * C, 1, n, C);
    for (int l = 0; l < cfg->num_layers; l++) {
        float *kc = g->kcache + (size_t)l * g->capacity * C;
        float *vc = g->vcache + (size_t)l * g->capacity * C;
        layernorm_forward(g->ln, g->mean, g->rstd, g->x, p->ln1w + l * C, p->ln1b + l * C, n, C);
        linear(g->qkv, g->ln, p->qkvw + (size_t)l * 3 * C * C, p->qkvb + l * 3 * C, n, C, 3 * C);
        for (int i = 0; i < n; i++) {
            const float *row = g->qkv + (size_t)i * 3 * C;
            memcpy(kc + (size_t)(pos + i) * C, row + C, sizeof(float) * C);
            memcpy(vc + (size_t)(pos + i) * C, row + 2 * C, sizeof(float) * C);
        }
        attention_cached(g->atty, g->att, g->qkv, kc, vc, pos, n, C, NH, g->capacity, threads);
        linear(g->proj, g->atty, p->attprojw + (size_t)l * C * C, p->attprojb + l * C, n, C, C);
        residual_forward(g->x, g->x, g->proj, NC);
        layernorm_forward(g->ln, g->mean, g->rstd, g->x, p->ln2w + l * C, p->ln2b + l * C, n, C);
        linear(g->fch, g->ln, p->fcw + (size_t)l * 4 * C * C, p->fcb + l * 4 * C, n, C, 4 * C);
        gelu_forward(g->fch_gelu, g->fch, 4 * NC);
        linear(g->proj, g->fch_gelu, p->fcprojw + (size_t)l * C * 4 * C, p->fcprojb + l * C, n,
               4 * C, C);
        residual_forward(g->x, g->x, g->proj, NC);
    }
    g->pos += n;
}

const float *generate_feed(Generator *g, const int *tokens, int n) {
    const GPT2Config *cfg = &g->model->config;
    if (n < 1 || g->pos + n > g->capacity) abort(); /* caller bug */
    /* A team of OpenMP threads costs microseconds to wake, and far more on a busy
     * machine: the element-wise kernels on a few rows are cheaper than that, so they run
     * on one thread (the BLAS keeps its own threads; long attention gets them all). */
    int threads = omp_get_max_threads();
    if (n < 16) omp_set_num_threads(1);
    for (int done = 0; done < n; done += g->chunk)
        feed_chunk(g, tokens + done, n - done < g->chunk ? n - done : g->chunk, threads);
    /* only the last position's logits are wanted: one row through the head */
    int C = cfg->channels, last = (n - 1) % g->chunk; /* row in the last chunk */
    float *x = g->x + (size_t)last * C;
    layernorm_forward(g->ln, g->mean, g->rstd, x, g->model->params.lnfw, g->model->params.lnfb, 1,
                      C);
    linear(g->logits, g->ln, g->model->params.wte, NULL, 1, C, cfg->padded_vocab_size);
    omp_set_num_threads(threads);
    return g->logits;
}
