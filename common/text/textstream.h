/* textstream: the decoded bytes of generated tokens, written as soon as they are safe —
 * never half a UTF-8 character (a token can end inside one), never the start of what
 * may become a stop string — and the end of a sample at a stop string. */
#ifndef GPT2_TEXTSTREAM_H
#define GPT2_TEXTSTREAM_H

#include <stddef.h>
#include <stdio.h>

typedef struct {
    FILE *out;                /* NULL: only watch for stop strings */
    const char *const *stops; /* non-empty strings */
    int nstops;
    char *buf; /* this sample's text so far */
    size_t len, cap;
    size_t written; /* bytes of it written (or safe to, without out), until the next finish */
} TextStream;

void textstream_init(TextStream *s, FILE *out, const char *const *stops, int nstops);
void textstream_free(TextStream *s);
/* Appends bytes and writes (and flushes) the safe part. Returns 1 when the text now
 * contains a stop string: everything before it has been written, it and what follows
 * are dropped (the caller ends the sample with textstream_finish). */
int textstream_write(TextStream *s, const char *bytes, size_t n);
/* End of a sample: writes what was held back and starts the next sample empty. */
void textstream_finish(TextStream *s);

/* The length of the longest prefix of b[0..n) that does not end inside a UTF-8
 * character (a truncated sequence at the end is cut; invalid bytes pass). */
size_t utf8_complete_len(const char *b, size_t n);

#endif
