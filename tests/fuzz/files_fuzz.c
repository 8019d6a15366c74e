/* libFuzzer target for the readers of the files users hand to the tools: model files
 * (llm.c fp32/bf16, safetensors), gpt2-train state files, HellaSwag jsonl and gpt2-eval's
 * results log (which it may append a newline to). Any bytes
 * must give a clean error or a loaded file, never a crash, a leak, an exit or undefined
 * behaviour. Each input goes to every reader. */
#include "eval/evallog.h"
#include "eval/hellaswag.h"
#include "model/modelfile.h"
#include "train/state.h"

#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* the readers take a path: an in-memory file behind /proc/self/fd */
    static int fd = -1;
    static char path[64];
    static BPE *bpe;
    if (fd < 0) {
        fd = memfd_create("file", 0);
        if (fd < 0) return 0;
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        bpe = bpe_load_gpt2();
    }
    if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size) return 0;
    char err[512];
    GPT2 m;
    if (modelfile_load(&m, path, err, sizeof err) == 0) gpt2_free(&m);
    TrainState st;
    if (train_state_load(&st, path, err, sizeof err) == 0) train_state_free(&st);
    HellaSwag hs;
    if (hellaswag_load(&hs, path, bpe, 0, err, sizeof err) == 0) {
        hellaswag_sort(&hs);
        hellaswag_free(&hs);
    }
    EvalLog log;
    if (evallog_open(&log, path, 0, err, sizeof err) == 0) {
        evallog_has(&log, "model_00000010.bin", 0x1234abcd, "hellaswag", 100);
        evallog_close(&log);
    }
    return 0;
}
