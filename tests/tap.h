/* tap.h: the smallest TAP producer, for C unit tests run by prove.
 *   ok(cond, "name %d", i); is_int(got, want, "name"); near(got, want, tol, "name");
 *   return done_testing(); */
#ifndef GPT2_TAP_H
#define GPT2_TAP_H

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static int tap_count, tap_failed;

static inline int tap_ok(int pass, const char *file, int line, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    printf("%s %d - ", pass ? "ok" : "not ok", ++tap_count);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    if (!pass) {
        tap_failed++;
        printf("#   Failed at %s line %d\n", file, line);
    }
    fflush(stdout);
    return pass;
}

#define ok(cond, ...) tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
#define diag(...) (printf("# "), printf(__VA_ARGS__), printf("\n"))
#define is_int(got, want, ...)                                                                     \
    do {                                                                                           \
        long long g_ = (long long)(got), w_ = (long long)(want);                                   \
        if (!ok(g_ == w_, __VA_ARGS__)) diag("     got: %lld\n#     expected: %lld", g_, w_);      \
    } while (0)
/* |got - want| <= tol + rtol*|want| in the style of llm.c's validate_result */
#define near(got, want, tol, rtol, ...)                                                            \
    do {                                                                                           \
        double g_ = (got), w_ = (want);                                                            \
        if (!ok(fabs(g_ - w_) <= (tol) + (rtol)*fabs(w_), __VA_ARGS__))                            \
            diag("     got: %.9g\n#     expected: %.9g", g_, w_);                                  \
    } while (0)

static inline void skip_all(const char *why) {
    printf("1..0 # SKIP %s\n", why);
    exit(0);
}

static inline int done_testing(void) {
    printf("1..%d\n", tap_count);
    return tap_failed ? 1 : 0;
}

#endif
