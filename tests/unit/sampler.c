/* Samplers (common/sample/sampler.c): greedy, temperature, top-k, top-p, reproducibility. */
#include "sample/sampler.h"
#include "base/rng.h"
#include "base/util.h"
#include "tap.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { V = 6, DRAWS = 40000 };

/* frequencies of DRAWS samples */
static void histogram(Sampler *s, const float *logits, double *freq) {
    int count[V] = {0};
    for (int i = 0; i < DRAWS; i++) count[sampler_sample(s, logits)]++;
    for (int i = 0; i < V; i++) freq[i] = (double)count[i] / DRAWS;
}

int main(void) {
    util_init("test-sampler");
    /* probabilities 0.4 0.3 0.15 0.1 0.05 0 (the last is masked to -inf) */
    double pr[V] = {0.1, 0.4, 0.05, 0.3, 0.15, 0};
    float logits[V];
    for (int i = 0; i < V; i++) logits[i] = pr[i] > 0 ? (float)log(pr[i]) + 3 : -INFINITY;
    double f[V];
    Sampler s;

    sampler_init(&s, V, 0, 0, 1, 1);
    is_int(sampler_sample(&s, logits), 1, "greedy picks the argmax");
    float tie[V] = {0, 2, 1, 2, 0, 0};
    is_int(sampler_sample(&s, tie), 1, "greedy takes the lowest id on a tie");
    sampler_free(&s);

    sampler_init(&s, V, 1, 0, 1, 123);
    histogram(&s, logits, f);
    int fine = 1;
    for (int i = 0; i < V; i++) fine &= fabs(f[i] - pr[i]) < 0.01;
    ok(fine, "temperature 1 follows softmax (%.3f %.3f %.3f %.3f %.3f %.3f)", f[0], f[1], f[2],
       f[3], f[4], f[5]);
    sampler_free(&s);

    sampler_init(&s, V, 0.5f, 0, 1, 5);
    histogram(&s, logits, f);
    /* p^(1/T) renormalised: 0.4^2 / (0.1^2 + 0.4^2 + 0.05^2 + 0.3^2 + 0.15^2) */
    double z = 0.01 + 0.16 + 0.0025 + 0.09 + 0.0225;
    near(f[1], 0.16 / z, 0.01, 0, "temperature 0.5 sharpens: p(argmax) %.3f", f[1]);
    sampler_free(&s);

    sampler_init(&s, V, 1, 2, 1, 9);
    histogram(&s, logits, f);
    ok(f[0] + f[2] + f[4] + f[5] == 0, "top-k 2 never leaves the 2 likeliest");
    near(f[1], 0.4 / 0.7, 0.01, 0, "top-k 2 renormalises: p(1) %.3f", f[1]);
    sampler_free(&s);

    sampler_init(&s, V, 1, 0, 0.75f, 11);
    histogram(&s, logits, f);
    ok(f[0] + f[2] + f[5] == 0 && f[4] > 0, "top-p 0.75 keeps {1,3,4} (0.4+0.3 < 0.75 <= 0.85)");
    near(f[4], 0.15 / 0.85, 0.01, 0, "top-p renormalises: p(4) %.3f", f[4]);
    sampler_free(&s);

    sampler_init(&s, V, 1, 3, 0.6f, 13);
    histogram(&s, logits, f);
    /* top-3 {1,3,4} renormalised: 0.47 0.35 0.18; nucleus 0.6 -> {1,3} */
    ok(f[1] > 0 && f[3] > 0 && f[1] + f[3] == 1, "top-k 3 then top-p 0.6 keeps {1,3}");
    sampler_free(&s);

    sampler_init(&s, V, 1, 3, 0.45f, 13);
    histogram(&s, logits, f);
    /* the nucleus is of the top-k mass (0.85), not of all: 0.4 / 0.85 = 0.47 >= 0.45 */
    ok(f[1] == 1, "top-k 3 then top-p 0.45 keeps {1} alone (p(1) %.3f)", f[1]);
    sampler_free(&s);

    /* four equal logits (each exp(0) = 1, exactly): top-p 0.5 is met by two of them,
     * exactly; the smallest set holding that mass has two tokens, not three */
    float flat[V] = {0, 0, 0, 0, -INFINITY, -INFINITY};
    sampler_init(&s, V, 1, 0, 0.5f, 17);
    histogram(&s, flat, f);
    int kinds = 0;
    for (int i = 0; i < V; i++) kinds += f[i] > 0;
    is_int(kinds, 2, "top-p 0.5 of four equal tokens: the nucleus is two, its mass exactly 0.5");
    sampler_free(&s);

    sampler_init(&s, V, 1, 0, 1e-6f, 13);
    is_int(sampler_sample(&s, logits), 1, "a tiny top-p is greedy");
    sampler_free(&s);

    /* reproducible: the same seed gives the same tokens, another seed others */
    int a[64], b[64], c[64];
    int *runs[3] = {a, b, c};
    uint64_t seeds[3] = {77, 77, 78};
    for (int k = 0; k < 3; k++) {
        sampler_init(&s, V, 1, 0, 0.9f, seeds[k]);
        for (int i = 0; i < 64; i++) runs[k][i] = sampler_sample(&s, logits);
        sampler_free(&s);
    }
    ok(!memcmp(a, b, sizeof a), "same seed, same tokens");
    ok(memcmp(a, c, sizeof a), "another seed, other tokens");

    uint64_t st = 0;
    double lo = 1, hi = 0;
    for (int i = 0; i < 100000; i++) {
        double u = rng_uniform(&st);
        lo = u < lo ? u : lo, hi = u > hi ? u : hi;
    }
    ok(lo >= 0 && lo < 1e-3 && hi < 1 && hi > 1 - 1e-3, "uniform in [0,1): %g .. %g", lo, hi);
    return done_testing();
}
