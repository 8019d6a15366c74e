#include "model/device.h"
#include "base/util.h"
#include "model/backend_cuda.h"
#include "model/cuda_plugin.h"
#include "model/modelfile.h"

#include <string.h>

Device device_parse(const char *arg) {
    if (!strcmp(arg, "auto")) return DEVICE_AUTO;
    if (!strcmp(arg, "cpu")) return DEVICE_CPU;
    if (!strcmp(arg, "cuda")) return DEVICE_CUDA;
    die_usage("--device: '%s' is not auto, cpu or cuda", arg);
}

/* The CUDA backend's entry when d may use it, else NULL: cpu; auto on a machine without
 * a GPU driver (the plugin is then never opened), or whose plugin cannot be opened (said
 * once); cuda dies with the reason. */
static const CudaBackendEntry *cuda_entry(Device d) {
    if (d == DEVICE_CPU || (d == DEVICE_AUTO && !cuda_driver_present())) return NULL;
    char err[1024];
    const CudaBackendEntry *e = cuda_plugin_entry("cuda_backend_entry", err, sizeof err);
    static int said;
    if (!e && d == DEVICE_CUDA) die("--device cuda: %s", err);
    if (!e && !said++) warn("--device auto: using the CPU: %s", err);
    return e;
}

/* Whether d runs on the CPU: cpu, or auto where no GPU can be used (a broken CUDA setup
 * counts as a GPU, so that opening it explains the problem). */
static int device_is_cpu(Device d) {
    if (d != DEVICE_AUTO) return d == DEVICE_CPU;
    const CudaBackendEntry *e = cuda_entry(d);
    return !e || e->devices() == 0;
}

/* the GPU's backend when d asks for it and one is usable, else NULL */
static Backend *open_cuda(Device d, GPT2 *model, int B, int T, int fp32) {
    const CudaBackendEntry *e = cuda_entry(d);
    if (!e) return NULL;
    char err[256];
    Backend *be;
    CudaOpen got =
        e->create(&model->config, model->params_memory, B, T, fp32, &be, err, sizeof err);
    if (got == CUDA_OPENED) {
        gpt2_free(model);
        return be;
    }
    if (d == DEVICE_CUDA) die("--device cuda: %s", err);
    /* a machine without a GPU is the plain CPU case; anything else (a refusal of this
     * model, a broken CUDA setup) the user of a GPU box wants to hear about */
    if (got != CUDA_NO_DEVICE)
        warn("--device auto: using the CPU: the CUDA backend cannot run this model (%s)", err);
    return NULL;
}

Backend *device_open(Device d, GPT2 *model, int B, int T, int fp32) {
    Backend *be = open_cuda(d, model, B, T, fp32);
    return be ? be : backend_cpu_create(model, B, T);
}

int infer_load(InferModel *im, const char *path, char *err, size_t errlen) {
    im->direct = im->dtype == GENERATE_BF16 && device_is_cpu(im->device);
    return im->direct ? generate_load_bf16(&im->gen, path, err, errlen)
                      : modelfile_load(&im->model, path, err, errlen);
}

const GPT2Config *infer_config(const InferModel *im) {
    return im->direct ? &im->gen.config : &im->model.config;
}

Backend *infer_open(InferModel *im, int B, int T) {
    if (im->direct) return backend_cpu_bf16_create(&im->gen, B, T);
    Backend *be = open_cuda(im->device, &im->model, B, T, im->fp32);
    return be ? be : backend_cpu_infer_create(&im->model, B, T, im->dtype);
}

void infer_free(InferModel *im) {
    im->direct ? generate_free(&im->gen) : gpt2_free(&im->model);
}
