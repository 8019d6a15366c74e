#include "data/dataloader.h"
#include "base/rng.h"
#include "base/util.h"

#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Every permutation is drawn from a splitmix64 stream keyed by (seed, epoch, shard), so
 * an order is a pure function of the position and resuming needs no generator state
 * beyond the seed. */

static uint64_t stream_key(uint64_t seed, uint64_t epoch, uint64_t shard) {
    uint64_t s = seed;
    uint64_t k = rng_next(&s) ^ epoch;
    k = rng_next(&k) ^ shard;
    return rng_next(&k);
}

/* Fisher-Yates; the multiply-shift maps a 64-bit draw onto [0, i). */
static void shuffle(uint32_t *a, uint64_t n, uint64_t key) {
    for (uint64_t i = n; i > 1; i--) {
        uint64_t j = (uint64_t)(((unsigned __int128)rng_next(&key) * i) >> 64);
        uint32_t t = a[i - 1];
        a[i - 1] = a[j], a[j] = t;
    }
}

/* The identity order 0..n-1, shuffled unless this loader keeps file order. */
static void make_order(const DataLoader *dl, uint32_t *a, uint64_t n, uint64_t epoch,
                       uint64_t shard) {
    for (uint64_t i = 0; i < n; i++) a[i] = (uint32_t)i;
    if (dl->shuffle) shuffle(a, n, stream_key(dl->seed, epoch, shard));
}

int dataloader_init(DataLoader *dl, const char *pattern, int B, int T, int vocab_size, int shuffle,
                    uint64_t seed, char *err, size_t errlen) {
    memset(dl, 0, sizeof *dl);
    glob_t g;
    int rc = glob_paths(pattern, GLOB_ERR, &g);
    if (rc == GLOB_NOMATCH) {
        snprintf(err, errlen, "%s: no shard matches", pattern);
        return -1;
    }
    if (rc) {
        snprintf(err, errlen, "%s: cannot expand the pattern", pattern);
        return -1;
    }
    dl->B = B, dl->T = T, dl->vocab_size = vocab_size, dl->shuffle = shuffle, dl->seed = seed;
    dl->num_shards = g.gl_pathc;
    dl->paths = xcalloc(g.gl_pathc, sizeof *dl->paths);
    dl->num_windows = xcalloc(g.gl_pathc, sizeof *dl->num_windows);
    for (size_t i = 0; i < g.gl_pathc; i++) {
        dl->paths[i] = xstrdup(g.gl_pathv[i]);
        ShardReader *r = shard_open_flags(dl->paths[i], SHARD_OPEN_NO_VERIFY, err, errlen);
        if (!r) {
            globfree(&g);
            dataloader_free(dl);
            return -1;
        }
        uint64_t n = shard_num_tokens(r);
        shard_close(r);
        dl->num_windows[i] = n > 0 ? (n - 1) / (uint64_t)T : 0;
        dl->total_windows += dl->num_windows[i];
    }
    globfree(&g);
    if (!dl->total_windows) {
        snprintf(err, errlen, "%s: no shard holds a window of %d tokens (-T %d)", pattern, T + 1,
                 T);
        dataloader_free(dl);
        return -1;
    }
    dl->order = xmalloc(dl->num_shards * sizeof *dl->order);
    dl->window = xmalloc((size_t)(T + 1) * sizeof *dl->window);
    dl->inputs = xmalloc((size_t)B * T * sizeof *dl->inputs);
    dl->targets = xmalloc((size_t)B * T * sizeof *dl->targets);
    dataloader_reset(dl);
    return 0;
}

void dataloader_free(DataLoader *dl) {
    for (size_t i = 0; dl->paths && i < dl->num_shards; i++) free(dl->paths[i]);
    if (dl->reader) shard_close(dl->reader);
    free(dl->paths);
    free(dl->num_windows);
    free(dl->order);
    free(dl->perm);
    free(dl->window);
    free(dl->inputs);
    free(dl->targets);
    memset(dl, 0, sizeof *dl);
}

static void order_for_epoch(DataLoader *dl, uint64_t epoch) {
    make_order(dl, dl->order, dl->num_shards, epoch, UINT64_MAX);
    dl->order_epoch = epoch;
    dl->perm_shard = (size_t)-1;
}

void dataloader_reset(DataLoader *dl) {
    dl->pos = (DataPos){0, 0, 0};
    order_for_epoch(dl, 0);
}

int dataloader_seek(DataLoader *dl, DataPos pos, char *err, size_t errlen) {
    /* pos.shard counts places in the epoch's shuffled order, so the window bound is that
     * of the file at that place */
    order_for_epoch(dl, pos.epoch);
    if (pos.shard > dl->num_shards ||
        (pos.shard < dl->num_shards && pos.window > dl->num_windows[dl->order[pos.shard]])) {
        snprintf(err, errlen,
                 "data position (epoch %llu, shard %llu, window %llu) lies outside the %zu "
                 "shard(s) given",
                 (unsigned long long)pos.epoch, (unsigned long long)pos.shard,
                 (unsigned long long)pos.window, dl->num_shards);
        return -1;
    }
    dl->pos = pos;
    return 0;
}

/* The shard file index and in-shard window index of the next window; moves on to the
 * next shard (and epoch) when the current one is used up. */
static void next_window(DataLoader *dl, size_t *shard, uint64_t *window) {
    for (;;) {
        if (dl->pos.shard == dl->num_shards) {
            order_for_epoch(dl, dl->pos.epoch + 1);
            dl->pos = (DataPos){dl->pos.epoch + 1, 0, 0};
        }
        size_t s = dl->order[dl->pos.shard];
        if (dl->pos.window < dl->num_windows[s]) {
            *shard = s;
            break;
        }
        dl->pos.shard++, dl->pos.window = 0;
    }
    uint64_t w = dl->pos.window++;
    if (dl->shuffle) {
        if (dl->perm_shard != *shard || dl->perm_epoch != dl->pos.epoch) {
            uint64_t n = dl->num_windows[*shard];
            dl->perm = xrealloc(dl->perm, n * sizeof *dl->perm);
            make_order(dl, dl->perm, n, dl->pos.epoch, *shard);
            dl->perm_shard = *shard, dl->perm_epoch = dl->pos.epoch;
        }
        w = dl->perm[w];
    }
    *window = w;
}

void dataloader_skip(DataLoader *dl, uint64_t windows) {
    size_t s;
    uint64_t w;
    for (uint64_t i = 0; i < windows; i++) next_window(dl, &s, &w);
}

void dataloader_next(DataLoader *dl) {
    char err[512];
    int T = dl->T;
    for (int b = 0; b < dl->B; b++) {
        size_t s;
        uint64_t w;
        next_window(dl, &s, &w);
        if (!dl->reader || dl->reader_shard != s) {
            if (dl->reader) shard_close(dl->reader);
            dl->reader = shard_open_flags(dl->paths[s], SHARD_OPEN_NO_VERIFY, err, sizeof err);
            if (!dl->reader) die("%s", err);
            dl->reader_shard = s;
        }
        if (shard_read(dl->reader, w * (uint64_t)T, (size_t)T + 1, dl->window, err, sizeof err))
            die("%s", err);
        for (int t = 0; t <= T; t++) {
            if (dl->window[t] >= dl->vocab_size)
                die("%s: token %u at position %llu is outside the model's vocabulary (%d)",
                    dl->paths[s], dl->window[t], (unsigned long long)(w * T + t), dl->vocab_size);
        }
        for (int t = 0; t < T; t++) {
            dl->inputs[b * T + t] = dl->window[t];
            dl->targets[b * T + t] = dl->window[t + 1];
        }
    }
}
