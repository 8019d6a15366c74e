/* tokens: token stream reader and writer (bin16, text). */
#include "tokens.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

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

/* Makes at least `want` bytes available unless the stream ends first; returns the count. */
static size_t reader_fill(TokensReader *r, size_t want) {
    if (r->len - r->pos >= want || r->eof) return r->len - r->pos;
    memmove(r->buf, r->buf + r->pos, r->len - r->pos);
    r->offset += r->pos;
    r->len -= r->pos, r->pos = 0;
    while (r->len < want && !r->eof) {
        size_t got = xfread_some(r->buf + r->len, sizeof r->buf - r->len, r->f, r->name);
        if (!got) r->eof = 1;
        r->len += got;
    }
    return r->len;
}

static int is_space(int c) {
    return c == ' ' || (c >= '\t' && c <= '\r');
}

size_t tokens_read(TokensReader *r, int *ids, size_t max) {
    size_t n = 0;
    if (r->fmt == TOKENS_BIN16) {
        while (n < max) {
            size_t have = reader_fill(r, 2);
            if (have == 1)
                die("%s: truncated token stream (odd byte at offset %lld)", r->name,
                    r->offset + (long long)r->pos);
            if (!have) break;
            for (; have >= 2 && n < max; have -= 2, r->pos += 2)
                ids[n++] = r->buf[r->pos] | r->buf[r->pos + 1] << 8;
        }
        return n;
    }
    while (n < max) {
        /* enough for most numbers and their separator; long ones refill below */
        size_t have = reader_fill(r, 8);
        while (have && is_space(r->buf[r->pos])) r->pos++, have--;
        if (!have) {
            if (r->eof) break;
            continue;
        }
        long long at = r->offset + (long long)r->pos;
        unsigned v = 0, digits = 0;
        /* leading zeros are allowed: only the value is bounded (which also keeps v small) */
        while (have && r->buf[r->pos] >= '0' && r->buf[r->pos] <= '9') {
            v = v * 10 + (r->buf[r->pos++] - '0'), have--, digits++;
            if (v > 0xffff) die("%s: offset %lld: token id too large", r->name, at);
            if (!have) have = reader_fill(r, 8);
        }
        if (!digits || (have && !is_space(r->buf[r->pos])))
            die("%s: offset %lld: not a token id", r->name, r->offset + (long long)r->pos);
        ids[n++] = (int)v;
    }
    return n;
}
