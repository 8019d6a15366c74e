/* generate_load_bf16: the bf16 generator read straight from a model file holds the same
 * weights as one converted from the loaded fp32 model (so every logit is bit-identical),
 * refuses what modelfile_load refuses, and never holds the fp32 model whole: its peak
 * memory, measured in a child process, stays below the fp32 model's size. */
#include "base/util.h"
#include "model/generate.h"
#include "model/modelfile.h"
#include "model/model.h"
#include "tap.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[] = "/tmp/gpt2-genload-test.XXXXXX";

static char *tmp(const char *name) {
    static char path[8][256];
    static int next;
    char *p = path[next++ % 8];
    snprintf(p, sizeof path[0], "%s/%s", dir, name);
    return p;
}

/* the number of values kept in bf16 (the five matrices), and in fp32 in *f32 */
static size_t weight_counts(const Generator *g, size_t *f32) {
    size_t sizes[GPT2_NUM_PARAM_TENSORS], all = 0;
    gpt2_param_sizes(&g->config, sizes);
    for (int i = 0; i < GPT2_NUM_PARAM_TENSORS; i++) all += sizes[i];
    size_t bf16 = sizes[0] + sizes[4] + sizes[6] + sizes[10] + sizes[12];
    *f32 = all - bf16;
    return bf16;
}

/* loaded from path, against g converted in memory: same bytes, same logits */
static void check_same(const Generator *want, const char *path, const int *tokens, int T,
                       const char *what) {
    Generator g;
    char err[512];
    if (generate_load_bf16(&g, path, err, sizeof err)) {
        ok(0, "%s: loads: %s", what, err);
        return;
    }
    size_t n32, n16 = weight_counts(&g, &n32);
    ok(!memcmp(g.own_bf16, want->own_bf16, 2 * n16) && !memcmp(g.own_f32, want->own_f32, 4 * n32),
       "%s: the same bf16 and fp32 weights as converted from the loaded model", what);
    generate_reserve(&g, T);
    Generator w = *want;
    generate_rewind(&w, 0);
    const float *a = generate_feed(&w, tokens, T);
    float *keep = xmalloc(sizeof(float) * g.config.padded_vocab_size);
    memcpy(keep, a, sizeof(float) * g.config.padded_vocab_size);
    const float *b = generate_feed(&g, tokens, T);
    ok(!memcmp(keep, b, sizeof(float) * g.config.padded_vocab_size), "%s: logits bit-identical",
       what);
    free(keep);
    generate_free(&g);
}

/* The peak resident memory of loading path in a child: KiB above what the child had
 * before (ru_maxrss is a high-water mark, so a fresh process measures only this). */
static long load_peak_kib(const char *path) {
    int fds[2];
    if (pipe(fds)) die("pipe:");
    pid_t pid = fork();
    if (pid < 0) die("fork:");
    if (!pid) {
        struct rusage before, after;
        getrusage(RUSAGE_SELF, &before);
        Generator g;
        char err[512];
        long kib = generate_load_bf16(&g, path, err, sizeof err) ? -1 : 0;
        getrusage(RUSAGE_SELF, &after);
        if (!kib) kib = after.ru_maxrss - before.ru_maxrss;
        if (write(fds[1], &kib, sizeof kib) != sizeof kib) _exit(1);
        _exit(0);
    }
    close(fds[1]);
    long kib = -1;
    if (read(fds[0], &kib, sizeof kib) != sizeof kib) kib = -1;
    close(fds[0]);
    waitpid(pid, NULL, 0);
    return kib;
}

/* a model whose fp32 block (64 MiB) is mostly wte, written by a child so that this
 * process never reaches that size itself */
static void write_big(const char *path, size_t *params) {
    GPT2Config cfg = gpt2_config_make(64, 32768, 1, 4, 512);
    *params = gpt2_num_params(&cfg);
    pid_t pid = fork();
    if (pid < 0) die("fork:");
    if (!pid) {
        GPT2 m;
        gpt2_create(&m, &cfg);
        for (size_t i = 0; i < m.num_params; i++) m.params_memory[i] = (float)(i % 997) * 1e-3f;
        modelfile_save(&m, path, 0);
        _exit(0);
    }
    waitpid(pid, NULL, 0);
}

int main(void) {
    util_init("test-generate-load");
    if (!mkdtemp(dir)) die("mkdtemp:");
    GPT2Config cfg = gpt2_config_make(40, 100, 2, 4, 32);
    GPT2 m;
    gpt2_create(&m, &cfg);
    gpt2_init_params(m.params_memory, &cfg, 42);
    int T = cfg.max_seq_len, tokens[40];
    for (int t = 0; t < T; t++) tokens[t] = (t * 37 + 11) % cfg.vocab_size;
    const char *p32 = tmp("m32.bin"), *p16 = tmp("m16.bin");
    modelfile_save(&m, p32, 0);
    modelfile_save(&m, p16, 1);
    gpt2_free(&m);
    const char *paths[] = {p32, p16}, *names[] = {"fp32 file", "bf16 file"};
    for (int i = 0; i < 2; i++) {
        GPT2 loaded;
        char err[512];
        if (modelfile_load(&loaded, paths[i], err, sizeof err)) die("%s", err);
        Generator want;
        generate_init_bf16_freeing(&want, &loaded, T);
        check_same(&want, paths[i], tokens, T, names[i]);
        generate_free(&want);
    }

    /* a NaN is refused and named, as by modelfile_load */
    if (modelfile_load(&m, p32, (char[8]){0}, 8)) die("reload");
    m.params.qkvw[5] = NAN;
    const char *pnan = tmp("nan.bin");
    modelfile_save(&m, pnan, 0);
    gpt2_free(&m);
    Generator g;
    char err[512];
    ok(generate_load_bf16(&g, pnan, err, sizeof err) == -1 && strstr(err, "qkvw[5] is NaN"),
       "a NaN is refused and named: %s", err);
    ok(generate_load_bf16(&g, tmp("none.bin"), err, sizeof err) == -1, "a missing file: %s", err);

    size_t params;
    const char *big = tmp("big.bin");
    write_big(big, &params);
    long kib = load_peak_kib(big), fp32 = (long)(params * 4 / 1024), bf16 = fp32 / 2;
    ok(kib > 0 && kib < bf16 + (fp32 - bf16) / 2,
       "loading %zu parameters (fp32 %ld KiB, bf16 %ld KiB) peaks %ld KiB above the start, "
       "below halfway to the fp32 size",
       params, fp32, bf16, kib);
    remove(p32), remove(p16), remove(pnan), remove(big);
    rmdir(dir);
    return done_testing();
}
