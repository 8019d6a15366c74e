/* Unit tests for common/train/trainlog.c: the start, train and val lines as gpt2-train-log(5)
 * gives them, null for numbers JSON cannot hold, the "has this evaluation" look-up (whole
 * lines only), the repair of a torn last line on a resumed open, and a failed write cut
 * back to the last whole line. */
#include "base/util.h"
#include "tap.h"
#include "train/trainlog.h"

#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[] = "/tmp/gpt2-trainlog-XXXXXX";

static char *slurp(const char *path) {
    size_t n;
    return xread_file(path, &n);
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static TrainLogStart start_line(void) {
    return (TrainLogStart){.step = 0,
                           .device = "cpu",
                           .config = {.max_seq_len = 16,
                                      .vocab_size = 100,
                                      .padded_vocab_size = 128,
                                      .num_layers = 2,
                                      .num_heads = 2,
                                      .channels = 8},
                           .B = 4,
                           .T = 8,
                           .accum = 2,
                           .steps = 10,
                           .seed = 1337,
                           .ranks = 1};
}

/* In a child process: with the file size limit at the log's current length + room, writes
 * a train line; returns the exit status of the child (it must die). */
static int step_over_limit(const char *path, off_t room) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 2); /* the message is the parent's business */
        signal(SIGXFSZ, SIG_IGN);
        TrainLog log;
        trainlog_open(&log, path, 1);
        struct rlimit lim = {(rlim_t)(log.whole + room), RLIM_INFINITY};
        setrlimit(RLIMIT_FSIZE, &lim);
        trainlog_step(&log, &(TrainLogStep){.step = 3, .loss = 1, .lr = 1, .grad_norm = 1});
        _exit(0);
    }
    int status;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int main(void) {
    util_init("test-trainlog");
    ok(mkdtemp(dir) != NULL, "temp dir");
    char *path = xasprintf("%s/log.jsonl", dir);
    ok(!trainlog_has_val(path, 0), "no log: no evaluation in it");

    TrainLog log;
    trainlog_open(&log, path, 0);
    TrainLogStart s = start_line();
    trainlog_start(&log, &s);
    trainlog_val(&log, 0, 11.0625, 64);
    trainlog_step(&log, &(TrainLogStep){.step = 1,
                                        .loss = 10.5,
                                        .lr = 6e-4f,
                                        .grad_norm = 2.25,
                                        .tokens_per_s = 1234.56,
                                        .ms = 51.8437});
    trainlog_step(&log, &(TrainLogStep){.step = 2,
                                        .loss = NAN,
                                        .lr = 6e-4,
                                        .grad_norm = INFINITY,
                                        .tokens_per_s = 1000,
                                        .ms = 64,
                                        .skipped = "non-finite"});
    trainlog_val(&log, 2, NAN, 64);
    trainlog_close(&log);
    char *text = slurp(path);
    const char *want =
        "{\"type\":\"start\",\"step\":0,\"version\":1,\"device\":\"cpu\",\"params\":"
        "2912,\"layers\":2,\"heads\":2,\"channels\":8,\"vocab\":100,\"max_seq_len\":16,\"B\":4,"
        "\"T\":8,\"accum\":2,\"steps\":10,\"seed\":1337}\n"
        "{\"type\":\"val\",\"step\":0,\"loss\":11.0625,\"tokens\":64}\n"
        "{\"type\":\"train\",\"step\":1,\"loss\":10.5,\"lr\":0.000600000028,\"grad_norm\":2.25,"
        "\"tokens_per_s\":1234.6,\"ms\":51.844}\n"
        "{\"type\":\"train\",\"step\":2,\"loss\":null,\"lr\":0.0006,\"grad_norm\":null,"
        "\"tokens_per_s\":1000.0,\"ms\":64.000,\"skipped\":\"non-finite\"}\n"
        "{\"type\":\"val\",\"step\":2,\"loss\":null,\"tokens\":64}\n";
    ok(!strcmp(text, want), "the lines of a run, as gpt2-train-log(5) gives them");
    if (strcmp(text, want)) diag("got:\n%s", text);
    free(text);
    ok(trainlog_has_val(path, 0) && trainlog_has_val(path, 2), "its evaluations are found");
    ok(!trainlog_has_val(path, 1), "a step without one is not");

    /* several ranks: a start line with the sharding fields */
    trainlog_open(&log, path, 1);
    s.step = 2, s.ranks = 4, s.zero = 1, s.moment_bytes = 8272;
    trainlog_start(&log, &s);
    trainlog_close(&log);
    text = slurp(path);
    ok(strstr(text, "\"step\":2,\"version\":1,") &&
           strstr(text, "\"seed\":1337,\"ranks\":4,\"zero\":1,\"moment_bytes\":8272}\n"),
       "resumed: appended, with ranks, zero and moment_bytes");
    ok(!strncmp(text, "{\"type\":\"start\",\"step\":0,", 25), "the earlier lines stay");
    free(text);

    /* a torn last line: not counted, and ended before new lines */
    write_text(path, "{\"type\":\"val\",\"step\":0,\"loss\":1,\"tokens\":8}\n"
                     "{\"type\":\"val\",\"step\":4,\"loss\":1,\"tok");
    ok(trainlog_has_val(path, 0), "a whole line counts");
    ok(!trainlog_has_val(path, 4), "a torn one does not");
    trainlog_open(&log, path, 1);
    trainlog_val(&log, 4, 2.5, 8);
    trainlog_close(&log);
    text = slurp(path);
    ok(!strcmp(text, "{\"type\":\"val\",\"step\":0,\"loss\":1,\"tokens\":8}\n"
                     "{\"type\":\"val\",\"step\":4,\"loss\":1,\"tok\n"
                     "{\"type\":\"val\",\"step\":4,\"loss\":2.5,\"tokens\":8}\n"),
       "reopened: the torn line is ended, the new one stands apart");
    free(text);
    ok(trainlog_has_val(path, 4), "and is found");
    trainlog_open(&log, path, 1);
    trainlog_close(&log);
    text = slurp(path);
    ok(strlen(text) > 2 && strcmp(text + strlen(text) - 2, "}\n") == 0,
       "a whole last line is left as it is");
    free(text);
    trainlog_open(&log, path, 0);
    trainlog_close(&log);
    text = slurp(path);
    ok(!*text, "a new run empties the log");
    free(text);

    /* a write that fails half way: cut back to the last whole line, and the run dies */
    write_text(path, "{\"type\":\"val\",\"step\":0,\"loss\":1,\"tokens\":8}\n");
    is_int(step_over_limit(path, 20), 1, "a write over the file size limit: exit 1");
    text = slurp(path);
    ok(!strcmp(text, "{\"type\":\"val\",\"step\":0,\"loss\":1,\"tokens\":8}\n"),
       "the part written is cut off: %zu bytes", strlen(text));
    free(text);

    unlink(path);
    ok(rmdir(dir) == 0, "nothing else left behind");
    free(path);
    return done_testing();
}
