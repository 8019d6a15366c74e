/* No reader of a named file blocks in open(2) on a FIFO for a writer that never comes.
 * Those of model files, shards, state files and gpt2-eval's log refuse it at once with
 * "not a regular file" (gpt2-eval's look at a model file's checksum finds none); the
 * HellaSwag reader streams (it takes <(zcat f.gz)), so it reads a FIFO without writer as
 * empty and says there are no records. An alarm turns a reader that blocks into a failure
 * of this test instead of a hang; the readers answer without waiting, so it never races
 * the machine's speed. */
#include "base/util.h"
#include "data/shard.h"
#include "eval/evallog.h"
#include "eval/hellaswag.h"
#include "model/modelfile.h"
#include "tap.h"
#include "train/state.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *current = "";

static void on_alarm(int sig) {
    (void)sig;
    static const char msg[] = "not ok - a reader blocked on a FIFO for 20 s: ";
    write(1, msg, sizeof msg - 1);
    write(1, current, strlen(current));
    write(1, "\n", 1);
    _exit(1);
}

static void refuses(const char *what, int rc, const char *err, const char *path) {
    ok(rc != 0 && strstr(err, path) && strstr(err, "not a regular file"), "%s: refused (%s)", what,
       err);
}

int main(void) {
    util_init("test-fifo");
    char dir[] = "/tmp/gpt2-fifo-XXXXXX";
    if (!mkdtemp(dir)) die("mkdtemp:");
    char *fifo = xasprintf("%s/fifo", dir), err[512];
    if (mkfifo(fifo, 0600)) die("mkfifo:");
    signal(SIGALRM, on_alarm);
    alarm(20);

    current = "model file";
    GPT2 m;
    strcpy(err, "");
    refuses("model file", modelfile_load(&m, fifo, err, sizeof err), err, fifo);

    current = "model file's checksum";
    uint32_t crc;
    ok(modelfile_checksum(fifo, &crc) == 0, "a model file's checksum: none from a FIFO");

    current = "shard";
    strcpy(err, "");
    ShardReader *r = shard_open(fifo, err, sizeof err);
    refuses("shard", r != NULL ? 0 : -1, err, fifo);
    shard_close(r);

    current = "state file";
    TrainState st;
    strcpy(err, "");
    refuses("state file", train_state_load(&st, fifo, err, sizeof err), err, fifo);

    current = "HellaSwag file";
    HellaSwag hs;
    strcpy(err, "");
    int rc = hellaswag_load(&hs, fifo, NULL, 0, err, sizeof err);
    ok(rc && strstr(err, fifo) && strstr(err, "no HellaSwag records"),
       "HellaSwag file: a FIFO without writer reads as empty (%s)", err);

    current = "eval log";
    EvalLog log;
    strcpy(err, "");
    rc = evallog_open(&log, fifo, 0, err, sizeof err);
    refuses("gpt2-eval's log", rc, err, fifo);
    if (rc == 0) evallog_close(&log);

    /* a directory too (the same check, and no read(2) on it) */
    current = "directory";
    strcpy(err, "");
    refuses("a directory as state file", train_state_load(&st, dir, err, sizeof err), err, dir);
    strcpy(err, "");
    refuses("a directory as HellaSwag file", hellaswag_load(&hs, dir, NULL, 0, err, sizeof err),
            err, dir);
    alarm(0);

    unlink(fifo);
    rmdir(dir);
    free(fifo);
    return done_testing();
}
