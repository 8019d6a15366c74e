/* Every CUDA kernel against its CPU reference (kernels.h) on random inputs, forward and
 * backward, in fp32 (tight tolerances) and bf16 (inputs rounded to bf16 for both sides;
 * tolerances for bf16 outputs). Gradients start non-zero to check accumulation. */
#include "kernels/kernels_cuda.h"
#include "test_util.h"

typedef struct {
    const char *mode;
    float atol, rtol;
} Tol;

#define CMP(name, got, want, n)                                                                  \
    compare(xasprintf("%s %s", tol.mode, name), got, want, n, tol.atol, tol.rtol)

/* random host array already representable in T */
template <typename T> static float *rnd(size_t n, float scale) {
    float *a = rand_array(n, scale);
    round_to<T>(a, n);
    return a;
}

template <typename T> static void test_encoder(Tol tol) {
    int B = 2, Tn = 5, C = 72, V = 11;
    size_t NC = (size_t)B * Tn * C;
    int inp[10] = {1, 3, 3, 10, 0, 3, 7, 1, 1, 2};
    float *wte = rnd<T>((size_t)V * C, 1), *wpe = rnd<T>((size_t)Tn * C, 1);
    float *out = (float *)xmalloc(NC * sizeof(float));
    encoder_forward(out, inp, wte, wpe, B, Tn, C);
    int *dinp;
    CUDA_CHECK(cudaMalloc(&dinp, sizeof inp));
    CUDA_CHECK(cudaMemcpy(dinp, inp, sizeof inp, cudaMemcpyHostToDevice));
    T *dout = upload<T>(out, NC), *dwte = upload<T>(wte, (size_t)V * C),
      *dwpe = upload<T>(wpe, (size_t)Tn * C);
    encoder_forward_cuda(dout, dinp, dwte, dwpe, B, Tn, C);
    CMP("encoder_forward", download(dout, NC), out, NC);

    float *g = rnd<T>(NC, 1), *gwte = rand_array((size_t)V * C, 1), *gwpe = rand_array((size_t)Tn * C, 1);
    float *dg = upload<float>(gwte, (size_t)V * C), *dgp = upload<float>(gwpe, (size_t)Tn * C);
    T *dgo = upload<T>(g, NC);
    encoder_backward(gwte, gwpe, g, inp, B, Tn, C);
    encoder_backward_cuda(dg, dgp, dgo, dinp, B, Tn, C);
    CMP("encoder_backward dwte", download(dg, (size_t)V * C), gwte, (size_t)V * C);
    CMP("encoder_backward dwpe", download(dgp, (size_t)Tn * C), gwpe, (size_t)Tn * C);
}

template <typename T> static void test_layernorm(Tol tol) {
    int N = 37, C = 200; /* C not a multiple of 32 */
    size_t n = (size_t)N * C;
    float *a = rnd<T>(n, 2), *b = rnd<T>(n, 1), *w = rnd<T>(C, 1), *bias = rnd<T>(C, 1);
    float *res = (float *)xmalloc(n * 4), *out = (float *)xmalloc(n * 4);
    float *mean = (float *)xmalloc(N * 4), *rstd = (float *)xmalloc(N * 4);
    residual_forward(res, a, b, n);
    round_to<T>(res, n); /* the GPU stores the residual in T and normalises that */
    layernorm_forward(out, mean, rstd, res, w, bias, N, C);
    T *da = upload<T>(a, n), *db = upload<T>(b, n), *dw = upload<T>(w, C), *dbias = upload<T>(bias, C);
    T *dres = upload<T>(a, n), *dout = upload<T>(a, n);
    float *dmean = upload<float>(mean, N), *drstd = upload<float>(rstd, N);
    residual_layernorm_forward_cuda(dres, dout, dmean, drstd, da, db, dw, dbias, N, C);
    CMP("residual_layernorm_forward residual", download(dres, n), res, n);
    CMP("residual_layernorm_forward out", download(dout, n), out, n);
    CMP("residual_layernorm_forward mean", download(dmean, N), mean, N);
    CMP("residual_layernorm_forward rstd", download(drstd, N), rstd, N);
    /* plain LayerNorm on the rounded residual gives the same */
    layernorm_forward_cuda(dout, dmean, drstd, dres, dw, dbias, N, C);
    CMP("layernorm_forward out", download(dout, n), out, n);

    float *g = rnd<T>(n, 1), *dinp = rnd<T>(n, 1), *gw = rand_array(C, 1), *gb = rand_array(C, 1);
    T *dg = upload<T>(g, n), *ddinp = upload<T>(dinp, n);
    float *dgw = upload<float>(gw, C), *dgb = upload<float>(gb, C);
    layernorm_backward(dinp, gw, gb, g, res, w, mean, rstd, N, C);
    layernorm_backward_cuda(ddinp, dgw, dgb, dg, dres, dw, dmean, drstd, N, C);
    CMP("layernorm_backward dinp", download(ddinp, n), dinp, n);
    CMP("layernorm_backward dweight", download(dgw, C), gw, C);
    CMP("layernorm_backward dbias", download(dgb, C), gb, C);
}

template <typename T> static void test_matmul(Tol tol) {
    int N = 67, C = 72, OC = 136;
    size_t nin = (size_t)N * C, nout = (size_t)N * OC, nw = (size_t)OC * C;
    float *inp = rnd<T>(nin, 1), *w = rnd<T>(nw, 1), *bias = rnd<T>(OC, 1);
    float *out = (float *)xmalloc(nout * 4);
    T *dinp = upload<T>(inp, nin), *dw = upload<T>(w, nw), *db = upload<T>(bias, OC);
    T *dout = upload<T>(inp, nout);
    matmul_forward_reference(out, inp, w, bias, N, C, OC);
    matmul_forward_cuda(dout, dinp, dw, db, N, C, OC);
    CMP("matmul_forward (bias)", download(dout, nout), out, nout);
    matmul_forward_reference(out, inp, w, NULL, N, C, OC);
    matmul_forward_cuda(dout, dinp, dw, (const T *)NULL, N, C, OC);
    CMP("matmul_forward (no bias)", download(dout, nout), out, nout);

    float *g = rnd<T>(nout, 1), *gin = rnd<T>(nin, 1), *gw = rand_array(nw, 1), *gb = rand_array(OC, 1);
    T *dg = upload<T>(g, nout), *dgin = upload<T>(gin, nin);
    float *dgw = upload<float>(gw, nw), *dgb = upload<float>(gb, OC);
    matmul_backward(gin, gw, gb, g, inp, w, N, C, OC);
    matmul_backward_cuda(dgin, dgw, dgb, dg, dinp, dw, N, C, OC);
    CMP("matmul_backward dinp", download(dgin, nin), gin, nin);
    CMP("matmul_backward dweight", download(dgw, nw), gw, nw);
    CMP("matmul_backward dbias", download(dgb, OC), gb, OC);
    /* overwrite mode: dinp from zero */
    float *zero = (float *)xcalloc(nin, 4), *dummy = (float *)xcalloc(nw, 4);
    matmul_backward(zero, dummy, NULL, g, inp, w, N, C, OC);
    matmul_backward_cuda(dgin, dgw, (float *)NULL, dg, dinp, dw, N, C, OC, false);
    CMP("matmul_backward dinp (overwrite)", download(dgin, nin), zero, nin);
}

template <typename T> static void test_attention(Tol tol) {
    int B = 2, Tn = 70, NH = 2, C = 128; /* T crosses every tile size */
    size_t nqkv = (size_t)B * Tn * 3 * C, nout = (size_t)B * Tn * C, natt = (size_t)B * NH * Tn * Tn;
    float *qkv = rnd<T>(nqkv, 2), *out = (float *)xmalloc(nout * 4);
    float *preatt = (float *)xmalloc(natt * 4), *att = (float *)xmalloc(natt * 4);
    attention_forward(out, preatt, att, qkv, B, Tn, C, NH);
    T *dqkv = upload<T>(qkv, nqkv), *dout = upload<T>(out, nout);
    float *lse = (float *)cuda_malloc((size_t)B * NH * Tn * 4, "lse");
    float *delta = (float *)cuda_malloc((size_t)B * NH * Tn * 4, "delta");
    attention_forward_cuda(dout, lse, dqkv, B, Tn, C, NH);
    CMP("attention_forward", download(dout, nout), out, nout);

    /* the GPU backward reads its own (T-rounded) output, as in training */
    float *g = rnd<T>(nout, 1), *gq = rnd<T>(nqkv, 1);
    float *dpre = (float *)xcalloc(natt, 4), *datt = (float *)xcalloc(natt, 4);
    T *dg = upload<T>(g, nout), *dgq = upload<T>(gq, nqkv);
    attention_backward(gq, dpre, datt, g, qkv, att, B, Tn, C, NH);
    attention_backward_cuda(dgq, delta, dg, dqkv, dout, lse, B, Tn, C, NH);
    CMP("attention_backward dqkv", download(dgq, nqkv), gq, nqkv);
}

template <typename T> static void test_gelu(Tol tol) {
    size_t n = 1000;
    float *x = rnd<T>(n, 4), *out = (float *)xmalloc(n * 4);
    gelu_forward(out, x, n);
    T *dx = upload<T>(x, n), *dout = upload<T>(x, n);
    gelu_forward_cuda(dout, dx, n);
    CMP("gelu_forward", download(dout, n), out, n);
    float *g = rnd<T>(n, 1), *gin = rnd<T>(n, 1);
    T *dg = upload<T>(g, n), *dgin = upload<T>(gin, n);
    gelu_backward(gin, x, g, n);
    gelu_backward_cuda(dgin, dx, dg, n);
    CMP("gelu_backward", download(dgin, n), gin, n);

    float *b = rnd<T>(n, 1);
    T *db = upload<T>(b, n);
    residual_forward(out, x, b, n);
    residual_forward_cuda(dout, dx, db, n);
    CMP("residual_forward", download(dout, n), out, n);
}

template <typename T> static void test_crossentropy(Tol tol) {
    int N = 6, V = 1000, Vp = 1024;
    size_t n = (size_t)N * Vp;
    float *logits = rnd<T>(n, 5);
    int targets[6] = {0, 999, 5, 5, 512, 77};
    float *probs = (float *)xmalloc(n * 4), *losses = (float *)xmalloc(N * 4);
    float *dlogits = (float *)xcalloc(n, 4), dloss = 1.0f / 7, dlosses[6];
    for (int i = 0; i < N; i++) dlosses[i] = dloss;
    softmax_forward(probs, logits, N, V, Vp);
    crossentropy_forward(losses, probs, targets, N, Vp);
    crossentropy_softmax_backward(dlogits, dlosses, probs, targets, N, V, Vp);
    int *dt;
    CUDA_CHECK(cudaMalloc(&dt, sizeof targets));
    CUDA_CHECK(cudaMemcpy(dt, targets, sizeof targets, cudaMemcpyHostToDevice));
    T *dl = upload<T>(logits, n);
    float *dlosses_dev = (float *)cuda_malloc(N * 4, "losses");
    crossentropy_softmax_fused_cuda(dl, dlosses_dev, dt, dloss, N, V, Vp, false);
    CMP("crossentropy_softmax_fused losses (forward only)", download(dlosses_dev, N), losses, N);
    CMP("crossentropy_softmax_fused logits untouched", download(dl, n), logits, n);
    crossentropy_softmax_fused_cuda(dl, dlosses_dev, dt, dloss, N, V, Vp, true);
    CMP("crossentropy_softmax_fused losses", download(dlosses_dev, N), losses, N);
    CMP("crossentropy_softmax_fused dlogits", download(dl, n), dlogits, n);
}

template <typename T> static void test_adamw(Tol tol) {
    size_t n = 3000;
    float *p = rand_array(n, 1), *g = rand_array(n, 1), *m = rand_array(n, 0.1f);
    float *v = rand_array(n, 0.1f);
    for (size_t i = 0; i < n; i++) v[i] = fabsf(v[i]);
    float *dp = upload<float>(p, n), *dg = upload<float>(g, n), *dm = upload<float>(m, n),
          *dv = upload<float>(v, n);
    T *dcopy = upload<T>(p, n);
    adamw_update(p, g, m, v, n, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 0.5f, 3);
    adamw_update_cuda(dp, dcopy, dg, dm, dv, n, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 0.5f, 3);
    /* fp32 state either way: tight tolerances */
    compare(xasprintf("%s adamw params", tol.mode), download(dp, n), p, n, 1e-6f, 1e-5f);
    compare(xasprintf("%s adamw m", tol.mode), download(dm, n), m, n, 1e-7f, 1e-5f);
    compare(xasprintf("%s adamw v", tol.mode), download(dv, n), v, n, 1e-7f, 1e-5f);
    round_to<T>(p, n);
    compare(xasprintf("%s adamw compute copy", tol.mode), download(dcopy, n), p, n, 1e-6f, 1e-5f);

    double *acc = (double *)cuda_malloc(sizeof(double), "acc"), got = 0;
    CUDA_CHECK(cudaMemset(acc, 0, sizeof(double)));
    sum_squares_cuda(acc, dg, n);
    CUDA_CHECK(cudaMemcpy(&got, acc, sizeof got, cudaMemcpyDeviceToHost));
    near(got, sum_squares(g, n), 0, 1e-6, "%s sum_squares", tol.mode);
}

template <typename T> static void test_all(Tol tol) {
    test_encoder<T>(tol);
    test_layernorm<T>(tol);
    test_matmul<T>(tol);
    test_attention<T>(tol);
    test_gelu<T>(tol);
    test_crossentropy<T>(tol);
    test_adamw<T>(tol);
}

int main(void) {
    util_init("kernels_cuda");
    require_device();
    /* fp32: only summation order differs; bf16: the outputs are rounded to 8 bits */
    test_all<float>(Tol{"fp32", 1e-5f, 1e-4f});
    test_all<bf16>(Tol{"bf16", 2e-2f, 1.6e-2f});
    return done_testing();
}
