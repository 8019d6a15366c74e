/* Every CUDA kernel against its CPU reference (kernels.h) on random inputs, forward and
 * backward, in fp32 (tight tolerances) and bf16 (inputs rounded to bf16 for both sides;
 * tolerances for bf16 outputs). Gradients start non-zero to check accumulation. */
#include "model/kernels/kernels_cuda.h"
#include "test_util.h"

#include <type_traits>

typedef struct {
    const char *mode;
    float atol, rtol;
} Tol;

#define CMP(name, got, want, n)                                                                    \
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

    float *g = rnd<T>(NC, 1), *gwte = rand_array((size_t)V * C, 1),
          *gwpe = rand_array((size_t)Tn * C, 1);
    float *dg = upload<float>(gwte, (size_t)V * C), *dgp = upload<float>(gwpe, (size_t)Tn * C);
    T *dgo = upload<T>(g, NC);
    encoder_backward(gwte, gwpe, g, inp, B, Tn, C);
    encoder_backward_cuda(dg, dgp, dgo, dinp, B, Tn, C);
    CMP("encoder_backward dwte", download(dg, (size_t)V * C), gwte, (size_t)V * C);
    CMP("encoder_backward dwpe", download(dgp, (size_t)Tn * C), gwpe, (size_t)Tn * C);
}

/* vec: the lever LEVER_LN_VEC. With it every entry point must report the register
 * kernels wherever they apply (gpt2-cuda(7): C whole 16-byte vectors, at most 768
 * channels in fp32, 1536 in bf16) and the plain ones elsewhere. C = 200 leaves the last
 * lanes a vector short (fp32) or idle (bf16); 768 fills every lane; 202 is not whole
 * vectors; 1600 is too wide. N = 37 rows give each warp of the register backward one
 * row at most; its grid is one wave, so N = 4999 gives every warp several (3 on 132
 * SMs), the last block a few, and one warp none: the row pipeline's start, swap and end. */
template <typename T> static void test_layernorm(Tol tol, int C, int vec, int N = 37) {
    int VN = Vec16<T>::n, want = vec && C % VN == 0 && C <= 32 * 6 * VN;
    const char *how = xasprintf(" C=%d N=%d%s", C, N, vec ? "" : " (lever off)");
    cuda_lever_set(LEVER_LN_VEC, vec);
    size_t n = (size_t)N * C;
    float *a = rnd<T>(n, 2), *b = rnd<T>(n, 1), *w = rnd<T>(C, 1), *bias = rnd<T>(C, 1);
    float *res = (float *)xmalloc(n * 4), *out = (float *)xmalloc(n * 4);
    float *mean = (float *)xmalloc(N * 4), *rstd = (float *)xmalloc(N * 4);
    residual_forward(res, a, b, n);
    round_to<T>(res, n); /* the GPU stores the residual in T and normalises that */
    layernorm_forward(out, mean, rstd, res, w, bias, N, C);
    T *da = upload<T>(a, n), *db = upload<T>(b, n), *dw = upload<T>(w, C),
      *dbias = upload<T>(bias, C);
    T *dres = upload<T>(a, n), *dout = upload<T>(a, n);
    float *dmean = upload<float>(mean, N), *drstd = upload<float>(rstd, N);
    int ran[4];
    ran[0] = residual_layernorm_forward_cuda(dres, dout, dmean, drstd, da, db, dw, dbias, N, C);
    CMP(xasprintf("residual_layernorm_forward residual%s", how), download(dres, n), res, n);
    CMP(xasprintf("residual_layernorm_forward out%s", how), download(dout, n), out, n);
    CMP(xasprintf("residual_layernorm_forward mean%s", how), download(dmean, N), mean, N);
    CMP(xasprintf("residual_layernorm_forward rstd%s", how), download(drstd, N), rstd, N);
    /* plain LayerNorm on the rounded residual gives the same */
    ran[1] = layernorm_forward_cuda(dout, dmean, drstd, dres, dw, dbias, N, C);
    CMP(xasprintf("layernorm_forward out%s", how), download(dout, n), out, n);

    float *g = rnd<T>(n, 1), *dinp = rnd<T>(n, 1), *gw = rand_array(C, 1), *gb = rand_array(C, 1);
    T *dg = upload<T>(g, n), *ddinp = upload<T>(dinp, n);
    float *dgw = upload<float>(gw, C), *dgb = upload<float>(gb, C);
    layernorm_backward(dinp, gw, gb, g, res, w, mean, rstd, N, C);
    ran[2] = layernorm_backward_cuda(ddinp, dgw, dgb, dg, dres, dw, dmean, drstd, N, C);
    CMP(xasprintf("layernorm_backward dinp%s", how), download(ddinp, n), dinp, n);
    /* the parameter gradients sum N rows, the CPU's in one running fp32 sum whose rounding
     * grows like sqrt(N) (at N = 4999 up to 3e-4 where the sum is near 0) */
    float sum_atol = tol.atol * fmaxf(1.0f, sqrtf((float)N) / 4);
#define CMP_SUM(name, got, want)                                                                   \
    compare(xasprintf("%s %s%s", tol.mode, name, how), got, want, C, sum_atol, tol.rtol)
    CMP_SUM("layernorm_backward dweight", download(dgw, C), gw);
    CMP_SUM("layernorm_backward dbias", download(dgb, C), gb);
    /* overwrite mode: dinp from zero, the parameter gradients still accumulate */
    float *zero = (float *)xcalloc(n, 4);
    layernorm_backward(zero, gw, gb, g, res, w, mean, rstd, N, C);
    ran[3] = layernorm_backward_cuda(ddinp, dgw, dgb, dg, dres, dw, dmean, drstd, N, C, false);
    CMP(xasprintf("layernorm_backward dinp (overwrite)%s", how), download(ddinp, n), zero, n);
    CMP_SUM("layernorm_backward dweight (twice)", download(dgw, C), gw);
#undef CMP_SUM
    ok(ran[0] == want && ran[1] == want && ran[2] == want && ran[3] == want,
       "%s layernorm%s: the %s kernels ran (%d %d %d %d)", tol.mode, how,
       want ? "register" : "plain", ran[0], ran[1], ran[2], ran[3]);
    cuda_lever_set(LEVER_LN_VEC, 1);
}

/* the GEMMs with their algorithms chosen by timing (the lever LEVER_GEMM_TUNE) or not;
 * tuned ones are new shapes to the algorithm cache, so the timing runs here */
static void gemm_tuning(int tune) {
    cuda_lever_set(LEVER_GEMM_TUNE, tune);
    matmul_tuning(tune);
}

/* vec: the lever LEVER_BIAS_VEC (bias gradients from 16-byte loads); tune: gemm_tuning;
 * bgradb: the lever LEVER_BGRADB (the bias gradient in the weight gradient's GEMM, where
 * cuBLASLt has a kernel for it) */
template <typename T> static void test_matmul(Tol tol, int vec, int tune, int bgradb) {
    const char *how = xasprintf("%s%s%s", vec ? "" : " (scalar bias gradient)",
                                tune ? " (GEMMs tuned)" : "", bgradb ? " (bgradb)" : "");
    cuda_lever_set(LEVER_BIAS_VEC, vec);
    cuda_lever_set(LEVER_BGRADB, bgradb);
    gemm_tuning(tune);
    int tuned = matmul_tuned();
    int N = 67, C = 72, OC = 136;
    size_t nin = (size_t)N * C, nout = (size_t)N * OC, nw = (size_t)OC * C;
    float *inp = rnd<T>(nin, 1), *w = rnd<T>(nw, 1), *bias = rnd<T>(OC, 1);
    float *out = (float *)xcalloc(nout, 4);
    T *dinp = upload<T>(inp, nin), *dw = upload<T>(w, nw), *db = upload<T>(bias, OC);
    T *dout = upload<T>(out, nout);
    matmul_forward_reference(out, inp, w, bias, N, C, OC);
    matmul_forward_cuda(dout, dinp, dw, db, N, C, OC);
    CMP(xasprintf("matmul_forward (bias)%s", how), download(dout, nout), out, nout);
    matmul_forward_reference(out, inp, w, NULL, N, C, OC);
    matmul_forward_cuda(dout, dinp, dw, (const T *)NULL, N, C, OC);
    CMP(xasprintf("matmul_forward (no bias)%s", how), download(dout, nout), out, nout);

    float *g = rnd<T>(nout, 1), *gin = rnd<T>(nin, 1), *gw = rand_array(nw, 1),
          *gb = rand_array(OC, 1);
    T *dg = upload<T>(g, nout), *dgin = upload<T>(gin, nin);
    float *dgw = upload<float>(gw, nw), *dgb = upload<float>(gb, OC);
    matmul_backward(gin, gw, gb, g, inp, w, N, C, OC);
    int ran = matmul_backward_cuda(dgin, dgw, dgb, dg, dinp, dw, N, C, OC);
    ok(bgradb || !ran, "%s matmul_backward%s summed the bias gradient %s", tol.mode, how,
       ran ? "in the GEMM" : "in its own kernel");
    if (bgradb && !ran) diag("cuBLASLt has no BGRADB kernel for this here");
    CMP(xasprintf("matmul_backward dinp%s", how), download(dgin, nin), gin, nin);
    CMP(xasprintf("matmul_backward dweight%s", how), download(dgw, nw), gw, nw);
    CMP(xasprintf("matmul_backward dbias%s", how), download(dgb, OC), gb, OC);
    /* overwrite mode: dinp from zero */
    float *zero = (float *)xcalloc(nin, 4), *dummy = (float *)xcalloc(nw, 4);
    matmul_backward(zero, dummy, NULL, g, inp, w, N, C, OC);
    matmul_backward_cuda(dgin, dgw, (float *)NULL, dg, dinp, dw, N, C, OC, false);
    CMP(xasprintf("matmul_backward dinp (overwrite)%s", how), download(dgin, nin), zero, nin);
    /* a BGRADB GEMM cuBLASLt refuses falls back to one a tuned run before already timed */
    if (tune && !bgradb)
        ok(matmul_tuned() > tuned, "%s matmul: %d GEMM shapes had their algorithm timed", tol.mode,
           matmul_tuned() - tuned);
    cuda_levers_reset(0);
    gemm_tuning(0);
    free((void *)how);
}

/* true when two device arrays hold the same values, bit for bit */
template <typename T> static bool same_bits(const T *a, const T *b, size_t n) {
    float *x = download(a, n), *y = download(b, n);
    bool same = memcmp(x, y, n * sizeof(float)) == 0;
    free(x), free(y);
    return same;
}

/* Attention paths: the CUDA-core kernels (PLAIN) or the tensor-core ones (MMA, bf16),
 * chosen per direction through the levers. A tensor-core kernel called directly must
 * report that it ran and give the same bits as the dispatching attention_*_cuda: the
 * dispatch really took it. Mixed pairs check that both share the logsumexp convention. */
enum { PLAIN, MMA };
static void attention_levers(int fwd, int bwd) {
    cuda_lever_set(LEVER_ATTN_FWD_MMA, fwd == MMA);
    cuda_lever_set(LEVER_ATTN_BWD_MMA, bwd == MMA);
}

template <typename T> static void test_attention(Tol tol, int fwd, int bwd, int Tn) {
    int B = 2, NH = 2, C = 128;
    size_t nqkv = (size_t)B * Tn * 3 * C, nout = (size_t)B * Tn * C,
           natt = (size_t)B * NH * Tn * Tn, nlse = (size_t)B * NH * Tn;
    static const char *names[] = {"plain", "mma"};
    char *how = xasprintf(" (T=%d, forward %s, backward %s)", Tn, names[fwd], names[bwd]);
    attention_levers(fwd, bwd);
    float *qkv = rnd<T>(nqkv, 2), *out = (float *)xmalloc(nout * 4);
    float *preatt = (float *)xmalloc(natt * 4), *att = (float *)xmalloc(natt * 4);
    attention_forward(out, preatt, att, qkv, B, Tn, C, NH);
    T *dqkv = upload<T>(qkv, nqkv), *dout = upload<T>(out, nout), *dout2 = upload<T>(out, nout);
    float *lse = (float *)cuda_malloc(nlse * 4, "lse"),
          *lse2 = (float *)cuda_malloc(nlse * 4, "lse");
    float *delta = (float *)cuda_malloc(nlse * 4, "delta");
    attention_forward_cuda(dout, lse, dqkv, B, Tn, C, NH);
    CMP(xasprintf("attention_forward%s", how), download(dout, nout), out, nout);
    if constexpr (std::is_same<T, bf16>::value)
        if (fwd != PLAIN) {
            int ran = attention_forward_mma(dout2, lse2, dqkv, B, Tn, C, NH);
            ok(ran == 1 && same_bits(dout, dout2, nout) && same_bits(lse, lse2, nlse),
               "bf16 attention_forward_%s ran (%d) and attention_forward_cuda dispatched to it",
               names[fwd], ran);
        }

    /* the GPU backward reads its own (T-rounded) output, as in training */
    float *g = rnd<T>(nout, 1), *gq = rnd<T>(nqkv, 1);
    float *dpre = (float *)xcalloc(natt, 4), *datt = (float *)xcalloc(natt, 4);
    T *dg = upload<T>(g, nout), *dgq = upload<T>(gq, nqkv), *dgq2 = upload<T>(gq, nqkv);
    attention_backward(gq, dpre, datt, g, qkv, att, B, Tn, C, NH);
    attention_backward_cuda(dgq, delta, dg, dqkv, dout, lse, B, Tn, C, NH);
    CMP(xasprintf("attention_backward dqkv%s", how), download(dgq, nqkv), gq, nqkv);
    if constexpr (std::is_same<T, bf16>::value)
        if (bwd != PLAIN) {
            int ran = attention_backward_mma(dgq2, delta, dg, dqkv, dout, lse, B, Tn, C, NH, true);
            /* the one-pass dQ is summed by atomics in no fixed order: values, not bits */
            bool onepass = cuda_lever(LEVER_ATTN_BWD_1PASS);
            if (onepass)
                CMP(xasprintf("attention_backward_mma dqkv, called directly%s", how),
                    download(dgq2, nqkv), gq, nqkv);
            ok(ran == (onepass ? 2 : 1) && (onepass || same_bits(dgq, dgq2, nqkv)),
               "bf16 attention_backward_%s ran (%d) and attention_backward_cuda dispatched to it",
               names[bwd], ran);
            /* overwrite mode (the backend's): the result without the starting gradient */
            T *dgz = upload<T>(gq, nqkv);
            float *want = (float *)xcalloc(nqkv, 4);
            memset(dpre, 0, natt * 4), memset(datt, 0, natt * 4);
            attention_backward(want, dpre, datt, g, qkv, att, B, Tn, C, NH);
            attention_backward_cuda(dgz, delta, dg, dqkv, dout, lse, B, Tn, C, NH, false);
            CMP(xasprintf("attention_backward dqkv, overwrite%s", how), download(dgz, nqkv), want,
                nqkv);
            free(want);
        }
    attention_levers(MMA, MMA);
    free(how);
}

/* Sampling's attention: rows pos..pos+n-1 of one sequence against the keys up to each,
 * equal to those rows of the full causal forward. Key counts cross the 128-key tiles
 * (130, and rows on both sides of the edge), fill them exactly (256), reach GPT-2's
 * context (1024), and the first call of a sequence takes a whole prompt. The output
 * starts as NaN, so a row or head left unwritten fails. */
template <typename T> static void test_attention_decode(Tol tol, int pos, int n) {
    int NH = 2, C = 128, Tn = pos + n;
    size_t nqkv = (size_t)Tn * 3 * C, nout = (size_t)Tn * C, natt = (size_t)NH * Tn * Tn;
    float *qkv = rnd<T>(nqkv, 2), *out = (float *)xmalloc(nout * 4);
    float *preatt = (float *)xmalloc(natt * 4), *att = (float *)xmalloc(natt * 4);
    attention_forward(out, preatt, att, qkv, 1, Tn, C, NH);
    T *dqkv = upload<T>(qkv, nqkv);
    T *dout = (T *)cuda_malloc((size_t)n * C * sizeof(T), "decode output");
    CUDA_CHECK(cudaMemset(dout, 0xff, (size_t)n * C * sizeof(T))); /* NaN in float and bf16 */
    attention_decode_cuda(dout, dqkv, pos, n, C, NH);
    CMP(xasprintf("attention_decode rows %d..%d", pos, Tn - 1), download(dout, (size_t)n * C),
        out + (size_t)pos * C, (size_t)n * C);
    free(qkv), free(out), free(preatt), free(att);
    CUDA_CHECK(cudaFree(dqkv));
    CUDA_CHECK(cudaFree(dout));
}

/* a linear layer into GELU, and the next layer's backward through the GELU, with the GELU
 * in the cuBLASLt epilogues (fused, bf16) or in its own kernels; bgrad: the lever
 * LEVER_DGELU_BGRAD (the first layer's bias gradient in the DGELU epilogue, where cuBLASLt
 * has a kernel for it) */
template <typename T> static void test_matmul_gelu(Tol tol, int fused, int tune, int bgrad) {
    int N = 67, C = 64, OC = 128; /* layer 1: C -> OC, GELU, layer 2: OC -> C */
    size_t nin = (size_t)N * C, nmid = (size_t)N * OC, nw = (size_t)OC * C;
    const char *how = xasprintf("%s%s%s", fused ? " (GELU fused)" : "",
                                tune ? " (GEMMs tuned)" : "", bgrad ? " (dgelu_bgrad)" : "");
    cuda_lever_set(LEVER_GELU_FUSED, fused);
    cuda_lever_set(LEVER_DGELU_BGRAD, bgrad);
    gemm_tuning(tune);
    float *inp = rnd<T>(nin, 1), *w = rnd<T>(nw, 0.3f), *bias = rnd<T>(OC, 1);
    float *pre = (float *)xmalloc(nmid * 4), *act = (float *)xmalloc(nmid * 4);
    matmul_forward_reference(pre, inp, w, bias, N, C, OC);
    gelu_forward(act, pre, nmid);
    T *dinp = upload<T>(inp, nin), *dw = upload<T>(w, nw), *db = upload<T>(bias, OC);
    T *dpre = upload<T>(act, nmid), *dact = upload<T>(pre, nmid); /* swapped: must be written */
    int ran = matmul_gelu_forward_cuda(dact, dpre, dinp, dw, db, N, C, OC);
    ok(ran == fused, "%s matmul_gelu_forward%s took the %s path", tol.mode, how,
       ran ? "fused" : "separate");
    CMP(xasprintf("matmul_gelu_forward pre-activation%s", how), download(dpre, nmid), pre, nmid);
    CMP(xasprintf("matmul_gelu_forward output%s", how), download(dact, nmid), act, nmid);

    /* backward: both sides read the same (T-rounded) activations */
    round_to<T>(pre, nmid), round_to<T>(act, nmid);
    float *w2 = rnd<T>(nw, 0.3f), *g = rnd<T>(nin, 1);
    float *gw2 = rand_array(nw, 1), *gb2 = rand_array(C, 1);
    T *dpre_r = upload<T>(pre, nmid), *dact_r = upload<T>(act, nmid), *dw2 = upload<T>(w2, nw);
    T *dg = upload<T>(g, nin), *dgpre = upload<T>(act, nmid);
    float *dgw2 = upload<float>(gw2, nw), *dgb2 = upload<float>(gb2, C);
    float *gact = (float *)xcalloc(nmid, 4), *gpre = (float *)xcalloc(nmid, 4);
    float *gpre_bias = rand_array(OC, 1), *dgpre_bias = upload<float>(gpre_bias, OC);
    matmul_backward(gact, gw2, gb2, g, act, w2, N, OC, C);
    gelu_backward(gpre, pre, gact, nmid);
    for (int i = 0; i < N; i++)
        for (int o = 0; o < OC; o++) gpre_bias[o] += gpre[(size_t)i * OC + o];
    ran = matmul_dgelu_backward_cuda(dgpre, dgpre_bias, dgw2, dgb2, dg, dact_r, dpre_r, dw2, N, OC,
                                     C);
    ok(fused ? ran >= 1 && (bgrad || ran == 1) : ran == 0,
       "%s matmul_dgelu_backward%s took the %s path", tol.mode, how,
       ran == 2 ? "fused, bias gradient too"
       : ran    ? "fused"
                : "separate");
    if (bgrad && ran < 2) diag("cuBLASLt has no DGELU_BGRAD kernel for this here");
    CMP(xasprintf("matmul_dgelu_backward dpre%s", how), download(dgpre, nmid), gpre, nmid);
    CMP(xasprintf("matmul_dgelu_backward dpre_bias%s", how), download(dgpre_bias, OC), gpre_bias,
        OC);
    CMP(xasprintf("matmul_dgelu_backward dweight%s", how), download(dgw2, nw), gw2, nw);
    CMP(xasprintf("matmul_dgelu_backward dbias%s", how), download(dgb2, C), gb2, C);
    cuda_levers_reset(0);
    gemm_tuning(0);
    free((void *)how);
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

/* reg, vec: the levers LEVER_CE_REG (row in registers, bf16, Vp <= 53248) and LEVER_CE_VEC
 * (16-byte loads). V = 1003 leaves a tail of single columns and a vector V falls in;
 * GPT-2's V = 50257, Vp = 50304 fills 13 vectors per thread of the register kernel. */
template <typename T>
static void test_crossentropy(Tol tol, int N, int V, int Vp, int reg, int vec) {
    cuda_lever_set(LEVER_CE_REG, reg);
    cuda_lever_set(LEVER_CE_VEC, vec);
    int want = reg && sizeof(T) == 2 && Vp % 8 == 0 && Vp <= 53248;
    const char *how = xasprintf(" V=%d Vp=%d%s%s", V, Vp, reg ? "" : " (ce_reg off)",
                                vec ? "" : " (scalar loads)");
    size_t n = (size_t)N * Vp;
    float *logits = rnd<T>(n, 5);
    int pick[6] = {0, V - 1, 5, 5, V / 2, 77}, *targets = (int *)xmalloc(N * sizeof(int));
    for (int i = 0; i < N; i++) targets[i] = pick[i % 6];
    float *probs = (float *)xmalloc(n * 4), *losses = (float *)xmalloc(N * 4);
    float *dlogits = (float *)xcalloc(n, 4), dloss = 1.0f / 7, *dlosses = (float *)xmalloc(N * 4);
    for (int i = 0; i < N; i++) dlosses[i] = dloss;
    softmax_forward(probs, logits, N, V, Vp);
    crossentropy_forward(losses, probs, targets, N, Vp);
    crossentropy_softmax_backward(dlogits, dlosses, probs, targets, N, V, Vp);
    int *dt;
    CUDA_CHECK(cudaMalloc(&dt, N * sizeof(int)));
    CUDA_CHECK(cudaMemcpy(dt, targets, N * sizeof(int), cudaMemcpyHostToDevice));
    T *dl = upload<T>(logits, n);
    float *dlosses_dev = (float *)cuda_malloc(N * 4, "losses");
    int ran[2];
    ran[0] = crossentropy_softmax_fused_cuda(dl, dlosses_dev, dt, dloss, N, V, Vp, false);
    CMP(xasprintf("crossentropy_softmax_fused losses (forward only)%s", how),
        download(dlosses_dev, N), losses, N);
    CMP(xasprintf("crossentropy_softmax_fused logits untouched%s", how), download(dl, n), logits,
        n);
    ran[1] = crossentropy_softmax_fused_cuda(dl, dlosses_dev, dt, dloss, N, V, Vp, true);
    CMP(xasprintf("crossentropy_softmax_fused losses%s", how), download(dlosses_dev, N), losses, N);
    CMP(xasprintf("crossentropy_softmax_fused dlogits%s", how), download(dl, n), dlogits, n);
    ok(ran[0] == want && ran[1] == want, "%s crossentropy%s: the %s kernel ran (%d %d)", tol.mode,
       how, want ? "register" : "plain", ran[0], ran[1]);
    cuda_lever_set(LEVER_CE_REG, 1);
    cuda_lever_set(LEVER_CE_VEC, 1);
    CUDA_CHECK(cudaFree(dt));
    free(logits), free(probs), free(losses), free(dlogits), free(dlosses), free(targets);
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
    /* the compute copy is the GPU's own fp32 result rounded to T (the CPU's may sit on the
     * other side of a rounding boundary) */
    float *mine = download(dp, n);
    round_to<T>(mine, n);
    compare(xasprintf("%s adamw compute copy", tol.mode), download(dcopy, n), mine, n, 0.0f, 0.0f);

    double *acc = (double *)cuda_malloc(sizeof(double), "acc"), got = 0;
    CUDA_CHECK(cudaMemset(acc, 0, sizeof(double)));
    sum_squares_cuda(acc, dg, n);
    CUDA_CHECK(cudaMemcpy(&got, acc, sizeof got, cudaMemcpyDeviceToHost));
    near(got, sum_squares(g, n), 0, 1e-6, "%s sum_squares", tol.mode);
}

template <typename T> static void test_all(Tol tol) {
    test_encoder<T>(tol);
    for (int C : {200, 768, 202, 1600}) test_layernorm<T>(tol, C, 1);
    test_layernorm<T>(tol, 200, 0);
    test_layernorm<T>(tol, 768, 1, 4999);
    test_matmul<T>(tol, 1, 0, 0);
    test_matmul<T>(tol, 0, 0, 0);
    test_matmul<T>(tol, 1, 1, 0);
    test_matmul<T>(tol, 1, 0, 1);
    test_matmul<T>(tol, 1, 1, 1);
    test_matmul_gelu<T>(tol, 0, 0, 0);
    if (sizeof(T) == 2) {
        test_matmul_gelu<T>(tol, 1, 0, 0);
        test_matmul_gelu<T>(tol, 1, 1, 0);
        test_matmul_gelu<T>(tol, 1, 0, 1);
    }
    test_attention<T>(tol, PLAIN, PLAIN, 70); /* T=70 crosses every tile size */
    if (sizeof(T) == 2) {
        test_attention<T>(tol, MMA, PLAIN, 70);
        test_attention<T>(tol, PLAIN, MMA, 70);
        for (int variant = 3; variant >= 0; variant--) {
            int rows32 = variant & 1, onepass = variant >> 1;
            cuda_lever_set(LEVER_ATTN_FWD_32ROWS, rows32);
            cuda_lever_set(LEVER_ATTN_BWD_1PASS, onepass);
            diag("mma attention: forward with %d rows per warp, backward in %s", rows32 ? 32 : 16,
                 onepass ? "one pass (dQ by atomics)" : "two kernels");
            test_attention<T>(tol, MMA, MMA, 70);
            test_attention<T>(tol, MMA, MMA, 200); /* several tiles before the diagonal */
            test_attention<T>(tol, MMA, MMA, 64);  /* exactly one tile */
            test_attention<T>(tol, MMA, MMA, 128); /* exactly one block of 32-row warps */
        }
        cuda_levers_reset(0);
    }
    static const int decode_cases[][2] = {{0, 1},   {0, 70},  {129, 1},  {120, 20},
                                          {255, 1}, {300, 3}, {1000, 24}};
    for (auto &pn : decode_cases) test_attention_decode<T>(tol, pn[0], pn[1]);
    test_gelu<T>(tol);
    test_crossentropy<T>(tol, 6, 1003, 1024, 1, 1);
    test_crossentropy<T>(tol, 4, 50257, 50304, 1, 1);
    test_crossentropy<T>(tol, 2, 60000, 60032, 1, 1); /* too wide: the plain kernel */
    test_crossentropy<T>(tol, 6, 1003, 1024, 0, 1);
    test_crossentropy<T>(tol, 6, 1003, 1024, 0, 0);
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
