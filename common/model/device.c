#include "model/device.h"
#include "base/util.h"
#ifdef GPT2_CUDA
#include "model/backend_cuda.h"
#endif

#include <string.h>

Device device_parse(const char *arg) {
    if (!strcmp(arg, "auto")) return DEVICE_AUTO;
    if (!strcmp(arg, "cpu")) return DEVICE_CPU;
    if (!strcmp(arg, "cuda")) return DEVICE_CUDA;
    die_usage("--device: '%s' is not auto, cpu or cuda", arg);
}

int device_is_cpu(Device d) {
    if (d != DEVICE_AUTO) return d == DEVICE_CPU;
#ifdef GPT2_CUDA
    return backend_cuda_devices() == 0;
#else
    return 1;
#endif
}

/* the GPU's backend when d asks for it and one is usable, else NULL */
static Backend *open_cuda(Device d, GPT2 *model, int B, int T, int fp32) {
#ifdef GPT2_CUDA
    if (d != DEVICE_CPU) {
        char err[256];
        Backend *be;
        CudaOpen got = backend_cuda_create(&model->config, model->params_memory, B, T, fp32, &be,
                                           err, sizeof err);
        if (got == CUDA_OPENED) {
            gpt2_free(model);
            return be;
        }
        if (d == DEVICE_CUDA) die("--device cuda: %s", err);
        /* a machine without a GPU is the plain CPU case; anything else (a refusal of this
         * model, a broken CUDA setup) the user of a GPU box wants to hear about */
        if (got != CUDA_NO_DEVICE)
            warn("--device auto: using the CPU: the CUDA backend cannot run this model (%s)", err);
    }
#else
    (void)fp32;
    (void)model, (void)B, (void)T;
    if (d == DEVICE_CUDA) die("--device cuda: not available in this build (built without CUDA)");
#endif
    return NULL;
}

Backend *device_open(Device d, GPT2 *model, int B, int T, int fp32) {
    Backend *be = open_cuda(d, model, B, T, fp32);
    return be ? be : backend_cpu_create(model, B, T);
}

Backend *device_open_infer(Device d, GPT2 *model, int B, int T, int fp32, GenerateDtype cpu_dtype) {
    Backend *be = open_cuda(d, model, B, T, fp32);
    return be ? be : backend_cpu_infer_create(model, B, T, cpu_dtype);
}
