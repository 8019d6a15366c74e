/* train_state: what exact resume needs beyond the model file — AdamW moments, the step,
 * the data position and the data-order seed — in a versioned little-endian file, see
 * gpt2-train-state(5). */
#ifndef GPT2_TRAIN_STATE_H
#define GPT2_TRAIN_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "data/dataloader.h"
#include "model/model.h"

/* 2 adds the checksum; version 1 files (without one) are still read */
#define TRAIN_STATE_VERSION 2

/* The data order of a run; UNKNOWN in files of builds that did not record it. */
enum { TRAIN_ORDER_UNKNOWN, TRAIN_ORDER_SHUFFLED, TRAIN_ORDER_FILE };

typedef struct {
    GPT2Config config;
    int T;                /* sequence length the data position counts windows of */
    uint64_t step;        /* optimizer steps completed */
    uint64_t seed;        /* data-order seed (the only randomness after init) */
    int order;            /* TRAIN_ORDER_*: how the data order was drawn */
    DataPos data;         /* next training window */
    uint64_t tokens;      /* training tokens consumed so far */
    uint64_t num_shards;  /* train shards when saved (to notice a changed data set) */
    uint64_t num_windows; /* their windows of T+1 tokens */
    uint64_t num_params;
    float *m, *v; /* [num_params] AdamW moments; NULL before the first step */
} TrainState;

/* Writes the state atomically (temp + rename), replacing path. Dies on I/O errors. */
void train_state_save(const TrainState *s, const char *path);
/* Reads a state file; 0, or -1 with a message naming the file in err (wrong magic,
 * version, sizes, truncation, checksum, moments that are not finite or a negative v).
 * Allocates m and v when present. */
int train_state_load(TrainState *s, const char *path, char *err, size_t errlen);
/* Reads only the header (step, tokens, config...: everything but m and v, left NULL),
 * with the checks of train_state_load that need no more than the header; for a reader
 * that does not want the moments, twice the model's size. 0, or -1 with err. */
int train_state_read_header(TrainState *s, const char *path, char *err, size_t errlen);
void train_state_free(TrainState *s);

#endif
