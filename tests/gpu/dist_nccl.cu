/* The NCCL path of data-parallel training (train/dist_nccl.h) in a world of one, the only
 * one a single GPU allows: a communicator made from a unique id as the ranks of a job
 * make theirs, the gradient all-reduce on the model's stream leaving a training step's
 * gradients unchanged, bit for bit, and the update after it equal to one without it.
 * Several GPUs are needed to see a real reduction (gpt2-train(1), "Several GPUs"). */
#include "model/backend_cuda.h"
#include "test_util.h"

#ifdef GPT2_NCCL
extern "C" {
#include "train/dist_nccl.h"
}

int main(void) {
    util_init("dist_nccl");
    require_device();
    GPT2Config cfg = gpt2_config_make(32, 500, 1, 2, 128);
    size_t np = gpt2_num_params(&cfg);
    float *params = (float *)xmalloc(np * sizeof(float));
    gpt2_init_params(params, &cfg, 7);
    int inputs[2 * 32], targets[2 * 32];
    for (int i = 0; i < 2 * 32; i++) inputs[i] = (i * 37) % 500, targets[i] = (i * 91 + 3) % 500;
    AdamWConfig opt = {.lr = 1e-3f,
                       .beta1 = 0.9f,
                       .beta2 = 0.95f,
                       .eps = 1e-8f,
                       .weight_decay = 0.1f,
                       .grad_clip = 1.0f,
                       .max_norm = 0,
                       .skip = 0};
    dist_nccl_select_device(0, 1);
    unsigned char id[DIST_NCCL_ID_BYTES];
    dist_nccl_unique_id(id);
    void *comm = dist_nccl_init(id, 1, 0);
    ok(comm != NULL, "NCCL communicator of a world of one");
    char err[256];
    Backend *plain, *dp;
    if (backend_cuda_create(&cfg, params, 2, 32, 1, &plain, err, sizeof err) ||
        backend_cuda_create(&cfg, params, 2, 32, 1, &dp, err, sizeof err))
        die("backend_cuda_create: %s", err);
    float *before = (float *)xmalloc(np * sizeof(float)),
          *after = (float *)xmalloc(np * sizeof(float));
    float *p1 = (float *)xmalloc(np * sizeof(float)), *p2 = (float *)xmalloc(np * sizeof(float));
    plain->train_step(plain, inputs, targets, 2, 32, 1.0f);
    dp->train_step(dp, inputs, targets, 2, 32, 1.0f);
    backend_cuda_grads(dp, before);
    dist_nccl_allreduce(comm, dp->grad_memory(dp), np);
    backend_cuda_grads(dp, after);
    ok(!memcmp(before, after, np * sizeof(float)), "all-reduce over one rank: gradients unchanged");
    float n1 = plain->update(plain, &opt, 1), n2 = dp->update(dp, &opt, 1);
    ok(n1 == n2, "same gradient norm (%g, %g)", n1, n2);
    plain->get_state(plain, p1, NULL, NULL);
    dp->get_state(dp, p2, NULL, NULL);
    ok(!memcmp(p1, p2, np * sizeof(float)), "same parameters after the update");
    dist_nccl_free(comm);
    plain->free(plain);
    dp->free(dp);
    free(params), free(before), free(after), free(p1), free(p2);
    return done_testing();
}
#else
int main(void) {
    printf("1..0 # SKIP built without NCCL\n");
    return 0;
}
#endif
