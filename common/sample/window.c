#include "sample/window.h"
#include "base/util.h"

#include <stdlib.h>

void window_init(SampleWindow *w, Backend *be, int cache) {
    *w = (SampleWindow){
        .be = be, .cache = cache, .out = xmalloc(sizeof(float) * be->config.padded_vocab_size)};
}

void window_free(SampleWindow *w) {
    free(w->out);
    w->out = NULL;
}

const float *window_logits(SampleWindow *w, const int *ctx, int n) {
    int W = w->be->T;
    if (n - w->start > W) {
        w->start = n - (W / 2 > 0 ? W / 2 : 1);
        w->fed = 0;
    }
    int T = n - w->start;
    if (w->cache) {
        w->be->decode(w->be, ctx + w->start + w->fed, w->fed, T - w->fed, w->out);
        w->fed = T;
    } else {
        w->be->logits(w->be, ctx + w->start, 1, T, T - 1, w->out);
    }
    return w->out;
}

void window_restart(SampleWindow *w, int np) {
    if (w->start)
        w->fed = 0; /* the cache holds another window */
    else if (w->fed > np)
        w->fed = np;
    w->start = 0;
}
