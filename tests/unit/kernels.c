/* kernels: each backward against central finite differences of its forward (through a
 * random projection of the output to a scalar), accumulation (+=) semantics, the BLAS
 * matmul against the plain loop, softmax/cross-entropy and AdamW against their formulas. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/kernels/kernels.h"
#include "tap.h"

static unsigned long long rng_state = 1;
static float frand(void) { /* uniform in [-1, 1) */
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((rng_state >> 40) / (double)(1ull << 24)) * 2.0f - 1.0f;
}
static float *rand_buf(size_t n, float scale) {
    float *p = malloc(n * sizeof *p);
    for (size_t i = 0; i < n; i++) p[i] = scale * frand();
    return p;
}
static float *zeros(size_t n) {
    return calloc(n, sizeof(float));
}
static double dot(const float *a, const float *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}
static double max_abs(const float *a, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs(a[i]));
    return m;
}

/* A forward under test: reads the inputs it was set up with, writes its output. */
typedef struct {
    void (*fwd)(void *ctx);
    void *ctx;
    float *out;
    size_t nout;
    const float *proj; /* scalar loss = proj . out */
} Fwd;

static double loss_of(Fwd *f) {
    f->fwd(f->ctx);
    return dot(f->proj, f->out, f->nout);
}

/* Checks grad (of loss w.r.t. x) against central differences at every element of x (or
 * a spread of up to 64 of them). Float forward passes: step h, tolerance relative to the
 * largest gradient. */
static void check_grad(Fwd *f, float *x, size_t n, const float *grad, const char *name) {
    double worst = 0, scale = max_abs(grad, n) + 1e-6;
    size_t stride = n > 64 ? n / 64 : 1;
    for (size_t i = 0; i < n; i += stride) {
        float keep = x[i];
        float h = 1e-2f * fmaxf(1.0f, fabsf(keep));
        x[i] = keep + h;
        double up = loss_of(f);
        x[i] = keep - h;
        double down = loss_of(f);
        x[i] = keep;
        double num = (up - down) / (2.0 * h);
        worst = fmax(worst, fabs(num - grad[i]) / scale);
    }
    f->fwd(f->ctx);
    ok(worst < 1e-3, "%s matches finite differences (worst %.1e of max|grad|)", name, worst);
}

/* twice the backward must give twice the gradient */
static void check_doubles(const float *once, const float *twice, size_t n, const char *name) {
    double worst = 0;
    for (size_t i = 0; i < n; i++) worst = fmax(worst, fabs(twice[i] - 2 * once[i]));
    ok(worst <= 1e-5 * (max_abs(once, n) + 1e-6), "%s accumulates (+=)", name);
}

/* ---- layernorm ---- */
typedef struct {
    float *out, *mean, *rstd, *inp, *w, *b;
    int N, C;
} LnCtx;
static void ln_fwd(void *p) {
    LnCtx *c = p;
    layernorm_forward(c->out, c->mean, c->rstd, c->inp, c->w, c->b, c->N, c->C);
}
static void test_layernorm(void) {
    int N = 5, C = 24;
    LnCtx c = {zeros(N * C),   zeros(N),       zeros(N), rand_buf(N * C, 2),
               rand_buf(C, 1), rand_buf(C, 1), N,        C};
    float *proj = rand_buf(N * C, 1);
    Fwd f = {ln_fwd, &c, c.out, (size_t)N * C, proj};
    ln_fwd(&c);
    /* torch.nn.LayerNorm: biased variance, eps 1e-5 */
    double m = 0, v = 0;
    for (int i = 0; i < C; i++) m += c.inp[C + i];
    m /= C;
    for (int i = 0; i < C; i++) v += (c.inp[C + i] - m) * (c.inp[C + i] - m);
    v /= C;
    near(c.out[C + 3], (c.inp[C + 3] - m) / sqrt(v + 1e-5) * c.w[3] + c.b[3], 1e-5, 1e-5,
         "layernorm forward formula");
    float *dx = zeros(N * C), *dw = zeros(C), *db = zeros(C);
    layernorm_backward(dx, dw, db, proj, c.inp, c.w, c.mean, c.rstd, N, C);
    check_grad(&f, c.inp, N * C, dx, "layernorm dinp");
    check_grad(&f, c.w, C, dw, "layernorm dweight");
    check_grad(&f, c.b, C, db, "layernorm dbias");
    float *dx2 = zeros(N * C), *dw2 = zeros(C), *db2 = zeros(C);
    for (int k = 0; k < 2; k++)
        layernorm_backward(dx2, dw2, db2, proj, c.inp, c.w, c.mean, c.rstd, N, C);
    check_doubles(dx, dx2, N * C, "layernorm dinp");
    check_doubles(dw, dw2, C, "layernorm dweight");
    check_doubles(db, db2, C, "layernorm dbias");
    free(c.out), free(c.mean), free(c.rstd), free(c.inp), free(c.w), free(c.b), free(proj);
    free(dx), free(dw), free(db), free(dx2), free(dw2), free(db2);
}

/* ---- matmul ---- */
typedef struct {
    float *out, *inp, *w, *b;
    int N, C, OC;
} MmCtx;
static void mm_fwd(void *p) {
    MmCtx *c = p;
    matmul_forward(c->out, c->inp, c->w, c->b, c->N, c->C, c->OC);
}
static void test_matmul(void) {
    int N = 7, C = 13, OC = 9;
    MmCtx c = {zeros(N * OC), rand_buf(N * C, 1), rand_buf(OC * C, 1), rand_buf(OC, 1), N, C, OC};
    float *ref = zeros(N * OC);
    for (int withbias = 0; withbias < 2; withbias++) {
        float *b = withbias ? c.b : NULL;
        matmul_forward(c.out, c.inp, c.w, b, N, C, OC);
        matmul_forward_reference(ref, c.inp, c.w, b, N, C, OC);
        double worst = 0;
        for (int i = 0; i < N * OC; i++) worst = fmax(worst, fabs(c.out[i] - ref[i]));
        ok(worst < 1e-5, "matmul BLAS == reference loop (%s bias, worst %.1e)",
           withbias ? "with" : "without", worst);
    }
    double s = c.b[2];
    for (int i = 0; i < C; i++) s += (double)c.inp[3 * C + i] * c.w[2 * C + i];
    near(ref[3 * OC + 2], s, 1e-5, 1e-5, "matmul reference formula");
    /* a larger shape, where BLAS takes its blocked path */
    int N2 = 96, C2 = 200, OC2 = 150;
    float *x = rand_buf(N2 * C2, 1), *w = rand_buf(OC2 * C2, 1), *bb = rand_buf(OC2, 1);
    float *o1 = zeros(N2 * OC2), *o2 = zeros(N2 * OC2);
    matmul_forward(o1, x, w, bb, N2, C2, OC2);
    matmul_forward_reference(o2, x, w, bb, N2, C2, OC2);
    double worst = 0;
    for (int i = 0; i < N2 * OC2; i++) worst = fmax(worst, fabs(o1[i] - o2[i]));
    ok(worst < 1e-4, "matmul BLAS == reference loop at 96x200x150 (worst %.1e)", worst);
    free(x), free(w), free(bb), free(o1), free(o2);

    float *proj = rand_buf(N * OC, 1);
    Fwd f = {mm_fwd, &c, c.out, (size_t)N * OC, proj};
    mm_fwd(&c);
    float *dx = zeros(N * C), *dw = zeros(OC * C), *db = zeros(OC);
    matmul_backward(dx, dw, db, proj, c.inp, c.w, N, C, OC);
    check_grad(&f, c.inp, N * C, dx, "matmul dinp");
    check_grad(&f, c.w, OC * C, dw, "matmul dweight");
    check_grad(&f, c.b, OC, db, "matmul dbias");
    float *dx2 = zeros(N * C), *dw2 = zeros(OC * C), *db2 = zeros(OC);
    for (int k = 0; k < 2; k++) matmul_backward(dx2, dw2, db2, proj, c.inp, c.w, N, C, OC);
    check_doubles(dx, dx2, N * C, "matmul dinp");
    check_doubles(dw, dw2, OC * C, "matmul dweight");
    check_doubles(db, db2, OC, "matmul dbias");
    free(c.out), free(c.inp), free(c.w), free(c.b), free(ref), free(proj);
    free(dx), free(dw), free(db), free(dx2), free(dw2), free(db2);
}

/* ---- attention ---- */
typedef struct {
    float *out, *preatt, *att, *qkv;
    int B, T, C, NH;
} AttCtx;
static void att_fwd(void *p) {
    AttCtx *c = p;
    attention_forward(c->out, c->preatt, c->att, c->qkv, c->B, c->T, c->C, c->NH);
}
static void test_attention(void) {
    int B = 2, T = 5, C = 12, NH = 3, hs = C / NH;
    size_t natt = (size_t)B * NH * T * T;
    AttCtx c = {
        zeros(B * T * C), zeros(natt), zeros(natt), rand_buf(B * T * 3 * C, 1), B, T, C, NH};
    att_fwd(&c);
    /* by hand: batch 1, head 2, query 3 */
    int b = 1, h = 2, t = 3;
    double sc[5], mx = -1e30, sum = 0;
    for (int t2 = 0; t2 <= t; t2++) {
        double s = 0;
        for (int i = 0; i < hs; i++)
            s += (double)c.qkv[(b * T + t) * 3 * C + h * hs + i] *
                 c.qkv[(b * T + t2) * 3 * C + C + h * hs + i];
        sc[t2] = s / sqrt(hs);
        mx = fmax(mx, sc[t2]);
    }
    for (int t2 = 0; t2 <= t; t2++) sum += sc[t2] = exp(sc[t2] - mx);
    double y = 0;
    for (int t2 = 0; t2 <= t; t2++)
        y += sc[t2] / sum * c.qkv[(b * T + t2) * 3 * C + 2 * C + h * hs + 1];
    near(c.out[(b * T + t) * C + h * hs + 1], y, 1e-5, 1e-5, "attention forward formula");
    float future = 0;
    for (int t2 = t + 1; t2 < T; t2++) future += fabsf(c.att[((b * NH + h) * T + t) * T + t2]);
    ok(future == 0, "attention is causal (no weight on later positions)");

    float *proj = rand_buf(B * T * C, 1);
    Fwd f = {att_fwd, &c, c.out, (size_t)B * T * C, proj};
    float *dqkv = zeros(B * T * 3 * C), *dpre = zeros(natt), *datt = zeros(natt);
    attention_backward(dqkv, dpre, datt, proj, c.qkv, c.att, B, T, C, NH);
    check_grad(&f, c.qkv, B * T * 3 * C, dqkv, "attention dqkv");
    float *dqkv2 = zeros(B * T * 3 * C);
    for (int k = 0; k < 2; k++)
        attention_backward(dqkv2, dpre, datt, proj, c.qkv, c.att, B, T, C, NH);
    check_doubles(dqkv, dqkv2, B * T * 3 * C, "attention dqkv");
    free(c.out), free(c.preatt), free(c.att), free(c.qkv), free(proj), free(dqkv), free(dpre);
    free(datt), free(dqkv2);
}

/* ---- gelu, residual ---- */
typedef struct {
    float *out, *a, *b;
    size_t n;
} EwCtx;
static void gelu_fwd(void *p) {
    EwCtx *c = p;
    gelu_forward(c->out, c->a, c->n);
}
static void res_fwd(void *p) {
    EwCtx *c = p;
    residual_forward(c->out, c->a, c->b, c->n);
}
static void test_elementwise(void) {
    size_t n = 50;
    EwCtx c = {zeros(n), rand_buf(n, 4), rand_buf(n, 1), n};
    float *proj = rand_buf(n, 1);
    gelu_fwd(&c);
    double x = c.a[7];
    near(c.out[7], 0.5 * x * (1 + tanh(sqrt(2 / M_PI) * (x + 0.044715 * x * x * x))), 1e-6, 1e-5,
         "gelu forward formula (tanh approximation)");
    Fwd f = {gelu_fwd, &c, c.out, n, proj};
    float *dx = zeros(n), *dx2 = zeros(n);
    gelu_backward(dx, c.a, proj, n);
    check_grad(&f, c.a, n, dx, "gelu dinp");
    for (int k = 0; k < 2; k++) gelu_backward(dx2, c.a, proj, n);
    check_doubles(dx, dx2, n, "gelu dinp");

    Fwd r = {res_fwd, &c, c.out, n, proj};
    res_fwd(&c);
    ok(c.out[3] == c.a[3] + c.b[3], "residual forward adds");
    float *da = zeros(n), *db = zeros(n);
    residual_backward(da, db, proj, n);
    check_grad(&r, c.a, n, da, "residual da");
    check_grad(&r, c.b, n, db, "residual db");
    residual_backward(da, db, proj, n);
    check_doubles(proj, da, n, "residual da");
    free(c.out), free(c.a), free(c.b), free(proj), free(dx), free(dx2), free(da), free(db);
}

/* ---- encoder ---- */
typedef struct {
    float *out, *wte, *wpe;
    const int *inp;
    int B, T, C;
} EncCtx;
static void enc_fwd(void *p) {
    EncCtx *c = p;
    encoder_forward(c->out, c->inp, c->wte, c->wpe, c->B, c->T, c->C);
}
static void test_encoder(void) {
    int B = 2, T = 3, C = 4, V = 5;
    const int inp[] = {1, 3, 1, 4, 1, 0}; /* token 1 repeats: its gradient must add up */
    EncCtx c = {zeros(B * T * C), rand_buf(V * C, 1), rand_buf(T * C, 1), inp, B, T, C};
    enc_fwd(&c);
    ok(c.out[(1 * T + 2) * C + 1] == c.wte[0 * C + 1] + c.wpe[2 * C + 1], "encoder forward");
    float *proj = rand_buf(B * T * C, 1), *dwte = zeros(V * C), *dwpe = zeros(T * C);
    Fwd f = {enc_fwd, &c, c.out, (size_t)B * T * C, proj};
    encoder_backward(dwte, dwpe, proj, inp, B, T, C);
    check_grad(&f, c.wte, V * C, dwte, "encoder dwte (repeated tokens)");
    check_grad(&f, c.wpe, T * C, dwpe, "encoder dwpe");
    float *dwte2 = zeros(V * C), *dwpe2 = zeros(T * C);
    for (int k = 0; k < 2; k++) encoder_backward(dwte2, dwpe2, proj, inp, B, T, C);
    check_doubles(dwte, dwte2, V * C, "encoder dwte");
    check_doubles(dwpe, dwpe2, T * C, "encoder dwpe");
    free(c.out), free(c.wte), free(c.wpe), free(proj), free(dwte), free(dwpe), free(dwte2);
    free(dwpe2);
}

/* ---- softmax + cross-entropy ---- */
typedef struct {
    float *probs, *logits, *losses;
    const int *targets;
    int N, V, Vp;
} CeCtx;
static void ce_fwd(void *p) {
    CeCtx *c = p;
    softmax_forward(c->probs, c->logits, c->N, c->V, c->Vp);
    crossentropy_forward(c->losses, c->probs, c->targets, c->N, c->Vp);
}
static void test_crossentropy(void) {
    int N = 3, V = 10, Vp = 16;
    const int targets[] = {2, 9, 0};
    CeCtx c = {zeros(N * Vp), rand_buf(N * Vp, 3), zeros(N), targets, N, V, Vp};
    ce_fwd(&c);
    double sum = 0, pad = 0;
    for (int i = 0; i < V; i++) sum += c.probs[Vp + i];
    for (int i = V; i < Vp; i++) pad += fabsf(c.probs[Vp + i]);
    near(sum, 1.0, 1e-6, 0, "softmax sums to 1 over the real vocabulary");
    ok(pad == 0, "padded vocabulary columns get probability 0");
    double lse = 0;
    for (int i = 0; i < V; i++) lse += exp(c.logits[2 * Vp + i]);
    near(c.losses[2], log(lse) - c.logits[2 * Vp + 0], 1e-5, 1e-5, "cross-entropy formula");
    /* from the logits alone, as scoring does: the same losses, padding ignored */
    float *from_logits = zeros(N);
    for (int r = 0; r < N; r++) c.logits[r * Vp + V] = 1e30f; /* a padding column */
    crossentropy_logits_forward(from_logits, c.logits, targets, N, V, Vp);
    for (int r = 0; r < N; r++) c.logits[r * Vp + V] = 0;
    for (int r = 0; r < N; r++)
        near(from_logits[r], c.losses[r], 1e-6, 1e-6, "cross-entropy from logits, row %d", r);
    free(from_logits);
    float *dlosses = rand_buf(N, 1), *dlogits = zeros(N * Vp), *dlogits2 = zeros(N * Vp);
    Fwd f = {ce_fwd, &c, c.losses, (size_t)N, dlosses};
    crossentropy_softmax_backward(dlogits, dlosses, c.probs, targets, N, V, Vp);
    check_grad(&f, c.logits, N * Vp, dlogits, "crossentropy_softmax dlogits");
    for (int k = 0; k < 2; k++)
        crossentropy_softmax_backward(dlogits2, dlosses, c.probs, targets, N, V, Vp);
    check_doubles(dlogits, dlogits2, N * Vp, "crossentropy_softmax dlogits");
    free(c.probs), free(c.logits), free(c.losses), free(dlosses), free(dlogits), free(dlogits2);
}

/* ---- AdamW ---- */
static void test_adamw(void) {
    float p[3] = {0.5f, -1.0f, 2.0f}, g[3] = {0.1f, -0.2f, 0.0f}, m[3] = {0}, v[3] = {0};
    double rp[3] = {0.5, -1.0, 2.0}, rm[3] = {0}, rv[3] = {0};
    double lr = 1e-2, b1 = 0.9, b2 = 0.95, eps = 1e-8, wd = 0.1, scale = 0.5;
    for (int t = 1; t <= 3; t++) {
        adamw_update(p, g, m, v, 3, (float)lr, (float)b1, (float)b2, (float)eps, (float)wd,
                     (float)scale, t);
        for (int i = 0; i < 3; i++) { /* torch.optim.AdamW, decoupled weight decay */
            double gi = g[i] * scale;
            rp[i] *= 1 - lr * wd;
            rm[i] = b1 * rm[i] + (1 - b1) * gi;
            rv[i] = b2 * rv[i] + (1 - b2) * gi * gi;
            rp[i] -= lr / (1 - pow(b1, t)) * rm[i] / (sqrt(rv[i]) / sqrt(1 - pow(b2, t)) + eps);
        }
    }
    for (int i = 0; i < 3; i++)
        near(p[i], rp[i], 1e-6, 1e-6, "adamw parameter %d after 3 steps", i);
    near(m[1], rm[1], 1e-7, 1e-5, "adamw first moment");
    near(v[1], rv[1], 1e-9, 1e-5, "adamw second moment");
    float big[1000];
    for (int i = 0; i < 1000; i++) big[i] = (float)(i % 7) - 3;
    double want = 0;
    for (int i = 0; i < 1000; i++) want += big[i] * big[i];
    near(sum_squares(big, 1000), want, 1e-9, 0, "sum_squares exact on integers");
}

int main(void) {
    test_layernorm();
    test_matmul();
    test_attention();
    test_elementwise();
    test_encoder();
    test_crossentropy();
    test_adamw();
    return done_testing();
}
