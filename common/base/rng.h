/* rng: splitmix64, the one generator behind every random choice (weight init, the data
 * order, sampling). A stream is a plain uint64_t, so a position in it is a pure function
 * of its seed: no generator state needs saving to resume. */
#ifndef GPT2_RNG_H
#define GPT2_RNG_H

#include <stdint.h>

static inline uint64_t rng_next(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* uniform in [0, 1) with 53 random bits */
static inline double rng_uniform(uint64_t *state) {
    return (double)(rng_next(state) >> 11) * 0x1.0p-53;
}

#endif
