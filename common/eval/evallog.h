/* evallog: gpt2-eval's results log, a TSV file with one header line and one line per
 * (checkpoint, task) evaluated, appended under an flock(2) lock held for the whole run so
 * that overlapping cron runs never evaluate a checkpoint twice. See gpt2-eval-log(5). */
#ifndef GPT2_EVALLOG_H
#define GPT2_EVALLOG_H

#include <stddef.h>

/* The header line names the version by its columns (gpt2-eval-log(5)); version 1 lacks
 * the checksum. A log is appended to in its own version. */
#define EVALLOG_VERSION 2
#define EVALLOG_COLUMNS_V1                                                                         \
    "checkpoint\tstep\ttokens\ttask\tacc\tacc_norm\tloss\texamples\tseconds\ttimestamp"
#define EVALLOG_HEADER_V1 EVALLOG_COLUMNS_V1 "\n"
#define EVALLOG_HEADER EVALLOG_COLUMNS_V1 "\tchecksum\n"

typedef struct {
    const char *checkpoint; /* path as matched */
    long long step, tokens; /* -1: unknown (written NA) */
    const char *task;       /* "hellaswag", "val" */
    double acc, acc_norm;   /* hellaswag; NAN otherwise (written NA) */
    double loss;            /* val; NAN otherwise */
    long long examples;     /* HellaSwag examples or validation windows */
    double seconds;         /* wall time of this evaluation */
    long long timestamp;    /* when it ended, Unix seconds (written as ISO 8601 UTC) */
    long long checksum;     /* the model file's CRC-32C from its header; -1: none (NA) */
} EvalRecord;

/* The record as one line of a log of this version (newline included), in a fresh heap
 * string. */
char *evallog_format(const EvalRecord *r, int version);

typedef struct {
    char *key;          /* "checkpoint\ttask" of a complete line */
    long long examples; /* the examples it scored */
    long long checksum; /* -1: NA, or a version 1 line */
} EvalDone;

typedef struct {
    int fd;
    char *path;
    int version; /* of the header found, or EVALLOG_VERSION for a new log */
    EvalDone *done;
    size_t ndone;
} EvalLog;

/* Opens the log (created with its header if missing or empty) and takes its lock,
 * waiting for it when `wait`, else returning 1 at once if another process holds it.
 * Returns 0, or -1 with a message in err (I/O error, a file that is not such a log). */
int evallog_open(EvalLog *log, const char *path, int wait, char *err, size_t errlen);
/* Whether the log has a line for this checkpoint (its path and its checksum, -1 for none)
 * and task that scored at least `examples` examples (0: any line): one from a run with
 * fewer (--limit) does not stand for a fuller one. A line with another checksum is another
 * model written at the same path; version 1 lines, without checksums, go by the path. */
int evallog_has(const EvalLog *log, const char *checkpoint, long long checksum, const char *task,
                long long examples);
/* Appends the record's line in the log's version (one write(2)); dies on an I/O error. */
void evallog_append(EvalLog *log, const EvalRecord *r);
/* Releases the lock and closes the file. */
void evallog_close(EvalLog *log);

#endif
