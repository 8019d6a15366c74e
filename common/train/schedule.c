#include "train/schedule.h"

#include <math.h>

double schedule_lr(const Schedule *s, int step) {
    double min_lr = s->max_lr * s->final_frac;
    if (step < s->warmup_steps) return s->max_lr * (step + 1) / s->warmup_steps;
    if (step >= s->max_steps) return min_lr;
    /* warmup >= max_steps never gets here, so the ratio is well defined */
    double ratio = (double)(step - s->warmup_steps) / (s->max_steps - s->warmup_steps);
    return min_lr + 0.5 * (1.0 + cos(M_PI * ratio)) * (s->max_lr - min_lr);
}
