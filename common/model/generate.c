#include "model/generate.h"
#include "base/util.h"
#include "model/kernels/bf16.h"
#include "model/kernels/kernels.h"
#include "model/modelfile.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* rows per pass through the layers, and per pass through the vocabulary projection (its
 * output, [rows, Vp] floats, is the largest buffer after the cache: 26 MB for GPT-2; 32
 * rows took HellaSwag on d12 from 20.2 s to 22.1, reading wte four times as often) */
enum { GENERATE_CHUNK = 128, GENERATE_HEAD_ROWS = 128 };

int generate_dtype_parse(const char *s, GenerateDtype *dtype) {
    if (!strcmp(s, "fp32")) return *dtype = GENERATE_FP32, 0;
    if (!strcmp(s, "bf16")) return *dtype = GENERATE_BF16, 0;
    return -1;
}

/* Gives the whole pages inside [p, p + bytes) back to the system: their contents are
 * never read again (the block they are in is freed after). */
static void pages_release(const void *p, size_t bytes) {
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE), a = (uintptr_t)p;
    uintptr_t lo = (a + page - 1) / page * page, hi = (a + bytes) / page * page;
    if (hi > lo) madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

/* the matrices that go to bf16, by tensor (model.h's order): wte qkvw attprojw fcw fcprojw */
static GenerateMatrix *bf16_matrix(Generator *g, int tensor) {
    GenerateMatrix *mats[GPT2_NUM_PARAM_TENSORS] = {
        [0] = &g->wte, [4] = &g->qkvw, [6] = &g->attprojw, [10] = &g->fcw, [12] = &g->fcprojw};
    return mats[tensor];
}

/* bf16: room for the five matrices (converted) and the other tensors (vectors and wpe, ~3%
 * of the model, copied in fp32), so that nothing of a fp32 model is needed afterwards. */
static void weights_bf16_alloc(Generator *g, const GPT2Config *c) {
    size_t sizes[GPT2_NUM_PARAM_TENSORS], n16 = 0, n32 = 0;
    gpt2_param_sizes(c, sizes);
    for (int i = 0; i < GPT2_NUM_PARAM_TENSORS; i++) *(bf16_matrix(g, i) ? &n16 : &n32) += sizes[i];
    g->config = *c, g->dtype = GENERATE_BF16;
    g->own_bf16 = xmalloc_big(sizeof(uint16_t) * n16);
    g->own_f32 = xmalloc(sizeof(float) * n32);
    uint16_t *h = g->own_bf16;
    float *f = g->own_f32, **dst = &g->p.wte;
    for (int i = 0; i < GPT2_NUM_PARAM_TENSORS; i++)
        if (bf16_matrix(g, i))
            bf16_matrix(g, i)->bf16 = h, h += sizes[i];
        else
            dst[i] = f, f += sizes[i];
}

/* values [at, at + n) of the parameter vector into their places (weights_bf16_alloc) */
static void weights_bf16_store(Generator *g, size_t at, const float *v, size_t n) {
    size_t sizes[GPT2_NUM_PARAM_TENSORS], start = 0;
    gpt2_param_sizes(&g->config, sizes);
    float **dst = &g->p.wte;
    for (int i = 0; i < GPT2_NUM_PARAM_TENSORS && n; start += sizes[i++]) {
        if (at >= start + sizes[i]) continue;
        size_t off = at - start, k = sizes[i] - off < n ? sizes[i] - off : n;
        GenerateMatrix *mat = bf16_matrix(g, i);
        if (mat)
            bf16_from_floats((uint16_t *)mat->bf16 + off, v, k);
        else
            memcpy(dst[i] + off, v, sizeof(float) * k);
        at += k, v += k, n -= k;
    }
}

/* bf16 from a model in memory. release: each fp32 tensor's pages go back once converted,
 * so that the peak memory is the fp32 model plus one bf16 tensor rather than both models. */
static void weights_bf16(Generator *g, const GPT2 *model, int release) {
    size_t sizes[GPT2_NUM_PARAM_TENSORS], at = 0;
    gpt2_param_sizes(&model->config, sizes);
    weights_bf16_alloc(g, &model->config);
    for (int i = 0; i < GPT2_NUM_PARAM_TENSORS; at += sizes[i++]) {
        weights_bf16_store(g, at, model->params_memory + at, sizes[i]);
        if (release) pages_release(model->params_memory + at, sizeof(float) * sizes[i]);
    }
}

void generate_reserve(Generator *g, int capacity) {
    const GPT2Config *c = &g->config;
    size_t C = c->channels, chunk = capacity < GENERATE_CHUNK ? capacity : GENERATE_CHUNK;
    size_t cache = (size_t)c->num_layers * capacity * C;
    g->capacity = capacity, g->chunk = (int)chunk;
    g->kcache = xmalloc_big(sizeof(float) * cache);
    g->vcache = xmalloc_big(sizeof(float) * cache);
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
    g->logits = xmalloc(sizeof(float) * GENERATE_HEAD_ROWS * c->padded_vocab_size);
}

static void init(Generator *g, const GPT2 *model, int capacity, GenerateDtype dtype, int release) {
    memset(g, 0, sizeof *g);
    if (dtype == GENERATE_BF16) {
        weights_bf16(g, model, release);
    } else {
        const GPT2Params *p = &model->params;
        g->config = model->config, g->dtype = dtype, g->p = *p;
        g->wte.f32 = p->wte, g->qkvw.f32 = p->qkvw, g->attprojw.f32 = p->attprojw;
        g->fcw.f32 = p->fcw, g->fcprojw.f32 = p->fcprojw;
    }
    generate_reserve(g, capacity);
}

void generate_init(Generator *g, const GPT2 *model, int capacity, GenerateDtype dtype) {
    init(g, model, capacity, dtype, 0);
}

void generate_init_bf16_freeing(Generator *g, GPT2 *model, int capacity) {
    init(g, model, capacity, GENERATE_BF16, 1);
    gpt2_free(model);
}

/* the sink of generate_load_bf16: each range of values through a scratch buffer of its size */
typedef struct {
    ModelSink sink;
    Generator *g;
    float *scratch;
    size_t scratch_n;
} ToBf16;

static void to_bf16_begin(ModelSink *s, const GPT2Config *cfg) {
    weights_bf16_alloc(((ToBf16 *)s)->g, cfg);
}

static float *to_bf16_buffer(ModelSink *s, size_t at, size_t n) {
    ToBf16 *t = (ToBf16 *)s;
    (void)at;
    if (n > t->scratch_n) {
        free(t->scratch);
        t->scratch = xmalloc(sizeof(float) * n), t->scratch_n = n;
    }
    return t->scratch;
}

static void to_bf16_put(ModelSink *s, size_t at, size_t n) {
    ToBf16 *t = (ToBf16 *)s;
    weights_bf16_store(t->g, at, t->scratch, n);
}

static void to_bf16_cancel(ModelSink *s) {
    generate_free(((ToBf16 *)s)->g);
}

int generate_load_bf16(Generator *g, const char *path, char *err, size_t errlen) {
    memset(g, 0, sizeof *g);
    ToBf16 t = {{to_bf16_begin, to_bf16_buffer, to_bf16_put, to_bf16_cancel}, g, NULL, 0};
    int rc = modelfile_read(path, &t.sink, err, errlen);
    free(t.scratch);
    return rc;
}

void generate_free(Generator *g) {
    float *bufs[] = {g->kcache, g->vcache,   g->x,    g->ln,   g->qkv, g->atty,   g->proj,
                     g->fch,    g->fch_gelu, g->mean, g->rstd, g->att, g->logits, g->own_f32};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) free(bufs[i]);
    free(g->own_bf16);
    memset(g, 0, sizeof *g);
}

void generate_rewind(Generator *g, int pos) {
    if (pos < 0 || pos > g->pos) abort(); /* caller bug */
    g->pos = pos;
}

/* Which cache slots row i of a feed attends to: its prefix [from, to) and its own slots
 * from first to the row's. A plain feed is causal: [0, base) and from base, the slot of
 * its first row. Rows fed with their own prefixes and first slots score several
 * sequences in one feed, each seeing only its own keys. */
typedef struct {
    int base;
    const int *from, *to, *first; /* per row of the feed; NULL: a plain feed */
} Keys;

/* row i's keys; an empty prefix is put at first, so that from is the lowest slot seen */
static inline void row_keys(const Keys *k, int i, int *from, int *to, int *first) {
    if (!k->first) {
        *from = 0, *to = *first = k->base;
        return;
    }
    *first = k->first[i], *from = k->from[i], *to = k->to[i];
    if (*from == *to) *from = *to = *first;
}

/* New rows of one head as two matrix products: scores [n, W] = q k^T over the W slots
 * from the lowest any row sees to the last row's, the softmax over each row's keys, then
 * out = scores v; one row (decode) as two matrix-vector products. The products compute
 * masked slots too (at most n*n/2 in a plain feed), yet BLAS beats a loop of per-key dot
 * products at every n: on long prompts ~10x, and in decode, where attention read the
 * cache one key at a time, d12 on one thread went from 64 to 71 tokens/s. */
static void attend_rows(float *out, float *s, const float *q, const float *kc, const float *vc,
                        int pos, int n, const Keys *keys, int C, int hs) {
    int lo = pos, from, to, first;
    for (int i = 0; i < n; i++) {
        row_keys(keys, pos - keys->base + i, &from, &to, &first);
        lo = from < lo ? from : lo;
    }
    int W = pos + n - lo;
    const float *k0 = kc + (size_t)lo * C, *v0 = vc + (size_t)lo * C;
    float scale = 1.0f / sqrtf((float)hs);
    if (n == 1)
        cblas_sgemv(CblasRowMajor, CblasNoTrans, W, hs, scale, k0, C, q, 1, 0.0f, s, 1);
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, W, hs, scale, q, 3 * C, k0, C, 0.0f,
                    s, W);
    for (int i = 0; i < n; i++) {
        float *a = s + (size_t)i * W, max = -INFINITY, sum = 0;
        row_keys(keys, pos - keys->base + i, &from, &to, &first);
        /* the row's two ranges of keys, relative to lo; zeros around them */
        int r0[2] = {from - lo, first - lo}, r1[2] = {to - lo, pos + i + 1 - lo};
        for (int r = 0; r < 2; r++)
            for (int t = r0[r]; t < r1[r]; t++) max = a[t] > max ? a[t] : max;
        for (int r = 0; r < 2; r++)
            for (int t = r0[r]; t < r1[r]; t++) sum += a[t] = expf(a[t] - max);
        for (int r = 0; r < 2; r++)
            for (int t = r0[r]; t < r1[r]; t++) a[t] /= sum;
        memset(a, 0, sizeof(float) * (size_t)r0[0]);
        memset(a + r1[0], 0, sizeof(float) * (size_t)(r0[1] - r1[0]));
        memset(a + r1[1], 0, sizeof(float) * (size_t)(W - r1[1]));
    }
    if (n == 1)
        cblas_sgemv(CblasRowMajor, CblasTrans, W, hs, 1.0f, v0, C, s, 1, 0.0f, out, 1);
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, hs, W, 1.0f, s, W, v0, C, 0.0f,
                    out, C);
}

/* The one new piece: attention of n new rows (slots pos..pos+n-1, their q in qkv
 * [n,3C]) over the cached keys and values of keys; for a plain feed, attention_forward's
 * arithmetic but for the order of sums, so results match it to rounding. att holds
 * [n, NH, capacity] floats. */
static void attention_cached(float *out, float *att, const float *qkv, const float *kc,
                             const float *vc, int pos, int n, const Keys *keys, int C, int NH,
                             int capacity, int threads) {
    int hs = C / NH;
    blas_single_threaded();
#pragma omp parallel for num_threads(threads) if ((size_t)n * (pos + n) * C > KERNELS_PARALLEL_MIN)
    for (int h = 0; h < NH; h++)
        attend_rows(out + h * hs, att + (size_t)h * n * capacity, qkv + h * hs, kc + h * hs,
                    vc + h * hs, pos, n, keys, C, hs);
}

/* out[n,OC] = inp[n,C] @ w^T + bias. fp32: a few rows as matrix-vector products split by
 * output rows over the threads (a GEMM would pack the whole matrix first; d12, one
 * thread: 2.9 -> 8.4 tokens/s), more through the GEMM; bf16: its own kernels. */
static void linear(float *out, const float *inp, GenerateMatrix w, const float *bias, size_t off,
                   int n, int C, int OC, int threads) {
    if (w.bf16)
        matmul_bf16_forward(out, inp, w.bf16 + off, bias, n, C, OC, threads);
    else if (n > 4) {
        int saved = omp_get_max_threads(); /* feed keeps few rows on one thread */
        omp_set_num_threads(threads);
        matmul_forward(out, inp, w.f32 + off, bias, n, C, OC);
        omp_set_num_threads(saved);
    } else
        matvec_forward(out, inp, w.f32 + off, bias, n, C, OC, threads);
}

/* n <= chunk rows through every layer; the residual stream lives in g->x. A row's
 * position is its prefix's length plus its place after first (in a plain feed: its slot). */
static void feed_chunk(Generator *g, const int *tokens, int n, const Keys *keys, int threads) {
    const GPT2Config *cfg = &g->config;
    const GPT2Params *p = &g->p;
    int C = cfg->channels, NH = cfg->num_heads, pos = g->pos;
    size_t NC = (size_t)n * C, CC = (size_t)C * C;
    for (int i = 0; i < n; i++) {
        int from, to, first;
        row_keys(keys, pos - keys->base + i, &from, &to, &first);
        const float *pe = p->wpe + (size_t)(to - from + pos + i - first) * C;
        float *x = g->x + (size_t)i * C;
        if (g->wte.bf16) {
            const uint16_t *e = g->wte.bf16 + (size_t)tokens[i] * C;
            for (int k = 0; k < C; k++) x[k] = bf16_to_float(e[k]) + pe[k];
        } else {
            encoder_forward(x, tokens + i, g->wte.f32, pe, 1, 1, C);
        }
    }
    for (int l = 0; l < cfg->num_layers; l++) {
        float *kc = g->kcache + (size_t)l * g->capacity * C;
        float *vc = g->vcache + (size_t)l * g->capacity * C;
        layernorm_forward(g->ln, g->mean, g->rstd, g->x, p->ln1w + l * C, p->ln1b + l * C, n, C);
        linear(g->qkv, g->ln, g->qkvw, p->qkvb + l * 3 * C, l * 3 * CC, n, C, 3 * C, threads);
        for (int i = 0; i < n; i++) {
            const float *row = g->qkv + (size_t)i * 3 * C;
            memcpy(kc + (size_t)(pos + i) * C, row + C, sizeof(float) * C);
            memcpy(vc + (size_t)(pos + i) * C, row + 2 * C, sizeof(float) * C);
        }
        attention_cached(g->atty, g->att, g->qkv, kc, vc, pos, n, keys, C, NH, g->capacity,
                         threads);
        linear(g->proj, g->atty, g->attprojw, p->attprojb + l * C, l * CC, n, C, C, threads);
        residual_forward(g->x, g->x, g->proj, NC);
        layernorm_forward(g->ln, g->mean, g->rstd, g->x, p->ln2w + l * C, p->ln2b + l * C, n, C);
        linear(g->fch, g->ln, g->fcw, p->fcb + l * 4 * C, l * 4 * CC, n, C, 4 * C, threads);
        gelu_forward(g->fch_gelu, g->fch, 4 * NC);
        linear(g->proj, g->fch_gelu, g->fcprojw, p->fcprojb + l * C, l * 4 * CC, n, 4 * C, C,
               threads);
        residual_forward(g->x, g->x, g->proj, NC);
    }
    g->pos += n;
}

/* what to do with the logits [h, Vp] of h positions: i counts from the first token of the
 * feed */
typedef void HeadSink(void *ctx, int i, int h, const float *logits);

/* Feeds tokens[0..n) and hands the logits after each of tokens[from..n) to sink (none when
 * from == n), computed a few rows at a time while their chunk's residual stream is at hand.
 * keys: the rows' keys (its base is set here), all NULL for a plain feed. */
static void feed(Generator *g, const int *tokens, Keys keys, int n, int from, HeadSink *sink,
                 void *ctx) {
    const GPT2Config *cfg = &g->config;
    int C = cfg->channels, Vp = cfg->padded_vocab_size;
    if (n < 1 || from < 0 || from > n || g->pos + n > g->capacity ||
        (!keys.first && g->pos + n > cfg->max_seq_len))
        abort(); /* caller bug */
    /* A team of OpenMP threads costs microseconds to wake, and far more on a busy
     * machine: the element-wise kernels on a few rows are cheaper than that, so they run
     * on one thread; the matrix products get all `threads`. */
    int threads = omp_get_max_threads();
    if (n < 16) omp_set_num_threads(1);
    keys.base = g->pos;
    for (int done = 0; done < n; done += g->chunk) {
        int rows = n - done < g->chunk ? n - done : g->chunk;
        feed_chunk(g, tokens + done, rows, &keys, threads);
        for (int r = from > done ? from - done : 0; r < rows; r += GENERATE_HEAD_ROWS) {
            int h = rows - r < GENERATE_HEAD_ROWS ? rows - r : GENERATE_HEAD_ROWS;
            layernorm_forward(g->ln, g->mean, g->rstd, g->x + (size_t)r * C, g->p.lnfw, g->p.lnfb,
                              h, C);
            linear(g->logits, g->ln, g->wte, NULL, 0, h, C, Vp, threads);
            sink(ctx, done + r, h, g->logits);
        }
    }
    omp_set_num_threads(threads);
}

typedef struct {
    float *out;
    int from, Vp, V;
    const int *targets;
    const float *last;
} Sink;

static void sink_copy(void *ctx, int i, int h, const float *logits) {
    Sink *s = ctx;
    memcpy(s->out + (size_t)(i - s->from) * s->Vp, logits, sizeof(float) * s->Vp * h);
}

static void sink_loss(void *ctx, int i, int h, const float *logits) {
    Sink *s = ctx;
    crossentropy_logits_forward(s->out + i, logits, s->targets + i, h, s->V, s->Vp);
}

/* keeps where the last position's logits are: in the head's buffer, valid until the next feed */
static void sink_last(void *ctx, int i, int h, const float *logits) {
    Sink *s = ctx;
    (void)i;
    s->last = logits + (size_t)(h - 1) * s->Vp;
}

const float *generate_feed(Generator *g, const int *tokens, int n) {
    Sink s = {.Vp = g->config.padded_vocab_size};
    feed(g, tokens, (Keys){0}, n, n - 1, sink_last, &s);
    return s.last;
}

void generate_append(Generator *g, const int *tokens, int n) {
    feed(g, tokens, (Keys){0}, n, n, NULL, NULL);
}

void generate_feed_logits(Generator *g, const int *tokens, int n, int from, float *out) {
    Sink s = {.out = out, .from = from, .Vp = g->config.padded_vocab_size};
    feed(g, tokens, (Keys){0}, n, from, sink_copy, &s);
}

void generate_feed_losses(Generator *g, const int *tokens, const int *targets, int n,
                          float *losses) {
    Sink s = {.out = losses,
              .V = g->config.vocab_size,
              .Vp = g->config.padded_vocab_size,
              .targets = targets};
    feed(g, tokens, (Keys){0}, n, 0, sink_loss, &s);
}

/* slots a group takes with its rows fed together: the prefix and every row */
static int group_slots(const ScoreGroup *gr) {
    int slots = gr->np;
    for (int k = 0; k < gr->rows; k++) slots += gr->n[k];
    return slots;
}

/* Groups that fit the cache together, from slot 0: their prefixes in one feed, each on its
 * own slots, then all their rows in another, each on its group's prefix and its own slots.
 * A chunk of rows then spans groups, so the weights are read once for all of them. */
static void feed_groups(Generator *g, int count, const ScoreGroup *gr) {
    int P = 0, R = 0;
    for (int e = 0; e < count; e++) P += gr[e].np, R += group_slots(&gr[e]) - gr[e].np;
    int most = P > R ? P : R;
    int *tok = xmalloc(sizeof(int) * (size_t)(most ? most : 1) * 5), *tgt = tok + most;
    int *from = tgt + most, *to = from + most, *first = to + most;
    float *loss = xmalloc(sizeof(float) * (size_t)(R ? R : 1));
    Keys keys = {.from = from, .to = to, .first = first};
    generate_rewind(g, 0);
    for (int e = 0, at = 0; e < count; at += gr[e].np, e++)
        for (int i = 0; i < gr[e].np; i++)
            tok[at + i] = gr[e].prefix[i], from[at + i] = to[at + i] = first[at + i] = at;
    if (P) feed(g, tok, keys, P, P, NULL, NULL);
    for (int e = 0, at = 0, pre = 0; e < count; pre += gr[e].np, e++)
        for (int k = 0; k < gr[e].rows; at += gr[e].n[k], k++)
            for (int i = 0; i < gr[e].n[k]; i++) {
                tok[at + i] = gr[e].tokens[k][i], tgt[at + i] = gr[e].targets[k][i];
                from[at + i] = pre, to[at + i] = pre + gr[e].np, first[at + i] = P + at;
            }
    Sink s = {
        .out = loss, .V = g->config.vocab_size, .Vp = g->config.padded_vocab_size, .targets = tgt};
    if (R) feed(g, tok, keys, R, 0, sink_loss, &s);
    for (int e = 0, at = 0; e < count; e++)
        for (int k = 0; k < gr[e].rows; at += gr[e].n[k], k++)
            memcpy(gr[e].losses[k], loss + at, sizeof(float) * gr[e].n[k]);
    free(tok);
    free(loss);
}

void generate_score_groups(Generator *g, int groups, const ScoreGroup *gr) {
    for (int e = 0; e < groups;) {
        int count = 0, slots = 0, need;
        while (e + count < groups && slots + (need = group_slots(&gr[e + count])) <= g->capacity)
            slots += need, count++;
        if (count) {
            feed_groups(g, count, gr + e);
            e += count;
            continue;
        }
        /* rows too many for the cache together: one at a time after their prefix */
        const ScoreGroup *x = &gr[e++];
        generate_rewind(g, 0);
        if (x->np) generate_append(g, x->prefix, x->np);
        for (int k = 0; k < x->rows; k++) {
            if (!x->n[k]) continue;
            generate_rewind(g, x->np);
            generate_feed_losses(g, x->tokens[k], x->targets[k], x->n[k], x->losses[k]);
        }
    }
}
