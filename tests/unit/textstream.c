/* Streaming of generated text (common/text/textstream.c): whole UTF-8 characters only, stop
 * strings found across token boundaries and never written. */
#include "base/util.h"
#include "tap.h"
#include "text/textstream.h"

#include <stdlib.h>
#include <string.h>

static char *mem;
static size_t memlen;

static size_t flushed(FILE *f) {
    fflush(f);
    return memlen;
}

int main(void) {
    util_init("test-textstream");
    is_int(utf8_complete_len("abc", 3), 3, "ASCII is complete");
    is_int(utf8_complete_len("a\xe2\x82", 3), 1, "cut before a 3-byte character missing a byte");
    is_int(utf8_complete_len("a\xe2\x82\xac", 4), 4, "whole euro sign");
    is_int(utf8_complete_len("\xf0\x9f\x98", 3), 0, "3 of 4 bytes of an emoji");
    is_int(utf8_complete_len("\xf0\x9f\x98\x80", 4), 4, "whole emoji");
    is_int(utf8_complete_len("a\x80\x80\x80\x80", 5), 5, "stray continuation bytes pass");
    is_int(utf8_complete_len("", 0), 0, "empty");

    FILE *f = open_memstream(&mem, &memlen);
    TextStream ts;
    textstream_init(&ts, f, NULL, 0);
    textstream_write(&ts, "x\xe2", 2);
    is_int(flushed(f), 1, "first byte of the euro sign held back");
    textstream_write(&ts, "\x82", 1);
    is_int(flushed(f), 1, "still held");
    textstream_write(&ts, "\xac!", 2);
    is_int(flushed(f), 5, "written once complete");
    textstream_write(&ts, "\xe2", 1);
    textstream_finish(&ts);
    ok(flushed(f) == 6 && !memcmp(mem, "x\xe2\x82\xac!\xe2", 6), "finish writes the rest");
    textstream_free(&ts);
    fclose(f);
    free(mem);

    const char *stops[] = {"\n\n", "END"};
    f = open_memstream(&mem, &memlen);
    textstream_init(&ts, f, stops, 2);
    ok(!textstream_write(&ts, "Hello E", 7), "no stop yet");
    is_int(flushed(f), 6, "'E' (may start END) held back");
    ok(!textstream_write(&ts, "Nx", 2), "EN then x: no stop");
    is_int(flushed(f), 9, "released when it cannot be END");
    ok(!textstream_write(&ts, " wor\n", 5), "newline may start a stop");
    is_int(flushed(f), 13, "newline held back");
    ok(textstream_write(&ts, "\nmore", 5), "stop across two writes");
    ok(flushed(f) == 13 && !memcmp(mem, "Hello ENx wor", 13), "text before the stop only");
    textstream_finish(&ts);
    is_int(flushed(f), 13, "nothing after the stop");
    ok(textstream_write(&ts, "next END", 8), "next sample: stop inside one write");
    textstream_finish(&ts);
    ok(flushed(f) == 18 && !memcmp(mem + 13, "next ", 5), "written up to the stop");
    textstream_free(&ts);
    fclose(f);
    free(mem);
    return done_testing();
}
