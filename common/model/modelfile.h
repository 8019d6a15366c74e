/* modelfile: model files — llm.c's format (fp32 version 3, bf16 version 5) read and
 * written compatibly, and Hugging Face GPT-2 model.safetensors read. See gpt2-checkpoint(5). */
#ifndef GPT2_MODELFILE_H
#define GPT2_MODELFILE_H

#include <stddef.h>

#include "model/model.h"

/* Loads any supported model file (kind told by its first bytes) into a fresh model
 * (gpt2_create with the file's config). Returns 0, or -1 with a message naming the file
 * and the problem in err: wrong magic/version, sizes that disagree, truncation. */
int modelfile_load(GPT2 *m, const char *path, char *err, size_t errlen);
/* Whether every value of params (cfg's layout) is finite, and with nonneg also not negative
 * (-0 passes): 0, or -1 with the first bad one named in what ("lnfw[3] is NaN"). */
int modelfile_check_values(const GPT2Config *cfg, const float *params, int nonneg, char *what,
                           size_t whatlen);
/* Writes llm.c's format atomically (temp + rename); bf16 selects version 5. Dies on I/O errors. */
void modelfile_save(const GPT2 *m, const char *path, int bf16);

#endif
