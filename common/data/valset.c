#include "data/valset.h"
#include "base/util.h"
#include "data/shard.h"

#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Appends up to `want` windows of one shard; -1 with err on a bad shard. */
static int load_shard(ValSet *vs, const char *path, size_t want, char *err, size_t errlen) {
    ShardReader *r = shard_open(path, err, errlen);
    if (!r) return -1;
    uint64_t n = shard_num_tokens(r), have = n ? (n - 1) / (uint64_t)vs->T : 0;
    size_t take = have < want ? (size_t)have : want, W = (size_t)vs->T + 1;
    vs->tokens = xrealloc(vs->tokens, (vs->n + take) * W * sizeof *vs->tokens);
    int rc = 0;
    for (size_t w = 0; w < take && rc == 0; w++) {
        uint16_t *dst = vs->tokens + (vs->n + w) * W;
        rc = shard_read(r, (uint64_t)w * vs->T, W, dst, err, errlen);
        for (size_t k = 0; k < W && rc == 0; k++)
            if (dst[k] > vs->max_id) {
                vs->max_id = dst[k];
                free(vs->max_where);
                vs->max_where =
                    xasprintf("%s, token %llu", path, (unsigned long long)(w * vs->T + k));
            }
    }
    if (rc == 0) vs->n += take;
    shard_close(r);
    return rc;
}

int valset_load(ValSet *vs, const char *pattern, int T, size_t windows, char *err, size_t errlen) {
    memset(vs, 0, sizeof *vs);
    vs->T = T;
    glob_t g;
    int grc = glob_paths(pattern, 0, &g);
    if (grc == GLOB_NOMATCH) return err_fail(err, errlen, "%s: no such shard", pattern);
    if (grc) return err_fail(err, errlen, "%s: glob failed", pattern);
    int rc = 0;
    for (size_t i = 0; i < g.gl_pathc && rc == 0 && (windows == 0 || vs->n < windows); i++)
        rc = load_shard(vs, g.gl_pathv[i], windows ? windows - vs->n : SIZE_MAX, err, errlen);
    if (rc == 0 && vs->n == 0)
        rc = err_fail(err, errlen, "%s: no shard holds %d tokens (one window)", pattern, T + 1);
    globfree(&g);
    if (rc) valset_free(vs);
    return rc;
}

void valset_free(ValSet *vs) {
    free(vs->tokens);
    free(vs->max_where);
    memset(vs, 0, sizeof *vs);
}
