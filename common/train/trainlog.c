#include "train/trainlog.h"
#include "base/util.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The start of step's validation line: every line begins with its type, then its step. */
static int val_prefix(char buf[64], uint64_t step) {
    return snprintf(buf, 64, "{\"type\":\"val\",\"step\":%llu,", (unsigned long long)step);
}

int trainlog_has_val(const char *path, uint64_t step) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char want[64], *line = NULL;
    size_t cap = 0, n = (size_t)val_prefix(want, step);
    int found = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) > 0)
        if (line[len - 1] == '\n' && !strncmp(line, want, n)) found = 1;
    free(line);
    fclose(f);
    return found;
}

/* Ends a line: it goes out whole or not at all. */
static void end_line(TrainLog *log) {
    if (fflush(log->f) == 0 && !ferror(log->f)) {
        log->whole = ftello(log->f);
        return;
    }
    int saved = errno;
    if (ftruncate(fileno(log->f), log->whole)) warn("%s: cannot cut a torn line:", log->path);
    errno = saved;
    die("%s: write error:", log->path);
}

void trainlog_open(TrainLog *log, const char *path, int append) {
    log->path = xstrdup(path);
    log->f = xfopen(path, append ? "a+" : "w");
    /* where an append stream starts is the C library's choice */
    if (fseeko(log->f, 0, SEEK_END)) die("%s:", path);
    log->whole = ftello(log->f);
    if (!append || log->whole == 0) return;
    if (fseeko(log->f, -1, SEEK_END)) die("%s:", path);
    int last = fgetc(log->f);
    if (last == EOF) die("%s: read error:", path);
    if (fseeko(log->f, 0, SEEK_END)) die("%s:", path); /* a read and a write need a seek between */
    if (last != '\n') {
        fputc('\n', log->f);
        end_line(log);
    }
}

/* A number for JSON, which has no NaN or infinity (a diverged run): null for those. */
static const char *json_num(char buf[32], double v) {
    if (!isfinite(v)) return "null";
    snprintf(buf, 32, "%.9g", v);
    return buf;
}

void trainlog_start(TrainLog *log, const TrainLogStart *s) {
    if (!log->f) return;
    const GPT2Config *c = &s->config;
    fprintf(log->f,
            "{\"type\":\"start\",\"step\":%llu,\"version\":%d,\"device\":\"%s\",\"params\":%zu,"
            "\"layers\":%d,\"heads\":%d,\"channels\":%d,\"vocab\":%d,\"max_seq_len\":%d,"
            "\"B\":%d,\"T\":%d,\"accum\":%d,\"steps\":%d,\"seed\":%llu",
            (unsigned long long)s->step, TRAINLOG_VERSION, s->device, gpt2_num_params(c),
            c->num_layers, c->num_heads, c->channels, c->vocab_size, c->max_seq_len, s->B, s->T,
            s->accum, s->steps, (unsigned long long)s->seed);
    if (s->ranks > 1)
        fprintf(log->f, ",\"ranks\":%d,\"zero\":%d,\"moment_bytes\":%zu", s->ranks, s->zero,
                s->moment_bytes);
    fputs("}\n", log->f);
    end_line(log);
}

void trainlog_step(TrainLog *log, const TrainLogStep *s) {
    if (!log->f) return;
    char b1[32], b2[32], b3[32];
    fprintf(log->f,
            "{\"type\":\"train\",\"step\":%llu,\"loss\":%s,\"lr\":%s,\"grad_norm\":%s,"
            "\"tokens_per_s\":%.1f,\"ms\":%.3f",
            (unsigned long long)s->step, json_num(b1, s->loss), json_num(b2, s->lr),
            json_num(b3, s->grad_norm), s->tokens_per_s, s->ms);
    if (s->skipped) fprintf(log->f, ",\"skipped\":\"%s\"", s->skipped);
    fputs("}\n", log->f);
    end_line(log);
}

void trainlog_val(TrainLog *log, uint64_t step, double loss, uint64_t tokens) {
    if (!log->f) return;
    char prefix[64], buf[32];
    val_prefix(prefix, step);
    fprintf(log->f, "%s\"loss\":%s,\"tokens\":%llu}\n", prefix, json_num(buf, loss),
            (unsigned long long)tokens);
    end_line(log);
}

void trainlog_close(TrainLog *log) {
    if (!log->f) return;
    xfclose(log->f, log->path);
    free(log->path);
    log->f = NULL;
    log->path = NULL;
}
