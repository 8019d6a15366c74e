#include "eval/evallog.h"
#include "base/util.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* "NA" for what does not apply, so that R and pandas read the column as numbers */
static void put_num(char *buf, size_t n, const char *fmt, double v) {
    if (isnan(v))
        snprintf(buf, n, "NA");
    else
        snprintf(buf, n, fmt, v);
}

static void put_int(char *buf, size_t n, long long v) {
    if (v < 0)
        snprintf(buf, n, "NA");
    else
        snprintf(buf, n, "%lld", v);
}

char *evallog_format(const EvalRecord *r, int version) {
    char step[32], tokens[32], acc[32], acc_norm[32], loss[32], when[32], sum[32] = "NA";
    put_int(step, sizeof step, r->step);
    put_int(tokens, sizeof tokens, r->tokens);
    put_num(acc, sizeof acc, "%.4f", r->acc);
    put_num(acc_norm, sizeof acc_norm, "%.4f", r->acc_norm);
    put_num(loss, sizeof loss, "%.6f", r->loss);
    time_t t = (time_t)r->timestamp;
    struct tm tm;
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
    if (r->checksum >= 0) snprintf(sum, sizeof sum, "%08llx", r->checksum);
    return xasprintf("%s\t%s\t%s\t%s\t%s\t%s\t%s\t%lld\t%.3f\t%s%s%s\n", r->checkpoint, step,
                     tokens, r->task, acc, acc_norm, loss, r->examples, r->seconds, when,
                     version > 1 ? "\t" : "", version > 1 ? sum : "");
}

static int write_all(int fd, const char *s, size_t n) {
    while (n) {
        ssize_t w = write(fd, s, n);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return -1;
        s += w, n -= (size_t)w;
    }
    return 0;
}

/* The version a header line names: 1, 2, or -1 with a message. */
static int header_version(const EvalLog *log, const char *text, size_t len, char *err,
                          size_t errlen) {
    static const char *const headers[] = {EVALLOG_HEADER_V1, EVALLOG_HEADER};
    for (int v = 1; v <= EVALLOG_VERSION; v++) {
        size_t n = strlen(headers[v - 1]);
        if (len >= n && !memcmp(text, headers[v - 1], n)) return v;
    }
    /* columns only ever come at the end: the first ones say whose log it is */
    static const char ours[] = "checkpoint\tstep\ttokens\ttask\t";
    if (len >= sizeof ours - 1 && !memcmp(text, ours, sizeof ours - 1))
        return err_fail(err, errlen,
                        "%s: a gpt2-eval log of a version this gpt2-eval does not know (its "
                        "header has other columns; this one reads versions 1 to %d)",
                        log->path, EVALLOG_VERSION);
    return err_fail(err, errlen, "%s: not a gpt2-eval log (its first line is not the header)",
                    log->path);
}

/* a version 2 line's checksum: 8 hex digits or NA; -2 for anything else */
static long long parse_checksum(const char *s) {
    if (!strcmp(s, "NA")) return -1;
    if (strlen(s) != 8 || strspn(s, "0123456789abcdef") != 8) return -2;
    return strtoll(s, NULL, 16);
}

/* Collects "checkpoint\ttask" of each complete line after the header; a last line
 * without its newline (a write cut short) does not count. */
static int read_done(EvalLog *log, char *err, size_t errlen) {
    size_t len;
    char *text = xread_file(log->path, &len);
    log->version = header_version(log, text, len, err, errlen);
    if (log->version < 0) {
        free(text);
        return -1;
    }
    char *nl = memchr(text, '\n', len);
    /* the tabs after each column but the last */
    int want = log->version == 1 ? 9 : 10;
    for (char *p = nl + 1; (nl = memchr(p, '\n', len - (size_t)(p - text))); p = nl + 1) {
        *nl = 0;
        char *tab[10];
        int n = 0;
        for (char *q = p; n < want && (q = strchr(q, '\t')); q++) tab[n++] = q;
        if (n < want) continue; /* not a record: ignore rather than refuse the whole log */
        long long sum = log->version > 1 ? parse_checksum(tab[9] + 1) : -1;
        if (sum == -2) continue;
        log->done = xrealloc(log->done, (log->ndone + 1) * sizeof *log->done);
        log->done[log->ndone++] =
            (EvalDone){.key = xasprintf("%.*s\t%.*s", (int)(tab[0] - p), p,
                                        (int)(tab[3] - tab[2] - 1), tab[2] + 1),
                       .examples = strtoll(tab[6] + 1, NULL, 10),
                       .checksum = sum};
    }
    free(text);
    return 0;
}

int evallog_open(EvalLog *log, const char *path, int wait, char *err, size_t errlen) {
    memset(log, 0, sizeof *log);
    const char *why;
    log->fd = open_regular(path, O_RDWR | O_CREAT | O_APPEND, 0644, &why);
    if (log->fd < 0) return err_fail(err, errlen, "%s: %s", path, why);
    log->path = xstrdup(path);
    int rc;
    while ((rc = flock(log->fd, LOCK_EX | (wait ? 0 : LOCK_NB))) < 0 && errno == EINTR) {
    }
    if (rc < 0 && errno == EWOULDBLOCK) {
        evallog_close(log);
        return 1;
    }
    struct stat st;
    if (rc < 0 || fstat(log->fd, &st) < 0) {
        err_fail(err, errlen, "%s: %s", path, strerror(errno));
        evallog_close(log);
        return -1;
    }
    /* a new log gets its header under the lock, so two first runs write it once */
    if (st.st_size == 0 && write_all(log->fd, EVALLOG_HEADER, strlen(EVALLOG_HEADER)) < 0) {
        err_fail(err, errlen, "%s: %s", path, strerror(errno));
        evallog_close(log);
        return -1;
    }
    if (read_done(log, err, errlen)) {
        evallog_close(log);
        return -1;
    }
    return 0;
}

int evallog_has(const EvalLog *log, const char *checkpoint, long long checksum, const char *task,
                long long examples) {
    size_t n = strlen(checkpoint);
    for (size_t i = 0; i < log->ndone; i++) {
        const EvalDone *d = &log->done[i];
        if (!strncmp(d->key, checkpoint, n) && d->key[n] == '\t' && !strcmp(d->key + n + 1, task) &&
            d->examples >= examples && (log->version == 1 || d->checksum == checksum))
            return 1;
    }
    return 0;
}

void evallog_append(EvalLog *log, const EvalRecord *r) {
    char *line = evallog_format(r, log->version);
    /* after a cut-short line, start on a fresh one */
    char last = '\n';
    off_t end = lseek(log->fd, 0, SEEK_END);
    if (end > 0 && pread(log->fd, &last, 1, end - 1) != 1) die("%s: read:", log->path);
    if ((last != '\n' && write_all(log->fd, "\n", 1) < 0) ||
        write_all(log->fd, line, strlen(line)) < 0 || fsync(log->fd) < 0)
        die("%s:", log->path);
    free(line);
}

void evallog_close(EvalLog *log) {
    if (log->fd >= 0) close(log->fd); /* releases the lock */
    for (size_t i = 0; i < log->ndone; i++) free(log->done[i].key);
    free(log->done);
    free(log->path);
    memset(log, 0, sizeof *log);
    log->fd = -1;
}
