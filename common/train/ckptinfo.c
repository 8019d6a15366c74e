#include "train/ckptinfo.h"
#include "base/util.h"
#include "train/checkpoint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The step of a gpt2-train model file name (one that train_ckpt_path gives back), else
 * -1; *dir gets its directory. */
static long long train_step(const char *path, char **dir) {
    const char *base = strrchr(path, '/');
    *dir = base ? xasprintf("%.*s", (int)(base - path), path) : xstrdup(".");
    base = base ? base + 1 : path;
    unsigned long long step;
    int end = 0;
    if (sscanf(base, "model_%llu.bin%n", &step, &end) != 1 || base[end]) return -1;
    char *canon = train_ckpt_path(*dir, TRAIN_CKPT_MODEL, step);
    int same = !strcmp(canon + strlen(*dir) + 1, base);
    free(canon);
    return same ? (long long)step : -1;
}

int ckptinfo_complete(const char *path) {
    if (atomic_temp_base(path)) return 0;
    char *dir;
    long long step = train_step(path, &dir);
    int done = 1;
    if (step >= 0) {
        char *marker = train_ckpt_path(dir, TRAIN_CKPT_DONE, (uint64_t)step);
        done = file_exists(marker);
        free(marker);
    }
    free(dir);
    return done;
}

/* Training tokens from a state file's header (gpt2-train-state(5): magic "GPT2STAT",
 * version 1 or 2 at byte 8, the step at 48 and the tokens at 96, little-endian); train_state_load
 * would read the AdamW moments too, twice the model's size. */
static long long state_tokens(const char *path, long long step) {
    unsigned char h[104];
    const char *why;
    FILE *f = fopen_regular(path, &why);
    if (!f) return -1;
    size_t got = fread(h, 1, sizeof h, f);
    fclose(f);
    if (got != sizeof h || memcmp(h, "GPT2STAT", 8) || load_le32(h + 8) - 1 > 1) return -1;
    uint64_t s = load_le32(h + 48) | (uint64_t)load_le32(h + 52) << 32;
    uint64_t t = load_le32(h + 96) | (uint64_t)load_le32(h + 100) << 32;
    return s == (uint64_t)step && t <= (uint64_t)INT64_MAX ? (long long)t : -1;
}

void ckptinfo_read(const char *path, CkptInfo *info) {
    char *dir;
    info->step = train_step(path, &dir);
    info->tokens = -1;
    if (info->step >= 0) {
        char *state = train_ckpt_path(dir, TRAIN_CKPT_STATE, (uint64_t)info->step);
        info->tokens = state_tokens(state, info->step);
        free(state);
    }
    free(dir);
}
