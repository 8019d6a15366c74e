/* shard_write: write one shard of either kind (gpt2-shard(5)). The header goes in last,
 * when the count and checksum are known, and the file appears only on close. */
#include "base/crc32c.h"
#include "base/util.h"
#include "data/shard.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

/* frames compressed at once, one per OpenMP thread (2 per core leaves none idle at the end) */
#define BATCH 8

struct ShardWriter {
    AtomicFile af;
    int level; /* 0: llm.c layout */
    uint64_t count;
    uint32_t crc;
    uint64_t written, synced; /* bytes handed to the kernel, and those sent to disk */
    /* zstd: tokens wait in `batch` until BATCH frames can be compressed in parallel */
    ZSTD_CCtx *cctx[BATCH];
    unsigned char *cbuf[BATCH];
    size_t csize[BATCH], cbuf_cap;
    uint16_t *batch;
    size_t batch_n;
    uint32_t *sizes; /* compressed size of each frame written */
    size_t frames, frames_cap;
};

/* Starts writeback of what has been written so far, without waiting, so that less is
 * left for the fsync in atomic_commit (measured: 5-10% faster packing from a pipe). */
static void emit(ShardWriter *w, const void *p, size_t n) {
    xfwrite(p, n, w->af.f, w->af.tmp);
    w->written += n;
    if (w->written - w->synced < (8u << 20)) return;
    if (fflush(w->af.f) != 0) die("%s: write error:", w->af.tmp);
    sync_file_range(fileno(w->af.f), (off_t)w->synced, (off_t)(w->written - w->synced),
                    SYNC_FILE_RANGE_WRITE);
    w->synced = w->written;
}

ShardWriter *shard_writer_open(const char *path, int zstd_level, int overwrite) {
    ShardWriter *w = xcalloc(1, sizeof *w);
    atomic_open(&w->af, path, overwrite);
    setvbuf(w->af.f, NULL, _IOFBF, 1 << 20);
    w->level = zstd_level;
    static const unsigned char zeros[SHARD_HEADER_BYTES];
    emit(w, zeros, sizeof zeros); /* rewritten by close */
    if (zstd_level) {
        w->batch = xmalloc(BATCH * SHARD_FRAME_TOKENS * sizeof *w->batch);
        w->cbuf_cap = ZSTD_compressBound(SHARD_FRAME_TOKENS * sizeof *w->batch);
        for (int i = 0; i < BATCH; i++) {
            w->cbuf[i] = xmalloc(w->cbuf_cap);
            if (!(w->cctx[i] = ZSTD_createCCtx())) die("out of memory for zstd");
            ZSTD_CCtx_setParameter(w->cctx[i], ZSTD_c_compressionLevel, zstd_level);
            /* per-frame content checksums: a window read detects corruption on its own */
            ZSTD_CCtx_setParameter(w->cctx[i], ZSTD_c_checksumFlag, 1);
        }
    }
    return w;
}

/* Compresses the batched tokens, a frame per task, and writes the frames in order. */
static void flush_batch(ShardWriter *w) {
    int nf = (int)((w->batch_n + SHARD_FRAME_TOKENS - 1) / SHARD_FRAME_TOKENS);
#pragma omp parallel for schedule(dynamic, 1) if (nf > 1)
    for (int i = 0; i < nf; i++) {
        size_t at = (size_t)i * SHARD_FRAME_TOKENS;
        size_t n = w->batch_n - at < SHARD_FRAME_TOKENS ? w->batch_n - at : SHARD_FRAME_TOKENS;
        w->csize[i] = ZSTD_compress2(w->cctx[i], w->cbuf[i], w->cbuf_cap, w->batch + at, 2 * n);
    }
    for (int i = 0; i < nf; i++) {
        if (ZSTD_isError(w->csize[i]))
            die("%s: zstd: %s", w->af.path, ZSTD_getErrorName(w->csize[i]));
        emit(w, w->cbuf[i], w->csize[i]);
        if (w->frames == w->frames_cap) {
            w->frames_cap = w->frames_cap ? 2 * w->frames_cap : 64;
            w->sizes = xrealloc(w->sizes, w->frames_cap * sizeof *w->sizes);
        }
        w->sizes[w->frames++] = (uint32_t)w->csize[i];
    }
    w->batch_n = 0;
}

void shard_writer_add(ShardWriter *w, const uint16_t *tokens, size_t n) {
    if (n > SHARD_MAX_TOKENS - w->count)
        die("%s: more than %u tokens in one shard", w->af.path, SHARD_MAX_TOKENS);
    w->crc = crc32c(w->crc, tokens, 2 * n);
    w->count += n;
    if (!w->level) {
        emit(w, tokens, 2 * n);
        return;
    }
    while (n) {
        size_t take = BATCH * SHARD_FRAME_TOKENS - w->batch_n;
        if (take > n) take = n;
        memcpy(w->batch + w->batch_n, tokens, 2 * take);
        w->batch_n += take, tokens += take, n -= take;
        if (w->batch_n == BATCH * SHARD_FRAME_TOKENS) flush_batch(w);
    }
}

void shard_writer_close(ShardWriter *w) {
    unsigned char h[SHARD_HEADER_BYTES] = {0};
    store_le32(h + 4 * SHARD_W_MAGIC, w->level ? SHARD_ZSTD_MAGIC : SHARD_MAGIC);
    store_le32(h + 4 * SHARD_W_VERSION, SHARD_VERSION);
    store_le32(h + 4 * SHARD_W_COUNT, (uint32_t)w->count);
    store_le32(h + 4 * SHARD_W_TAG, SHARD_TAG);
    store_le32(h + 4 * SHARD_W_CHECKSUM_KIND, SHARD_CHECKSUM_CRC32C);
    store_le32(h + 4 * SHARD_W_CHECKSUM, w->crc);
    if (w->level) {
        flush_batch(w);
        uint64_t index = SHARD_HEADER_BYTES;
        for (size_t i = 0; i < w->frames; i++) {
            unsigned char b[4];
            store_le32(b, w->sizes[i]);
            emit(w, b, 4);
            index += w->sizes[i];
        }
        store_le32(h + 4 * SHARD_W_FRAME_TOKENS, SHARD_FRAME_TOKENS);
        store_le32(h + 4 * SHARD_W_FRAMES, (uint32_t)w->frames);
        store_le32(h + 4 * SHARD_W_LEVEL, (uint32_t)w->level);
        store_le32(h + 4 * SHARD_W_INDEX_LO, (uint32_t)index);
        store_le32(h + 4 * SHARD_W_INDEX_HI, (uint32_t)(index >> 32));
    }
    if (fseek(w->af.f, 0, SEEK_SET) != 0) die("%s:", w->af.tmp);
    xfwrite(h, sizeof h, w->af.f, w->af.tmp);
    atomic_commit(&w->af);
    for (int i = 0; i < BATCH && w->level; i++) {
        ZSTD_freeCCtx(w->cctx[i]);
        free(w->cbuf[i]);
    }
    free(w->batch);
    free(w->sizes);
    free(w);
}
