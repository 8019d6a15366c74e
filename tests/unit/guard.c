/* Unit tests for common/train/guard.c: the running statistics, warm-up, the verdicts,
 * the count of steps skipped in a row, and the test knob's step lists. */
#include "tap.h"
#include "train/guard.h"

#include <math.h>
#include <stdlib.h>

int main(void) {
    RunningStat s = {0};
    double xs[] = {2, 4, 4, 4, 5, 5, 7, 9};
    for (int i = 0; i < 8; i++) running_stat_add(&s, xs[i], 100);
    near(s.mean, 5, 0, 1e-12, "below the horizon: the plain mean");
    near(s.var, 4, 0, 1e-12, "and the population variance (Welford)");
    near(running_stat_z(&s, 11), 3, 0, 1e-12, "z of a value 3 deviations above");
    RunningStat e = {0};
    for (int i = 0; i < 1000; i++) running_stat_add(&e, i < 500 ? 0 : 10, 10);
    near(e.mean, 10, 0, 1e-9, "past the horizon the mean follows a level shift");
    RunningStat flat = {0};
    running_stat_add(&flat, 3, 10);
    near(running_stat_z(&flat, 100), 0, 0, 0, "no spread, no z-score");

    Guard g;
    guard_init(&g, 4, 3);
    ok(guard_check_loss(&g, NAN) == GUARD_NONFINITE, "a NaN loss is never applied");
    ok(guard_check_loss(&g, INFINITY) == GUARD_NONFINITE, "nor an infinite one");
    ok(guard_check_loss(&g, 1e6) == GUARD_APPLIED, "no outlier before the warm-up");
    near(guard_norm_limit(&g), 0, 0, 0, "no norm limit before the warm-up");
    /* one step short of the warm-up the statistics already have spread: only the count
     * holds the judging back */
    for (int i = 0; i < GUARD_WARMUP - 1; i++)
        guard_record(&g, GUARD_APPLIED, 3 + 0.1 * (i % 2), 1 + 0.1 * (i % 2), 0);
    ok(guard_check_loss(&g, 1e6) == GUARD_APPLIED && guard_norm_limit(&g) == 0,
       "no outlier and no norm limit one step before the warm-up ends (%d steps)",
       GUARD_WARMUP - 1);
    guard_record(&g, GUARD_APPLIED, 3 + 0.1 * ((GUARD_WARMUP - 1) % 2),
                 1 + 0.1 * ((GUARD_WARMUP - 1) % 2), 0);
    ok(guard_check_loss(&g, 3.1) == GUARD_APPLIED, "a usual loss is applied after warm-up");
    ok(guard_check_loss(&g, 2.0) == GUARD_APPLIED, "a low loss is no outlier (one-sided)");
    ok(guard_check_loss(&g, 3.5) == GUARD_LOSS_OUTLIER, "8 deviations above is one at z 4");
    float limit = guard_norm_limit(&g);
    near(limit, 1.05 + 4 * 0.05, 0, 1e-6, "the norm limit is mean + z deviations");
    ok(guard_record(&g, GUARD_APPLIED, 3, 1.5f, limit) == GUARD_NORM_OUTLIER,
       "a norm above the limit was skipped");
    ok(guard_record(&g, GUARD_APPLIED, 3, NAN, limit) == GUARD_NONFINITE, "a NaN norm was skipped");
    ok(!guard_exhausted(&g) && g.bad == 2, "two bad steps counted, not yet the limit");
    uint64_t n = g.loss.n;
    ok(guard_record(&g, GUARD_LOSS_OUTLIER, 9, 1, limit) == GUARD_LOSS_OUTLIER,
       "the loss verdict stands");
    ok(guard_exhausted(&g), "the third in a row reaches --max-bad-steps 3");
    ok(g.loss.n == n, "skipped steps do not feed the statistics");
    guard_record(&g, GUARD_APPLIED, 3, 1, limit);
    ok(g.bad == 0 && !guard_exhausted(&g), "an applied step ends the run of bad ones");
    Guard off;
    guard_init(&off, 0, 0);
    for (int i = 0; i < 50; i++) guard_record(&off, GUARD_APPLIED, 3 + (i % 2), 1 + (i % 2), 0);
    ok(guard_check_loss(&off, 1e9) == GUARD_APPLIED && guard_norm_limit(&off) == 0,
       "z 0: no outlier test");
    for (int i = 0; i < 100; i++) guard_record(&off, GUARD_NONFINITE, NAN, NAN, 0);
    ok(!guard_exhausted(&off), "max_bad 0: never exhausted");

    setenv("GPT2_TEST_X", "3,17,5", 1);
    ok(guard_test_step("GPT2_TEST_X", 3) && guard_test_step("GPT2_TEST_X", 17) &&
           guard_test_step("GPT2_TEST_X", 5),
       "every listed step");
    ok(!guard_test_step("GPT2_TEST_X", 1) && !guard_test_step("GPT2_TEST_X", 7), "no other step");
    ok(!guard_test_step("GPT2_TEST_UNSET", 3), "an unset knob lists none");
    return done_testing();
}
