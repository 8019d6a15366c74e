/* bpe: GPT-2's byte-level BPE — the vocabulary, encode (PCRE2 pre-tokenizer, then
 * merges by rank) and decode. Ids equal tiktoken's "gpt2" encoding.
 *
 * Pre-tokenization of bytes that are not valid UTF-8: each maximal run of such bytes
 * is a piece of its own (byte-level BPE merges it like any piece), and the valid text
 * on either side is split as if the run were the end / the start of the text. So any
 * byte string encodes, and decoding the ids gives the same bytes back. */
#ifndef GPT2_BPE_H
#define GPT2_BPE_H

#include <stddef.h>
#include <stdint.h>

typedef struct BPE BPE;

/* The GPT-2 vocabulary shipped inside the binary. */
BPE *bpe_load_gpt2(void);
/* Another vocabulary in the same format (encoder.json + vocab.bpe); NULL with err. */
BPE *bpe_load_files(const char *encoder_json, const char *vocab_bpe, char *err, size_t errlen);
/* The same from memory (what both loaders above use); json may be NULL, as ids follow
 * from vocab.bpe alone (bytes, then one per merge, then <|endoftext|>): encoder.json
 * is only checked against them. */
BPE *bpe_load_mem(const char *json, size_t json_len, const char *merges, size_t merges_len,
                  char *err, size_t errlen);
void bpe_free(BPE *b);
int bpe_vocab_size(const BPE *b); /* 50257 for GPT-2, <|endoftext|> included */
int bpe_eot(const BPE *b);        /* id of <|endoftext|> (50256 for GPT-2) */

/* Appends the ids of text[0..len) to *ids (grown with xrealloc; *n ids, *cap capacity).
 * Any bytes are accepted (invalid UTF-8 falls back to byte tokens); <|endoftext|> in the
 * text is ordinary text, as tiktoken's encode_ordinary. */
void bpe_encode(const BPE *b, const char *text, size_t len, int **ids, size_t *n, size_t *cap);
/* The bytes of one token (not NUL-terminated; may be part of a UTF-8 character);
 * NULL for an id outside the vocabulary. */
const char *bpe_token_bytes(const BPE *b, int id, size_t *len);

/* Per-thread scratch for encoding many texts: PCRE2 match data, merge buffers and a
 * cache of recently merged pieces. One BpeWork per thread; the BPE itself is shared. */
typedef struct BpeWork BpeWork;
BpeWork *bpe_work_init(const BPE *b);
void bpe_work_free(BpeWork *w);

enum { BPE_SPECIAL = 1 }; /* flags: recognise <|endoftext|> in the text as the special token */
/* bpe_encode with caller-owned scratch and flags. */
void bpe_encode_with(const BPE *b, BpeWork *w, const char *text, size_t len, int flags, int **ids,
                     size_t *n, size_t *cap);

/* Where a long text may be cut so that encoding the parts separately gives exactly the
 * ids of the whole (with or without BPE_SPECIAL): the largest p in [min, len) such that
 * text[p] is ASCII whitespace and text[p-1] ends a valid, non-space UTF-8 character.
 * Returns 0 if there is none. */
size_t bpe_split_point(const char *text, size_t len, size_t min);

#endif
