/* device: the --device option of gpt2-train, gpt2-eval and gpt2-sample — its values and
 * the backend each one opens. */
#ifndef GPT2_DEVICE_H
#define GPT2_DEVICE_H

#include "model/backend_cpu.h"

typedef enum { DEVICE_AUTO, DEVICE_CPU, DEVICE_CUDA } Device;

/* "auto", "cpu" or "cuda"; anything else is a usage error. */
Device device_parse(const char *arg);

/* Whether d runs on the CPU: cpu, or auto where no GPU can be used (a broken CUDA setup
 * counts as a GPU, so that opening it explains the problem). Callers then load the
 * model for the CPU directly. */
int device_is_cpu(Device d);

/* The backend on device d, sized for batches up to [B,T]; takes over the model (the CPU
 * backend keeps its allocations, CUDA copies the parameters and frees them). cuda dies
 * when no device is usable or the build has no CUDA; auto then uses the CPU, with a note
 * on stderr when a device exists but refuses the model. fp32: CUDA's full-precision
 * mode (for tests), else bf16. */
Backend *device_open(Device d, GPT2 *model, int B, int T, int fp32);
/* device_open for inference only (gpt2-sample, gpt2-eval): on the CPU, backend_cpu_infer_create
 * with cpu_dtype. */
Backend *device_open_infer(Device d, GPT2 *model, int B, int T, int fp32, GenerateDtype cpu_dtype);

#endif
