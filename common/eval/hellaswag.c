#include "eval/hellaswag.h"
#include "base/util.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The official file writes label as a number; some copies (Hugging Face's) as a string. */
static int parse_label(json_t *v) {
    if (json_is_integer(v)) {
        json_int_t l = json_integer_value(v);
        return l >= 0 && l < HELLASWAG_ENDINGS ? (int)l : -1;
    }
    const char *s = json_string_value(v);
    if (s && s[0] >= '0' && s[0] < '0' + HELLASWAG_ENDINGS && !s[1]) return s[0] - '0';
    return -1;
}

/* One record into one example; a message (without position) in err on failure. */
static int parse_record(const char *line, size_t len, const BPE *bpe, HellaSwagExample *ex,
                        char *err, size_t errlen) {
    json_error_t jerr;
    json_t *root = json_loadb(line, len, 0, &jerr);
    if (!root) return err_fail(err, errlen, "bad JSON: %s", jerr.text);
    int rc = -1;
    json_t *ctx = json_object_get(root, "ctx"), *endings = json_object_get(root, "endings");
    json_t *ind = json_object_get(root, "ind");
    if (!json_is_object(root)) {
        err_fail(err, errlen, "not a JSON object");
    } else if (!json_is_string(ctx)) {
        err_fail(err, errlen, "no \"ctx\" string");
    } else if (!json_is_array(endings) || json_array_size(endings) != HELLASWAG_ENDINGS) {
        err_fail(err, errlen, "\"endings\" is not an array of %d strings", HELLASWAG_ENDINGS);
    } else if ((ex->label = parse_label(json_object_get(root, "label"))) < 0) {
        err_fail(err, errlen, "no \"label\" in 0..%d", HELLASWAG_ENDINGS - 1);
    } else {
        rc = 0;
        for (int i = 0; i < HELLASWAG_ENDINGS; i++)
            if (!json_is_string(json_array_get(endings, i)))
                rc = err_fail(err, errlen, "ending %d is not a string", i);
    }
    if (rc == 0) {
        ex->ind = json_is_integer(ind) ? (long)json_integer_value(ind) : -1;
        int *ctx_ids = NULL;
        size_t nctx = 0, cap = 0;
        bpe_encode(bpe, json_string_value(ctx), json_string_length(ctx), &ctx_ids, &nctx, &cap);
        ex->ctx_len = (int)nctx;
        for (int i = 0; i < HELLASWAG_ENDINGS; i++) {
            json_t *e = json_array_get(endings, i);
            /* the ending is tokenized on its own, with its leading space, as in the
             * reference scoring (not together with the context) */
            size_t elen = json_string_length(e);
            char *text = xmalloc(elen + 1);
            text[0] = ' ';
            memcpy(text + 1, json_string_value(e), elen);
            size_t n = nctx, rcap = nctx + 16;
            int *row = xmalloc(rcap * sizeof *row);
            if (nctx) memcpy(row, ctx_ids, nctx * sizeof *row); /* ctx_ids NULL for "" */
            bpe_encode(bpe, text, elen + 1, &row, &n, &rcap);
            free(text);
            ex->rows[i] = row;
            ex->len[i] = (int)n;
        }
        free(ctx_ids);
    }
    json_decref(root);
    return rc;
}

static void example_free(HellaSwagExample *ex) {
    for (int i = 0; i < HELLASWAG_ENDINGS; i++) free(ex->rows[i]);
}

static int longest_row(const HellaSwagExample *ex) {
    int m = 0;
    for (int i = 0; i < HELLASWAG_ENDINGS; i++)
        if (ex->len[i] > m) m = ex->len[i];
    return m;
}

int hellaswag_load(HellaSwag *hs, const char *path, const BPE *bpe, size_t limit, char *err,
                   size_t errlen) {
    memset(hs, 0, sizeof *hs);
    const char *cause = NULL;
    FILE *f = strcmp(path, "-") ? fopen_stream(path, &cause) : stdin;
    if (!f) return err_fail(err, errlen, "%s: %s", path, cause);
    char *line = NULL, why[256];
    size_t linecap = 0, cap = 0, lineno = 0;
    ssize_t len;
    int rc = 0;
    while ((limit == 0 || hs->n < limit) && (len = getline(&line, &linecap, f)) >= 0) {
        lineno++;
        if (strspn(line, " \t\r\n") == (size_t)len) continue;
        if (hs->n == cap) {
            cap = cap ? 2 * cap : 1024;
            hs->ex = xrealloc(hs->ex, cap * sizeof *hs->ex);
        }
        HellaSwagExample *ex = &hs->ex[hs->n];
        if (parse_record(line, (size_t)len, bpe, ex, why, sizeof why)) {
            rc = err_fail(err, errlen, "%s:%zu: %s", path, lineno, why);
            break;
        }
        ex->index = hs->n++;
        if (longest_row(ex) > hs->max_len) hs->max_len = longest_row(ex);
    }
    if (rc == 0 && ferror(f)) rc = err_fail(err, errlen, "%s: %s", path, strerror(errno));
    if (rc == 0 && hs->n == 0) rc = err_fail(err, errlen, "%s: no HellaSwag records", path);
    free(line);
    if (f != stdin) fclose(f);
    if (rc) hellaswag_free(hs);
    return rc;
}

void hellaswag_free(HellaSwag *hs) {
    for (size_t i = 0; i < hs->n; i++) example_free(&hs->ex[i]);
    free(hs->ex);
    memset(hs, 0, sizeof *hs);
}

static int cmp_length(const void *a, const void *b) {
    const HellaSwagExample *x = a, *y = b;
    int lx = longest_row(x), ly = longest_row(y);
    if (lx != ly) return lx < ly ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

void hellaswag_sort(HellaSwag *hs) {
    qsort(hs->ex, hs->n, sizeof *hs->ex, cmp_length);
}

/* Tokens to drop from the start of a row of len tokens so that it fits T+1 (T positions). */
static int row_skip(int len, int T) {
    return len > T + 1 ? len - (T + 1) : 0;
}

/* The 4-row form: every row in full, examples [first, first+count) in one batch padded
 * to the longest; sum and mean of each ending into out. */
static void score_rows(Backend *be, const HellaSwag *hs, size_t first, size_t count,
                       HellaSwagScore *out) {
    int B = (int)count * HELLASWAG_ENDINGS, T = 1;
    if (B > be->B) die("hellaswag: %d rows exceed the backend's batch of %d", B, be->B);
    for (size_t e = first; e < first + count; e++)
        if (longest_row(&hs->ex[e]) - 1 > T) T = longest_row(&hs->ex[e]) - 1;
    if (T > be->T) T = be->T;
    int *inputs = xmalloc((size_t)B * T * sizeof *inputs);
    int *targets = xmalloc((size_t)B * T * sizeof *targets);
    float *losses = xmalloc((size_t)B * T * sizeof *losses);
    /* padding: any valid token; its losses are never read */
    for (size_t k = 0; k < (size_t)B * T; k++) inputs[k] = targets[k] = GPT2_EOT;
    for (int b = 0; b < B; b++) {
        const HellaSwagExample *ex = &hs->ex[first + b / HELLASWAG_ENDINGS];
        const int *row = ex->rows[b % HELLASWAG_ENDINGS];
        int len = ex->len[b % HELLASWAG_ENDINGS], skip = row_skip(len, T);
        for (int t = 0; t + 1 < len - skip; t++) {
            inputs[(size_t)b * T + t] = row[skip + t];
            targets[(size_t)b * T + t] = row[skip + t + 1];
        }
    }
    be->eval_losses(be, inputs, targets, B, T, losses);
    for (int b = 0; b < B; b++) {
        const HellaSwagExample *ex = &hs->ex[first + b / HELLASWAG_ENDINGS];
        HellaSwagScore *s = &out[b / HELLASWAG_ENDINGS];
        int i = b % HELLASWAG_ENDINGS, skip = row_skip(ex->len[i], T);
        /* position t predicts token skip+t+1: the ending's tokens are those from ctx_len on */
        int from = ex->ctx_len - 1 - skip, to = ex->len[i] - 1 - skip, n = 0;
        if (from < 0) from = 0;
        double sum = 0;
        for (int t = from; t < to; t++, n++) sum += losses[(size_t)b * T + t];
        s->sum[i] = sum;
        s->mean[i] = n ? sum / n : 0;
    }
    free(inputs);
    free(targets);
    free(losses);
}

/* The shared form: the context but its last token once, then each ending from that last
 * token on, on the context's keys and values (about half the tokens of the 4-row form),
 * for all count examples in one call (the backend feeds several together). The positions
 * and losses are the 4-row form's, so are the sums, up to rounding. */
static void score_shared(Backend *be, const HellaSwagExample *ex, size_t count,
                         HellaSwagScore *out) {
    enum { E = HELLASWAG_ENDINGS };
    ScoreGroup *gr = xmalloc(count * sizeof *gr);
    const int **tokens = xmalloc(count * E * sizeof *tokens);
    const int **targets = xmalloc(count * E * sizeof *targets);
    int *n = xmalloc(count * E * sizeof *n);
    float **losses = xmalloc(count * E * sizeof *losses);
    for (size_t e = 0; e < count; e++) {
        int np = ex[e].ctx_len > 0 ? ex[e].ctx_len - 1 : 0;
        for (int i = 0; i < E; i++) {
            size_t k = e * E + i;
            n[k] = ex[e].len[i] - 1 - np;
            tokens[k] = ex[e].rows[i] + np;
            targets[k] = ex[e].rows[i] + np + 1;
            losses[k] = xmalloc(sizeof(float) * (n[k] > 0 ? n[k] : 1));
        }
        gr[e] = (ScoreGroup){.prefix = ex[e].rows[0],
                             .np = np,
                             .rows = E,
                             .tokens = tokens + e * E,
                             .targets = targets + e * E,
                             .n = n + e * E,
                             .losses = losses + e * E};
    }
    be->shared_losses(be, (int)count, gr);
    for (size_t k = 0; k < count * E; k++) {
        double sum = 0;
        for (int t = 0; t < n[k]; t++) sum += losses[k][t];
        out[k / E].sum[k % E] = sum;
        out[k / E].mean[k % E] = n[k] > 0 ? sum / n[k] : 0;
        free(losses[k]);
    }
    free(gr), free(tokens), free(targets), free(n), free(losses);
}

void hellaswag_score(Backend *be, const HellaSwag *hs, size_t first, size_t count,
                     HellaSwagScore *out) {
    /* rows cut to fit the window lose context tokens each its own way: no sharing there */
    int fits = 1;
    for (size_t e = first; e < first + count; e++) fits &= longest_row(&hs->ex[e]) - 1 <= be->T;
    if (be->shared_losses && fits)
        score_shared(be, &hs->ex[first], count, out);
    else
        score_rows(be, hs, first, count, out);
    for (size_t e = 0; e < count; e++) {
        HellaSwagScore *s = &out[e];
        s->pred = s->pred_norm = 0;
        for (int i = 1; i < HELLASWAG_ENDINGS; i++) {
            if (s->sum[i] < s->sum[s->pred]) s->pred = i;
            if (s->mean[i] < s->mean[s->pred_norm]) s->pred_norm = i;
        }
    }
}
