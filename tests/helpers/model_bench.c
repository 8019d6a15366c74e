/* model_bench: times CPU training steps (forward, backward, AdamW) for bench/train-cpu.sh.
 *   model_bench CONFIG B T STEPS
 * CONFIG: d12, d24, ... or L:NH:C:V (max_seq_len 1024 either way). Prints the mean wall
 * and CPU (all threads) seconds per step after one warm-up step. Tokens are random ids. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "base/util.h"
#include "model/model.h"

static double cpu_seconds(void) { /* of all threads */
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

int main(int argc, char **argv) {
    util_init("model_bench");
    if (argc != 5) die_usage("usage: model_bench CONFIG B T STEPS");
    int B = atoi(argv[2]), T = atoi(argv[3]), steps = atoi(argv[4]);
    GPT2Config cfg;
    int L, NH, C, V;
    if (gpt2_config_by_name(argv[1], 1024, &cfg)) {
        if (sscanf(argv[1], "%d:%d:%d:%d", &L, &NH, &C, &V) != 4)
            die_usage("bad config %s", argv[1]);
        cfg = gpt2_config_make(1024, V, L, NH, C);
    }
    const char *bad = gpt2_config_check(&cfg);
    if (bad) die("%s", bad);
    GPT2 m;
    gpt2_create(&m, &cfg);
    gpt2_init_params(m.params_memory, &cfg, 1337);
    int *tok = xmalloc(2 * (size_t)B * T * sizeof(int));
    uint64_t s = 42;
    for (int i = 0; i < 2 * B * T; i++)
        tok[i] = (int)((s = s * 6364136223846793005ull + 1) >> 33) % cfg.vocab_size;
    AdamWConfig opt = {.lr = 1e-4f,
                       .beta1 = 0.9f,
                       .beta2 = 0.95f,
                       .eps = 1e-8f,
                       .weight_decay = 0.1f,
                       .grad_clip = 1.0f};
    double t0 = 0, cpu0 = 0;
    float loss = 0;
    for (int step = 0; step <= steps; step++) {
        if (step == 1) t0 = now_seconds(), cpu0 = cpu_seconds();
        gpt2_zero_grad(&m);
        loss = gpt2_forward(&m, tok, tok + B * T, B, T);
        gpt2_backward(&m, 1.0f);
        gpt2_update(&m, &opt, step + 1);
    }
    printf("%.3f %.3f\n", (now_seconds() - t0) / steps, (cpu_seconds() - cpu0) / steps);
    fprintf(stderr, "model_bench: %s B=%d T=%d loss %.4f\n", argv[1], B, T, loss);
    free(tok);
    gpt2_free(&m);
    return 0;
}
