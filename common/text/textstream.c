#include "text/textstream.h"
#include "base/util.h"

#include <stdlib.h>
#include <string.h>

void textstream_init(TextStream *s, FILE *out, const char *const *stops, int nstops) {
    memset(s, 0, sizeof *s);
    s->out = out, s->stops = stops, s->nstops = nstops;
}

void textstream_free(TextStream *s) {
    free(s->buf);
}

size_t utf8_complete_len(const char *b, size_t n) {
    for (size_t i = n; i > 0 && n - i < 4; i--) {
        unsigned char c = (unsigned char)b[i - 1];
        if ((c & 0xc0) == 0x80) continue; /* continuation byte: look further back */
        size_t need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
        return i - 1 + need > n ? i - 1 : n;
    }
    return n;
}

static void emit(TextStream *s, size_t upto) {
    if (upto <= s->written) return;
    if (s->out) {
        xfwrite(s->buf + s->written, upto - s->written, s->out, "stdout");
        xfflush(s->out, "stdout");
    }
    s->written = upto;
}

/* The longest suffix of the text that is a proper prefix of a stop string: it may
 * still grow into one, so it is held back. */
static size_t stop_prefix_len(const TextStream *s) {
    size_t best = 0;
    for (int i = 0; i < s->nstops; i++) {
        size_t sl = strlen(s->stops[i]);
        for (size_t k = sl - 1; k > best; k--)
            if (k <= s->len - s->written && !memcmp(s->buf + s->len - k, s->stops[i], k)) {
                best = k;
                break;
            }
    }
    return best;
}

int textstream_write(TextStream *s, const char *bytes, size_t n) {
    if (s->len + n > s->cap) {
        s->cap = 2 * (s->len + n) + 64;
        s->buf = xrealloc(s->buf, s->cap);
    }
    memcpy(s->buf + s->len, bytes, n);
    s->len += n;
    /* a stop string can only start in the unwritten part: its prefixes are held back */
    const char *first = NULL;
    for (int i = 0; i < s->nstops; i++) {
        const char *at =
            memmem(s->buf + s->written, s->len - s->written, s->stops[i], strlen(s->stops[i]));
        if (at && (!first || at < first)) first = at;
    }
    if (first) {
        emit(s, first - s->buf);
        s->len = s->written; /* the stop string and what follows are dropped */
        return 1;
    }
    emit(s, utf8_complete_len(s->buf, s->len - stop_prefix_len(s)));
    return 0;
}

void textstream_finish(TextStream *s) {
    emit(s, s->len);
    s->len = s->written = 0;
}
