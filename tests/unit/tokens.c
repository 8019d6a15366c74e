/* Unit tests for common/text/tokens.c: both formats written and read back across the
 * reader's buffer boundaries, in reads of every size. Malformed streams are tested
 * through gpt2-tokenize -d (they end the process) in tests/cli/tokenize.sh. */
#include "base/util.h"
#include "tap.h"
#include "text/tokens.h"

#include <string.h>

enum { N = 100003 };

static int roundtrip(TokensFormat fmt, size_t step, long *bytes) {
    static int ids[N], got[N + 7];
    for (int i = 0; i < N; i++) ids[i] = (int)((i * 7919u) % 65536);
    FILE *f = tmpfile();
    tokens_write(f, "tmp", fmt, ids, N);
    fflush(f);
    *bytes = ftell(f);
    rewind(f);
    TokensReader *r = tokens_reader_init(f, "tmp", fmt);
    size_t n = 0, k;
    while ((k = tokens_read(r, got + n, step < N + 7 - n ? step : N + 7 - n))) n += k;
    tokens_reader_free(r);
    fclose(f);
    return n == N && !memcmp(ids, got, sizeof ids);
}

int main(void) {
    util_init("test-tokens");
    TokensFormat fmt;
    ok(!tokens_format_parse("bin16", &fmt) && fmt == TOKENS_BIN16, "parse bin16");
    ok(!tokens_format_parse("text", &fmt) && fmt == TOKENS_TEXT, "parse text");
    ok(tokens_format_parse("BIN16", &fmt) == -1, "formats are lower case");
    long bytes;
    size_t steps[] = {1, 3, 4096, N + 7};
    for (size_t i = 0; i < sizeof steps / sizeof *steps; i++) {
        ok(roundtrip(TOKENS_BIN16, steps[i], &bytes), "bin16 round trip, reads of %zu", steps[i]);
        ok(roundtrip(TOKENS_TEXT, steps[i], &bytes), "text round trip, reads of %zu", steps[i]);
    }
    roundtrip(TOKENS_BIN16, 4096, &bytes);
    is_int(bytes, 2 * N, "bin16 is 2 bytes a token, no header");

    /* text input: any white space between ids, none at the end */
    FILE *f = tmpfile();
    fputs("  1\t22\r\n333 \v\f65535", f);
    rewind(f);
    TokensReader *r = tokens_reader_init(f, "tmp", TOKENS_TEXT);
    int got[8];
    size_t n = tokens_read(r, got, 8);
    ok(n == 4 && got[0] == 1 && got[1] == 22 && got[2] == 333 && got[3] == 65535,
       "text reader takes any white space");
    tokens_reader_free(r);
    fclose(f);
    return done_testing();
}
