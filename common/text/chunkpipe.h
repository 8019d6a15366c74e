/* chunkpipe: gpt2-tokenize's encoder as a pipeline. The input (text, NUL-separated
 * documents, JSON Lines or a Parquet column) is cut into items of about `chunk` bytes — where
 * the pre-tokenizer cannot see across, or between lines or documents — a batch of items is
 * encoded in parallel while one thread reads (and for Parquet decodes) the next batch, and
 * the ids are written in input order. So the output never depends on the thread count, and
 * memory stays bounded by two batches (plus one Parquet row group's column). */
#ifndef GPT2_CHUNKPIPE_H
#define GPT2_CHUNKPIPE_H

#include "base/cli.h"
#include "text/bpe.h"
#include "text/tokens.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum { CHUNK_TEXT, CHUNK_NUL, CHUNK_JSONL, CHUNK_PARQUET } ChunkMode;

typedef struct {
    const BPE *bpe;
    ChunkMode mode;    /* every mode but CHUNK_TEXT puts <|endoftext|> before each document */
    int flags;         /* BPE_SPECIAL */
    const char *field; /* JSONL field, Parquet column */
    int skip_bad;      /* JSONL: count malformed lines instead of stopping */
    size_t chunk;      /* input bytes per item */
    int threads;       /* encoding threads (one more reads) */
} ChunkConfig;

/* Where ids go, and what was seen on the way (summed over files). */
typedef struct {
    FILE *f;
    const char *name;
    TokensFormat fmt;
    long bad;      /* JSONL lines skipped */
    int64_t nulls; /* Parquet nulls skipped */
    double bytes;  /* input bytes (Parquet: text bytes) */
    Progress progress;
} ChunkOutput;

typedef struct ChunkPipe ChunkPipe;
ChunkPipe *chunkpipe_init(const ChunkConfig *c);
/* Encodes one file ("-": stdin) to o; dies naming the file on bad input. */
void chunkpipe_encode_file(ChunkPipe *p, const char *path, ChunkOutput *o);
void chunkpipe_free(ChunkPipe *p);

#endif
