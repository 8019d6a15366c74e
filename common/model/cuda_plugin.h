/* cuda_plugin: the CUDA code of the tools lives in gpt2-cuda.so, opened only when a GPU
 * may be used. Linked into the programs, cuBLAS alone made every run of gpt2-sample,
 * gpt2-eval and gpt2-train 210 MiB resident and 80 ms slower to start, GPU or not.
 *
 * The plugin is looked for at $GPT2_CUDA_PLUGIN when that is set, else beside the
 * program (bin/gpt2-cuda.so in the build tree) and in ../lib/gpt2/ from it (where
 * `make install` puts it). It resolves its calls into the library (die, the model
 * layout) against the program, which exports them (-rdynamic). Each entry it offers is a
 * struct of function pointers whose first member is GPT2_CUDA_ABI, a hash of the
 * headers they are declared in: a plugin from another build is refused, not called. */
#ifndef GPT2_CUDA_PLUGIN_H
#define GPT2_CUDA_PLUGIN_H

#include <stddef.h>

/* Whether an NVIDIA driver is installed (libcuda.so.1 loads). Without one there is no GPU
 * and the plugin is never opened. */
int cuda_driver_present(void);

/* The plugin's entry named name (opening the plugin on first use), checked against this
 * build's ABI; NULL with the reason in err. */
const void *cuda_plugin_entry(const char *name, char *err, size_t errlen);

#endif
