/* Data-parallel training of the CUDA model (backend_cuda_distribute, model/cuda_dp.h) on
 * the one GPU a test machine has, in fp32 and bf16, against a backend that trains alone.
 *  1. Over NCCL in a world of one (the only one a single GPU allows): the update after a
 *     reduced backward, ZeRO-1's sharded update, its state gathered and set, and a
 *     backend that trained alone before it was distributed (its moments move into the
 *     shards).
 *  2. Over stand-in collectives for 3 ranks that train on the same batches, with and
 *     without ZeRO-1: a sum over the ranks is 4 times this rank's gradient, which was
 *     scaled by 1/4 (exact in floating point, so the sum is the whole gradient), and an
 *     all-gather hands on what the other ranks gave in their latest run. The ranks run
 *     one after the other, so from the third round on every rank has the others' parts
 *     of the same step: then each rank's norm, weights (the loss after the step), state
 *     and state set back are those of training alone. 3 ranks leave tails (C and the
 *     vocabulary are not multiples of 3).
 * The CUDA backward sums some gradients with atomics, so runs differ in the last bits:
 * comparisons have tolerances. Several GPUs are needed to see NCCL move data between
 * ranks (gpt2-train(1), "Several GPUs"). */
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

/* eps 1e-6: AdamW's first steps move a weight by about lr * g / (|g| + eps), which turns
 * last-bit differences of tiny gradients into visible ones when eps is smaller */
static const AdamWConfig opt = test_adamw_config(1e-6f);

static Backend *open_backend(int fp32) {
    char err[256];
    Backend *be;
    if (backend_cuda_create(&cfg, init, B, T, fp32, &be, err, sizeof err))
        die("backend_cuda_create: %s", err);
    return be;
}

/* One optimizer step t of MICRO micro-batches, each scaled by scale; a distributed
 * backend reduces in the last. Returns the norm. */
static float train_step(Backend *be, int distributed, float scale, int t) {
    for (int a = 0; a < MICRO; a++) {
        if (distributed && a == MICRO - 1) backend_cuda_arm(be);
        be->train_step(be, inputs[a], targets[a], B, T, scale);
    }
    return be->update(be, &opt, t);
}

/* the loss of the first batch under the current weights */
static float loss_now(Backend *be) {
    return be->eval_losses(be, inputs[0], targets[0], B, T, NULL);
}

static int close_to(float got, float want, float rtol) {
    return isfinite(got) && fabsf(got - want) <= rtol * fabsf(want);
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

static void compare_state(const char *what, const State *got, const State *want) {
    char name[160];
    snprintf(name, sizeof name, "%s: parameters", what);
    compare(name, dup(got->params), want->params, np, 1e-6f, 1e-5f);
    snprintf(name, sizeof name, "%s: AdamW m", what);
    compare(name, dup(got->m), want->m, np, 1e-8f, 1e-4f);
    snprintf(name, sizeof name, "%s: AdamW v", what);
    compare(name, dup(got->v), want->v, np, 1e-12f, 1e-4f);
}

static int same_state(const State *a, const State *b) {
    size_t bytes = np * sizeof(float);
    return !memcmp(a->params, b->params, bytes) && !memcmp(a->m, b->m, bytes) &&
           !memcmp(a->v, b->v, bytes);
}

/* 1: NCCL, a world of one. The distributed backend trains step 1 alone, then is
 * distributed and trains steps 2 to 4 as the one rank. */
static void world_of_one(void *comm, int fp32, int zero) {
    char what[64];
    snprintf(what, sizeof what, "%s, one rank, --zero %d", fp32 ? "fp32" : "bf16", zero);
    Backend *alone = open_backend(fp32), *dp = open_backend(fp32);
    float init_loss = loss_now(dp);
    train_step(alone, 0, 1.0f / MICRO, 1);
    train_step(dp, 0, 1.0f / MICRO, 1);
    size_t held, unsharded;
    dist_nccl_distribute(comm, dp, zero, &held, &unsharded);
    ok(held == unsharded && unsharded == (fp32 ? 2 : 3) * np * sizeof(float),
       "%s: %zu of %zu bytes of optimizer state (one rank keeps all)", what, held, unsharded);
    int losses = 1, norms = 1;
    for (int t = 2; t <= 4; t++) {
        float l1 = loss_now(alone), l2 = loss_now(dp);
        float n1 = train_step(alone, 0, 1.0f / MICRO, t), n2 = train_step(dp, 1, 1.0f / MICRO, t);
        if (!close_to(l2, l1, 1e-5f)) losses = 0, diag("step %d: loss %.8g, alone %.8g", t, l2, l1);
        if (!close_to(n2, n1, 1e-5f)) norms = 0, diag("step %d: norm %.8g, alone %.8g", t, n2, n1);
    }
    ok(losses, "%s: the losses of training alone", what);
    ok(norms, "%s: the gradient norms of training alone", what);
    State a = get_state(alone), d = get_state(dp);
    compare_state(what, &d, &a);
    /* a state set comes back as it was, and the weights follow it (the initial ones,
     * with the moments of step 4) */
    State set = {init, a.m, a.v};
    dp->set_state(dp, init, a.m, a.v);
    State back = get_state(dp);
    ok(same_state(&back, &set), "%s: set_state then get_state gives the state back bit for bit",
       what);
    float l2 = loss_now(dp);
    ok(close_to(l2, init_loss, 1e-6f),
       "%s: after set_state, the loss of those weights (%.8g, %.8g)", what, l2, init_loss);
    state_free(&a), state_free(&d), state_free(&back);
    alone->free(alone);
    dp->free(dp);
}

/* 2: stand-in collectives for WORLD ranks */
enum { WORLD = 3, TWINS = 4, ROUNDS = 3, MAX_GATHERS = 1024 };

/* what each rank gave to the all-gathers of its latest run, by call */
typedef struct {
    size_t bytes;
    unsigned char *data;
} Given;
static Given board[MAX_GATHERS][WORLD];

typedef struct {
    int rank, gathers, mismatched;
} FakeRank;

__global__ void scale_kernel(float *x, size_t n, float s) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) x[i] *= s;
}

static void twins_sum(float *buf, size_t n, void *stream) {
    if (!n) return;
    scale_kernel<<<cuda_blocks(n, 256), 256, 0, (cudaStream_t)stream>>>(buf, n, (float)TWINS);
    CUDA_CHECK_LAUNCH();
}
static void fake_all_reduce(void *ctx, float *buf, size_t n, void *stream) {
    (void)ctx;
    twins_sum(buf, n, stream);
}
static void fake_reduce_scatter(void *ctx, float *buf, size_t n, void *stream) {
    twins_sum(buf + (size_t)((FakeRank *)ctx)->rank * n, n, stream);
}
/* this rank's part goes on the board; the others' parts come from it (zeros before a
 * rank's first run) */
static void fake_all_gather(void *ctx, void *buf, size_t bytes, void *stream) {
    FakeRank *f = (FakeRank *)ctx;
    if (f->gathers == MAX_GATHERS) die("more than %d all-gathers", MAX_GATHERS);
    Given *row = board[f->gathers++];
    unsigned char *b = (unsigned char *)buf;
    cudaStream_t st = (cudaStream_t)stream;
    Given *mine = &row[f->rank];
    mine->data = (unsigned char *)xrealloc(mine->data, bytes ? bytes : 1);
    mine->bytes = bytes;
    CUDA_CHECK(cudaMemcpyAsync(mine->data, b + f->rank * bytes, bytes, cudaMemcpyDeviceToHost, st));
    CUDA_CHECK(cudaStreamSynchronize(st));
    for (int r = 0; r < WORLD; r++) {
        if (r == f->rank) continue;
        if (row[r].data && row[r].bytes != bytes) f->mismatched++;
        if (row[r].data && row[r].bytes == bytes)
            CUDA_CHECK(
                cudaMemcpyAsync(b + r * bytes, row[r].data, bytes, cudaMemcpyHostToDevice, st));
        else
            CUDA_CHECK(cudaMemsetAsync(b + r * bytes, 0, bytes, st));
    }
    CUDA_CHECK(cudaStreamSynchronize(st)); /* the board's rows may change after this */
}
static void fake_group(void *ctx, int start) {
    (void)ctx, (void)start;
}

static void world_of_three(int fp32, int zero) {
    char what[64];
    snprintf(what, sizeof what, "%s, %d stand-in ranks, --zero %d", fp32 ? "fp32" : "bf16", WORLD,
             zero);
    Backend *alone = open_backend(fp32);
    float init_loss = loss_now(alone);
    float want_norm = train_step(alone, 0, 1.0f / MICRO, 1), want_loss = loss_now(alone);
    State want = get_state(alone);
    State set = {init, want.m, want.v}; /* the initial weights, the moments of step 1 */
    float norm[WORLD], loss[WORLD], loss_back[WORLD];
    /* a clean board: nothing from another run */
    for (int k = 0; k < MAX_GATHERS; k++)
        for (int r = 0; r < WORLD; r++) free(board[k][r].data), board[k][r] = (Given){0, NULL};
    State got[WORLD] = {}, back[WORLD] = {};
    size_t held = 0, unsharded = 0;
    int mismatched = 0, gathers = -1, same_gathers = 1;
    for (int round = 1; round <= ROUNDS; round++)
        for (int r = 0; r < WORLD; r++) {
            FakeRank f = {r, 0, 0};
            CudaCollectives c = {.rank = r,
                                 .world = WORLD,
                                 .ctx = &f,
                                 .all_reduce = fake_all_reduce,
                                 .reduce_scatter = fake_reduce_scatter,
                                 .all_gather = fake_all_gather,
                                 .group = fake_group};
            Backend *be = open_backend(fp32);
            backend_cuda_distribute(be, &c, zero, &held, &unsharded);
            norm[r] = train_step(be, 1, 1.0f / (MICRO * TWINS), 1);
            loss[r] = loss_now(be);
            state_free(&got[r]), state_free(&back[r]);
            got[r] = get_state(be);
            be->set_state(be, set.params, set.m, set.v);
            back[r] = get_state(be);
            loss_back[r] = loss_now(be);
            be->free(be);
            mismatched += f.mismatched;
            if (gathers >= 0 && f.gathers != gathers) same_gathers = 0;
            gathers = f.gathers;
        }
    /* the norm's; with ZeRO-1 also the weights' and, twice, the state's (m, v, and a
     * master beside bf16), one per slice */
    int slices = 12 * cfg.num_layers + 4;
    int want_gathers = zero ? 1 + slices + 2 * slices * (fp32 ? 2 : 3) : 1;
    ok(same_gathers && gathers == want_gathers,
       "%s: every rank and round made the same %d all-gathers (%d expected)", what, gathers,
       want_gathers);
    ok(!mismatched, "%s: every rank's all-gathers have the sizes of the others'", what);
    size_t sizes[GPT2_NUM_PARAM_TENSORS], tails = 0;
    gpt2_param_sizes(&cfg, sizes);
    for (int i = 0; i < GPT2_NUM_PARAM_TENSORS; i++) {
        int L = i >= 2 && i < 14 ? cfg.num_layers : 1;
        tails += L * ((sizes[i] / L) % WORLD);
    }
    size_t per = (fp32 ? 2 : 3) * sizeof(float); /* moments, and a master beside bf16 */
    size_t want_held = zero ? per * ((np - tails) / WORLD + tails) : per * np;
    ok(tails > 0 && held == want_held && unsharded == per * np,
       "%s: a rank keeps %zu of %zu bytes of optimizer state (%zu tail values)", what, held,
       unsharded, tails);
    for (int r = 0; r < WORLD; r++) {
        char who[96];
        snprintf(who, sizeof who, "%s, rank %d", what, r);
        ok(close_to(norm[r], want_norm, 1e-5f), "%s: the gradient norm (%.8g, alone %.8g)", who,
           norm[r], want_norm);
        ok(close_to(loss[r], want_loss, 1e-5f), "%s: the loss after the step (%.8g, alone %.8g)",
           who, loss[r], want_loss);
        compare_state(who, &got[r], &want);
        ok(same_state(&back[r], &set), "%s: a state set comes back bit for bit", who);
        ok(close_to(loss_back[r], init_loss, 1e-6f),
           "%s: after set_state, the loss of those weights (%.8g, %.8g)", who, loss_back[r],
           init_loss);
        state_free(&got[r]), state_free(&back[r]);
    }
    state_free(&want);
    alone->free(alone);
}

int main(void) {
    util_init("dist_nccl");
    require_device();
    /* the trial levers that sum by atomics or pick GEMMs by timing would make runs differ
     * by more than these comparisons allow */
    cuda_lever_set(LEVER_ATTN_BWD_1PASS, 0);
    cuda_lever_set(LEVER_GEMM_TUNE, 0);
    /* C = 64 and a vocabulary padded to 512 leave tails in a world of 3 */
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
    for (int fp32 = 1; fp32 >= 0; fp32--)
        for (int zero = 0; zero <= 1; zero++) world_of_three(fp32, zero);
    for (int k = 0; k < MAX_GATHERS; k++)
        for (int r = 0; r < WORLD; r++) free(board[k][r].data);
    free(init);
    return done_testing();
}
#else
int main(void) {
    printf("1..0 # SKIP built without NCCL\n");
    return 0;
}
#endif
