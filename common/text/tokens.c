/* tokens: token stream reader and writer (bin16, text). */
#include "text/tokens.h"
#include "base/util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { TOKENS_BUF = 1 << 16 };

struct TokensReader {
    FILE *f;
    const char *name;
    TokensFormat fmt;
    unsigned char buf[TOKENS_BUF];
    size_t pos, len;  /* unread bytes are buf[pos..len) */
    long long offset; /* stream offset of buf[0] */
    int eof;
};

int tokens_format_parse(const char *s, TokensFormat *fmt) {
    if (!strcmp(s, "bin16"))
        *fmt = TOKENS_BIN16;
    else if (!strcmp(s, "text"))
        *fmt = TOKENS_TEXT;
    else
        return -1;
    return 0;
}

void tokens_write(FILE *f, const char *name, TokensFormat fmt, const int *ids, size_t n) {
    char buf[TOKENS_BUF];
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned v = (unsigned)ids[i];
        if (ids[i] < 0 || v > 0xffff) die("%s: token id %d does not fit in 16 bits", name, ids[i]);
        if (k + 8 > sizeof buf) xfwrite(buf, k, f, name), k = 0;
        if (fmt == TOKENS_BIN16) {
            buf[k++] = (char)(v & 0xff), buf[k++] = (char)(v >> 8);
        } else {
            char digits[5];
            int d = 0;
            do digits[d++] = (char)('0' + v % 10), v /= 10;
            while (v);
            while (d) buf[k++] = digits[--d];
            buf[k++] = '\n';
        }
    }
    xfwrite(buf, k, f, name);
}

TokensReader *tokens_reader_init(FILE *f, const char *name, TokensFormat fmt) {
    TokensReader *r = xcalloc(1, sizeof *r);
    r->f = f, r->name = name, r->fmt = fmt;
    return r;
}

void tokens_reader_free(TokensReader *r) {
    free(r);
}

/* Moves the unread bytes to the front and reads what the stream has, waiting for at least
 * one byte unless it has ended. read(2), not stdio, whose fread waits until the whole
 * buffer is full: ids that a pipe delivers one at a time (gpt2-sample --tokens) must come
 * out as they arrive. */
static void reader_more(TokensReader *r) {
    memmove(r->buf, r->buf + r->pos, r->len - r->pos);
    r->offset += (long long)r->pos;
    r->len -= r->pos, r->pos = 0;
    ssize_t got;
    while ((got = read(fileno(r->f), r->buf + r->len, sizeof r->buf - r->len)) < 0 &&
           errno == EINTR) {
    }
    if (got < 0) die("%s: read error:", r->name);
    if (got == 0) r->eof = 1;
    r->len += (size_t)got;
}

static int is_space(int c) {
    return c == ' ' || (c >= '\t' && c <= '\r');
}

size_t tokens_read(TokensReader *r, int *ids, size_t max) {
    size_t n = 0;
    if (r->fmt == TOKENS_BIN16) {
        for (;;) {
            for (; r->len - r->pos >= 2 && n < max; r->pos += 2)
                ids[n++] = r->buf[r->pos] | r->buf[r->pos + 1] << 8;
            if (n) return n; /* waits only for the first id */
            if (r->eof) break;
            reader_more(r);
        }
        if (r->len - r->pos == 1)
            die("%s: truncated token stream (odd byte at offset %lld)", r->name,
                r->offset + (long long)r->pos);
        return 0;
    }
    while (n < max) {
        while (r->pos < r->len && is_space(r->buf[r->pos])) r->pos++;
        if (r->pos == r->len) {
            if (n || r->eof) break;
            reader_more(r);
            continue;
        }
        long long at = r->offset + (long long)r->pos;
        unsigned v = 0, digits = 0;
        /* leading zeros are allowed: only the value is bounded (which also keeps v small);
         * a number at the end of what has come waits for the byte after it */
        for (;;) {
            for (; r->pos < r->len && r->buf[r->pos] >= '0' && r->buf[r->pos] <= '9'; r->pos++) {
                v = v * 10 + (r->buf[r->pos] - '0'), digits++;
                if (v > 0xffff) die("%s: offset %lld: token id too large", r->name, at);
            }
            if (r->pos < r->len || r->eof) break;
            reader_more(r);
        }
        if (!digits || (r->pos < r->len && !is_space(r->buf[r->pos])))
            die("%s: offset %lld: not a token id", r->name, r->offset + (long long)r->pos);
        ids[n++] = (int)v;
    }
    return n;
}
