/* bpe: GPT-2's byte-level BPE — the vocabulary, encode (PCRE2 pre-tokenizer, then
 * merges by rank) and decode. Ids equal tiktoken's "gpt2" encoding. */
#ifndef GPT2_BPE_H
#define GPT2_BPE_H

#include <stddef.h>
#include <stdint.h>

typedef struct BPE BPE;

/* The GPT-2 vocabulary shipped inside the binary. */
BPE *bpe_load_gpt2(void);
/* Another vocabulary in the same format (encoder.json + vocab.bpe); NULL with err. */
BPE *bpe_load_files(const char *encoder_json, const char *vocab_bpe, char *err, size_t errlen);
void bpe_free(BPE *b);
int bpe_vocab_size(const BPE *b); /* 50257 for GPT-2, <|endoftext|> included */

/* Appends the ids of text[0..len) to *ids (grown with xrealloc; *n ids, *cap capacity).
 * Any bytes are accepted (invalid UTF-8 falls back to byte tokens); <|endoftext|> in the
 * text is ordinary text, as tiktoken's encode_ordinary. */
void bpe_encode(const BPE *b, const char *text, size_t len, int **ids, size_t *n, size_t *cap);
/* The bytes of one token (not NUL-terminated; may be part of a UTF-8 character);
 * NULL for an id outside the vocabulary. */
const char *bpe_token_bytes(const BPE *b, int id, size_t *len);

#endif
