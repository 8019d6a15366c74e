/* model_dump: runs the CPU model on a given model file and batch and writes what it
 * computed, for tests/ref/check_model.py to compare with the PyTorch reference.
 *   model_dump MODEL TOKENS B T STEPS LR WD CLIP OUT [OUT_MODEL]
 * TOKENS: int32 LE, B*T inputs then B*T targets. OUT (float32 LE): logits [B,T,Vp],
 * loss, gradients [num_params] of that loss, then per AdamW step (betas 0.9/0.95, eps
 * 1e-8) the loss before it and the gradient norm. OUT_MODEL: the parameters after the
 * steps, as an llm.c fp32 model file. */
#include <stdio.h>
#include <stdlib.h>

#include "base/util.h"
#include "model/modelfile.h"

int main(int argc, char **argv) {
    util_init("model_dump");
    if (argc != 10 && argc != 11)
        die_usage("usage: model_dump MODEL TOKENS B T STEPS LR WD CLIP OUT [OUT_MODEL]");
    GPT2 m;
    char err[512];
    if (modelfile_load(&m, argv[1], err, sizeof err)) die("%s", err);
    int B = atoi(argv[3]), T = atoi(argv[4]), steps = atoi(argv[5]);
    AdamWConfig opt = {.lr = strtof(argv[6], NULL),
                       .beta1 = 0.9f,
                       .beta2 = 0.95f,
                       .eps = 1e-8f,
                       .weight_decay = strtof(argv[7], NULL),
                       .grad_clip = strtof(argv[8], NULL)};
    size_t len, N = (size_t)B * T;
    int *tok = (int *)xread_file(argv[2], &len);
    if (len != 2 * N * sizeof(int)) die("%s: expected %zu bytes", argv[2], 2 * N * sizeof(int));
    FILE *out = xfopen(argv[9], "wb");
    float loss = gpt2_forward(&m, tok, tok + N, B, T);
    xfwrite(m.logits, N * m.config.padded_vocab_size * sizeof(float), out, argv[9]);
    xfwrite(&loss, sizeof loss, out, argv[9]);
    gpt2_zero_grad(&m);
    gpt2_backward(&m, 1.0f);
    xfwrite(m.grads_memory, m.num_params * sizeof(float), out, argv[9]);
    for (int t = 1; t <= steps; t++) {
        if (t > 1) {
            loss = gpt2_forward(&m, tok, tok + N, B, T);
            gpt2_zero_grad(&m);
            gpt2_backward(&m, 1.0f);
        }
        float rec[2] = {loss, gpt2_update(&m, &opt, t)};
        xfwrite(rec, sizeof rec, out, argv[9]);
    }
    xfclose(out, argv[9]);
    if (argc == 11) modelfile_save(&m, argv[10], 0);
    free(tok);
    gpt2_free(&m);
    return 0;
}
