/* trainlog: the training log of gpt2-train, <dir>/log.jsonl, one JSON object per line: a
 * "start" line each time a run starts or resumes, a "train" line per optimizer step and
 * a "val" line per evaluation; see gpt2-train-log(5) for every field. A line goes out
 * whole or not at all: a write that fails (full disk, file size limit) is cut back to the
 * last whole line and the run dies at once, before another step or checkpoint. */
#ifndef GPT2_TRAIN_TRAINLOG_H
#define GPT2_TRAIN_TRAINLOG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "model/model.h"

/* The start line's "version": raised when a field changes meaning or goes away, not when
 * one is added (readers ignore keys they do not know). */
#define TRAINLOG_VERSION 1

typedef struct {
    FILE *f; /* NULL: not open, and the writers below do nothing (ranks other than 0) */
    char *path;
    off_t whole; /* the length up to the last whole line */
} TrainLog;

typedef struct {
    uint64_t step;      /* the step the run starts from */
    const char *device; /* the backend's name: "cpu", "cuda" */
    GPT2Config config;
    int B, T, accum, steps;
    uint64_t seed;
    int ranks;           /* processes; above 1, "ranks", "zero" and "moment_bytes" are written */
    int zero;            /* 1: AdamW moments sharded over the ranks (ZeRO-1) */
    size_t moment_bytes; /* the AdamW moments one rank holds */
} TrainLogStart;

typedef struct {
    uint64_t step; /* counted from 1: the steps done after this one */
    double loss, lr, grad_norm, tokens_per_s, ms;
    const char *skipped; /* why the update was not applied (guard_verdict_name), else NULL */
} TrainLogStep;

/* Whether the log at path holds a validation line for step; only whole lines count (a
 * missing log holds none). */
int trainlog_has_val(const char *path, uint64_t step);
/* Opens the log for a new run (emptied) or, with append, for a resumed one: a last line
 * left torn (a crash, a full disk) is ended first, so that new lines start on their own.
 * Dies on I/O errors. */
void trainlog_open(TrainLog *log, const char *path, int append);
void trainlog_start(TrainLog *log, const TrainLogStart *s);
void trainlog_step(TrainLog *log, const TrainLogStep *s);
/* The validation loss at step, scored over `tokens` tokens. */
void trainlog_val(TrainLog *log, uint64_t step, double loss, uint64_t tokens);
/* Closes the log (dies on an I/O error); a log not open is left alone. */
void trainlog_close(TrainLog *log);

#endif
