/* shard: the training-data shard files (llm.c format, and our zstd variant) — write,
 * validate, and read token windows. See gpt2-shard(5). */
#ifndef GPT2_SHARD_H
#define GPT2_SHARD_H

#include <stddef.h>
#include <stdint.h>

/* Header: 256 little-endian int32 words, for both kinds. Words 0-2 are llm.c's; words
 * from 3 on are ours and only read when word 3 holds SHARD_TAG (llm.c ignores them). */
#define SHARD_HEADER_WORDS 256
#define SHARD_HEADER_BYTES (SHARD_HEADER_WORDS * 4)
#define SHARD_MAGIC 20240520        /* llm.c data shard, uncompressed */
#define SHARD_ZSTD_MAGIC 0x5A533247 /* "G2SZ": our zstd shard */
#define SHARD_VERSION 1
#define SHARD_TAG 0x32545047 /* "GPT2" as bytes: words 4.. are ours */
#define SHARD_CHECKSUM_CRC32C 1
#define SHARD_MAX_TOKENS 0x7fffffffu      /* llm.c stores the count in an int32 */
#define SHARD_FRAME_TOKENS (1u << 16)     /* tokens per zstd frame that the writer uses */
#define SHARD_MAX_FRAME_TOKENS (1u << 24) /* the most a reader accepts */
enum {
    SHARD_W_MAGIC,
    SHARD_W_VERSION,
    SHARD_W_COUNT,
    SHARD_W_TAG,
    SHARD_W_CHECKSUM_KIND,
    SHARD_W_CHECKSUM,
    SHARD_W_FRAME_TOKENS, /* zstd only from here */
    SHARD_W_FRAMES,
    SHARD_W_LEVEL,
    SHARD_W_INDEX_LO, /* byte offset of the frame index (64 bits) */
    SHARD_W_INDEX_HI,
};

/* A reader keeps one decompressed frame for the next window: use one per thread. */
typedef struct ShardReader ShardReader;

/* Opens and validates a shard of either kind. On failure returns NULL and writes a
 * message naming the file and the problem to err (never exits: fuzzable). */
ShardReader *shard_open(const char *path, char *err, size_t errlen);
uint64_t shard_num_tokens(const ShardReader *r);
/* Copies tokens [start, start+n) into out; 0 on success, -1 with err on I/O or
 * corruption (start+n beyond the end is a caller bug and aborts). */
int shard_read(ShardReader *r, uint64_t start, size_t n, uint16_t *out, char *err, size_t errlen);
void shard_close(ShardReader *r);

/* shard_open checks the header, the file size and the frame index, then reads the whole
 * payload once to check its checksum; SHARD_OPEN_NO_VERIFY skips that last step. */
#define SHARD_OPEN_NO_VERIFY 1
ShardReader *shard_open_flags(const char *path, int flags, char *err, size_t errlen);
/* Reads every token: checks the checksum (when the file has one) and, when vocab_size
 * is not 0, that every id is below it. 0 if all is well, -1 with err otherwise. */
int shard_verify(ShardReader *r, uint32_t vocab_size, char *err, size_t errlen);

typedef struct {
    int zstd;                             /* 0: llm.c layout, 1: our zstd layout */
    uint32_t version;                     /* header word 1 */
    uint64_t num_tokens;                  /* header word 2 */
    int has_checksum;                     /* 0 for shards from llm.c's scripts */
    uint32_t checksum;                    /* stored CRC-32C of the token bytes */
    uint32_t frame_tokens, frames, level; /* zstd only */
    uint64_t file_bytes;
} ShardInfo;
void shard_info(const ShardReader *r, ShardInfo *info);

/* Writer (for tools: dies on errors). The file appears under path only on close
 * (temp + rename); an existing file is replaced only when overwrite is set.
 * zstd_level 0 writes the llm.c layout; 1..22 the zstd one. */
typedef struct ShardWriter ShardWriter;
ShardWriter *shard_writer_open(const char *path, int zstd_level, int overwrite);
/* Adds tokens; dies past SHARD_MAX_TOKENS. */
void shard_writer_add(ShardWriter *w, const uint16_t *tokens, size_t n);
void shard_writer_close(ShardWriter *w);

#endif
