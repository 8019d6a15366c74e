/* Writes a randomly initialised GPT-2 model file for the gpt2-sample tests and benchmark.
 * Usage: sample_model OUT LAYERS HEADS CHANNELS MAX_SEQ_LEN [SEED]   (GPT-2 vocabulary) */
#include "base/cli.h"
#include "base/util.h"
#include "model/model.h"
#include "model/modelfile.h"

#include <stdlib.h>

int main(int argc, char **argv) {
    util_init("sample_model");
    if (argc < 6 || argc > 7)
        die_usage("usage: sample_model OUT LAYERS HEADS CHANNELS MAXT [SEED]");
    GPT2Config cfg = gpt2_config_make(
        (int)cli_int(argv[5], "MAXT", 1, 1 << 20), 50257, (int)cli_int(argv[2], "LAYERS", 1, 4096),
        (int)cli_int(argv[3], "HEADS", 1, 4096), (int)cli_int(argv[4], "CHANNELS", 1, 1 << 16));
    const char *bad = gpt2_config_check(&cfg);
    if (bad) die("bad config: %s", bad);
    GPT2 m;
    gpt2_create(&m, &cfg);
    gpt2_init_params(m.params_memory, &cfg,
                     argc > 6 ? (uint64_t)cli_int(argv[6], "SEED", 0, INT64_MAX) : 1);
    modelfile_save(&m, argv[1], 0);
    gpt2_free(&m);
    return 0;
}
