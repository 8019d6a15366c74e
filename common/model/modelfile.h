/* modelfile: model files — llm.c's format (fp32 version 3, bf16 version 5) read and
 * written compatibly, and Hugging Face GPT-2 model.safetensors read. See gpt2-checkpoint(5). */
#ifndef GPT2_MODELFILE_H
#define GPT2_MODELFILE_H

#include <stddef.h>
#include <stdint.h>

#include "model/model.h"

/* Where modelfile_read puts a model's parameters: fp32 values, range by range of the
 * parameter vector (model.h's order, each value once, in any order of ranges), so that a
 * reader converting them never holds the whole fp32 model. */
typedef struct ModelSink ModelSink;
struct ModelSink {
    /* the file's config, once, before any value */
    void (*begin)(ModelSink *s, const GPT2Config *cfg);
    /* room for values [at, at + n), valid until the next call: the loader fills it, then
     * calls put */
    float *(*buffer)(ModelSink *s, size_t at, size_t n);
    void (*put)(ModelSink *s, size_t at, size_t n);
    /* the load failed after begin: free what it made */
    void (*cancel)(ModelSink *s);
};

/* Reads any supported model file (kind told by its first bytes) into sink. Returns 0, or
 * -1 with a message naming the file and the problem in err: wrong magic/version, sizes
 * that disagree, truncation, a checksum mismatch, a value that is not finite (named
 * after every other check has passed). */
int modelfile_read(const char *path, ModelSink *sink, char *err, size_t errlen);
/* Loads any supported model file (kind told by its first bytes) into a fresh model
 * (gpt2_create with the file's config). Returns 0, or -1 with a message naming the file
 * and the problem in err: wrong magic/version, sizes that disagree, truncation. */
int modelfile_load(GPT2 *m, const char *path, char *err, size_t errlen);
/* Whether every value of params (cfg's layout) is finite, and with nonneg also not negative
 * (-0 passes): 0, or -1 with the first bad one named in what ("lnfw[3] is NaN"). */
int modelfile_check_values(const GPT2Config *cfg, const float *params, int nonneg, char *what,
                           size_t whatlen);
/* The CRC-32C that a gpt2 model file carries in its header, read without the rest:
 * 1 with *crc, or 0 for a file without one (llm.c's own, safetensors) or one that cannot
 * be read as a model file (loading it names the problem). It tells two files at one path
 * apart, where loading them would take the whole file. */
int modelfile_checksum(const char *path, uint32_t *crc);
/* Writes llm.c's format atomically (temp + rename); bf16 selects version 5. Dies on I/O errors. */
void modelfile_save(const GPT2 *m, const char *path, int bf16);

#endif
