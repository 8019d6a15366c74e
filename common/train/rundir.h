/* rundir: the run directory of gpt2-train, the one module that knows its layout. It holds
 * checkpoints: checkpoint <step> is the set of three files, written in this order, each
 * atomically (util.h's AtomicFile: "<file>.tmp.XXXXXX", then a rename):
 *   model_<step>.bin   the model file (modelfile.h, gpt2-checkpoint(5))
 *   state_<step>.bin   the training state (state.h, gpt2-train-state(5))
 *   DONE_<step>        empty; it exists only once both files above are complete
 * with <step> as eight digits, more past step 99999999. A checkpoint without its DONE
 * marker is incomplete: being written, or being pruned. The directory also holds .lock and
 * the training log, log.jsonl (trainlog.h, gpt2-train-log(5)). gpt2-train writes it;
 * gpt2-eval reads its model files. */
#ifndef GPT2_TRAIN_RUNDIR_H
#define GPT2_TRAIN_RUNDIR_H

#include <stdint.h>

#include "model/model.h"
#include "train/state.h"

typedef enum { RUNDIR_MODEL, RUNDIR_STATE, RUNDIR_DONE } RunDirFile;

/* "<dir>/model_00005000.bin" etc.; free() the result. */
char *rundir_path(const char *dir, RunDirFile which, uint64_t step);
/* "<dir>/log.jsonl", the training log; free() the result. */
char *rundir_log_path(const char *dir);

/* Writes checkpoint state->step: model, state and then the DONE marker, syncing the
 * directory before the marker and after it (so that pruning comes after a durable
 * marker). Dies on I/O errors. */
void rundir_save_checkpoint(const char *dir, const GPT2 *model, const TrainState *state);
/* Step of the newest complete checkpoint in dir, or -1 if there is none (or no dir). */
int64_t rundir_latest_checkpoint(const char *dir);
/* Deletes complete checkpoints older than the newest `keep` (marker first, so a
 * half-deleted one is never taken for complete). keep <= 0 keeps all. */
void rundir_prune(const char *dir, int keep);
/* Takes an exclusive lock on dir (the file <dir>/.lock, flock(2), released at exit) so that
 * two runs never write one directory; dies naming dir when another run holds it. Then
 * removes the temp files of checkpoint files that a killed run left there. */
void rundir_lock(const char *dir);

/* For a reader of model files that may lie in a run directory (gpt2-eval): 0 for a temp
 * file and for a checkpoint's model file whose DONE marker is missing (still being
 * written, or pruned); 1 otherwise, for any other file too. */
int rundir_model_complete(const char *path);

typedef struct {
    long long step;   /* of a checkpoint's model file, from its name; else -1 */
    long long tokens; /* training tokens seen, from the header of its state file, else -1 */
} RunDirCheckpoint;

/* What the run directory tells about the model file at path. */
void rundir_describe(const char *path, RunDirCheckpoint *c);

#endif
