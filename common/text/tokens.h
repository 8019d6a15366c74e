/* tokens: the token stream that gpt2-tokenize writes and gpt2-shard / gpt2-sample read
 * (see gpt2-tokens(5)). Two formats: "bin16", headerless little-endian uint16 (streams
 * concatenate with cat), and "text", decimal ids, one per line on output, separated by
 * any white space on input. */
#ifndef GPT2_TOKENS_H
#define GPT2_TOKENS_H

#include <stddef.h>
#include <stdio.h>

typedef enum { TOKENS_BIN16, TOKENS_TEXT } TokensFormat;

/* "bin16" or "text" -> *fmt; returns -1 for anything else. */
int tokens_format_parse(const char *s, TokensFormat *fmt);

/* Writes ids[0..n); dies naming `name` on a write error, or if an id is outside 0..65535. */
void tokens_write(FILE *f, const char *name, TokensFormat fmt, const int *ids, size_t n);

typedef struct TokensReader TokensReader;
/* The reader reads f's descriptor itself (so f must not have been read through stdio). */
TokensReader *tokens_reader_init(FILE *f, const char *name, TokensFormat fmt);
/* Reads up to max ids, waiting only for the first (ids a pipe delivers come back as they
 * arrive); returns 0 at the end of the stream. Dies with the byte offset on malformed
 * input: a trailing odd byte (bin16), a non-digit or a number above 65535 (text). */
size_t tokens_read(TokensReader *r, int *ids, size_t max);
void tokens_reader_free(TokensReader *r);

#endif
