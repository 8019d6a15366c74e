/* valset: the validation windows gpt2-eval scores — the first N windows of the shards a
 * glob names, in file order, cut as gpt2-train cuts them: window w of a shard is tokens
 * [w*T, w*T+T] (inputs its first T, targets its last T), (n-1)/T windows per shard. */
#ifndef GPT2_VALSET_H
#define GPT2_VALSET_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    int T;
    size_t n;         /* windows */
    uint16_t *tokens; /* [n, T+1] */
    int max_id;       /* the largest token id in them: a model needs a vocabulary above it */
    char *max_where;  /* where it first occurs: "<shard>, token <i>", for messages */
} ValSet;

/* Reads up to `windows` windows (0: all) from the shards matching `pattern` (glob(3); a
 * plain path works too). Returns 0, or -1 with a message in err (no match, a bad shard, no
 * complete window). The ids are checked against each model's vocabulary (max_id), not
 * here: one set serves every checkpoint of a run. */
int valset_load(ValSet *vs, const char *pattern, int T, size_t windows, char *err, size_t errlen);
void valset_free(ValSet *vs);

#endif
