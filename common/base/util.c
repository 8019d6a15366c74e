#include "base/util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

const char *progname = "gpt2";

/* Temp files of open AtomicFiles, removed when the process dies early. A fixed table
 * keeps the signal handler async-signal-safe (it only calls unlink). */
#define MAX_TEMPS 64
static char *volatile temps[MAX_TEMPS];

static void temps_add(char *path) {
    for (int i = 0; i < MAX_TEMPS; i++)
        if (!temps[i]) {
            temps[i] = path;
            return;
        }
}

static void temps_remove(const char *path) {
    for (int i = 0; i < MAX_TEMPS; i++)
        if (temps[i] == path) temps[i] = NULL;
}

static void temps_unlink_all(void) {
    for (int i = 0; i < MAX_TEMPS; i++)
        if (temps[i]) unlink(temps[i]);
}

/* Directories mkdir_p created, removed (if still empty) when the process dies early, so
 * that a failed run leaves no trace; the same async-signal-safe fixed table. */
#define MAX_MADE_DIRS 16
static char *volatile made_dirs[MAX_MADE_DIRS];
static volatile sig_atomic_t made_dirs_count;

/* what an early death leaves behind: temp files, then the new directories, deepest first */
static void remove_leftovers(void) {
    temps_unlink_all();
    for (int i = made_dirs_count - 1; i >= 0; i--) rmdir(made_dirs[i]);
}

static void on_fatal_signal(int sig) {
    remove_leftovers();
    signal(sig, SIG_DFL);
    raise(sig);
}

static int dying; /* die() has said what went wrong: one message is enough */

static void close_stdout(void) {
    /* Checked close: a full disk or closed pipe must not look like success. */
    if (fflush(stdout) != 0 || ferror(stdout)) {
        if (errno == EPIPE || dying) _exit(1);
        fprintf(stderr, "%s: write error: %s\n", progname, strerror(errno));
        _exit(1);
    }
    if (fclose(stdout) != 0 && errno != EBADF) {
        fprintf(stderr, "%s: write error: %s\n", progname, strerror(errno));
        _exit(1);
    }
}

void util_init(const char *name) {
    progname = name;
    signal(SIGPIPE, SIG_DFL);
    for (int fd = 0; fd < 3; fd++)
        if (fcntl(fd, F_GETFD) < 0) open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
    struct sigaction sa = {0};
    sa.sa_handler = on_fatal_signal;
    sigemptyset(&sa.sa_mask);
    int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) {
        struct sigaction old;
        sigaction(sigs[i], NULL, &old);
        if (old.sa_handler != SIG_IGN) sigaction(sigs[i], &sa, NULL);
    }
    atexit(close_stdout);
}

static void vmessage(const char *fmt, va_list ap) {
    int saved = errno;
    fflush(stdout);
    fprintf(stderr, "%s: ", progname);
    vfprintf(stderr, fmt, ap);
    size_t n = strlen(fmt);
    if (n && fmt[n - 1] == ':') fprintf(stderr, " %s", strerror(saved));
    fputc('\n', stderr);
}

void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vmessage(fmt, ap);
    va_end(ap);
    remove_leftovers();
    dying = 1;
    exit(1);
}

void die_usage(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vmessage(fmt, ap);
    va_end(ap);
    fprintf(stderr, "Try '%s --help' for more information.\n", progname);
    exit(EXIT_USAGE);
}

void warn(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vmessage(fmt, ap);
    va_end(ap);
}

int err_fail(char *err, size_t errlen, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) die("out of memory allocating %zu bytes", n);
    return p;
}

void *xmalloc_big(size_t n) {
    size_t huge = (size_t)2 << 20;
    if (n < huge) return xmalloc(n); /* not a page's worth: alignment would only waste */
    void *p;
    if (posix_memalign(&p, huge, n)) die("out of memory allocating %zu bytes", n);
    madvise(p, n, MADV_HUGEPAGE); /* a hint: without THP, plain pages */
    return p;
}

void *xcalloc_big(size_t n) {
    return memset(xmalloc_big(n), 0, n);
}

void *xcalloc(size_t count, size_t size) {
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) die("out of memory allocating %zu x %zu bytes", count, size);
    return p;
}

void *xrealloc(void *p, size_t n) {
    p = realloc(p, n ? n : 1);
    if (!p) die("out of memory allocating %zu bytes", n);
    return p;
}

char *xstrdup(const char *s) {
    size_t n = strlen(s) + 1;
    return memcpy(xmalloc(n), s, n);
}

char *xasprintf(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

FILE *xfopen(const char *path, const char *mode) {
    if (!path || !strcmp(path, "-")) return mode[0] == 'r' ? stdin : stdout;
    FILE *f = fopen(path, mode);
    if (!f) die("%s:", path);
    return f;
}

static int open_checked(const char *path, int flags, int mode, int fifo_ok, const char **why) {
    int fd = open(path, flags | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, mode);
    if (fd < 0) {
        *why = strerror(errno);
        return -1;
    }
    struct stat st;
    int fl;
    if (fstat(fd, &st) != 0 || (fl = fcntl(fd, F_GETFL)) < 0)
        *why = strerror(errno);
    else if (!S_ISREG(st.st_mode) && !(fifo_ok && S_ISFIFO(st.st_mode)))
        *why = "not a regular file";
    else if (fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0)
        *why = strerror(errno);
    else
        return fd;
    close(fd);
    return -1;
}

int open_regular(const char *path, int flags, int mode, const char **why) {
    return open_checked(path, flags, mode, 0, why);
}

static FILE *fopen_checked(const char *path, int fifo_ok, const char **why) {
    int fd = open_checked(path, O_RDONLY, 0, fifo_ok, why);
    if (fd < 0) return NULL;
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        *why = strerror(errno);
        close(fd);
    }
    return f;
}

FILE *fopen_regular(const char *path, const char **why) {
    return fopen_checked(path, 0, why);
}

FILE *fopen_stream(const char *path, const char **why) {
    return fopen_checked(path, 1, why);
}

void xfclose(FILE *f, const char *name) {
    if (f == stdin) return;
    if (f == stdout) {
        if (fflush(f) != 0) {
            if (errno == EPIPE) exit(1);
            die("%s: write error:", name);
        }
        return;
    }
    if (ferror(f) || fclose(f) != 0) die("%s: I/O error:", name);
}

void xfread(void *buf, size_t n, FILE *f, const char *name) {
    size_t got = fread(buf, 1, n, f);
    if (got == n) return;
    if (ferror(f)) die("%s: read error:", name);
    die("%s: truncated file (wanted %zu more bytes, got %zu)", name, n, got);
}

size_t xfread_some(void *buf, size_t n, FILE *f, const char *name) {
    size_t got = fread(buf, 1, n, f);
    if (got < n && ferror(f)) die("%s: read error:", name);
    return got;
}

void xfwrite(const void *buf, size_t n, FILE *f, const char *name) {
    if (n && fwrite(buf, 1, n, f) != n) {
        if (errno == EPIPE) {
            temps_unlink_all();
            _exit(1);
        }
        die("%s: write error:", name);
    }
}

void xfflush(FILE *f, const char *name) {
    if (fflush(f) == 0 && !ferror(f)) return;
    if (errno == EPIPE) {
        temps_unlink_all();
        _exit(1);
    }
    die("%s: write error:", name);
}

char *xread_file(const char *path, size_t *len) {
    FILE *f = xfopen(path, "rb");
    size_t cap = 1 << 16, n = 0;
    char *buf = xmalloc(cap + 1);
    size_t got;
    while ((got = xfread_some(buf + n, cap - n, f, path)) > 0) {
        n += got;
        if (n == cap) buf = xrealloc(buf, (cap *= 2) + 1);
    }
    xfclose(f, path);
    buf[n] = 0;
    if (len) *len = n;
    return buf;
}

int is_tty(FILE *f) {
    return isatty(fileno(f));
}

void atomic_open(AtomicFile *af, const char *path, int overwrite) {
    if (!overwrite && file_exists(path)) die("%s: file exists (use --force to overwrite)", path);
    af->path = xstrdup(path);
    af->tmp = xasprintf("%s.tmp.XXXXXX", path);
    int fd = mkstemp(af->tmp);
    if (fd < 0) die("%s:", path); /* the user named path; the temp name would puzzle */
    fchmod(fd, 0644);
    af->f = fdopen(fd, "wb");
    if (!af->f) die("%s:", af->tmp);
    temps_add(af->tmp);
}

void atomic_commit(AtomicFile *af) {
    if (fflush(af->f) != 0 || ferror(af->f) || fsync(fileno(af->f)) != 0)
        die("%s: write error:", af->tmp);
    if (fclose(af->f) != 0) die("%s: write error:", af->tmp);
    if (rename(af->tmp, af->path) != 0) die("%s: cannot rename to %s:", af->tmp, af->path);
    temps_remove(af->tmp);
    free(af->tmp);
    free(af->path);
    af->f = NULL;
}

size_t atomic_temp_base(const char *name) {
    size_t n = strlen(name);
    if (n < 11 || memcmp(name + n - 11, ".tmp.", 5)) return 0;
    for (size_t i = n - 6; i < n; i++)
        if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", name[i]))
            return 0;
    return n - 11;
}

void atomic_abort(AtomicFile *af) {
    if (af->f) fclose(af->f);
    unlink(af->tmp);
    temps_remove(af->tmp);
    free(af->tmp);
    free(af->path);
    af->f = NULL;
}

double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

int glob_paths(const char *pattern, int flags, glob_t *g) {
    int rc = glob(pattern, flags, NULL, g);
    struct stat st;
    if (rc == GLOB_NOMATCH && lstat(pattern, &st) == 0) {
        globfree(g);
        rc = glob(pattern, flags | GLOB_NOCHECK, NULL, g);
    }
    return rc;
}

/* one mkdir of mkdir_p; remembers a directory it made for remove_leftovers */
static int make_dir(const char *path) {
    if (mkdir(path, 0777) != 0) return -1;
    if (made_dirs_count < MAX_MADE_DIRS) {
        made_dirs[made_dirs_count] = xstrdup(path);
        made_dirs_count = made_dirs_count + 1;
    }
    return 0;
}

void mkdir_p(const char *path) {
    char *p = xstrdup(path);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/') continue;
        *s = 0;
        if (make_dir(p) != 0 && errno != EEXIST) die("%s:", p);
        *s = '/';
    }
    if (make_dir(p) != 0) {
        if (errno != EEXIST) die("%s:", p);
        struct stat st;
        if (stat(p, &st) != 0 || !S_ISDIR(st.st_mode)) die("%s: exists and is not a directory", p);
    }
    free(p);
}
