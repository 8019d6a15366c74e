#include "model/device.h"
#include "base/util.h"

#include <string.h>

Device device_parse(const char *arg) {
    if (!strcmp(arg, "auto")) return DEVICE_AUTO;
    if (!strcmp(arg, "cpu")) return DEVICE_CPU;
    if (!strcmp(arg, "cuda")) return DEVICE_CUDA;
    die_usage("--device: '%s' is not auto, cpu or cuda", arg);
}

Backend *device_open(Device d, GPT2 *model, int B, int T, int fp32) {
#ifdef GPT2_CUDA
    if (d != DEVICE_CPU) {
        char err[256];
        Backend *be =
            backend_cuda_create(&model->config, model->params_memory, B, T, fp32, err, sizeof err);
        if (be) {
            gpt2_free(model);
            return be;
        }
        if (d == DEVICE_CUDA) die("--device cuda: %s", err);
        /* backend_cuda_create's one message for a missing device; any other (a refusal
         * of this model, a broken CUDA setup) the user of a GPU box wants to hear about */
        if (strcmp(err, "no CUDA device"))
            warn("--device auto: using the CPU: the CUDA backend cannot run this model (%s)", err);
    }
#else
    (void)fp32;
    if (d == DEVICE_CUDA) die("--device cuda: not available in this build (built without CUDA)");
#endif
    return backend_cpu_create(model, B, T);
}
