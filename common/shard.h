/* shard: the training-data shard files (llm.c format, and our zstd variant) — write,
 * validate, and read token windows. See gpt2-shard(5). */
#ifndef GPT2_SHARD_H
#define GPT2_SHARD_H

#include <stddef.h>
#include <stdint.h>

typedef struct ShardReader ShardReader;

/* Opens and validates a shard of either kind. On failure returns NULL and writes a
 * message naming the file and the problem to err (never exits: fuzzable). */
ShardReader *shard_open(const char *path, char *err, size_t errlen);
uint64_t shard_num_tokens(const ShardReader *r);
/* Copies tokens [start, start+n) into out; 0 on success, -1 with err on I/O or
 * corruption (start+n beyond the end is a caller bug and aborts). */
int shard_read(ShardReader *r, uint64_t start, size_t n, uint16_t *out, char *err, size_t errlen);
void shard_close(ShardReader *r);

#endif
