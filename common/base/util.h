/* util: process hygiene shared by every tool — messages with the program name,
 * checked allocation and I/O, atomic file output. Conventions:
 *   runtime error  -> "gpt2-<tool>: <what>: <why>" on stderr, exit 1   (die)
 *   usage error    -> message + "Try '<prog> --help'", exit 2          (die_usage)
 *   SIGPIPE        -> default action, so `| head` ends a tool quietly */
#ifndef GPT2_UTIL_H
#define GPT2_UTIL_H

#include <glob.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define EXIT_USAGE 2

extern const char *progname;

/* Call first in main: sets progname, restores default SIGPIPE, makes sure fds 0-2
 * are open, removes registered temp files on SIGINT/SIGTERM/SIGHUP, and closes stdout
 * with a check at exit (a failed write to stdout changes the exit status). */
void util_init(const char *name);

/* A message ending in ':' gets ": strerror(errno)" appended. */
_Noreturn void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void die_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* printf into the caller's error buffer err[errlen]; returns -1, for `return err_fail(...)`
 * in functions that report errors through such a buffer. */
int err_fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
/* For the big arrays read through at every token or step (weights, gradients, moments,
 * activations, caches): 2 MiB aligned and marked for transparent huge pages, so that a
 * stream through them is not slowed by TLB misses (d12 bf16 decode on one thread: 87 ->
 * 104 tokens/s); under 2 MiB, plain malloc. Freed with free(); zeroed: xcalloc_big. */
void *xmalloc_big(size_t n);
void *xcalloc_big(size_t n);
char *xstrdup(const char *s);
/* printf into a fresh heap string */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* "-" (or NULL) means stdin for reading modes and stdout for writing modes. */
FILE *xfopen(const char *path, const char *mode);
/* Opens a file that must be a regular file (a model, a shard, a state file...) with
 * open(2)'s flags (O_RDONLY, or O_RDWR|O_CREAT... with mode), without blocking: a FIFO
 * would hold open(2) until a writer came, so it is opened O_NONBLOCK, refused by its
 * type, and only a regular file gets blocking I/O back. Returns the descriptor
 * (close-on-exec), or -1 with the reason in *why: strerror(errno) or "not a regular file". */
int open_regular(const char *path, int flags, int mode, const char **why);
/* open_regular for reading, as a stdio stream; NULL with *why on failure. */
FILE *fopen_regular(const char *path, const char **why);
/* For a reader that streams (front to back, once) and so may take a pipe or FIFO too
 * (process substitution: --hellaswag <(zcat f.gz)): fopen_regular that lets those through,
 * still opened without blocking, so a FIFO without a writer reads as empty. */
FILE *fopen_stream(const char *path, const char **why);
/* Closes f unless it is stdin/stdout; dies naming `name` if any write failed. */
void xfclose(FILE *f, const char *name);
/* Reads exactly n bytes or dies with "<name>: truncated ..." (or the read error). */
void xfread(void *buf, size_t n, FILE *f, const char *name);
/* Reads up to n bytes, returns the count; dies on a read error (not on EOF). */
size_t xfread_some(void *buf, size_t n, FILE *f, const char *name);
/* Writes n bytes or dies; EPIPE ends the process quietly like SIGPIPE would. */
void xfwrite(const void *buf, size_t n, FILE *f, const char *name);
/* Flushes f or dies, also when an earlier write to f failed: a full disk is noticed
 * where it happens, not at exit. EPIPE ends the process quietly as in xfwrite. */
void xfflush(FILE *f, const char *name);
/* Whole file into memory (for small files: vocabularies, configs, test data). */
char *xread_file(const char *path, size_t *len);
int is_tty(FILE *f);

/* Atomic output: bytes go to "<path>.tmp.XXXXXX" in the same directory and appear
 * under <path> only on atomic_commit (flush, fsync, rename). The temp file is
 * removed on atomic_abort, on die() and on SIGINT/SIGTERM/SIGHUP. */
typedef struct {
    FILE *f;
    char *path;
    char *tmp;
} AtomicFile;
/* Dies if path exists and !overwrite ("use --force"). */
void atomic_open(AtomicFile *af, const char *path, int overwrite);
void atomic_commit(AtomicFile *af);
void atomic_abort(AtomicFile *af);
/* The length of <path> when name is a temp name "<path>.tmp.XXXXXX" as atomic_open
 * makes them (mkstemp's six letters or digits), else 0. */
size_t atomic_temp_base(const char *name);

double now_seconds(void); /* monotonic clock */
int file_exists(const char *path);
/* glob(3), except that a pattern matching nothing that is itself the name of a file gives
 * that file, as the shell leaves an unmatched word: a plain path with glob characters
 * ("runs/lr[3e-4]/model.bin") still names its file. */
int glob_paths(const char *pattern, int flags, glob_t *g);
/* Creates a directory and its parents (like mkdir -p); dies on failure. Those it made
 * are removed again, if still empty, when the process dies (die() or a signal). */
void mkdir_p(const char *path);

/* little-endian helpers for the on-disk formats */
static inline uint32_t load_le32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline void store_le32(unsigned char *p, uint32_t v) {
    p[0] = v & 0xff, p[1] = v >> 8 & 0xff, p[2] = v >> 16 & 0xff, p[3] = v >> 24 & 0xff;
}

#endif
