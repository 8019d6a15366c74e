/* Data-parallel training of the CUDA model (backend_cuda_distribute, model/cuda_dp.h) on
 * the one GPU a test machine has.
 *  1. Over NCCL in a world of one (the only one a single GPU allows): the reduction in
 *     the backward, the update, ZeRO-1's sharded update and its state gathered and set,
 *     against a backend that trains alone, in fp32 and bf16.
 *  2. Over stand-in collectives for a world of 3 whose ranks hold the same gradients
 *     (a sum is 3 times this rank's; what other ranks send is left as zeros): each rank's
 *     part of every slice and the tails that all ranks update, after one ZeRO-1 step, put
 *     together from the three ranks, equal one backend alone. 3 ranks leave tails (C and
 *     the vocabulary are not multiples of 3).
 * Several GPUs are needed to see real reductions (gpt2-train(1), "Several GPUs"). */
#include "model/backend_cuda.h"
#include "test_util.h"

#ifdef GPT2_NCCL
extern "C" {
#include "train/dist_nccl.h"
}

enum { B = 2, T = 32, MICRO = 2 };
static GPT2Config cfg;
static size_t np;
static float *init;
static int inputs[MICRO][B * T], targets[MICRO][B * T];

static AdamWConfig adamw(float clip) {
    return (AdamWConfig){.lr = 1e-3f,
                         .beta1 = 0.9f,
                         .beta2 = 0.95f,
                         .eps = 1e-8f,
                         .weight_decay = 0.1f,
                         .grad_clip = clip,
                         .max_norm = 0,
                         .skip = 0};
}

static Backend *open_backend(int fp32) {
    char err[256];
    Backend *be;
    if (backend_cuda_create(&cfg, init, B, T, fp32, &be, err, sizeof err))
        die("backend_cuda_create: %s", err);
    return be;
}

/* one optimizer step of MICRO micro-batches, each scaled by scale; distributed backends
 * reduce in the last one. Returns the norm; the mean loss in *loss. */
static float train_step(Backend *be, int distributed, float scale, const AdamWConfig *opt, int t,
                        float *loss) {
    double sum = 0;
    for (int a = 0; a < MICRO; a++) {
        if (distributed && a == MICRO - 1) backend_cuda_arm(be);
        sum += be->train_step(be, inputs[a], targets[a], B, T, scale);
    }
    *loss = (float)(sum / MICRO);
    return be->update(be, opt, t);
}

typedef struct {
    float *params, *m, *v;
} State;

static State get_state(Backend *be) {
    State s = {(float *)xmalloc(np * sizeof(float)), (float *)xmalloc(np * sizeof(float)),
               (float *)xmalloc(np * sizeof(float))};
    be->get_state(be, s.params, s.m, s.v);
    return s;
}

static void state_free(State *s) {
    free(s->params), free(s->m), free(s->v);
}

static float *dup(const float *a) {
    float *d = (float *)xmalloc(np * sizeof(float));
    memcpy(d, a, np * sizeof(float));
    return d;
}

/* 1: NCCL, a world of one */
static void world_of_one(void *comm, int fp32, int zero) {
    const char *mode = fp32 ? "fp32" : "bf16";
    AdamWConfig opt = adamw(1.0f);
    Backend *alone = open_backend(fp32), *dp = open_backend(fp32);
    size_t held, unsharded;
    dist_nccl_distribute(comm, dp, zero, &held, &unsharded);
    ok(held == unsharded && unsharded == (fp32 ? 2 : 3) * np * sizeof(float),
       "%s zero=%d: state bytes %zu of %zu (one rank keeps all)", mode, zero, held, unsharded);
    int same_losses = 1, same_norms = 1;
    float worst = 0;
    for (int t = 1; t <= 3; t++) {
        float l1, l2;
        float n1 = train_step(alone, 0, 1.0f / MICRO, &opt, t, &l1);
        float n2 = train_step(dp, 1, 1.0f / MICRO, &opt, t, &l2);
        /* the sharded norm sums per-slice partials: the last bits may differ, and with them
         * the clipped step */
        if (zero ? fabsf(l1 - l2) > 1e-5f * fabsf(l1) : l1 != l2) same_losses = 0;
        if (zero ? fabsf(n1 - n2) > 1e-5f * n1 : n1 != n2) same_norms = 0;
        if (fabsf(n1 - n2) > worst) worst = fabsf(n1 - n2);
    }
    ok(same_losses, "%s zero=%d: 3 steps, the losses of training alone", mode, zero);
    ok(same_norms, "%s zero=%d: the gradient norms of training alone (worst diff %g)", mode, zero,
       worst);
    State a = get_state(alone), d = get_state(dp);
    float tol = zero ? 1e-6f : 0.0f;
    compare("parameters", dup(d.params), a.params, np, tol, tol);
    compare("AdamW m", dup(d.m), a.m, np, zero ? 1e-7f : 0.0f, tol);
    compare("AdamW v", dup(d.v), a.v, np, zero ? 1e-10f : 0.0f, 1e-5f * zero);
    if (zero) {
        /* the shards take a whole state and give it back; the compute copy follows */
        dp->set_state(dp, a.params, a.m, a.v);
        State back = get_state(dp);
        ok(!memcmp(back.params, a.params, np * sizeof(float)) &&
               !memcmp(back.m, a.m, np * sizeof(float)) && !memcmp(back.v, a.v, np * sizeof(float)),
           "%s zero=1: set_state then get_state gives the state back bit for bit", mode);
        float l1, l2;
        train_step(alone, 0, 1.0f / MICRO, &opt, 4, &l1);
        train_step(dp, 1, 1.0f / MICRO, &opt, 4, &l2);
        ok(l1 == l2, "%s zero=1: after set_state, the loss of training alone (%.7g, %.7g)", mode,
           l1, l2);
        state_free(&back);
    }
    state_free(&a), state_free(&d);
    alone->free(alone);
    dp->free(dp);
}

/* 2: stand-in collectives, a world of WORLD ranks that hold the same gradients */
enum { WORLD = 3 };

__global__ void scale_kernel(float *x, size_t n, float s) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) x[i] *= s;
}

static void twin_sum(float *buf, size_t n, void *stream) {
    if (!n) return;
    scale_kernel<<<cuda_blocks(n, 256), 256, 0, (cudaStream_t)stream>>>(buf, n, (float)WORLD);
    CUDA_CHECK_LAUNCH();
}
static void fake_all_reduce(void *ctx, float *buf, size_t n, void *stream) {
    (void)ctx;
    twin_sum(buf, n, stream);
}
static void fake_reduce_scatter(void *ctx, float *buf, size_t n, void *stream) {
    twin_sum(buf + (size_t) * (int *)ctx * n, n, stream);
}
/* the other ranks' parts are not known here: zeros (the norm's partials among them) */
static void fake_all_gather(void *ctx, void *buf, size_t bytes, void *stream) {
    int rank = *(int *)ctx;
    for (int r = 0; r < WORLD; r++)
        if (r != rank)
            CUDA_CHECK(
                cudaMemsetAsync((char *)buf + (size_t)r * bytes, 0, bytes, (cudaStream_t)stream));
}
static void fake_group(void *ctx, int start) {
    (void)ctx, (void)start;
}

/* the part of [off, off + len) that rank r keeps, and the tail every rank keeps */
static void take_part(float *out, const float *from, size_t off, size_t len, int r) {
    size_t q = len / WORLD;
    memcpy(out + off + r * q, from + off + r * q, q * sizeof(float));
    if (r == 0)
        memcpy(out + off + WORLD * q, from + off + WORLD * q, (len % WORLD) * sizeof(float));
}

static void put_together(float *out, const float *from, int r) {
    size_t sizes[GPT2_NUM_PARAM_TENSORS], off = 0;
    gpt2_param_sizes(&cfg, sizes);
    for (int i = 0; i < GPT2_NUM_PARAM_TENSORS; off += sizes[i], i++) {
        int per_layer = i >= 2 && i < 14, L = per_layer ? cfg.num_layers : 1;
        for (int l = 0; l < L; l++) take_part(out, from, off + l * (sizes[i] / L), sizes[i] / L, r);
    }
}

static void world_of_three(void) {
    AdamWConfig opt = adamw(0.0f); /* unclipped: the norm (partials of others) plays no part */
    Backend *alone = open_backend(1);
    float loss;
    train_step(alone, 0, 1.0f / MICRO, &opt, 1, &loss);
    State want = get_state(alone);
    State got = {(float *)xcalloc(np, sizeof(float)), (float *)xcalloc(np, sizeof(float)),
                 (float *)xcalloc(np, sizeof(float))};
    size_t tails = 0, held = 0, unsharded = 0;
    static int ranks[WORLD];
    for (int r = 0; r < WORLD; r++) {
        ranks[r] = r;
        CudaCollectives c = {.rank = r,
                             .world = WORLD,
                             .ctx = &ranks[r],
                             .all_reduce = fake_all_reduce,
                             .reduce_scatter = fake_reduce_scatter,
                             .all_gather = fake_all_gather,
                             .group = fake_group};
        Backend *be = open_backend(1);
        backend_cuda_distribute(be, &c, 1, &held, &unsharded);
        train_step(be, 1, 1.0f / (MICRO * WORLD), &opt, 1, &loss);
        State s = get_state(be);
        put_together(got.params, s.params, r);
        put_together(got.m, s.m, r);
        put_together(got.v, s.v, r);
        state_free(&s);
        be->free(be);
    }
    /* each rank keeps the moments of a third of every slice, and of the tails */
    size_t sizes[GPT2_NUM_PARAM_TENSORS];
    gpt2_param_sizes(&cfg, sizes);
    for (int i = 0; i < GPT2_NUM_PARAM_TENSORS; i++) {
        int L = i >= 2 && i < 14 ? cfg.num_layers : 1;
        tails += L * ((sizes[i] / L) % WORLD);
    }
    ok(tails > 0, "the config leaves tails (%zu values) in a world of %d", tails, WORLD);
    ok(held == 2 * sizeof(float) * ((np - tails) / WORLD + tails) && unsharded == 2 * np * 4,
       "ZeRO-1 over %d ranks keeps %zu of %zu bytes of moments", WORLD, held, unsharded);
    /* a sum of three thirds is not the whole to the last bit */
    compare("3 ranks: parameters put together", got.params, want.params, np, 1e-6f, 1e-5f);
    compare("3 ranks: AdamW m put together", got.m, want.m, np, 1e-8f, 1e-5f);
    compare("3 ranks: AdamW v put together", got.v, want.v, np, 1e-12f, 1e-4f);
    free(got.params), free(got.m), free(got.v);
    state_free(&want);
    alone->free(alone);
}

int main(void) {
    util_init("dist_nccl");
    require_device();
    /* C = 64 and a vocabulary of 500 leave tails in a world of 3 */
    cfg = gpt2_config_make(T, 500, 2, 1, 64);
    np = gpt2_num_params(&cfg);
    init = (float *)xmalloc(np * sizeof(float));
    gpt2_init_params(init, &cfg, 7);
    for (int a = 0; a < MICRO; a++)
        for (int i = 0; i < B * T; i++)
            inputs[a][i] = (i * 37 + a * 11) % 500, targets[a][i] = (i * 91 + 3 + a) % 500;
    dist_nccl_select_device(0, 1);
    unsigned char id[DIST_NCCL_ID_BYTES];
    dist_nccl_unique_id(id);
    void *comm = dist_nccl_init(id, 1, 0);
    ok(comm != NULL, "NCCL communicator of a world of one");
    for (int fp32 = 1; fp32 >= 0; fp32--)
        for (int zero = 0; zero <= 1; zero++) world_of_one(comm, fp32, zero);
    dist_nccl_free(comm);
    world_of_three();
    free(init);
    return done_testing();
}
#else
int main(void) {
    printf("1..0 # SKIP built without NCCL\n");
    return 0;
}
#endif
