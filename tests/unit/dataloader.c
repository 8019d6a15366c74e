/* Unit tests for common/data/dataloader.c: window layout, file order without shuffling,
 * per-epoch shuffles of the shard order and of the windows inside a shard that visit every
 * window once, determinism from the seed, exact seek to a saved position (the same tokens
 * next), and the errors found at init. */
#include "data/dataloader.h"
#include "base/util.h"
#include "data/shard.h"
#include "tap.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { T = 4, B = 3 };
static char dir[] = "/tmp/gpt2-dataloader-XXXXXX";

/* Shard s holds n tokens; token i is (s*97 + i) % 251, so a window's first token
 * tells which shard and offset it came from. */
static void write_shard(int s, int n) {
    char *path = xasprintf("%s/d_train_%06d.bin", dir, s);
    ShardWriter *w = shard_writer_open(path, 0, 1);
    for (int i = 0; i < n; i++) {
        uint16_t t = (uint16_t)((s * 97 + i) % 251);
        shard_writer_add(w, &t, 1);
    }
    shard_writer_close(w);
    free(path);
}

/* A window's identity: shard*1000 + window index, recovered from its first token. */
static int window_id(const int *row) {
    for (int s = 0; s < 3; s++)
        for (int w = 0; w < 10; w++)
            if ((s * 97 + w * T) % 251 == row[0] && (s * 97 + w * T + 1) % 251 == row[1])
                return s * 1000 + w;
    return -1;
}

/* ids of the next n batches */
static void take(DataLoader *dl, int n, int *ids) {
    for (int i = 0; i < n; i++) {
        dataloader_next(dl);
        for (int b = 0; b < B; b++) ids[i * B + b] = window_id(dl->inputs + b * T);
    }
}

int main(void) {
    util_init("test-dataloader");
    ok(mkdtemp(dir) != NULL, "temp dir");
    write_shard(0, 4 * T + 1); /* 4 windows */
    write_shard(1, 3 * T + 3); /* 3 windows, 2 tokens left over */
    write_shard(2, T);         /* too short for a window */
    char *pattern = xasprintf("%s/d_train_*.bin", dir);
    char err[512];
    DataLoader dl;

    ok(!dataloader_init(&dl, pattern, B, T, 251, 0, 1, err, sizeof err), "init");
    is_int(dl.num_shards, 3, "three shards match");
    is_int(dl.total_windows, 7, "(n-1)/T windows per shard");
    dataloader_next(&dl);
    int good = 1;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            good &= dl.inputs[b * T + t] == (b * T + t) % 251;
            good &= dl.targets[b * T + t] == (b * T + t + 1) % 251;
        }
    ok(good, "unshuffled batch: consecutive windows, targets shifted by one");
    int ids[3 * B];
    take(&dl, 2, ids);
    int want[] = {3, 1000, 1001, 1002, 0, 1};
    ok(!memcmp(ids, want, sizeof want), "file order, across shards and into the next epoch");
    is_int(dl.pos.epoch, 1, "second epoch begins after all windows");
    dataloader_free(&dl);

    /* shuffled, one window per batch: each epoch is a permutation of all 7 windows */
    int epoch[2][7], same_order = 1, perm_ok = 1;
    DataLoader one;
    ok(!dataloader_init(&one, pattern, 1, T, 251, 1, 42, err, sizeof err), "B=1 init");
    for (int e = 0; e < 2; e++)
        for (int i = 0; i < 7; i++) {
            dataloader_next(&one);
            epoch[e][i] = window_id(one.inputs);
        }
    for (int e = 0; e < 2; e++) {
        int seen[2][4] = {{0}};
        for (int i = 0; i < 7; i++) {
            int s = epoch[e][i] / 1000, w = epoch[e][i] % 1000;
            if (epoch[e][i] < 0 || s > 1 || w > 3 || seen[s][w]++) perm_ok = 0;
        }
    }
    for (int i = 0; i < 7; i++) same_order &= epoch[0][i] == epoch[1][i];
    ok(perm_ok, "every epoch visits each window exactly once");
    ok(!same_order, "the order differs between epochs");
    int in_shard = 1; /* windows of one shard stay together: the shard order is shuffled */
    for (int i = 1; i < 6; i++)
        if (epoch[0][i] / 1000 != epoch[0][i - 1] / 1000 &&
            epoch[0][i + 1] / 1000 != epoch[0][i] / 1000)
            in_shard = 0;
    ok(in_shard, "a shard's windows are read together");
    dataloader_free(&one);

    /* one shard of 16 windows: the shard order cannot change, so only a reshuffle of the
     * windows themselves makes epoch 1 differ from epoch 0 (equal by chance: 1 in 16!) */
    char *long_path = xasprintf("%s/long.bin", dir);
    ShardWriter *lw = shard_writer_open(long_path, 0, 1);
    for (int i = 0; i < 16 * T + 1; i++) {
        uint16_t t = (uint16_t)i;
        shard_writer_add(lw, &t, 1);
    }
    shard_writer_close(lw);
    int win[3][16], perms = 1;
    ok(!dataloader_init(&one, long_path, 1, T, 251, 1, 42, err, sizeof err), "one-shard init");
    for (int e = 0; e < 3; e++) {
        int seen[16] = {0};
        for (int i = 0; i < 16; i++) {
            dataloader_next(&one);
            win[e][i] = one.inputs[0] / T;
            perms &= one.inputs[0] % T == 0 && win[e][i] < 16 && !seen[win[e][i]]++;
        }
    }
    ok(perms, "one shard: each epoch reads its 16 windows once each");
    ok(memcmp(win[0], win[1], sizeof win[0]) && memcmp(win[1], win[2], sizeof win[1]),
       "one shard: its windows come in another order each epoch");
    dataloader_free(&one);
    unlink(long_path);
    free(long_path);

    /* same seed, same sequence; another seed, another one */
    int a[8 * B], b2[8 * B], c[8 * B];
    ok(!dataloader_init(&dl, pattern, B, T, 251, 1, 7, err, sizeof err), "seed 7");
    take(&dl, 8, a);
    dataloader_free(&dl);
    ok(!dataloader_init(&dl, pattern, B, T, 251, 1, 7, err, sizeof err), "seed 7 again");
    take(&dl, 8, b2);
    dataloader_free(&dl);
    ok(!dataloader_init(&dl, pattern, B, T, 251, 1, 8, err, sizeof err), "seed 8");
    take(&dl, 8, c);
    ok(!memcmp(a, b2, sizeof a), "the same seed gives the same batches");
    ok(memcmp(a, c, sizeof a), "another seed gives other batches");

    /* seek: a fresh loader at a saved position continues exactly */
    dataloader_reset(&dl);
    take(&dl, 3, a);
    DataPos saved = dl.pos;
    take(&dl, 5, a);
    DataLoader re;
    ok(!dataloader_init(&re, pattern, B, T, 251, 1, 8, err, sizeof err), "second loader");
    ok(!dataloader_seek(&re, saved, err, sizeof err), "seek to the saved position");
    take(&re, 5, b2);
    ok(!memcmp(a, b2, 5 * B * sizeof *a), "continues with the same batches after seek");
    /* every position a run can stop at is one it can resume from, whichever file the
     * shuffled order puts at that place (shards of unequal size): a fresh loader sought
     * there reads the same tokens next as the run that went on, over three epochs */
    int all_seek = 1, all_same = 1;
    for (int e = 0; e < 2; e++) {
        DataLoader walk;
        dataloader_init(&walk, pattern, 1, T, 251, 1, 40 + e, err, sizeof err);
        for (int i = 0; i < 20; i++) {
            DataLoader fresh;
            dataloader_init(&fresh, pattern, 1, T, 251, 1, 40 + e, err, sizeof err);
            all_seek &= !dataloader_seek(&fresh, walk.pos, err, sizeof err);
            for (int k = 0; k < 3; k++) {
                dataloader_next(&walk), dataloader_next(&fresh);
                all_same &= !memcmp(walk.inputs, fresh.inputs, T * sizeof *walk.inputs) &&
                            !memcmp(walk.targets, fresh.targets, T * sizeof *walk.targets);
            }
            dataloader_free(&fresh);
        }
        dataloader_free(&walk);
    }
    ok(all_seek, "every saved position can be sought, with shards of unequal size");
    ok(all_same, "... and the batches after it are the uninterrupted run's, token for token");
    /* skip: ranks of a data-parallel run interleave their batches from one order; rank r
     * of 3 skipping the others' batches reads batches r, r+3, ... of one loader, across
     * shards and epochs (8 batches of 3 windows go past the 24 windows of an epoch) */
    dataloader_reset(&dl);
    int seq[24 * B], interleaved = 1;
    take(&dl, 24, seq);
    for (int r = 0; r < 3; r++) {
        DataLoader rank;
        dataloader_init(&rank, pattern, B, T, 251, 1, 8, err, sizeof err);
        for (int k = 0; k < 8; k++) {
            dataloader_skip(&rank, (uint64_t)r * B);
            take(&rank, 1, a);
            dataloader_skip(&rank, (uint64_t)(2 - r) * B);
            interleaved &= !memcmp(a, seq + (k * 3 + r) * B, B * sizeof *a);
        }
        interleaved &= !memcmp(&rank.pos, &dl.pos, sizeof rank.pos);
        dataloader_free(&rank);
    }
    ok(interleaved,
       "skip: ranks that skip each other's batches read one loader's, at its position");
    ok(dataloader_seek(&re, (DataPos){0, 9, 0}, err, sizeof err) && strstr(err, "outside"),
       "a position beyond the shards is refused: %s", err);
    dataloader_free(&re);
    dataloader_free(&dl);

    /* errors at init */
    char *none = xasprintf("%s/nothing_*.bin", dir);
    ok(dataloader_init(&dl, none, B, T, 251, 0, 1, err, sizeof err) &&
           strstr(err, "no shard matches"),
       "no match: %s", err);
    char *short_only = xasprintf("%s/d_train_000002.bin", dir);
    ok(dataloader_init(&dl, short_only, B, T, 251, 0, 1, err, sizeof err) &&
           strstr(err, "no shard holds"),
       "too little data: %s", err);
    char *bad = xasprintf("%s/d_train_000009.bin", dir);
    FILE *f = fopen(bad, "wb");
    fputs("not a shard at all, just some text that is long enough", f);
    fclose(f);
    ok(dataloader_init(&dl, pattern, B, T, 251, 0, 1, err, sizeof err) &&
           strstr(err, "d_train_000009.bin"),
       "a corrupt shard is named: %s", err);

    for (int s = 0; s < 3; s++) {
        char *p = xasprintf("%s/d_train_%06d.bin", dir, s);
        unlink(p);
        free(p);
    }
    unlink(bad);
    rmdir(dir);
    free(pattern), free(none), free(short_only), free(bad);
    return done_testing();
}
