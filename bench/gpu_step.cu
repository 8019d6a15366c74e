/* gpu_step: times our CUDA training step on random tokens, or a big bf16 GEMM (the
 * practical ceiling). One result line on stdout, in key=value form for scripts:
 *   gpu_step [-m d12] [-b 16] [-t 1024] [-n 20] [-w 3] [--fp32] [--dist Z]
 *   gpu_step --gemm [-s 8192] [-n 20]
 *   gpu_step --levers    (each speed lever: name, trial or default, on or off here)
 * The step is train_step + update (what gpt2-train does per step without accumulation),
 * timed with CUDA events; the median of n steps after w warm-up steps. --dist Z trains as
 * the one rank of an NCCL world (ZeRO-1 when Z is 1), which times what the data-parallel
 * path adds to a step besides the transfers themselves. MFU counts
 * 6N + 6LCT FLOPs per token (N without the vocabulary padding, as llm.c) against the
 * H100 SXM dense bf16 peak, 989.4 TFLOP/s. */
#include "model/cuda_common.h"
#include "model/kernels/kernels_cuda.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern "C" {
#define _Noreturn [[noreturn]] /* the C11 headers, from C++ */
#include "base/util.h"
#include "model/backend.h"
#include "model/model.h"
#undef _Noreturn
}
#include "model/backend_cuda.h"
#ifdef GPT2_NCCL
extern "C" {
#include "train/dist_nccl.h"
}
#endif

#define PEAK_FLOPS 989.4e12

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

static float median(float *v, int n) {
    qsort(v, n, sizeof *v, cmp_float);
    return n % 2 ? v[n / 2] : 0.5f * (v[n / 2 - 1] + v[n / 2]);
}

static void bench_gemm(int size, int iters) {
    size_t n = (size_t)size * size;
    bf16 *a = (bf16 *)cuda_malloc(n * sizeof(bf16), "A"),
         *b = (bf16 *)cuda_malloc(n * sizeof(bf16), "B");
    bf16 *c = (bf16 *)cuda_malloc(n * sizeof(bf16), "C");
    CUDA_CHECK(cudaMemset(a, 0, n * sizeof(bf16)));
    CUDA_CHECK(cudaMemset(b, 0, n * sizeof(bf16)));
    cudaEvent_t e0, e1;
    CUDA_CHECK(cudaEventCreate(&e0));
    CUDA_CHECK(cudaEventCreate(&e1));
    float *ms = (float *)xmalloc(iters * sizeof(float));
    for (int i = -3; i < iters; i++) {
        CUDA_CHECK(cudaEventRecord(e0, cuda_stream()));
        matmul_forward_cuda(c, a, b, (const bf16 *)NULL, size, size, size);
        CUDA_CHECK(cudaEventRecord(e1, cuda_stream()));
        CUDA_CHECK(cudaEventSynchronize(e1));
        if (i >= 0) CUDA_CHECK(cudaEventElapsedTime(&ms[i], e0, e1));
    }
    float med = median(ms, iters);
    double tflops = 2.0 * size * (double)size * size / (med * 1e-3) / 1e12;
    printf("gemm bf16 %dx%dx%d: median_ms=%.3f tflops=%.1f of_peak=%.1f%%\n", size, size, size, med,
           tflops, 100 * tflops * 1e12 / PEAK_FLOPS);
}

/* the one rank of an NCCL world, distributed with ZeRO-1 or not (-1: not distributed) */
static void *distribute(Backend *be, int zero) {
    if (zero < 0) return NULL;
#ifdef GPT2_NCCL
    unsigned char id[DIST_NCCL_ID_BYTES];
    dist_nccl_unique_id(id);
    void *comm = dist_nccl_init(id, 1, 0);
    size_t held, unsharded;
    dist_nccl_distribute(comm, be, zero, &held, &unsharded);
    return comm;
#else
    (void)be;
    die("--dist: built without NCCL");
#endif
}

static void bench_step(const char *model, int B, int T, int iters, int warmup, int fp32, int dist) {
    GPT2Config cfg;
    if (gpt2_config_by_name(model, 1024, &cfg)) die_usage("unknown model '%s'", model);
    if (T > cfg.max_seq_len) die_usage("-t %d above %d", T, cfg.max_seq_len);
    float *params = (float *)xmalloc(gpt2_num_params(&cfg) * sizeof(float));
    gpt2_init_params(params, &cfg, 1);
    char err[256];
    Backend *be;
    if (backend_cuda_create(&cfg, params, B, T, fp32, &be, err, sizeof err)) die("%s", err);
    void *comm = distribute(be, dist);
    int *tok = (int *)xmalloc(((size_t)B * T + 1) * sizeof(int));
    uint64_t x = 88172645463325252ull;
    for (size_t i = 0; i <= (size_t)B * T; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        tok[i] = (int)(x % (uint64_t)cfg.vocab_size);
    }
    AdamWConfig opt = {6e-4f, 0.9f, 0.95f, 1e-8f, 0.1f, 1.0f, 0, 0};
    cudaEvent_t e0, e1;
    CUDA_CHECK(cudaEventCreate(&e0));
    CUDA_CHECK(cudaEventCreate(&e1));
    float *ms = (float *)xmalloc(iters * sizeof(float)), loss = 0;
    for (int i = -warmup; i < iters; i++) {
        CUDA_CHECK(cudaEventRecord(e0, cuda_stream()));
        if (comm) backend_cuda_arm(be);
        loss = be->train_step(be, tok, tok + 1, B, T, 1.0f);
        be->update(be, &opt, i + warmup + 1);
        CUDA_CHECK(cudaEventRecord(e1, cuda_stream()));
        CUDA_CHECK(cudaEventSynchronize(e1));
        if (i >= 0) CUDA_CHECK(cudaEventElapsedTime(&ms[i], e0, e1));
    }
    float med = median(ms, iters);
    size_t N =
        gpt2_num_params(&cfg) - (size_t)(cfg.padded_vocab_size - cfg.vocab_size) * cfg.channels;
    double flops_per_token = 6.0 * N + 6.0 * cfg.num_layers * cfg.channels * T;
    double tok_s = (double)B * T / (med * 1e-3);
    size_t free_b, total_b;
    CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
    printf("step %s %s%s B=%d T=%d: median_ms=%.2f tokens_per_s=%.0f mfu=%.1f%% "
           "mflop_per_token=%.1f allocated_gib=%.2f device_used_gib=%.2f last_loss=%.4f "
           "gemms_tuned=%d\n",
           model, fp32 ? "fp32" : "bf16",
           dist < 0 ? ""
           : dist   ? " dist-zero1"
                    : " dist-zero0",
           B, T, med, tok_s, 100 * tok_s * flops_per_token / PEAK_FLOPS, flops_per_token / 1e6,
           backend_cuda_allocated() / 1073741824.0, (total_b - free_b) / 1073741824.0, loss,
           matmul_tuned());
    be->free(be);
#ifdef GPT2_NCCL
    if (comm) dist_nccl_free(comm);
#endif
    free(params), free(tok), free(ms);
}

int main(int argc, char **argv) {
    util_init("gpu_step");
    const char *model = "d12";
    int B = 16, T = 1024, iters = 20, warmup = 3, fp32 = 0, gemm = 0, size = 8192, dist = -1;
    static const struct option longopts[] = {{"gemm", 0, 0, 'g'},
                                             {"fp32", 0, 0, 'f'},
                                             {"levers", 0, 0, 'l'},
                                             {"dist", 1, 0, 'd'},
                                             {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "m:b:t:n:w:s:", longopts, NULL)) != -1) switch (c) {
        case 'm':
            model = optarg;
            break;
        case 'b':
            B = atoi(optarg);
            break;
        case 't':
            T = atoi(optarg);
            break;
        case 'n':
            iters = atoi(optarg);
            break;
        case 'w':
            warmup = atoi(optarg);
            break;
        case 's':
            size = atoi(optarg);
            break;
        case 'g':
            gemm = 1;
            break;
        case 'f':
            fp32 = 1;
            break;
        case 'd':
            dist = atoi(optarg);
            if (dist != 0 && dist != 1) die_usage("--dist takes 0 or 1 (ZeRO-1)");
            break;
        case 'l': /* for scripts: needs no device */
            for (int i = 0; i < LEVER_COUNT; i++)
                printf("%s %s %s\n", cuda_lever_name((CudaLever)i),
                       cuda_lever_is_trial((CudaLever)i) ? "trial" : "default",
                       cuda_lever((CudaLever)i) ? "on" : "off");
            return 0;
        default:
            die_usage("usage: gpu_step [-m d12] [-b B] [-t T] [-n N] [-w W] [--fp32] [--dist Z] | "
                      "--gemm [-s S] | --levers");
        }
    if (B < 1 || T < 1 || iters < 1 || warmup < 0 || size < 1) die_usage("bad numeric option");
    int devices = cuda_device_count();
    if (devices < 0) die("CUDA is installed but unusable: %s", cuda_setup_error());
    if (devices == 0) die("no CUDA device");
    if (gemm)
        bench_gemm(size, iters);
    else
        bench_step(model, B, T, iters, warmup, fp32, dist);
    return 0;
}
