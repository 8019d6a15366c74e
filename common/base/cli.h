/* cli: what every tool's command line shares — --version text, number and size
 * arguments that fail as usage errors, and a progress line for a TTY. */
#ifndef GPT2_CLI_H
#define GPT2_CLI_H

#include <stdint.h>

#ifndef GPT2_VERSION
#define GPT2_VERSION "0.1.0"
#endif

/* "gpt2-<tool> (gpt2) <version>" to stdout, exit 0 */
_Noreturn void cli_version(void);
/* Prints `usage` to stdout and exits 0 (for --help). */
_Noreturn void cli_help(const char *usage);
/* The last case of every tool's getopt switch: -h/--help, -V/--version, and otherwise
 * the option getopt has already complained about: a hint, exit 2. */
_Noreturn void cli_standard_option(int opt, const char *usage);

/* Integer and float options: out of range or trailing junk is a usage error naming `opt`. */
long long cli_int(const char *arg, const char *opt, long long min, long long max);
double cli_double(const char *arg, const char *opt, double min, double max);
/* Counts with decimal suffixes: 100k, 100M, 10G (x1e3, 1e6, 1e9) and binary ones:
 * 64Ki, 1Mi, 1Gi. Usage error if malformed. */
uint64_t cli_size(const char *arg, const char *opt);

/* Progress on stderr: shown when stderr is a TTY (mode -1), always (1) or never (0);
 * at most ~8 redraws a second (a test knob, below, changes that); progress_done draws
 * the last update if that was skipped, so the final state shows, and ends the line. */
typedef struct {
    int enabled;
    double last;
    int drawn, behind; /* behind: line holds an update not drawn yet */
    char line[256];
} Progress;
void progress_init(Progress *p, int mode);
void progress_update(Progress *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void progress_done(Progress *p);
/* How long a unit of work (a training step, an evaluation) runs before its progress
 * shows its parts (micro-batches, batches): 2 s. Test knobs (tests/README.md):
 * GPT2_PROGRESS_INTERVAL sets the least time between redraws, GPT2_PROGRESS_PARTS_AFTER
 * this one, in seconds; at 0 a test sees the same lines on any machine. */
double progress_parts_after(void);

#endif
