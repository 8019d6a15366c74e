/* train_ckpt: the checkpoints gpt2-train keeps in its output directory. Checkpoint
 * <step> is three files, written in this order, each atomically:
 *   model_<step>.bin   the model (llm.c format, gpt2-checkpoint(5))
 *   state_<step>.bin   the training state (gpt2-train-state(5))
 *   DONE_<step>        empty; it exists only once both files above are complete
 * with <step> as eight digits or more. A checkpoint without its DONE file is ignored. */
#ifndef GPT2_TRAIN_CKPT_H
#define GPT2_TRAIN_CKPT_H

#include <stdint.h>

#include "model/model.h"
#include "train/state.h"

typedef enum { TRAIN_CKPT_MODEL, TRAIN_CKPT_STATE, TRAIN_CKPT_DONE } TrainCkptFile;

/* "<dir>/model_00005000.bin" etc.; free() the result. */
char *train_ckpt_path(const char *dir, TrainCkptFile which, uint64_t step);
/* Writes model, state and then the DONE marker for state->step, syncing the directory
 * before the marker and after it (so that pruning comes after a durable marker). */
void train_ckpt_save(const char *dir, const GPT2 *model, const TrainState *state);
/* Step of the newest complete checkpoint in dir, or -1 if there is none. */
int64_t train_ckpt_latest(const char *dir);
/* Takes an exclusive lock on dir (the file <dir>/.lock, flock(2), released at exit) so that
 * two runs never write one output directory; dies naming dir when another run holds it.
 * Then removes the temp files of checkpoint files that a killed run left there. */
void train_ckpt_lock(const char *dir);
/* Deletes complete checkpoints older than the newest `keep` (marker first, so a
 * half-deleted one is never taken for complete). keep <= 0 keeps all. */
void train_ckpt_prune(const char *dir, int keep);

#endif
