/* hellaswag: the HellaSwag benchmark as scored in the GPT-2 reproductions. Each record
 * has a context and 4 endings; a candidate row is the context's tokens followed by the
 * tokens of " " + ending. An ending's loss is the cross-entropy of its own tokens given
 * everything before them: `pred` picks the lowest sum, `pred_norm` the lowest mean per
 * token (acc_norm, the headline number). See gpt2-eval(1). */
#ifndef GPT2_HELLASWAG_H
#define GPT2_HELLASWAG_H

#include <stddef.h>

#include "model/backend.h"
#include "text/bpe.h"

#define HELLASWAG_ENDINGS 4

typedef struct {
    size_t index;                 /* position among the file's records, from 0 */
    long ind;                     /* the record's "ind" (its id in the release), else -1 */
    int label;                    /* index of the true ending */
    int ctx_len;                  /* context tokens, shared by the 4 rows */
    int len[HELLASWAG_ENDINGS];   /* tokens of each row: context + ending */
    int *rows[HELLASWAG_ENDINGS]; /* the rows' tokens */
} HellaSwagExample;

typedef struct {
    HellaSwagExample *ex;
    size_t n;
    int max_len; /* longest row */
} HellaSwag;

/* Reads up to `limit` records (0: all) of a HellaSwag jsonl file ("-": stdin): fields
 * ctx, endings (4 strings), label (0..3, a number or a numeric string) and, if present,
 * ind. Blank lines are skipped. Returns 0, or -1 with "<path>:<line>: <problem>" in err. */
int hellaswag_load(HellaSwag *hs, const char *path, const BPE *bpe, size_t limit, char *err,
                   size_t errlen);
void hellaswag_free(HellaSwag *hs);
/* Orders the examples by their longest row (then index), so that batches of neighbours
 * need little padding. */
void hellaswag_sort(HellaSwag *hs);

typedef struct {
    double sum[HELLASWAG_ENDINGS];  /* summed loss of each ending's tokens */
    double mean[HELLASWAG_ENDINGS]; /* sum / tokens */
    int pred, pred_norm;            /* argmin of sum, of mean (first on ties) */
} HellaSwagScore;

/* Scores examples [first, first+count). With a backend that has shared_losses, each
 * example's context once and its 4 endings on the context's keys and values; otherwise
 * (and when a row is longer than be->T + 1 tokens) in one forward of 4*count rows padded
 * to the longest (be->B >= 4*count), where a row too long loses context tokens from its
 * start, so that it fits. The two forms give the same losses up to rounding. */
void hellaswag_score(Backend *be, const HellaSwag *hs, size_t first, size_t count,
                     HellaSwagScore *out);

#endif
