/* dataloader: batches of token windows from the shards a glob pattern names, in a
 * deterministic order — shard order and window order shuffled per epoch from a seed —
 * with a position that can be saved and restored exactly (see gpt2-train-state(5)).
 *
 * A shard of n tokens holds (n-1)/T windows: window w is tokens [w*T, w*T+T], inputs
 * its first T tokens and targets its last T. A batch is B windows, taken in order
 * across shards and epochs. */
#ifndef GPT2_DATALOADER_H
#define GPT2_DATALOADER_H

#include <stddef.h>
#include <stdint.h>

#include "data/shard.h"

/* Where the next window comes from. */
typedef struct {
    uint64_t epoch;  /* complete passes over all shards so far */
    uint64_t shard;  /* index into this epoch's shard order */
    uint64_t window; /* index into the current shard's window order */
} DataPos;

typedef struct {
    int B, T, vocab_size, shuffle;
    uint64_t seed;
    size_t num_shards;
    char **paths;           /* sorted glob matches */
    uint64_t *num_windows;  /* per shard */
    uint64_t total_windows; /* over all shards */
    DataPos pos;
    uint32_t *order; /* shard order of order_epoch */
    uint64_t order_epoch;
    uint32_t *perm; /* window order of shard perm_shard in perm_epoch (shard
                     * token counts are int32, so windows fit 32 bits) */
    uint64_t perm_epoch;
    size_t perm_shard;   /* (size_t)-1: none yet */
    ShardReader *reader; /* the open shard */
    size_t reader_shard;
    uint16_t *window;      /* T+1 tokens */
    int *inputs, *targets; /* [B,T] of the last batch */
} DataLoader;

/* Finds the shards matching `pattern` (glob(3); a plain path works too), checks every
 * one's header and size (shard_open_flags without the full checksum pass, which would
 * read all the data: `gpt2-shard --verify` does that) and counts its windows. shuffle=0 keeps file
 * order and window order (validation data). Returns 0, or -1 with a message in err: no match, a bad
 * shard, or no shard holding T+1 tokens. */
int dataloader_init(DataLoader *dl, const char *pattern, int B, int T, int vocab_size, int shuffle,
                    uint64_t seed, char *err, size_t errlen);
void dataloader_free(DataLoader *dl);
/* Fills dl->inputs and dl->targets with the next batch and advances the position.
 * Dies on a read error or a token id outside [0, vocab_size), naming the shard. */
void dataloader_next(DataLoader *dl);
/* Moves past the next `windows` windows without reading them, as dataloader_next would
 * (data-parallel ranks share one order of windows and skip each other's). */
void dataloader_skip(DataLoader *dl, uint64_t windows);
/* Back to the first window of epoch 0. */
void dataloader_reset(DataLoader *dl);
/* Restores a position saved from dl->pos; -1 with err if it lies outside the data. */
int dataloader_seek(DataLoader *dl, DataPos pos, char *err, size_t errlen);

#endif
