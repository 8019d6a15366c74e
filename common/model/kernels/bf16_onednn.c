/* The oneDNN path of bf16.h: products of several rows (prompts, HellaSwag) through
 * oneDNN's bf16 matmul, whose blocked AVX-512 BF16 kernels run 2-4x our 4x4 tiles
 * (bench/cpu-infer.sh). One row (decoding) stays with the AVX-512 row kernel. A plan per
 * weight shape, thread count and bias: oneDNN takes the row count at run time, so prompts
 * and endings of every length share it. Built only where oneDNN is (GPT2_ONEDNN). */
#include "model/kernels/bf16.h"

#ifdef GPT2_ONEDNN
#include "base/util.h"

#include <oneapi/dnnl/dnnl.h>
#include <omp.h>
#include <pthread.h>

typedef struct {
    int C, OC, bias, threads;
    dnnl_primitive_t matmul;
} Plan;

/* d12 has 4 weight shapes plus the vocabulary's, each with and without bias, at one or
 * two thread counts: 32 plans are plenty; beyond, the oldest are replaced */
enum { MAX_PLANS = 32 };
static Plan plans[MAX_PLANS];
static int plans_made;
static dnnl_engine_t engine;
static dnnl_stream_t stream;
static pthread_mutex_t plans_lock = PTHREAD_MUTEX_INITIALIZER;

static void check(dnnl_status_t s, const char *what) {
    if (s != dnnl_success) die("oneDNN: %s failed (status %d)", what, (int)s);
}

static void desc_2d(dnnl_memory_desc_t *md, dnnl_dim_t rows, dnnl_dim_t cols, dnnl_data_type_t t,
                    dnnl_format_tag_t tag) {
    dnnl_dims_t dims = {rows, cols};
    check(dnnl_memory_desc_init_by_tag(md, 2, dims, t, tag), "memory_desc_init");
}

/* src [M,C] bf16, weights [C,OC] stored as our [OC,C] rows (tag ba), bias [1,OC] and
 * dst [M,OC] fp32, M given at each call */
static dnnl_primitive_t plan_create(int C, int OC, int bias) {
    dnnl_memory_desc_t src, wei, bia, dst;
    desc_2d(&src, DNNL_RUNTIME_DIM_VAL, C, dnnl_bf16, dnnl_ab);
    desc_2d(&wei, C, OC, dnnl_bf16, dnnl_ba);
    desc_2d(&bia, 1, OC, dnnl_f32, dnnl_ab);
    desc_2d(&dst, DNNL_RUNTIME_DIM_VAL, OC, dnnl_f32, dnnl_ab);
    dnnl_matmul_desc_t desc;
    check(dnnl_matmul_desc_init(&desc, &src, &wei, bias ? &bia : NULL, &dst), "matmul_desc_init");
    dnnl_primitive_desc_t pd;
    check(dnnl_primitive_desc_create(&pd, &desc, NULL, engine, NULL), "primitive_desc_create");
    dnnl_primitive_t p;
    check(dnnl_primitive_create(&p, pd), "primitive_create");
    dnnl_primitive_desc_destroy(pd);
    return p;
}

static dnnl_primitive_t plan_for(int C, int OC, int bias, int threads) {
    pthread_mutex_lock(&plans_lock);
    if (!engine) {
        check(dnnl_engine_create(&engine, dnnl_cpu, 0), "engine_create");
        check(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags), "stream_create");
    }
    dnnl_primitive_t found = NULL;
    for (int i = 0; i < plans_made && i < MAX_PLANS && !found; i++) {
        Plan *p = &plans[i];
        if (p->C == C && p->OC == OC && p->bias == bias && p->threads == threads) found = p->matmul;
    }
    if (!found) {
        Plan *slot = &plans[plans_made++ % MAX_PLANS];
        if (slot->matmul) dnnl_primitive_destroy(slot->matmul);
        found = plan_create(C, OC, bias);
        *slot = (Plan){C, OC, bias, threads, found};
    }
    pthread_mutex_unlock(&plans_lock);
    return found;
}

static dnnl_memory_t wrap(dnnl_dim_t rows, dnnl_dim_t cols, dnnl_data_type_t t,
                          dnnl_format_tag_t tag, const void *data) {
    dnnl_memory_desc_t md;
    desc_2d(&md, rows, cols, t, tag);
    dnnl_memory_t m;
    check(dnnl_memory_create(&m, &md, engine, (void *)data), "memory_create");
    return m;
}

void bf16_gemm_onednn(float *out, const uint16_t *x, const uint16_t *weight, const float *bias,
                      int N, int C, int OC, int threads) {
    /* oneDNN's OpenMP kernels split over omp_get_max_threads(), and a plan is cut for
     * the count it was made with */
    int saved = omp_get_max_threads();
    omp_set_num_threads(threads);
    dnnl_primitive_t matmul = plan_for(C, OC, bias != NULL, threads);
    dnnl_exec_arg_t args[4] = {
        {DNNL_ARG_SRC, wrap(N, C, dnnl_bf16, dnnl_ab, x)},
        {DNNL_ARG_WEIGHTS, wrap(C, OC, dnnl_bf16, dnnl_ba, weight)},
        {DNNL_ARG_DST, wrap(N, OC, dnnl_f32, dnnl_ab, out)},
        {DNNL_ARG_BIAS, bias ? wrap(1, OC, dnnl_f32, dnnl_ab, bias) : NULL},
    };
    int nargs = bias ? 4 : 3;
    check(dnnl_primitive_execute(matmul, stream, nargs, args), "matmul");
    check(dnnl_stream_wait(stream), "stream_wait");
    for (int i = 0; i < nargs; i++) dnnl_memory_destroy(args[i].memory);
    omp_set_num_threads(saved);
}

int bf16_onednn_built(void) {
    return 1;
}

#else

#include "base/util.h"

/* never chosen: bf16_path_supported says no */
void bf16_gemm_onednn(float *out, const uint16_t *x, const uint16_t *weight, const float *bias,
                      int N, int C, int OC, int threads) {
    (void)out, (void)x, (void)weight, (void)bias, (void)N, (void)C, (void)OC, (void)threads;
    die("bf16: this build has no oneDNN");
}

int bf16_onednn_built(void) {
    return 0;
}

#endif
