#include "train/checkpoint.h"
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

char *train_ckpt_path(const char *dir, TrainCkptFile which, uint64_t step) {
    static const char *const fmt[] = {"%s/model_%08llu.bin", "%s/state_%08llu.bin",
                                      "%s/DONE_%08llu"};
    return xasprintf(fmt[which], dir, (unsigned long long)step);
}

/* Whether name is the temp file of a checkpoint file, "<file>.tmp.XXXXXX" (util.h's
 * AtomicFile) with <file> a name train_ckpt_path gives. */
static int is_ckpt_temp(const char *name) {
    static const char *const pattern[] = {"model_%llu.bin%n", "state_%llu.bin%n", "DONE_%llu%n"};
    size_t base = atomic_temp_base(name);
    if (!base) return 0;
    for (int k = 0; k < 3; k++) {
        unsigned long long step;
        int end = 0;
        if (sscanf(name, pattern[k], &step, &end) != 1 || (size_t)end != base) continue;
        char *canon = train_ckpt_path("", (TrainCkptFile)k, step);
        int same = !strncmp(canon + 1, name, (size_t)end) && !canon[1 + end];
        free(canon);
        if (same) return 1;
    }
    return 0;
}

/* A run killed outright (SIGKILL, the OOM killer, a power loss) while writing a checkpoint
 * leaves its temp file, as big as the model or twice that; the next run into the directory
 * removes it, under the lock, so no other writer's file can be one. */
static void remove_stale_temps(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) die("%s:", dir);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!is_ckpt_temp(e->d_name)) continue;
        char *path = xasprintf("%s/%s", dir, e->d_name);
        if (unlink(path) == 0)
            warn("removed %s, left by a run killed while writing it", path);
        else if (errno != ENOENT)
            warn("cannot remove %s: %s", path, strerror(errno));
        free(path);
    }
    closedir(d);
}

void train_ckpt_lock(const char *dir) {
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

void train_ckpt_save(const char *dir, const GPT2 *model, const TrainState *state) {
    char *path = train_ckpt_path(dir, TRAIN_CKPT_MODEL, state->step);
    checkpoint_save(model, path, 0);
    free(path);
    path = train_ckpt_path(dir, TRAIN_CKPT_STATE, state->step);
    train_state_save(state, path);
    free(path);
    sync_dir(dir);
    path = train_ckpt_path(dir, TRAIN_CKPT_DONE, state->step);
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
        /* eight digits, more past step 99999999, as train_ckpt_path writes them */
        const char *digits = e->d_name + 5;
        size_t len = strlen(digits);
        if (strncmp(e->d_name, "DONE_", 5) || len < 8 || len > 19 ||
            strspn(digits, "0123456789") != len)
            continue;
        uint64_t step = strtoull(digits, NULL, 10);
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

int64_t train_ckpt_latest(const char *dir) {
    uint64_t *steps;
    size_t n = done_steps(dir, &steps);
    int64_t latest = n ? (int64_t)steps[n - 1] : -1;
    free(steps);
    return latest;
}

void train_ckpt_prune(const char *dir, int keep) {
    if (keep <= 0) return;
    uint64_t *steps;
    size_t n = done_steps(dir, &steps);
    for (size_t i = 0; i + (size_t)keep < n; i++) {
        static const TrainCkptFile order[] = {TRAIN_CKPT_DONE, TRAIN_CKPT_STATE, TRAIN_CKPT_MODEL};
        for (int k = 0; k < 3; k++) {
            char *path = train_ckpt_path(dir, order[k], steps[i]);
            if (unlink(path) && errno != ENOENT)
                warn("cannot remove %s: %s", path, strerror(errno));
            free(path);
        }
    }
    free(steps);
}
