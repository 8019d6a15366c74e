#include "base/cli.h"
#include "base/util.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cli_version(void) {
    printf("%s (gpt2) %s\n", progname, GPT2_VERSION);
    exit(0);
}

void cli_help(const char *usage) {
    fputs(usage, stdout);
    exit(0);
}

void cli_standard_option(int opt, const char *usage) {
    if (opt == 'h') cli_help(usage);
    if (opt == 'V') cli_version();
    fprintf(stderr, "Try '%s --help' for more information.\n", progname);
    exit(EXIT_USAGE);
}

long long cli_int(const char *arg, const char *opt, long long min, long long max) {
    char *end;
    errno = 0;
    long long v = strtoll(arg, &end, 10);
    if (errno || end == arg || *end) die_usage("%s: not an integer: '%s'", opt, arg);
    if (v < min || v > max) die_usage("%s: %lld is out of range [%lld, %lld]", opt, v, min, max);
    return v;
}

double cli_double(const char *arg, const char *opt, double min, double max) {
    char *end;
    errno = 0;
    double v = strtod(arg, &end);
    if (errno || end == arg || *end || isnan(v)) die_usage("%s: not a number: '%s'", opt, arg);
    if (v < min || v > max) die_usage("%s: %g is out of range [%g, %g]", opt, v, min, max);
    return v;
}

uint64_t cli_size(const char *arg, const char *opt) {
    static const struct {
        const char *suffix;
        uint64_t mult;
    } units[] = {{"", 1},           {"k", 1000},        {"K", 1000},        {"M", 1000000},
                 {"G", 1000000000}, {"Ki", 1ull << 10}, {"Mi", 1ull << 20}, {"Gi", 1ull << 30}};
    char *end;
    errno = 0;
    if (arg[0] == '-') die_usage("%s: negative size: '%s'", opt, arg);
    unsigned long long v = strtoull(arg, &end, 10);
    if (errno || end == arg) die_usage("%s: not a size: '%s'", opt, arg);
    for (size_t i = 0; i < sizeof units / sizeof *units; i++) {
        if (strcmp(end, units[i].suffix)) continue;
        if (v > UINT64_MAX / units[i].mult) die_usage("%s: size too large: '%s'", opt, arg);
        return v * units[i].mult;
    }
    die_usage("%s: unknown size suffix in '%s' (use k, M, G, Ki, Mi, Gi)", opt, arg);
}

/* A test knob in seconds: the environment's value when it is a number >= 0. Read once
 * per knob by its caller. */
static double knob_seconds(const char *name, double dflt) {
    const char *s = getenv(name);
    if (!s || !*s) return dflt;
    char *end;
    double v = strtod(s, &end);
    return *end || !(v >= 0) ? dflt : v;
}

static double progress_interval(void) {
    static double v = -1;
    if (v < 0) v = knob_seconds("GPT2_PROGRESS_INTERVAL", 0.125);
    return v;
}

double progress_parts_after(void) {
    static double v = -1;
    if (v < 0) v = knob_seconds("GPT2_PROGRESS_PARTS_AFTER", 2.0);
    return v;
}

void progress_init(Progress *p, int mode) {
    p->enabled = mode < 0 ? is_tty(stderr) : mode;
    p->last = 0;
    p->drawn = p->behind = 0;
}

static void progress_draw(Progress *p) {
    fprintf(stderr, "\r\033[K%s: %s", progname, p->line);
    fflush(stderr);
    p->drawn = 1, p->behind = 0;
}

void progress_update(Progress *p, const char *fmt, ...) {
    if (!p->enabled) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->line, sizeof p->line, fmt, ap);
    va_end(ap);
    double t = now_seconds();
    p->behind = 1;
    if (p->drawn && t - p->last < progress_interval()) return;
    p->last = t;
    progress_draw(p);
}

void progress_done(Progress *p) {
    if (p->enabled && p->behind) progress_draw(p);
    if (p->enabled && p->drawn) fputc('\n', stderr);
    p->drawn = 0;
}
