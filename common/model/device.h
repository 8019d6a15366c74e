/* device: the --device option of gpt2-train, gpt2-eval and gpt2-sample — its values and
 * the backend each one opens. */
#ifndef GPT2_DEVICE_H
#define GPT2_DEVICE_H

#include "model/backend_cpu.h"

typedef enum { DEVICE_AUTO, DEVICE_CPU, DEVICE_CUDA } Device;

/* "auto", "cpu" or "cuda"; anything else is a usage error. */
Device device_parse(const char *arg);

/* The backend on device d, sized for batches up to [B,T]; takes over the model (the CPU
 * backend keeps its allocations, CUDA copies the parameters and frees them). cuda dies
 * when no device is usable or the build has no CUDA; auto then uses the CPU, with a note
 * on stderr when a device exists but refuses the model. fp32: CUDA's full-precision
 * mode (for tests), else bf16. */
Backend *device_open(Device d, GPT2 *model, int B, int T, int fp32);

/* A model file read for inference only (gpt2-sample, gpt2-eval). The caller sets device,
 * dtype (the CPU's weights) and fp32 (CUDA's full-precision mode); bf16 on the CPU is read
 * straight into its generator, never holding the fp32 model whole (half the memory). */
typedef struct {
    Device device;
    GenerateDtype dtype;
    int fp32;
    int direct; /* read into gen, else into model */
    GPT2 model;
    Generator gen;
} InferModel;

/* Reads path; 0, or -1 with a message in err (nothing is then held). */
int infer_load(InferModel *im, const char *path, char *err, size_t errlen);
const GPT2Config *infer_config(const InferModel *im);
/* The backend for batches up to [B,T], as device_open; takes the weights over. */
Backend *infer_open(InferModel *im, int B, int T);
/* Frees what a load holds when no backend is opened. */
void infer_free(InferModel *im);

#endif
