#include "eval/valloss.h"
#include "base/util.h"

#include <stdlib.h>

double valset_loss(Backend *be, const ValSet *vs, int B) {
    int T = vs->T;
    size_t W = (size_t)T + 1;
    int *inputs = xmalloc((size_t)B * T * sizeof *inputs);
    int *targets = xmalloc((size_t)B * T * sizeof *targets);
    double sum = 0;
    for (size_t w0 = 0; w0 < vs->n; w0 += B) {
        int b = vs->n - w0 < (size_t)B ? (int)(vs->n - w0) : B;
        for (int i = 0; i < b; i++)
            for (int t = 0; t < T; t++) {
                inputs[i * T + t] = vs->tokens[(w0 + i) * W + t];
                targets[i * T + t] = vs->tokens[(w0 + i) * W + t + 1];
            }
        /* the mean of a forward weighs each of its windows equally */
        sum += (double)be->eval_losses(be, inputs, targets, b, T, NULL) * b;
    }
    free(inputs);
    free(targets);
    return sum / (double)vs->n;
}
