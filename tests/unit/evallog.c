/* Unit tests for common/eval/evallog.c: the header, lines, what counts as done, the lock. */
#include "eval/evallog.h"
#include "base/util.h"
#include "tap.h"

#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(void) {
    util_init("test-evallog");
    char dir[] = "/tmp/gpt2-evallog-XXXXXX";
    if (!mkdtemp(dir)) die("mkdtemp:");
    char *path = xasprintf("%s/evals.tsv", dir), err[512];

    EvalRecord hs = {.checkpoint = "out/model_00000100.bin",
                     .step = 100,
                     .tokens = 51200,
                     .task = "hellaswag",
                     .acc = 0.25,
                     .acc_norm = 0.3125,
                     .loss = NAN,
                     .examples = 16,
                     .seconds = 1.5,
                     .timestamp = 1800000000};
    char *line = evallog_format(&hs);
    ok(!strcmp(line, "out/model_00000100.bin\t100\t51200\thellaswag\t0.2500\t0.3125\tNA\t16\t"
                     "1.500\t2027-01-15T08:00:00Z\n"),
       "line format");
    free(line);
    EvalRecord val = {.checkpoint = "plain.bin",
                      .step = -1,
                      .tokens = -1,
                      .task = "val",
                      .acc = NAN,
                      .acc_norm = NAN,
                      .loss = 3.25,
                      .examples = 20,
                      .seconds = 0.25,
                      .timestamp = 0};
    line = evallog_format(&val);
    ok(!strcmp(line, "plain.bin\tNA\tNA\tval\tNA\tNA\t3.250000\t20\t0.250\t1970-01-01T00:00:00Z\n"),
       "unknowns written NA");
    free(line);

    EvalLog log;
    is_int(evallog_open(&log, path, 1, err, sizeof err), 0, "new log opens");
    ok(!evallog_has(&log, hs.checkpoint, "hellaswag", 0), "empty log has nothing");
    /* a second open description of the same file cannot take the lock */
    EvalLog other;
    is_int(evallog_open(&other, path, 0, err, sizeof err), 1, "locked log: busy without waiting");
    evallog_append(&log, &hs);
    evallog_append(&log, &val);
    evallog_close(&log);

    size_t len;
    char *text = xread_file(path, &len);
    ok(!strncmp(text, EVALLOG_HEADER, strlen(EVALLOG_HEADER)), "header first");
    int lines = 0;
    for (size_t i = 0; i < len; i++) lines += text[i] == '\n';
    is_int(lines, 3, "header + 2 lines");
    free(text);

    is_int(evallog_open(&log, path, 0, err, sizeof err), 0, "reopens after close");
    ok(evallog_has(&log, hs.checkpoint, "hellaswag", 0), "hellaswag done");
    ok(!evallog_has(&log, hs.checkpoint, "val", 0), "val not done for that checkpoint");
    ok(evallog_has(&log, "plain.bin", "val", 0), "val done for plain.bin");
    ok(!evallog_has(&log, "plain", "val", 0), "a prefix of a path is not the path");
    ok(evallog_has(&log, "plain.bin", "val", 20), "20 windows logged: done for a run of 20");
    ok(!evallog_has(&log, "plain.bin", "val", 21), "... not for a run asking more");
    evallog_close(&log);

    /* a line cut short by a crash does not count, and the next append starts afresh */
    int fd = open(path, O_WRONLY | O_APPEND);
    ok(fd >= 0 && write(fd, "cut.bin\t5\tNA\thellaswag\t0.2", 26) == 26, "append a torn line");
    close(fd);
    is_int(evallog_open(&log, path, 1, err, sizeof err), 0, "opens with a torn last line");
    ok(!evallog_has(&log, "cut.bin", "hellaswag", 0), "torn line is not done");
    val.checkpoint = "cut.bin";
    evallog_append(&log, &val);
    evallog_close(&log);
    is_int(evallog_open(&log, path, 1, err, sizeof err), 0, "reopens");
    ok(evallog_has(&log, "cut.bin", "val", 0) && evallog_has(&log, "plain.bin", "val", 0),
       "line after the torn one is read whole");
    evallog_close(&log);

    char *other_path = xasprintf("%s/notes.txt", dir);
    FILE *f = xfopen(other_path, "w");
    fputs("some notes\n", f);
    xfclose(f, other_path);
    ok(evallog_open(&log, other_path, 1, err, sizeof err) == -1 &&
           strstr(err, "not a gpt2-eval log"),
       "refuses a file without the header: %s", err);
    char *nodir = xasprintf("%s/no/such/dir.tsv", dir);
    ok(evallog_open(&log, nodir, 1, err, sizeof err) == -1 && strstr(err, "No such file"),
       "unwritable path: %s", err);

    char *cmd = xasprintf("rm -rf '%s'", dir);
    if (system(cmd)) diag("could not remove %s", dir);
    free(cmd);
    free(nodir);
    free(other_path);
    free(path);
    return done_testing();
}
