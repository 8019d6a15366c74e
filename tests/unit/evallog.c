/* Unit tests for common/eval/evallog.c: the header, lines, what counts as done (path,
 * checksum, task, examples), version 1 logs, the lock. */
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
                     .timestamp = 1800000000,
                     .checksum = 0x0badcafe};
    char *line = evallog_format(&hs, EVALLOG_VERSION);
    ok(!strcmp(line, "out/model_00000100.bin\t100\t51200\thellaswag\t0.2500\t0.3125\tNA\t16\t"
                     "1.500\t2027-01-15T08:00:00Z\t0badcafe\n"),
       "line format: %s", line);
    free(line);
    line = evallog_format(&hs, 1);
    ok(!strcmp(line, "out/model_00000100.bin\t100\t51200\thellaswag\t0.2500\t0.3125\tNA\t16\t"
                     "1.500\t2027-01-15T08:00:00Z\n"),
       "version 1 line: no checksum");
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
                      .timestamp = 0,
                      .checksum = -1};
    line = evallog_format(&val, EVALLOG_VERSION);
    ok(!strcmp(line,
               "plain.bin\tNA\tNA\tval\tNA\tNA\t3.250000\t20\t0.250\t1970-01-01T00:00:00Z\tNA\n"),
       "unknowns written NA");
    free(line);

    EvalLog log;
    is_int(evallog_open(&log, path, 1, err, sizeof err), 0, "new log opens");
    ok(!evallog_has(&log, hs.checkpoint, hs.checksum, "hellaswag", 0), "empty log has nothing");
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
    is_int(log.version, 2, "a new log is version 2");
    ok(evallog_has(&log, hs.checkpoint, hs.checksum, "hellaswag", 0), "hellaswag done");
    ok(!evallog_has(&log, hs.checkpoint, hs.checksum, "val", 0),
       "val not done for that checkpoint");
    ok(!evallog_has(&log, hs.checkpoint, 0x0badcaff, "hellaswag", 0),
       "another checksum at that path: another model, not done");
    ok(!evallog_has(&log, hs.checkpoint, -1, "hellaswag", 0), "... nor one without a checksum");
    ok(evallog_has(&log, "plain.bin", -1, "val", 0), "val done for plain.bin (no checksum)");
    ok(!evallog_has(&log, "plain.bin", 0x0badcafe, "val", 0),
       "... not for a file with a checksum at that path");
    ok(!evallog_has(&log, "plain", -1, "val", 0), "a prefix of a path is not the path");
    ok(evallog_has(&log, "plain.bin", -1, "val", 20), "20 windows logged: done for a run of 20");
    ok(!evallog_has(&log, "plain.bin", -1, "val", 21), "... not for a run asking more");
    evallog_close(&log);

    /* a line with a mangled checksum is no record */
    int fd = open(path, O_WRONLY | O_APPEND);
    const char *bad = "bad.bin\t5\tNA\tval\tNA\tNA\t3.0\t20\t0.1\t1970-01-01T00:00:00Z\tCAFE\n";
    ok(fd >= 0 && write(fd, bad, strlen(bad)) == (ssize_t)strlen(bad), "append a bad checksum");
    close(fd);
    is_int(evallog_open(&log, path, 1, err, sizeof err), 0, "opens with a bad checksum line");
    ok(!evallog_has(&log, "bad.bin", -1, "val", 0) &&
           !evallog_has(&log, "bad.bin", 0xcafe, "val", 0),
       "a line with a bad checksum is not done");
    evallog_close(&log);

    /* a line cut short by a crash does not count, and the next append starts afresh */
    fd = open(path, O_WRONLY | O_APPEND);
    ok(fd >= 0 && write(fd, "cut.bin\t5\tNA\thellaswag\t0.2", 26) == 26, "append a torn line");
    close(fd);
    is_int(evallog_open(&log, path, 1, err, sizeof err), 0, "opens with a torn last line");
    ok(!evallog_has(&log, "cut.bin", -1, "hellaswag", 0), "torn line is not done");
    val.checkpoint = "cut.bin";
    evallog_append(&log, &val);
    evallog_close(&log);
    is_int(evallog_open(&log, path, 1, err, sizeof err), 0, "reopens");
    ok(evallog_has(&log, "cut.bin", -1, "val", 0) && evallog_has(&log, "plain.bin", -1, "val", 0),
       "line after the torn one is read whole");
    evallog_close(&log);

    /* a version 1 log: read by path alone, appended to in version 1 */
    char *v1 = xasprintf("%s/v1.tsv", dir);
    FILE *f = xfopen(v1, "w");
    fputs(EVALLOG_HEADER_V1 "old.bin\t2\t64\tval\tNA\tNA\t3.500000\t6\t0.100\t"
                            "2026-11-27T03:40:00Z\n",
          f);
    xfclose(f, v1);
    is_int(evallog_open(&log, v1, 1, err, sizeof err), 0, "a version 1 log opens");
    is_int(log.version, 1, "... as version 1");
    ok(evallog_has(&log, "old.bin", 0x12345678, "val", 6), "its lines go by the path alone");
    evallog_append(&log, &hs);
    evallog_close(&log);
    text = xread_file(v1, &len);
    const char *tail = text + len - strlen("\t2027-01-15T08:00:00Z\n");
    ok(!strcmp(tail, "\t2027-01-15T08:00:00Z\n") && !strncmp(text, EVALLOG_HEADER_V1, 20),
       "appended in version 1, without a checksum");
    free(text);
    free(v1);

    char *newer = xasprintf("%s/v3.tsv", dir);
    f = xfopen(newer, "w");
    fputs("checkpoint\tstep\ttokens\ttask\tacc\tacc_norm\tloss\texamples\tseconds\ttimestamp\t"
          "checksum\tflops\n",
          f);
    xfclose(f, newer);
    ok(evallog_open(&log, newer, 1, err, sizeof err) == -1 && strstr(err, "versions 1 to 2"),
       "a newer version's log is named as such: %s", err);
    free(newer);

    char *other_path = xasprintf("%s/notes.txt", dir);
    f = xfopen(other_path, "w");
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
