#include "train/rundir.h"
#include "base/util.h"
#include "model/modelfile.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The names of a checkpoint's files: printf formats, and the sscanf ones that read them. */
static const char *const name_format[] = {"model_%08llu.bin", "state_%08llu.bin", "DONE_%08llu"};
static const char *const name_scan[] = {"model_%llu", "state_%llu", "DONE_%llu"};
enum { NAME_MAX_LEN = 40 }; /* "state_" + 20 digits + ".bin", and room to spare */

static void format_name(char name[NAME_MAX_LEN], RunDirFile which, uint64_t step) {
    snprintf(name, NAME_MAX_LEN, name_format[which], (unsigned long long)step);
}

char *rundir_path(const char *dir, RunDirFile which, uint64_t step) {
    char name[NAME_MAX_LEN];
    format_name(name, which, step);
    return xasprintf("%s/%s", dir, name);
}

char *rundir_log_path(const char *dir) {
    return xasprintf("%s/log.jsonl", dir);
}

/* Whether the first len bytes of name are exactly a name that rundir_path gives (so not
 * "model_5.bin" nor "DONE_+0000005"); which file of which step, if so. */
static int parse_name(const char *name, size_t len, RunDirFile *which, uint64_t *step) {
    char got[NAME_MAX_LEN], canon[NAME_MAX_LEN];
    if (len >= sizeof got) return 0;
    memcpy(got, name, len);
    got[len] = 0;
    for (int k = 0; k < 3; k++) {
        unsigned long long s;
        if (sscanf(got, name_scan[k], &s) != 1) continue;
        format_name(canon, (RunDirFile)k, s);
        if (strcmp(canon, got)) continue;
        *which = (RunDirFile)k;
        *step = s;
        return 1;
    }
    return 0;
}

/* Whether name is the temp file of a checkpoint file. */
static int is_checkpoint_temp(const char *name) {
    size_t base = atomic_temp_base(name);
    RunDirFile which;
    uint64_t step;
    return base && parse_name(name, base, &which, &step);
}

/* A run killed outright (SIGKILL, the OOM killer, a power loss) while writing a checkpoint
 * leaves its temp file, as big as the model or twice that; the next run into the directory
 * removes it, under the lock, so no other writer's file can be one. */
static void remove_stale_temps(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) die("%s:", dir);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!is_checkpoint_temp(e->d_name)) continue;
        char *path = xasprintf("%s/%s", dir, e->d_name);
        if (unlink(path) == 0)
            warn("removed %s, left by a run killed while writing it", path);
        else if (errno != ENOENT)
            warn("cannot remove %s: %s", path, strerror(errno));
        free(path);
    }
    closedir(d);
}

void rundir_lock(const char *dir) {
    char *path = xasprintf("%s/.lock", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644); /* kept open: the lock lives on */
    if (fd < 0) die("%s:", path);
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) { /* never waits, so no EINTR to retry */
        if (errno == EWOULDBLOCK) die("%s: another gpt2-train is writing here", dir);
        die("%s: lock:", path);
    }
    free(path);
    remove_stale_temps(dir);
}

/* A rename is on disk only once its directory is synced: without this, a power loss
 * could keep a DONE marker but lose the renames of the files it vouches for, or keep the
 * pruning of the previous checkpoint but lose the new marker. */
static void sync_dir(const char *dir) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) die("%s:", dir);
    if (fsync(fd) && errno != EINVAL) die("%s: sync:", dir); /* EINVAL: cannot be synced */
    close(fd);
}

void rundir_save_checkpoint(const char *dir, const GPT2 *model, const TrainState *state) {
    char *path = rundir_path(dir, RUNDIR_MODEL, state->step);
    modelfile_save(model, path, 0);
    free(path);
    path = rundir_path(dir, RUNDIR_STATE, state->step);
    train_state_save(state, path);
    free(path);
    sync_dir(dir);
    path = rundir_path(dir, RUNDIR_DONE, state->step);
    AtomicFile af;
    atomic_open(&af, path, 1);
    atomic_commit(&af);
    free(path);
    sync_dir(dir);
}

/* The steps of all DONE markers in dir, ascending; returns the count. */
static size_t done_steps(const char *dir, uint64_t **steps) {
    *steps = NULL;
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT) return 0;
        die("%s:", dir);
    }
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        RunDirFile which;
        uint64_t step;
        if (!parse_name(e->d_name, strlen(e->d_name), &which, &step) || which != RUNDIR_DONE)
            continue;
        if (n == cap) *steps = xrealloc(*steps, (cap = cap ? 2 * cap : 16) * sizeof **steps);
        (*steps)[n++] = step;
    }
    closedir(d);
    for (size_t i = 1; i < n; i++) /* insertion sort: a handful of checkpoints */
        for (size_t j = i; j > 0 && (*steps)[j - 1] > (*steps)[j]; j--) {
            uint64_t t = (*steps)[j];
            (*steps)[j] = (*steps)[j - 1], (*steps)[j - 1] = t;
        }
    return n;
}

int64_t rundir_latest_checkpoint(const char *dir) {
    uint64_t *steps;
    size_t n = done_steps(dir, &steps);
    int64_t latest = n ? (int64_t)steps[n - 1] : -1;
    free(steps);
    return latest;
}

void rundir_prune(const char *dir, int keep) {
    if (keep <= 0) return;
    uint64_t *steps;
    size_t n = done_steps(dir, &steps);
    for (size_t i = 0; i + (size_t)keep < n; i++) {
        static const RunDirFile order[] = {RUNDIR_DONE, RUNDIR_STATE, RUNDIR_MODEL};
        for (int k = 0; k < 3; k++) {
            char *path = rundir_path(dir, order[k], steps[i]);
            if (unlink(path) && errno != ENOENT)
                warn("cannot remove %s: %s", path, strerror(errno));
            free(path);
        }
    }
    free(steps);
}

/* The step of a checkpoint's model file at path, else -1; *dir gets its directory. */
static int64_t model_step(const char *path, char **dir) {
    const char *base = strrchr(path, '/');
    *dir = base ? xasprintf("%.*s", (int)(base - path), path) : xstrdup(".");
    base = base ? base + 1 : path;
    RunDirFile which;
    uint64_t step;
    if (!parse_name(base, strlen(base), &which, &step) || which != RUNDIR_MODEL || step > INT64_MAX)
        return -1;
    return (int64_t)step;
}

int rundir_model_complete(const char *path) {
    if (atomic_temp_base(path)) return 0;
    char *dir;
    int64_t step = model_step(path, &dir);
    int done = 1;
    if (step >= 0) {
        char *marker = rundir_path(dir, RUNDIR_DONE, (uint64_t)step);
        done = file_exists(marker);
        free(marker);
    }
    free(dir);
    return done;
}

void rundir_describe(const char *path, RunDirCheckpoint *c) {
    char *dir;
    c->step = model_step(path, &dir);
    c->tokens = -1;
    if (c->step >= 0) {
        /* the header alone: the moments are twice the model's size */
        char *state_path = rundir_path(dir, RUNDIR_STATE, (uint64_t)c->step);
        TrainState st;
        char err[512];
        if (!train_state_read_header(&st, state_path, err, sizeof err) &&
            st.step == (uint64_t)c->step && st.tokens <= INT64_MAX)
            c->tokens = (long long)st.tokens;
        free(state_path);
    }
    free(dir);
}
