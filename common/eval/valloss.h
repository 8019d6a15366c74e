/* valloss: a model's mean loss over validation windows (gpt2-eval --val). */
#ifndef GPT2_VALLOSS_H
#define GPT2_VALLOSS_H

#include "data/valset.h"
#include "model/backend.h"

/* Mean loss over every position of every window, B windows per forward (be->B >= B,
 * be->T >= vs->T). */
double valset_loss(Backend *be, const ValSet *vs, int B);

#endif
