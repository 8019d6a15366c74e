/* Unit tests for common/train/schedule.c: warmup, cosine decay, floor. */
#include "train/schedule.h"
#include "tap.h"

int main(void) {
    Schedule s = {.max_lr = 6e-4, .warmup_steps = 10, .max_steps = 110, .final_frac = 0.1};
    near(schedule_lr(&s, 0), 6e-5, 0, 1e-12, "first warmup step is max/warmup");
    near(schedule_lr(&s, 4), 3e-4, 0, 1e-12, "warmup is linear");
    near(schedule_lr(&s, 9), 6e-4, 0, 1e-12, "warmup ends at the peak");
    near(schedule_lr(&s, 10), 6e-4, 0, 1e-12, "decay starts at the peak");
    near(schedule_lr(&s, 60), (6e-4 + 6e-5) / 2, 0, 1e-12, "half way down is the midpoint");
    near(schedule_lr(&s, 35), 6e-5 + (6e-4 - 6e-5) * (0.5 + 0.5 * 0.70710678118654752), 0, 1e-9,
         "a quarter of the way is cos(pi/4)");
    near(schedule_lr(&s, 110), 6e-5, 0, 1e-12, "ends at the final fraction");
    near(schedule_lr(&s, 500), 6e-5, 0, 1e-12, "stays at the floor after max steps");
    int monotone = 1;
    for (int i = 10; i < 120; i++) monotone &= schedule_lr(&s, i + 1) <= schedule_lr(&s, i);
    ok(monotone, "never rises after warmup");
    Schedule flat = {.max_lr = 1e-3, .warmup_steps = 0, .max_steps = 0, .final_frac = 1};
    near(schedule_lr(&flat, 7), 1e-3, 0, 1e-12, "no warmup, no decay: constant");
    return done_testing();
}
