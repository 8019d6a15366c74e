/* Measures the memory bandwidth that reading weights can reach: the best of 5 passes summing
 * a buffer far larger than the caches, split over the OpenMP threads (OMP_NUM_THREADS).
 * Usage: membw [MiB] (default 1024); prints GB/s (1e9 bytes per second). bench/cpu-infer.sh
 * turns it into the tokens/s ceiling of bf16 weights. */
#include "base/cli.h"
#include "base/util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    util_init("membw");
    size_t mib = argc > 1 ? (size_t)cli_int(argv[1], "MiB", 64, 1 << 20) : 1024;
    size_t n = mib << 20 >> 3;
    uint64_t *buf = xmalloc(sizeof *buf * n);
#pragma omp parallel for
    for (size_t i = 0; i < n; i++) buf[i] = i;
    double best = 1e30;
    uint64_t sink = 0;
    for (int pass = 0; pass < 5; pass++) {
        double t0 = now_seconds();
        uint64_t s = 0;
#pragma omp parallel for reduction(^ : s)
        for (size_t i = 0; i < n; i++) s ^= buf[i];
        double t = now_seconds() - t0;
        sink ^= s;
        if (t < best) best = t;
    }
    printf("%.2f\n", (double)(n * sizeof *buf) / best / 1e9);
    free(buf);
    return sink == 42; /* keeps the reads */
}
