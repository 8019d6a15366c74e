/* guard: which training steps are not applied. A step whose loss or gradient norm is not
 * finite is never applied; with a z threshold, neither is one whose loss or norm lies
 * more than z standard deviations above its running mean (a bad batch, the start of a
 * divergence). Consecutive skipped steps are counted so that a run that keeps skipping
 * can stop. See gpt2-train(1), --skip-z and --max-bad-steps.
 *
 * The running mean and variance are exponential moving averages (O(1) state that follows
 * the slow drift of both signals: the loss falls, the norm rises late in a run) over a
 * horizon of GUARD_HORIZON steps; the first GUARD_HORIZON use the plain running mean and
 * variance (Welford), so an early value is not weighted by an arbitrary start. No z-score
 * is judged before GUARD_WARMUP applied steps: the variance of n samples is off by about
 * sqrt(2/n), 30% at 20. Only applied steps feed the statistics, so one spike does not
 * widen the band that the next must stay in. The state is not checkpointed: a resumed run
 * warms up again. */
#ifndef GPT2_TRAIN_GUARD_H
#define GPT2_TRAIN_GUARD_H

#include <stdint.h>

enum { GUARD_WARMUP = 20, GUARD_HORIZON = 100 };

typedef struct {
    double mean, var;
    uint64_t n; /* values seen */
} RunningStat;

/* Welford's step while n < horizon, an exponential moving average of weight 1/horizon
 * after. */
void running_stat_add(RunningStat *s, double x, int horizon);
/* How many standard deviations x lies above the mean (below: negative); 0 without
 * spread. */
double running_stat_z(const RunningStat *s, double x);

typedef enum {
    GUARD_APPLIED,
    GUARD_NONFINITE,
    GUARD_LOSS_OUTLIER,
    GUARD_NORM_OUTLIER
} GuardVerdict;

typedef struct {
    double z;    /* skip above this z-score, 0: no outlier test */
    int max_bad; /* consecutive skipped steps that end the run, 0: never */
    RunningStat loss, norm;
    int bad; /* consecutive skipped steps so far */
} Guard;

void guard_init(Guard *g, double z, int max_bad);
/* Before the update: whether the step's loss already rules it out. */
GuardVerdict guard_check_loss(const Guard *g, double loss);
/* The largest gradient norm the update may apply (AdamWConfig.max_norm), 0: no limit. */
float guard_norm_limit(const Guard *g);
/* After the update: what became of the step (loss verdict first, then the norm's: the
 * update applied it only if finite and within the limit); feeds the statistics of an
 * applied step and counts a skipped one. */
GuardVerdict guard_record(Guard *g, GuardVerdict loss_verdict, double loss, float norm,
                          float limit);
/* Whether the consecutive skipped steps reached max_bad. */
int guard_exhausted(const Guard *g);
/* The word the log gives a verdict: "non-finite", "loss-outlier", "norm-outlier". */
const char *guard_verdict_name(GuardVerdict v);

/* Test knob: whether step is listed in the environment variable var (comma-separated
 * steps, e.g. GPT2_TEST_NAN_STEPS=3,7); see tests/README.md. */
int guard_test_step(const char *var, uint64_t step);

#endif
