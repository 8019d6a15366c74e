/* window: the context gpt2-sample feeds a backend, token by token, within the backend's
 * window of T positions: through the key/value cache (decode) or a full forward per
 * token (logits), both following one rule when the context outgrows the window, so the
 * two sample the same text. */
#ifndef GPT2_WINDOW_H
#define GPT2_WINDOW_H

#include "model/backend.h"

typedef struct {
    Backend *be;
    int cache;  /* decode with the kept keys and values, else a forward per token */
    int start;  /* the context is ctx[start..n) */
    int fed;    /* with the cache: positions of the context it holds */
    float *out; /* [Vp] */
} SampleWindow;

/* Over be (not taken over); cache: use be->decode, else be->logits. */
void window_init(SampleWindow *w, Backend *be, int cache);
void window_free(SampleWindow *w);
/* Logits [Vp] after the context ctx[0..n), of which the tokens since the last call are
 * new. When the context outgrows the window it restarts from its last half, recomputed:
 * the cache cannot slide, since every position would move. Valid until the next call. */
const float *window_logits(SampleWindow *w, const int *ctx, int n);
/* Back to the context of the prompt (np tokens) for another sample, keeping its cached
 * positions unless the window has moved since. */
void window_restart(SampleWindow *w, int np);

#endif
