/* shard_write: write one shard of either kind (gpt2-shard(5)). The header goes in last,
 * when the count and checksum are known, and the file appears only on close. */
#include "shard.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>
#include <zstd.h>

struct ShardWriter {
    AtomicFile af;
    int level; /* 0: llm.c layout */
    uint64_t count;
    uint32_t crc;
    /* zstd: tokens wait in `frame` until a whole frame can be compressed */
    ZSTD_CCtx *cctx;
    uint16_t *frame;
    size_t frame_n;
    unsigned char *cbuf;
    size_t cbuf_cap;
    uint32_t *sizes; /* compressed size of each frame written */
    size_t frames, frames_cap;
};

ShardWriter *shard_writer_open(const char *path, int zstd_level, int overwrite) {
    ShardWriter *w = xcalloc(1, sizeof *w);
    atomic_open(&w->af, path, overwrite);
    setvbuf(w->af.f, NULL, _IOFBF, 1 << 20);
    w->level = zstd_level;
    static const unsigned char zeros[SHARD_HEADER_BYTES];
    xfwrite(zeros, sizeof zeros, w->af.f, w->af.tmp); /* rewritten by close */
    if (zstd_level) {
        w->cctx = ZSTD_createCCtx();
        if (!w->cctx) die("out of memory for zstd");
        ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_compressionLevel, zstd_level);
        /* per-frame content checksums: a window read detects corruption on its own */
        ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_checksumFlag, 1);
        w->frame = xmalloc(SHARD_FRAME_TOKENS * sizeof *w->frame);
        w->cbuf_cap = ZSTD_compressBound(SHARD_FRAME_TOKENS * sizeof *w->frame);
        w->cbuf = xmalloc(w->cbuf_cap);
    }
    return w;
}

static void flush_frame(ShardWriter *w) {
    if (!w->frame_n) return;
    size_t c = ZSTD_compress2(w->cctx, w->cbuf, w->cbuf_cap, w->frame, 2 * w->frame_n);
    if (ZSTD_isError(c)) die("%s: zstd: %s", w->af.path, ZSTD_getErrorName(c));
    xfwrite(w->cbuf, c, w->af.f, w->af.tmp);
    if (w->frames == w->frames_cap) {
        w->frames_cap = w->frames_cap ? 2 * w->frames_cap : 64;
        w->sizes = xrealloc(w->sizes, w->frames_cap * sizeof *w->sizes);
    }
    w->sizes[w->frames++] = (uint32_t)c;
    w->frame_n = 0;
}

void shard_writer_add(ShardWriter *w, const uint16_t *tokens, size_t n) {
    if (n > SHARD_MAX_TOKENS - w->count)
        die("%s: more than %u tokens in one shard", w->af.path, SHARD_MAX_TOKENS);
    w->crc = shard_crc32(w->crc, tokens, 2 * n);
    w->count += n;
    if (!w->level) {
        xfwrite(tokens, 2 * n, w->af.f, w->af.tmp);
        return;
    }
    while (n) {
        size_t take = SHARD_FRAME_TOKENS - w->frame_n;
        if (take > n) take = n;
        memcpy(w->frame + w->frame_n, tokens, 2 * take);
        w->frame_n += take, tokens += take, n -= take;
        if (w->frame_n == SHARD_FRAME_TOKENS) flush_frame(w);
    }
}

void shard_writer_close(ShardWriter *w) {
    unsigned char h[SHARD_HEADER_BYTES] = {0};
    store_le32(h + 4 * SHARD_W_MAGIC, w->level ? SHARD_ZSTD_MAGIC : SHARD_MAGIC);
    store_le32(h + 4 * SHARD_W_VERSION, SHARD_VERSION);
    store_le32(h + 4 * SHARD_W_COUNT, (uint32_t)w->count);
    store_le32(h + 4 * SHARD_W_TAG, SHARD_TAG);
    store_le32(h + 4 * SHARD_W_CHECKSUM_KIND, SHARD_CHECKSUM_CRC32);
    store_le32(h + 4 * SHARD_W_CHECKSUM, w->crc);
    if (w->level) {
        flush_frame(w);
        uint64_t index = SHARD_HEADER_BYTES;
        for (size_t i = 0; i < w->frames; i++) {
            unsigned char b[4];
            store_le32(b, w->sizes[i]);
            xfwrite(b, 4, w->af.f, w->af.tmp);
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
    ZSTD_freeCCtx(w->cctx);
    free(w->frame);
    free(w->cbuf);
    free(w->sizes);
    free(w);
}
