/* The key/value cache forward (common/model/generate.c) against gpt2_forward over the whole
 * sequence: the logits after every position, fed one token at a time, in one call that
 * spans several chunks, and again after rewinding; then the CPU backend's decode on it.
 * Then bf16 weights, on every kernel path this CPU has, against the fp32 forward: logits
 * within BF16_TOL + BF16_RTOL * |logit|, per-position losses within BF16_LOSS_TOL. */
#include "base/util.h"
#include "model/backend_cpu.h"
#include "model/generate.h"
#include "model/kernels/bf16.h"
#include "model/model.h"
#include "tap.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* largest |a-b| / (1e-5 + |b|)-style error, in llm.c's tol + rtol*|ref| terms */
static int logits_near(const float *got, const float *want, int n, double tol, double rtol,
                       double *worst) {
    int fine = 1;
    *worst = 0;
    for (int i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]);
        if (d > *worst) *worst = d;
        if (d > tol + rtol * fabs(want[i])) fine = 0;
    }
    return fine;
}

/* bf16 keeps 8 bits of mantissa: each weight and input is off by up to 2^-9 relatively,
 * errors that mostly average out over a dot product. This model's weights are 4x GPT-2's
 * init, which sharpens every error: measured max abs diff 0.095 on logits, 0.055 on
 * losses (both kernel paths); the bounds leave 2x of room. */
#define BF16_TOL 0.2
#define BF16_RTOL 0.02
#define BF16_LOSS_TOL 0.12

/* the bf16 generator against the fp32 forward (full [T,Vp] logits, losses [T-1]) */
static void check_bf16(const GPT2 *m, const int *tokens, const float *full, const float *losses,
                       const char *path) {
    const GPT2Config *cfg = &m->config;
    int T = cfg->max_seq_len, Vp = cfg->padded_vocab_size;
    Generator g;
    generate_init(&g, m, T, GENERATE_BF16);
    int fine = 1, argmax_same = 0;
    double worst = 0, w;
    for (int t = 0; t < T; t++) {
        const float *got = generate_feed(&g, tokens + t, 1);
        fine &= logits_near(got, full + (size_t)t * Vp, Vp, BF16_TOL, BF16_RTOL, &w);
        if (w > worst) worst = w;
        int a = 0, b = 0;
        for (int v = 1; v < cfg->vocab_size; v++) {
            if (got[v] > got[a]) a = v;
            if (full[(size_t)t * Vp + v] > full[(size_t)t * Vp + b]) b = v;
        }
        argmax_same += a == b;
    }
    ok(fine,
       "bf16 (%s), one token at a time: logits near fp32 at all %d positions (max abs diff %.3g)",
       path, T, worst);
    diag("bf16 (%s): the likeliest token is fp32's at %d of %d positions", path, argmax_same, T);
    float *got = xmalloc(sizeof(float) * T);
    generate_rewind(&g, 0);
    generate_feed_losses(&g, tokens, tokens + 1, T - 1, got);
    worst = 0;
    for (int t = 0; t < T - 1; t++)
        if (fabs(got[t] - losses[t]) > worst) worst = fabs(got[t] - losses[t]);
    ok(worst < BF16_LOSS_TOL, "bf16 (%s): losses of one feed near fp32 (max abs diff %.3g)", path,
       worst);
    free(got);
    generate_free(&g);
}

/* Groups of rows after their prefixes, scored together (generate_score_groups), against
 * each row fed alone after a rewind to its prefix: the losses agree to rounding. Group e
 * has np[e] prefix tokens and rows[e] rows of len[] tokens (taken in turn), each a slice
 * of tokens with the next tokens as targets. */
static void check_groups(Generator *g, const int *tokens, int groups, const int *np,
                         const int *rows, const int *len, const char *what) {
    enum { MAX_ROWS = 16 };
    const int *tok[MAX_ROWS], *tgt[MAX_ROWS];
    float *got[MAX_ROWS], *want[MAX_ROWS];
    ScoreGroup gr[8] = {0};
    for (int e = 0, k = 0, off = 17; e < groups; k += rows[e], e++) {
        gr[e] = (ScoreGroup){.prefix = tokens + 3 * e,
                             .np = np[e],
                             .rows = rows[e],
                             .tokens = tok + k,
                             .targets = tgt + k,
                             .n = len + k,
                             .losses = got + k};
        for (int j = k; j < k + rows[e]; off += 11, j++) {
            tok[j] = tokens + off, tgt[j] = tokens + off + 1;
            got[j] = xmalloc(sizeof(float) * (len[j] + 1));
            want[j] = xmalloc(sizeof(float) * (len[j] + 1));
        }
    }
    int total = 0;
    for (int e = 0; e < groups; e++) {
        generate_rewind(g, 0);
        if (np[e]) generate_append(g, gr[e].prefix, np[e]);
        for (int j = total; j < total + rows[e]; j++) {
            if (!len[j]) continue;
            generate_rewind(g, np[e]);
            generate_feed_losses(g, tok[j], tgt[j], len[j], want[j]);
        }
        total += rows[e];
    }
    generate_score_groups(g, groups, gr);
    double worst = 0;
    for (int j = 0; j < total; j++)
        for (int i = 0; i < len[j]; i++) {
            double d = fabs(got[j][i] - want[j][i]) / (1 + fabs(want[j][i]));
            if (d > worst) worst = d;
        }
    ok(worst < 1e-5, "groups %s: each row's losses as if fed alone (max rel diff %.2g)", what,
       worst);
    for (int j = 0; j < total; j++) free(got[j]), free(want[j]);
}

int main(void) {
    util_init("test-generate");
    /* 150 positions: more than one 128-row chunk, so a single feed crosses a chunk edge */
    GPT2Config cfg = gpt2_config_make(150, 100, 2, 4, 32);
    int T = cfg.max_seq_len, Vp = cfg.padded_vocab_size;
    GPT2 m;
    gpt2_create(&m, &cfg);
    gpt2_init_params(m.params_memory, &cfg, 42);
    /* larger weights than GPT-2's init so attention is far from uniform */
    for (size_t i = 0; i < m.num_params; i++) m.params_memory[i] *= 4;
    int *tokens = xmalloc(sizeof(int) * T);
    uint64_t r = 7;
    for (int t = 0; t < T; t++) tokens[t] = (int)((r = r * 6364136223846793005ull + 1) >> 33) % 100;
    gpt2_forward(&m, tokens, NULL, 1, T);
    float *full = xmalloc(sizeof(float) * T * Vp);
    memcpy(full, m.logits, sizeof(float) * T * Vp);

    Generator g;
    generate_init(&g, &m, T, GENERATE_FP32);
    int all_fine = 1;
    double worst = 0, w;
    int near;
    for (int t = 0; t < T; t++) {
        const float *got = generate_feed(&g, tokens + t, 1);
        all_fine &= logits_near(got, full + (size_t)t * Vp, Vp, 1e-4, 1e-4, &w);
        if (w > worst) worst = w;
    }
    ok(all_fine,
       "one token at a time: logits equal the full forward at all %d positions "
       "(max abs diff %.2g)",
       T, worst);
    is_int(g.pos, T, "cache filled");

    generate_rewind(&g, 0);
    const float *got = generate_feed(&g, tokens, T);
    near = logits_near(got, full + (size_t)(T - 1) * Vp, Vp, 1e-4, 1e-4, &w);
    ok(near, "all %d tokens in one feed (two chunks): last logits equal (max abs diff %.2g)", T, w);

    generate_rewind(&g, 10);
    got = generate_feed(&g, tokens + 10, 50);
    near = logits_near(got, full + 59 * Vp, Vp, 1e-4, 1e-4, &w);
    ok(near, "rewind to 10, feed 50 more: logits at 59 equal (max abs diff %.2g)", w);
    got = generate_feed(&g, tokens + 60, 1);
    near = logits_near(got, full + 60 * Vp, Vp, 1e-4, 1e-4, &w);
    ok(near, "then one more: logits at 60 equal (max abs diff %.2g)", w);

    /* the padded vocabulary rows are zero, so their logits are exactly 0 */
    int pad_zero = 1;
    for (int v = cfg.vocab_size; v < Vp; v++) pad_zero &= got[v] == 0;
    ok(pad_zero, "padding logits are 0");

    /* the logits of several positions, and the losses, from one feed */
    float *some = xmalloc(sizeof(float) * 20 * Vp);
    generate_rewind(&g, 0);
    generate_feed_logits(&g, tokens, 140, 120, some);
    near = logits_near(some, full + (size_t)120 * Vp, 20 * Vp, 1e-4, 1e-4, &w);
    ok(near,
       "logits of positions 120..139 from one feed of 140 (two chunks) equal (max abs diff %.2g)",
       w);
    free(some);
    float *losses = xmalloc(sizeof(float) * T), *ref_losses = xmalloc(sizeof(float) * T);
    gpt2_forward(&m, tokens, tokens + 1, 1, T - 1); /* targets: the next token */
    memcpy(ref_losses, m.losses, sizeof(float) * (T - 1));
    generate_rewind(&g, 0);
    generate_feed_losses(&g, tokens, tokens + 1, T - 1, losses);
    double lw = 0;
    for (int t = 0; t < T - 1; t++)
        if (fabs(losses[t] - ref_losses[t]) > lw) lw = fabs(losses[t] - ref_losses[t]);
    ok(lw < 1e-4, "losses of one feed equal gpt2_forward's (max abs diff %.2g)", lw);
    check_groups(&g, tokens, 1, (int[]){5}, (int[]){4}, (int[]){3, 0, 7, 1},
                 "(one) after 5 tokens, one row empty");
    check_groups(&g, tokens, 1, (int[]){0}, (int[]){2}, (int[]){4, 6}, "(one) with no prefix");
    check_groups(&g, tokens, 1, (int[]){1}, (int[]){3}, (int[]){50, 50, 40},
                 "(one) of 140 rows (two chunks)");
    check_groups(&g, tokens, 1, (int[]){5}, (int[]){3}, (int[]){70, 70, 10},
                 "(one) too many for the cache together");
    check_groups(&g, tokens, 3, (int[]){5, 0, 9}, (int[]){2, 3, 4},
                 (int[]){6, 3, 0, 8, 2, 5, 7, 1, 4}, "(three) in one feed of each kind");
    check_groups(&g, tokens, 4, (int[]){20, 12, 9, 7}, (int[]){2, 2, 3, 1},
                 (int[]){30, 25, 20, 13, 70, 60, 20, 9}, "(four) two in a feed, one alone, one");
    generate_free(&g);
    /* a cache of more slots than positions: groups fed together fill slots past
     * max_seq_len, yet each row's positions are its own */
    generate_init(&g, &m, 2 * T, GENERATE_FP32);
    check_groups(&g, tokens, 4, (int[]){20, 12, 9, 7}, (int[]){2, 2, 3, 1},
                 (int[]){30, 25, 20, 13, 70, 60, 20, 9}, "(four) in 295 slots of 150 positions");
    generate_free(&g);

    for (Bf16Path p = 0; p < BF16_NUM_PATHS; p++) {
        if (bf16_path_set(p))
            diag("bf16 path %s: this CPU lacks it; not tested", bf16_path_name(p));
        else
            check_bf16(&m, tokens, full, ref_losses, bf16_path_name(p));
    }
    free(losses);
    free(ref_losses);

    /* decode (backend.h): positions before pos kept, those from pos on replaced */
    Backend *be = backend_cpu_create(&m, 1, T);
    float *out = xmalloc(sizeof(float) * Vp);
    int calls[][2] = {{0, 30}, {30, 1}, {31, 1}, {5, 3}, {8, 140}, {148, 2}};
    for (size_t i = 0; i < sizeof calls / sizeof *calls; i++) {
        int pos = calls[i][0], n = calls[i][1];
        be->decode(be, tokens + pos, pos, n, out);
        near = logits_near(out, full + (size_t)(pos + n - 1) * Vp, Vp, 1e-4, 1e-4, &w);
        ok(near, "backend decode of positions %d..%d: logits equal (max abs diff %.2g)", pos,
           pos + n - 1, w);
    }
    be->free(be);
    free(out);
    free(full);
    free(tokens);
    return done_testing();
}
