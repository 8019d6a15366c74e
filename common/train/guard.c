/* guard: skipped training steps; see guard.h. */
#include "train/guard.h"

#include <math.h>
#include <stdlib.h>

void running_stat_add(RunningStat *s, double x, int horizon) {
    s->n++;
    double a = s->n < (uint64_t)horizon ? 1.0 / (double)s->n : 1.0 / horizon;
    double delta = x - s->mean;
    s->mean += a * delta;
    /* with a = 1/n exactly Welford's population variance */
    s->var = (1 - a) * (s->var + a * delta * delta);
}

double running_stat_z(const RunningStat *s, double x) {
    return s->var > 0 ? (x - s->mean) / sqrt(s->var) : 0;
}

void guard_init(Guard *g, double z, int max_bad) {
    *g = (Guard){.z = z, .max_bad = max_bad};
}

static int judging(const Guard *g) {
    return g->z > 0 && g->loss.n >= GUARD_WARMUP;
}

GuardVerdict guard_check_loss(const Guard *g, double loss) {
    if (!isfinite(loss)) return GUARD_NONFINITE;
    if (judging(g) && running_stat_z(&g->loss, loss) > g->z) return GUARD_LOSS_OUTLIER;
    return GUARD_APPLIED;
}

float guard_norm_limit(const Guard *g) {
    if (!judging(g) || !(g->norm.var > 0)) return 0;
    return (float)(g->norm.mean + g->z * sqrt(g->norm.var));
}

GuardVerdict guard_record(Guard *g, GuardVerdict loss_verdict, double loss, float norm,
                          float limit) {
    GuardVerdict v = loss_verdict;
    if (v == GUARD_APPLIED && !isfinite(norm)) v = GUARD_NONFINITE;
    if (v == GUARD_APPLIED && limit > 0 && norm > limit) v = GUARD_NORM_OUTLIER;
    if (v != GUARD_APPLIED) {
        g->bad++;
        return v;
    }
    g->bad = 0;
    running_stat_add(&g->loss, loss, GUARD_HORIZON);
    running_stat_add(&g->norm, norm, GUARD_HORIZON);
    return v;
}

int guard_exhausted(const Guard *g) {
    return g->max_bad > 0 && g->bad >= g->max_bad;
}

const char *guard_verdict_name(GuardVerdict v) {
    static const char *const names[] = {"applied", "non-finite", "loss-outlier", "norm-outlier"};
    return names[v];
}

int guard_test_step(const char *var, uint64_t step) {
    const char *s = getenv(var);
    while (s && *s) {
        char *end;
        unsigned long long n = strtoull(s, &end, 10);
        if (end == s) return 0;
        if (n == step) return 1;
        if (*end != ',') return 0;
        s = end + 1;
    }
    return 0;
}
