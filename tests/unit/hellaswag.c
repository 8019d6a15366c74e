/* Unit tests for common/eval/hellaswag.c: parsing, row construction and which positions count,
 * against a stand-in backend whose loss at a position is a known function of its target
 * token, so every expected sum is computed here from the tokenizer alone. Then a small
 * random model on the CPU, fp32 and bf16: the shared-context form (the context once, the
 * endings on its cache) against the 4-row form. The real-model comparison with PyTorch is
 * tests/cli/eval-hellaswag.sh. */
#include "eval/hellaswag.h"
#include "model/backend_cpu.h"
#include "base/util.h"
#include "tap.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static float fake_loss(int target) {
    return (float)(target % 97) / 8.0f; /* exact in float, distinct for most tokens */
}

static int calls, last_B, last_T, bad_input;

static float fake_eval_losses(Backend *be, const int *inputs, const int *targets, int B, int T,
                              float *losses) {
    calls++, last_B = B, last_T = T;
    for (int i = 0; i < B * T; i++) {
        if (inputs[i] < 0 || inputs[i] >= be->config.vocab_size) bad_input = 1;
        losses[i] = fake_loss(targets[i]);
    }
    return 0;
}

static Backend fake_backend(int B, int T) {
    Backend be = {.name = "fake", .B = B, .T = T, .eval_losses = fake_eval_losses};
    be.config.vocab_size = 50257;
    return be;
}

/* The shared form against the 4-row form on the same backend, every sum and mean. */
static void check_shared(const HellaSwag *hs, GenerateDtype dtype, const char *what) {
    GPT2Config cfg = gpt2_config_make(64, 50257, 2, 2, 32);
    GPT2 m;
    gpt2_create(&m, &cfg);
    gpt2_init_params(m.params_memory, &cfg, 5);
    for (size_t i = 0; i < m.num_params; i++) m.params_memory[i] *= 4; /* sharper than init */
    Backend *be = backend_cpu_infer_create(&m, 4 * (int)hs->n, 64, dtype);
    HellaSwagScore shared[8], rows[8];
    hellaswag_score(be, hs, 0, hs->n, shared);
    ok(be->shared_losses, "%s: the CPU backend shares contexts", what);
    be->shared_losses = NULL;
    hellaswag_score(be, hs, 0, hs->n, rows);
    double worst = 0;
    int same_pred = 1;
    for (size_t e = 0; e < hs->n; e++) {
        for (int i = 0; i < 4; i++) {
            double d = fabs(shared[e].sum[i] - rows[e].sum[i]) / (1 + fabs(rows[e].sum[i]));
            double dm = fabs(shared[e].mean[i] - rows[e].mean[i]) / (1 + fabs(rows[e].mean[i]));
            if (d > worst) worst = d;
            if (dm > worst) worst = dm;
        }
        same_pred &= shared[e].pred == rows[e].pred && shared[e].pred_norm == rows[e].pred_norm;
    }
    ok(worst < 1e-5, "%s: shared-context losses equal the 4-row form's (max rel diff %.2g)", what,
       worst);
    ok(same_pred, "%s: and so do the predictions", what);
    be->free(be);
}

static const char *write_file(const char *dir, const char *name, const char *text) {
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = xfopen(path, "w");
    fputs(text, f);
    xfclose(f, path);
    return path;
}

/* The expected summed loss of an ending: its tokens as tokenized on their own. */
static double ending_sum(const BPE *bpe, const char *ending, int *ntok) {
    char *text = xasprintf(" %s", ending);
    int *ids = NULL;
    size_t n = 0, cap = 0;
    bpe_encode(bpe, text, strlen(text), &ids, &n, &cap);
    double s = 0;
    for (size_t i = 0; i < n; i++) s += fake_loss(ids[i]);
    *ntok = (int)n;
    free(ids);
    free(text);
    return s;
}

static const char *records =
    "{\"ind\": 24, \"ctx\": \"A man is sitting on a roof. he\", \"label\": 3, \"endings\": "
    "[\"is using wrap to wrap a pair of skis.\", \"is ripping level tiles off.\", \"is holding "
    "a rubik's cube.\", \"starts pulling up roofing on a roof.\"]}\n"
    "\n"
    "{\"ind\": 7, \"ctx\": \"The cat\", \"label\": \"1\", \"endings\": [\"sat.\", \"ran away "
    "from the big dog quickly.\", \"is\", \"\\u00e9t\\u00e9 caf\\u00e9\"]}\n"
    "{\"ctx\": \"x\", \"label\": 0, \"endings\": [\"a\", \"b\", \"c\", \"d\"]}\n";
static const char *const endings[3][4] = {
    {"is using wrap to wrap a pair of skis.", "is ripping level tiles off.",
     "is holding a rubik's cube.", "starts pulling up roofing on a roof."},
    {"sat.", "ran away from the big dog quickly.", "is", "\xc3\xa9t\xc3\xa9 caf\xc3\xa9"},
    {"a", "b", "c", "d"}};
static const char *const contexts[3] = {"A man is sitting on a roof. he", "The cat", "x"};

static void check_scores(const BPE *bpe, const HellaSwag *hs, const HellaSwagScore *s, size_t first,
                         size_t count, const char *what) {
    int good = 1;
    for (size_t e = first; e < first + count; e++) {
        int pred = 0, pred_norm = 0;
        double sums[4], means[4];
        for (int i = 0; i < 4; i++) {
            int n;
            sums[i] = ending_sum(bpe, endings[e][i], &n);
            means[i] = sums[i] / n;
            good &= fabs(s[e - first].sum[i] - sums[i]) < 1e-9;
            good &= fabs(s[e - first].mean[i] - means[i]) < 1e-9;
            if (sums[i] < sums[pred]) pred = i;
            if (means[i] < means[pred_norm]) pred_norm = i;
        }
        good &= s[e - first].pred == pred && s[e - first].pred_norm == pred_norm;
    }
    (void)hs;
    ok(good, "%s: sums, means, predictions count exactly the ending tokens", what);
}

int main(void) {
    util_init("test-hellaswag");
    char dir[] = "/tmp/gpt2-hellaswag-XXXXXX";
    if (!mkdtemp(dir)) die("mkdtemp:");
    BPE *bpe = bpe_load_gpt2();
    char err[512];
    HellaSwag hs;

    const char *path = write_file(dir, "hs.jsonl", records);
    ok(hellaswag_load(&hs, path, bpe, 0, err, sizeof err) == 0, "loads a HellaSwag file");
    is_int(hs.n, 3, "three records, the blank line skipped");
    is_int(hs.ex[0].ind, 24, "ind read");
    is_int(hs.ex[0].label, 3, "numeric label");
    is_int(hs.ex[1].label, 1, "string label");
    is_int(hs.ex[2].ind, -1, "no ind: -1");
    /* each row is the context's tokens, then those of " " + ending */
    int rows_ok = 1, max_len = 0, max_row = 0;
    for (int e = 0; e < 3; e++) {
        int *ctx = NULL;
        size_t nc = 0, cap = 0;
        bpe_encode(bpe, contexts[e], strlen(contexts[e]), &ctx, &nc, &cap);
        rows_ok &= hs.ex[e].ctx_len == (int)nc;
        for (int i = 0; i < 4; i++) {
            int *ids = NULL;
            size_t n = 0, c2 = 0;
            char *text = xasprintf(" %s", endings[e][i]);
            bpe_encode(bpe, text, strlen(text), &ids, &n, &c2);
            rows_ok &= hs.ex[e].len[i] == (int)(nc + n);
            rows_ok &= !memcmp(hs.ex[e].rows[i], ctx, nc * sizeof *ctx);
            rows_ok &= !memcmp(hs.ex[e].rows[i] + nc, ids, n * sizeof *ids);
            if (hs.ex[e].len[i] > max_len) max_len = hs.ex[e].len[i];
            free(ids);
            free(text);
        }
        free(ctx);
    }
    ok(rows_ok, "rows are context tokens + tokens of \" \" + ending, tokenized apart");
    is_int(hs.max_len, max_len, "max_len is the longest row");

    HellaSwagScore s[3];
    Backend be = fake_backend(12, 1024);
    for (size_t e = 0; e < 3; e++) hellaswag_score(&be, &hs, e, 1, &s[e]);
    check_scores(bpe, &hs, s, 0, 3, "one example per forward");
    is_int(last_B, 4, "4 rows per example");
    calls = 0;
    memset(s, 0, sizeof s);
    hellaswag_score(&be, &hs, 0, 3, s);
    is_int(calls, 1, "three examples in one forward");
    is_int(last_B, 12, "12 rows");
    is_int(last_T, max_len - 1, "padded to the longest row");
    check_scores(bpe, &hs, s, 0, 3, "three examples batched with padding");
    ok(!bad_input, "padding uses valid token ids");

    /* a model shorter than the row: context is dropped from the front, the ending kept */
    int shortT = hs.ex[0].len[0] - hs.ex[0].ctx_len + 1;
    be = fake_backend(4, shortT);
    hellaswag_score(&be, &hs, 0, 1, s);
    ok(last_T <= shortT, "rows cut to the backend's T (%d)", last_T);
    int n0;
    near(s[0].sum[0], ending_sum(bpe, endings[0][0], &n0), 1e-9, 0,
         "a truncated row still scores its whole ending");

    hellaswag_sort(&hs);
    int sorted = 1;
    for (size_t e = 0; e < hs.n; e++) {
        int longest = 0;
        for (int i = 0; i < 4; i++)
            if (hs.ex[e].len[i] > longest) longest = hs.ex[e].len[i];
        sorted &= e == 0 || longest >= max_row;
        max_row = longest;
    }
    ok(sorted && hs.ex[0].index == 2 && hs.ex[2].index == 0, "sorted by longest row, index kept");
    check_shared(&hs, GENERATE_FP32, "fp32");
    check_shared(&hs, GENERATE_BF16, "bf16");
    memset(s, 0, sizeof s);
    be = fake_backend(12, 1024);
    hellaswag_score(&be, &hs, 0, 3, s);
    HellaSwagScore by_index[3];
    for (size_t e = 0; e < 3; e++) by_index[hs.ex[e].index] = s[e];
    check_scores(bpe, &hs, by_index, 0, 3, "sorted examples");

    HellaSwag lim;
    ok(hellaswag_load(&lim, path, bpe, 2, err, sizeof err) == 0 && lim.n == 2, "limit 2");
    hellaswag_free(&lim);
    hellaswag_free(&hs);

    /* an empty context: the rows are the endings alone (memcpy of no context tokens
     * from a NULL buffer was undefined, caught by UBSan) */
    path = write_file(dir, "empty.jsonl",
                      "{\"ctx\": \"\", \"label\": 0, \"endings\": [\"a\", \"b\", \"c\", \"\"]}\n");
    ok(hellaswag_load(&hs, path, bpe, 0, err, sizeof err) == 0 && hs.n == 1 &&
           hs.ex[0].ctx_len == 0 && hs.ex[0].len[0] == 1 && hs.ex[0].len[3] == 1,
       "empty context: rows of the endings' tokens only");
    hellaswag_free(&hs);

    static const struct {
        const char *text, *msg;
    } bad[] = {
        {"{\"ctx\": \"a\", \"label\": 0, \"endings\": [\"a\", \"b\", \"c\"]}\n", ":1: \"endings\""},
        {"\n{\"ctx\": \"a\", \"label\": 4, \"endings\": [\"a\", \"b\", \"c\", \"d\"]}\n",
         ":2: no \"label\""},
        {"{\"label\": 0, \"endings\": [\"a\", \"b\", \"c\", \"d\"]}\n", "no \"ctx\""},
        {"{\"ctx\": \"a\", \"label\": 0, \"endings\": [\"a\", \"b\", 3, \"d\"]}\n",
         "ending 2 is not"},
        {"{\"ctx\": \"a\", \"label\": 0,\n", "bad JSON"},
        {"[1, 2]\n", "not a JSON object"},
        {"\n\n", "no HellaSwag records"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        path = write_file(dir, "bad.jsonl", bad[i].text);
        int rc = hellaswag_load(&hs, path, bpe, 0, err, sizeof err);
        ok(rc == -1 && strstr(err, bad[i].msg), "rejected with '%s' (%s)", bad[i].msg, err);
    }
    ok(hellaswag_load(&hs, "/nonexistent/hs.jsonl", bpe, 0, err, sizeof err) == -1 &&
           strstr(err, "No such file"),
       "missing file: %s", err);

    bpe_free(bpe);
    char *cmd = xasprintf("rm -rf '%s'", dir);
    if (system(cmd)) diag("could not remove %s", dir);
    free(cmd);
    return done_testing();
}
