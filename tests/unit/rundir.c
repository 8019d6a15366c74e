/* Unit tests for common/train/rundir.c: the names of a checkpoint's files, saving a
 * checkpoint set with its DONE marker, the newest complete one, pruning, the lock and the
 * temp files it clears, and what a reader of model files learns (complete? step, tokens). */
#include "base/util.h"
#include "model/modelfile.h"
#include "tap.h"
#include "train/rundir.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[] = "/tmp/gpt2-rundir-XXXXXX";

static char *at(const char *name) {
    return xasprintf("%s/%s", dir, name);
}

static void touch(const char *name) {
    char *p = at(name);
    FILE *f = fopen(p, "w");
    if (f) fclose(f);
    free(p);
}

static int exists(const char *name) {
    char *p = at(name);
    int e = file_exists(p);
    free(p);
    return e;
}

/* Points stderr (fd 2) at /dev/null, or back at what it was before (saved). */
static int quiet_stderr(int saved) {
    fflush(stderr);
    if (saved >= 0) return dup2(saved, 2), close(saved), -1;
    saved = dup(2);
    int null = open("/dev/null", O_WRONLY);
    dup2(null, 2);
    close(null);
    return saved;
}

/* Whether rundir_lock(dir) in a child process dies (exit 1). */
static int lock_refused(void) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        quiet_stderr(-1);
        rundir_lock(dir);
        _exit(0);
    }
    int status;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) && WEXITSTATUS(status) == 1;
}

int main(void) {
    util_init("test-rundir");
    ok(mkdtemp(dir) != NULL, "temp dir");
    ok(rundir_latest_checkpoint("/nonexistent/run") == -1, "no directory: no checkpoint");
    ok(rundir_latest_checkpoint(dir) == -1, "no checkpoint yet");
    char *p = rundir_path(dir, RUNDIR_MODEL, 5000);
    ok(!strcmp(p + strlen(dir), "/model_00005000.bin"), "model file name: %s", p);
    free(p);
    p = rundir_path("run", RUNDIR_STATE, 123456789);
    ok(!strcmp(p, "run/state_123456789.bin"), "state file name past eight digits: %s", p);
    free(p);
    p = rundir_path("run", RUNDIR_DONE, 0);
    ok(!strcmp(p, "run/DONE_00000000"), "marker name: %s", p);
    free(p);

    GPT2Config cfg = gpt2_config_make(16, 100, 2, 2, 8);
    GPT2 model;
    gpt2_create(&model, &cfg);
    gpt2_init_params(model.params_memory, &cfg, 1);
    TrainState st = {.config = cfg, .T = 8, .num_params = model.num_params};
    for (int s = 10; s <= 40; s += 10) {
        st.step = (uint64_t)s;
        st.tokens = (uint64_t)s * 1000;
        rundir_save_checkpoint(dir, &model, &st);
    }
    ok(exists("model_00000040.bin") && exists("state_00000040.bin") && exists("DONE_00000040"),
       "a checkpoint is a model file, a state file and a marker");
    is_int(rundir_latest_checkpoint(dir), 40, "newest complete checkpoint");
    char *model40 = at("model_00000040.bin"), *done40 = at("DONE_00000040");
    char err[512];
    GPT2 back;
    ok(!modelfile_load(&back, model40, err, sizeof err) &&
           !memcmp(back.params_memory, model.params_memory, model.num_params * sizeof(float)),
       "its model file loads back");
    gpt2_free(&back);

    RunDirCheckpoint c;
    ok(rundir_model_complete(model40), "a model file with its marker is complete");
    rundir_describe(model40, &c);
    ok(c.step == 40 && c.tokens == 40000,
       "its step from the name, tokens from the state: %lld %lld", c.step, c.tokens);
    unlink(done40);
    is_int(rundir_latest_checkpoint(dir), 30, "a checkpoint without DONE is not complete");
    ok(!rundir_model_complete(model40), "nor is its model file for a reader");
    touch("DONE_00000040");

    /* names that only look like a checkpoint's are not one */
    touch("DONE_50");
    touch("DONE_+0000050");
    touch("DONE_00000050.tmp.AbC123");
    touch("DONE_00000060x");
    is_int(rundir_latest_checkpoint(dir), 40,
           "markers not named as rundir_path names them: ignored");
    touch("DONE_123456789");
    is_int(rundir_latest_checkpoint(dir), 123456789, "a step past 99999999 (nine digits) is found");
    unlink(p = at("DONE_123456789")), free(p);

    ok(!rundir_model_complete("run/model_00000010.bin.tmp.AbC123"), "a temp file is incomplete");
    ok(rundir_model_complete("elsewhere/gpt2_124M.bin"), "any other model file is complete");
    rundir_describe("elsewhere/gpt2_124M.bin", &c);
    ok(c.step == -1 && c.tokens == -1, "and has no step nor tokens");
    rundir_describe("model_7.bin", &c);
    ok(c.step == -1, "model_7.bin is not a checkpoint's name (eight digits)");
    char *state30 = at("state_00000030.bin"), *model30 = at("model_00000030.bin");
    unlink(state30);
    rundir_describe(model30, &c);
    ok(c.step == 30 && c.tokens == -1, "state file missing: step, no tokens");
    char *state20 = at("state_00000020.bin");
    rename(state20, state30);
    rundir_describe(model30, &c);
    ok(c.step == 30 && c.tokens == -1, "the state file of another step: no tokens");
    st.step = 30, st.tokens = 30000;
    rundir_save_checkpoint(dir, &model, &st);

    rundir_prune(dir, 2);
    is_int(rundir_latest_checkpoint(dir), 40, "pruning keeps the newest");
    ok(!exists("model_00000020.bin") && !exists("state_00000010.bin") && !exists("DONE_00000010") &&
           exists("state_00000030.bin") && exists("model_00000040.bin"),
       "pruning removes all but the newest two");
    rundir_prune(dir, 2);
    ok(exists("state_00000030.bin"), "pruning again changes nothing");
    rundir_prune(dir, 0);
    ok(exists("state_00000030.bin"), "keep 0 keeps all");

    /* temps that a killed run left: those of checkpoint files go, others stay */
    touch("model_00000050.bin.tmp.AbC123");
    touch("state_00000050.bin.tmp.x1Y2z3");
    touch("DONE_00000050.tmp.qwerty");
    touch("notes.txt.tmp.AbC123");
    touch("model_50.bin.tmp.AbC123");
    int saved = quiet_stderr(-1); /* rundir_lock names what it removes */
    rundir_lock(dir);
    quiet_stderr(saved);
    ok(!exists("model_00000050.bin.tmp.AbC123") && !exists("state_00000050.bin.tmp.x1Y2z3"),
       "the lock clears temps of model and state files");
    ok(!exists("DONE_00000050.tmp.qwerty"), "and of markers");
    ok(!exists("DONE_00000050.tmp.AbC123"), "including one never taken for a marker above");
    ok(exists("notes.txt.tmp.AbC123") && exists("model_50.bin.tmp.AbC123"), "but no other file's");
    ok(lock_refused(), "a second run cannot lock the directory");

    const char *left[] = {"model_00000030.bin",
                          "state_00000030.bin",
                          "DONE_00000030",
                          "model_00000040.bin",
                          "state_00000040.bin",
                          "DONE_00000040",
                          "DONE_50",
                          "DONE_+0000050",
                          "DONE_00000050.tmp.AbC123",
                          "DONE_00000060x",
                          "notes.txt.tmp.AbC123",
                          "model_50.bin.tmp.AbC123",
                          ".lock"};
    for (size_t i = 0; i < sizeof left / sizeof *left; i++) unlink(p = at(left[i])), free(p);
    ok(rmdir(dir) == 0, "nothing else left behind");
    gpt2_free(&model);
    free(model40), free(done40), free(state30), free(model30), free(state20);
    return done_testing();
}
