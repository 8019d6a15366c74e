/* schedule: the learning rate over training — linear warmup to the peak, then cosine
 * decay to a final fraction of it (GPT-2 124M recipe: 6e-4, 715 warmup steps). */
#ifndef GPT2_SCHEDULE_H
#define GPT2_SCHEDULE_H

typedef struct {
    double max_lr;     /* peak learning rate */
    int warmup_steps;  /* steps of linear warmup */
    int max_steps;     /* the decay reaches its end here */
    double final_frac; /* lr at max_steps = max_lr * final_frac */
} Schedule;

/* Learning rate for optimizer step `step` (counted from 0): (step+1)/warmup * max_lr
 * during warmup, then cosine from max_lr down to max_lr*final_frac at max_steps, and
 * that floor afterwards. */
double schedule_lr(const Schedule *s, int step);

#endif
