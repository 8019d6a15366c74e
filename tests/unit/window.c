/* The sampling window (common/sample/window.c) over a backend that records what it is
 * asked: what the cache is fed, where the window restarts when the context outgrows it,
 * and that the cache and the full forward see the same contexts. */
#include "sample/window.h"
#include "base/util.h"
#include "tap.h"

#include <string.h>

enum { W = 8, VP = 4, MAXC = 64 };

/* the record of the last call: its tokens, first position, count; the returned "logits"
 * are the last token seen and the position after it */
typedef struct {
    int tokens[MAXC], pos, n, calls;
    int ctx[MAXC], held; /* decode: the sequence the cache would hold */
} Record;

static Record rec;

static void fake_decode(Backend *be, const int *tokens, int pos, int n, float *out) {
    (void)be;
    memcpy(rec.tokens, tokens, sizeof(int) * n);
    rec.pos = pos, rec.n = n, rec.calls++;
    memcpy(rec.ctx + pos, tokens, sizeof(int) * n);
    rec.held = pos + n;
    out[0] = (float)rec.ctx[rec.held - 1], out[1] = (float)rec.held;
}

static void fake_logits(Backend *be, const int *inputs, int B, int T, int from, float *out) {
    (void)be, (void)B, (void)from;
    memcpy(rec.tokens, inputs, sizeof(int) * T);
    rec.pos = 0, rec.n = T, rec.calls++;
    out[0] = (float)inputs[T - 1], out[1] = (float)T;
}

static Backend fake = {.name = "fake",
                       .config = {.padded_vocab_size = VP},
                       .B = 1,
                       .T = W,
                       .decode = fake_decode,
                       .logits = fake_logits};

/* whether the last call was fed ctx[start..start+n) at position pos */
static int fed(const int *ctx, int start, int pos, int n) {
    return rec.pos == pos && rec.n == n && !memcmp(rec.tokens, ctx + start, sizeof(int) * n);
}

int main(void) {
    int ctx[MAXC];
    for (int i = 0; i < MAXC; i++) ctx[i] = 100 + i;

    SampleWindow w;
    window_init(&w, &fake, 1);
    const float *out = window_logits(&w, ctx, 3);
    ok(fed(ctx, 0, 0, 3) && out[0] == 102, "cache: the prompt fed at once from position 0");
    for (int n = 4; n <= W; n++) window_logits(&w, ctx, n);
    ok(fed(ctx, W - 1, W - 1, 1), "then one new token a call, up to the window (%d)", W);
    out = window_logits(&w, ctx, W + 1);
    ok(fed(ctx, W + 1 - W / 2, 0, W / 2) && out[0] == 100 + W && out[1] == W / 2,
       "past the window: the last half recomputed from position 0");
    window_logits(&w, ctx, W + 2);
    ok(fed(ctx, W + 1, W / 2, 1), "then one token a call again, at the window's positions");
    window_restart(&w, 3);
    window_logits(&w, ctx, 4);
    ok(fed(ctx, 0, 0, 4), "restart after the window moved: the prompt fed again from 0");
    window_logits(&w, ctx, 6);
    window_restart(&w, 3);
    window_logits(&w, ctx, 4);
    ok(fed(ctx, 3, 3, 1), "restart within the window: the prompt's cached positions kept");
    window_free(&w);

    /* the full forward sees the same contexts the cache holds, call for call */
    SampleWindow full;
    window_init(&full, &fake, 0);
    window_init(&w, &fake, 1);
    int same = 1;
    for (int n = 2; n < 3 * W; n++) {
        window_logits(&full, ctx, n);
        int fn = rec.n, first = rec.tokens[0];
        window_logits(&w, ctx, n);
        same &= rec.held == fn && rec.ctx[0] == first &&
                !memcmp(rec.ctx, ctx + w.start, sizeof(int) * fn);
    }
    ok(same, "without the cache: the same window at every length up to %d", 3 * W - 1);
    window_free(&full);
    window_free(&w);
    return done_testing();
}
